"""`mpl build`: create compiled models on an Ollama server, then verify them.

`plan` checks and hashes without changing anything, `run` uploads, creates and
verifies; `server` is the HTTP side, `files` the GGUF side, `verify` reads
`/api/show` back. Nothing here is imported by `mpl check`.
"""

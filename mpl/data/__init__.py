"""`mpl data`: turn an assistant's saved conversations into split, redacted fine-tuning sets.

`read` turns inputs into conversations, `convert` turns a conversation into an
example of one format, `redact` replaces secrets, `run` ties them together and
writes the outputs; `cli` is the command's terminal side. docs/data.md is the
reference.
"""

"""The language server behind `mpl lsp`: the compiler's diagnostics and knowledge, in an editor.

The package is split so that everything but `mpl.lsp.server` is plain functions
over the compiler's data (testable without a server, and free of pygls):

- `positions`: character offsets ↔ LSP positions in the negotiated encoding;
- `mpl.compiler.chunks` (shared with `mpl check`): an incremental parser that re-parses only the declarations an edit touched;
- `document`: one open document, analysed, with its index of names;
- `symbols`: definitions and references of profiles, tasks and models;
- `context`: what the text before the cursor asks to complete (works on half-typed text);
- `features`: diagnostics, hover, completion, navigation, rename, symbols, formatting;
- `transport`: bytes from the client to messages, bounded, resynchronising after a malformed one;
- `server`: the pygls 2 adapter (handlers, debouncing, settings), imported only by `mpl lsp`.
"""

from __future__ import annotations


def serve() -> None:
    """Run the language server over stdin and stdout until the client says exit."""
    from mpl.lsp.server import build_server, warm_up

    server = build_server()
    warm_up()
    server.start_io()

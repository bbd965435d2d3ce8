"""Text that came from a server, made safe to show on a terminal line.

An Ollama server (or whatever answers at `--host`) chooses its error texts, progress
statuses, versions and model details. Printed raw, they could clear the screen, set
the window title, move the cursor, forge an `mpl:` line after a line break, or fill
the terminal with megabytes. `visible` writes every character that is not printable
(controls, line and paragraph separators, bidirectional overrides, …) as a Python
escape and cuts the text at a bounded length, saying how much was cut. Every server
text that reaches the user goes through it: `ServerError` messages, create status
lines in the progress display, the server's version in a warning, and the details
`mpl import --from-server` writes into a comment.
"""

from __future__ import annotations

import typing as t

#: The most characters of one server text shown (an error, a status, a version).
SHOWN = 300
#: The most characters of one whole `ServerError` message (its server parts are cut to `SHOWN`).
MESSAGE = 2000

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def visible(text: t.Any, limit: int | None = SHOWN) -> str:
    """`text` on one line with no terminal controls: each unprintable character escaped, cut after `limit` characters.

    Printable text is kept as it is (non-ASCII letters too), so applying it twice changes nothing more.

    >>> visible("bad\\x1b[2J\\x1b]0;pwned\\x07\\nmpl: ok")
    'bad\\\\x1b[2J\\\\x1b]0;pwned\\\\x07\\\\nmpl: ok'
    >>> visible("right-to-left \\u202e, café")
    'right-to-left \\\\u202e, café'
    >>> visible("x" * 1000, 10)
    'xxxxxxxxxx… (990 more characters not shown)'
    """
    text = str(text)
    out: list[str] = []
    used = 0
    for i, ch in enumerate(text):
        piece = ch if ch.isprintable() else _escape(ch)
        if limit is not None and used + len(piece) > limit:
            return "".join(out) + f"… ({len(text) - i} more characters not shown)"
        out.append(piece)
        used += len(piece)
    return "".join(out)


def _escape(ch: str) -> str:
    code = ord(ch)
    if ch in _NAMED:
        return _NAMED[ch]
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"

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

from mpl.source import visible as _visible

#: The most characters of one server text shown (an error, a status, a version).
SHOWN = 300
#: The most characters of one whole `ServerError` message (its server parts are cut to `SHOWN`).
MESSAGE = 2000

def visible(text: t.Any, limit: int | None = SHOWN) -> str:
    """`text` on one line with no terminal controls, cut after `limit` characters (`mpl.source.visible`).

    >>> visible("bad\\x1b[2J\\x1b]0;pwned\\x07\\nmpl: ok")
    'bad\\\\x1b[2J\\\\x1b]0;pwned\\\\x07\\\\nmpl: ok'
    >>> visible("x" * 1000, 10)
    'xxxxxxxxxx… (990 more characters not shown)'
    """
    return _visible(text, limit)

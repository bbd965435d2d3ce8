"""Which characters Ollama's Modelfile parser keeps, and how to name one in a message.

The parser (`parseRuneForState` in Ollama's `parser/parser.go`) silently drops every
character Go's `strconv.IsPrint` rejects, except the blanks and line breaks of its
grammar, even inside quotes. Which characters those are is fixed by Unicode 15.0.0,
the tables of Ollama's Go build (`_printable`, written by scripts/gen_unicode_table.py),
never by the running Python's `unicodedata`. The Modelfile reader (which warns of a
dropped character) and the Modelfile writer (which refuses to write one) both ask here.
"""

from __future__ import annotations

import unicodedata
from bisect import bisect_right

from mpl.catalog._printable import BOUNDARIES, UNICODE_VERSION

_GRAMMAR_SPACE = " \t\r\n"

# Go's strconv.IsPrint keeps Unicode letters, marks, numbers, punctuation and symbols,
# plus U+0020. Every other category (Z*, C*) is dropped by the parser. Which code points
# those are is decided by the fixed Unicode 15.0.0 table in `_printable` (the version
# Ollama's Go build uses), never by the running Python's `unicodedata`.
_KEPT_CATEGORY_CLASSES = frozenset("LMNPS")

_CATEGORY_WORDS = {
    "Cc": "a control character",
    "Cf": "a format character",
    "Cs": "a lone surrogate",
    "Co": "a private-use character",
    "Cn": "an unassigned code point",
    "Zs": "a space other than U+0020",
    "Zl": "a line separator",
    "Zp": "a paragraph separator",
}


def dropped_characters(s: str) -> list[int]:
    """Return the indices of the characters Ollama's Modelfile parser silently drops.

    A character survives when it is space, TAB, CR or LF, or when Go's
    ``strconv.IsPrint`` accepts it (Unicode categories L, M, N, P and S, plus U+0020).
    Everything else is removed, even inside quotes: controls, format characters such as
    ZWJ, spaces other than U+0020, separators, surrogates, private-use and unassigned
    code points (as judged by Unicode 15.0.0, the tables of Ollama's Go build, whatever
    the running Python's `unicodedata` version).

    Args:
        s: Any string.

    Returns:
        The indices of the dropped characters, in increasing order.

    >>> dropped_characters("a\\u00a0b\\u200dc\\td\\ufe0f")
    [1, 3]
    """
    return [i for i, ch in enumerate(s) if not _survives(ch)]


def _survives(ch: str) -> bool:
    if ch in _GRAMMAR_SPACE:
        return True
    return printable(ch)


def printable(ch: str) -> bool:
    """Go's ``strconv.IsPrint`` with Unicode 15.0.0: categories L, M, N, P, S and U+0020.

    >>> printable("\U0001F6DC"), printable("\u0cf3"), printable("\U0002EBF0"), printable("\u2ffc")
    (True, True, False, False)
    """
    return bisect_right(BOUNDARIES, ord(ch)) % 2 == 1


def describe(ch: str) -> str:
    """Name a character for a message, e.g. ``U+200D ZERO WIDTH JOINER``."""
    code = f"U+{ord(ch):04X}"
    if ch == '"':
        return f'{code} QUOTATION MARK (")'
    name = unicodedata.name(ch, "")
    category = unicodedata.category(ch)
    if not printable(ch) and (category == "Cn" or category[0] in _KEPT_CATEGORY_CLASSES):
        # Unassigned in Unicode 15.0.0 (whatever this Python's tables say): Ollama's Go
        # build drops it. Said alike on every Python, without a name newer tables may give.
        return f"{code} (unassigned in Unicode {UNICODE_VERSION}, the version Ollama's Go build uses)"
    if printable(ch) and category == "Cn":
        # Assigned in Unicode 15.0.0 but unknown to this Python: Ollama keeps it.
        return f"{code} (assigned in Unicode {UNICODE_VERSION})"
    if name:
        return f"{code} {name}"
    return f"{code} ({_CATEGORY_WORDS.get(category, 'category ' + category)})"

"""Modelfile text encoding: values, PARAMETER names and MESSAGE roles in, Modelfile text out.

Ollama's Modelfile parser (v0.2.0 through v0.32.15) has no escape sequences, silently
drops some characters and ends a value at the first line break where the text so far
looks complete (`parseRuneForState` and `unquote` in Ollama's `parser/parser.go`). This module writes a value
so that the parser reads back exactly the same string, or returns a `Refusal` that says
why no spelling can. It never writes a newline itself: the caller ends every value with
one.
"""

from __future__ import annotations

import re

import msgspec

from mpl.catalog.characters import describe, dropped_characters

_BLANK = " \t"
_NEWLINE = "\r\n"
_GRAMMAR_SPACE = _BLANK + _NEWLINE
_TRIPLE = '"""'
_PARAMETER_NAME = re.compile(r"[A-Za-z0-9_]+")

class Refusal(msgspec.Struct, frozen=True, gc=False):
    """Why a string cannot be written in a Modelfile so that it reads back unchanged.

    Attributes:
        reason: One sentence for a diagnostic.
        offset: Index in the string of the offending character, when there is one.
    """

    reason: str
    offset: int | None


def encode_value(s: str) -> str | Refusal:
    """Spell a value for a Modelfile line so that Ollama's parser reads back exactly ``s``.

    The result goes after the keyword and one space (``SYSTEM <enc>``,
    ``PARAMETER name <enc>``, ``MESSAGE role <enc>``) and must be followed by a newline.
    The value is written bare when that reads back unchanged; otherwise it is wrapped in
    triple quotes. The single-quote spelling is never needed: it reads back correctly only
    for strings that the triple-quote spelling also handles.

    Args:
        s: The value to write.

    Returns:
        The text to write, or a `Refusal` when no spelling reads back as ``s``: when it
        holds a character the parser drops, or a ``\"\"\"`` that a line break follows
        (after optional blanks), which would end a triple-quoted value early.

    >>> encode_value("You are terse.")
    'You are terse.'
    >>> encode_value("  indented\\nsecond line")
    '\"\"\"  indented\\nsecond line\"\"\"'
    >>> encode_value("a\\u200db").offset
    1
    """
    dropped = dropped_characters(s)
    if dropped:
        at = dropped[0]
        return Refusal(
            f"contains {describe(s[at])}, which Ollama's Modelfile parser silently drops",
            at,
        )
    if _bare_round_trips(s):
        return s
    early = _triple_quote_before_newline(s)
    if early is not None:
        return Refusal(
            'contains """ followed by a line break, which would end a triple-quoted '
            "Modelfile value early, and the value cannot be written unquoted either",
            early,
        )
    return _TRIPLE + s + _TRIPLE


def encode_parameter_name(name: str) -> str | Refusal:
    """Check a PARAMETER name against the parser's rule: ASCII letters, digits and ``_``.

    Args:
        name: The parameter name, kept exactly (names are case-sensitive).

    Returns:
        ``name`` itself, or a `Refusal` pointing at the first character the parser
        rejects (``offset`` is None for the empty name).

    >>> encode_parameter_name("num_ctx")
    'num_ctx'
    >>> encode_parameter_name("top-k").offset
    3
    """
    if _PARAMETER_NAME.fullmatch(name):
        return name
    if not name:
        return Refusal("is empty, but a Modelfile PARAMETER name needs a character", None)
    at = next(i for i, ch in enumerate(name) if not _PARAMETER_NAME.fullmatch(ch))
    return Refusal(
        f"contains {describe(name[at])}, but a Modelfile PARAMETER name may only hold "
        "ASCII letters, digits and '_'",
        at,
    )


def _bare_round_trips(s: str) -> bool:
    """Whether ``s`` round-trips bare (``s`` already known to be kept by `parser/parser.go`).

    A bare value is trimmed of blanks, ends at the first CR or LF, and is read as quoted
    when it starts with ``"``.
    """
    return (
        s != ""
        and not any(ch in _NEWLINE for ch in s)
        and s[0] not in _BLANK
        and s[-1] not in _BLANK
        and s[0] != '"'
    )


def _triple_quote_before_newline(s: str) -> int | None:
    """Return where a ``\"\"\"`` starts that only blanks and line breaks separate from a newline.

    That is where `parseRuneForState` (`parser/parser.go`) ends the value: at that line
    break the parser would see the text so far end with ``\"\"\"`` and close the value.
    """
    end = 0  # index just past the last character that is not space, TAB, CR or LF
    for i, ch in enumerate(s):
        if ch in _NEWLINE:
            if end >= 3 and s[end - 3 : end] == _TRIPLE:
                return end - 3
        elif ch not in _BLANK:
            end = i + 1
    return None

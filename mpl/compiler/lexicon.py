"""The lexical table of the profile language, read from `grammar/profile.lark`.

The grammar file is the one definition of the syntax; the parser, the chunk
parser, the language server and the session API take their keywords and
their string, comment, name and number patterns from here rather than
restating them. Reading the table costs a regex pass over the grammar's text
(lark's parser is not built for it).

>>> "profile" in KEYWORDS and DECL_KEYWORDS[0]
'ollama'
>>> import re; re.fullmatch(LONG_STRING, '\"\"\"say "hi"\"\"\"\"') is not None
True
"""

from __future__ import annotations

import os
import pkgutil
import re


def grammar_text() -> str:
    """The text of `profile.lark`, from the installed package or the source tree."""
    # `pkgutil.get_data` reads package data through the package's loader, as
    # `importlib.resources` does, but without importing `importlib.resources`
    # and `zipfile`: about 3 ms of every `mpl check`.
    data = pkgutil.get_data("mpl.grammar", "profile.lark")
    if data is None:
        # A source tree imported as it is (its `mpl/` ahead of any installed
        # copy on `sys.path`): `mpl.grammar` exists only in an installed wheel,
        # which maps `grammar/` to it; here the same file is beside `mpl/`.
        root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        with open(os.path.join(root, "grammar", "profile.lark"), "rb") as fp:
            data = fp.read()
    return data.decode("utf-8")


_TEXT = re.sub(r"(?m)^\s*//.*$", "", grammar_text())

# `NAME: /regex/` and `LONG_STRING.2: /regex/`: the terminals' patterns.
TERMINALS: dict[str, str] = {
    m.group(1): m.group(2) for m in re.finditer(r"(?m)^([A-Z_][A-Z0-9_]*)(?:\.\d+)?:\s*/(.*)/\s*$", _TEXT)
}
# `rule: a | b` with its `|` continuation lines: each rule's expansion text.
_RULES: dict[str, str] = {
    m.group(1): m.group(2) for m in re.finditer(r"(?m)^!?\??([a-z_][a-z0-9_]*):((?:.*)(?:\n\s+\|.*)*)", _TEXT)
}

NAME = TERMINALS["NAME"]
NUMBER = TERMINALS["NUMBER"]
STRING = TERMINALS["STRING"]
LONG_STRING = TERMINALS["LONG_STRING"]
COMMENT = TERMINALS["COMMENT"]
# What skips a string or a comment as the parser sees it (a `#` or a bracket inside one is text).
STRINGS_AND_COMMENTS = f"{LONG_STRING}|{STRING}|{COMMENT}"

# Every word the grammar spells out: none can name a profile, a task or a model.
KEYWORDS: frozenset[str] = frozenset(
    word for word in re.findall(r'"([^"\\]+)"', "\n".join(_RULES.values())) if re.fullmatch(NAME, word)
)


def _first_words(rule: str) -> tuple[str, ...]:
    """The keyword that starts each alternative of `rule` (`_decl`, `_stmt`), in grammar order."""
    words: list[str] = []
    for alternative in re.findall(r"[a-z_][a-z0-9_]*", _RULES[rule]):
        first = re.match(r'\s*"([^"]+)"', _RULES.get(alternative, ""))
        if first is not None and first.group(1) not in words:
            words.append(first.group(1))
    return tuple(words)


# The keywords that start a declaration.
DECL_KEYWORDS = _first_words("_decl")

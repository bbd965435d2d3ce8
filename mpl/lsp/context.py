"""Completion context: what the text before the cursor asks for, read from the text alone.

Consumes the document text and the cursor offset; produces a
`CompletionContext` naming the word being typed and what may complete it.
Half-typed text does not parse, so this reads tokens, not the syntax tree: it
tracks open `<` blocks (and what opened them) and the words of the current
statement, skipping strings and comments like the grammar does.
"""

from __future__ import annotations

import dataclasses
import re
import typing as t
from dataclasses import dataclass, field

from mpl.compiler import lexicon

Category = t.Literal["parameter", "profile", "task", "model", "role"]
Block = t.Literal["top", "profile", "model", "when", "other"]

TOP_KEYWORDS = lexicon.DECL_KEYWORDS
PROFILE_KEYWORDS = ("unset", "when")
MODEL_KEYWORDS = ("adapter", "use", "system", "template", "message", "license", "requires", "unset")

_CLOSE = '"{0,2}"""'  # how a triple-quoted string ends
assert lexicon.LONG_STRING.endswith(_CLOSE), "grammar/profile.lark changed how LONG_STRING ends"
_TOKEN = re.compile(
    rf"(?P<string>{lexicon.LONG_STRING})"
    rf'|(?P<open>{lexicon.LONG_STRING.removesuffix(_CLOSE)}"{{0,2}}\Z)'  # an unclosed multi-line string runs to the cursor
    r'|(?P<line_string>"(?:[^"\\\r\n]|\\[^\r\n])*(?:"|(?=[\r\n])|\Z))'
    rf"|(?P<comment>{lexicon.COMMENT})"
    r"|(?P<nl>\r\n|\r|\n)"
    rf"|(?P<word>{lexicon.NAME})"
    rf"|(?P<number>{lexicon.NUMBER})"
    r"|(?P<punct>\+=|[<>\[\],;])"
    r"|(?P<space>[ \t\f]+)"
    r"|(?P<other>.)",
    re.S,
)


@dataclass(frozen=True, slots=True)
class CompletionContext:
    """What may complete the word at the cursor.

    `start` is where that word begins (the cursor when nothing is typed yet);
    `names` lists the kinds of names that fit, `keywords` the keywords;
    `exclude` holds names already written in the same list; `value_of` is the
    parameter whose value is being typed.
    """

    start: int
    partial: str = ""
    block: Block = "top"
    names: tuple[Category, ...] = ()
    keywords: tuple[str, ...] = ()
    exclude: frozenset[str] = field(default_factory=frozenset)
    value_of: str | None = None

    @property
    def empty(self) -> bool:
        return not (self.names or self.keywords or self.value_of)


def completion_context(text: str, offset: int) -> CompletionContext:
    """Read the context of a completion at `offset`.

    >>> completion_context("profile p extends ba", 20).names
    ('profile',)
    >>> ctx = completion_context("profile p < top_k 4\\n  tem", 25)
    >>> ctx.partial, ctx.block, ctx.names, ctx.keywords
    ('tem', 'profile', ('parameter',), ('unset', 'when'))
    >>> completion_context('model m from x < system "use ', 29).empty  # inside a string
    True
    """
    frames: list[Block] = []
    words: list[str] = []  # the current statement's words and punctuation
    brackets = 0  # open `[`: line breaks inside a list do not end the statement
    last: re.Match[str] | None = None
    head = text[:offset]
    for match in _TOKEN.finditer(head):
        kind = match.lastgroup
        last = match
        if kind == "space":
            continue
        if kind == "comment":
            continue
        if kind in ("string", "open", "line_string"):
            words.append('"')
            continue
        value = match.group()
        if kind == "nl":
            if brackets == 0:
                words = []
        elif value == ";":
            words = []
        elif value == "<":
            frames.append(_block_kind(words))
            words = []
        elif value == ">":
            if frames:
                frames.pop()
            words = []
        else:
            if value == "[":
                brackets += 1
            elif value == "]":
                brackets = max(0, brackets - 1)
            words.append(value)
    partial, start = "", offset
    if last is not None and last.end() == offset:
        if last.lastgroup in ("comment", "open") or (last.lastgroup == "line_string" and not _closed(last.group())):
            return CompletionContext(start=offset)
        if last.lastgroup == "word":
            partial, start = last.group(), last.start()
            words = words[:-1]
        elif last.lastgroup in ("number", "other"):
            return CompletionContext(start=offset)
    block: Block = frames[-1] if frames else "top"
    outer: Block = next((f for f in reversed(frames) if f != "when"), "top") if frames else "top"
    base = CompletionContext(start=start, partial=partial, block=block)
    if not frames:
        return _top_level(base, words)
    return _in_block(base, words, outer)


def _closed(string: str) -> bool:
    """Whether a one-line string token ends with its closing quote (not an escaped one)."""
    if len(string) < 2 or not string.endswith('"'):
        return False
    backslashes = len(string) - 1 - len(string[:-1].rstrip("\\"))
    return backslashes % 2 == 0


def _block_kind(words: list[str]) -> Block:
    first = words[0] if words else ""
    if first in ("profile", "model", "when"):
        return t.cast(Block, first)
    return "other"


def _listed(words: list[str], after: str) -> frozenset[str]:
    """Names already written in a list that follows the keyword `after`."""
    if after not in words:
        return frozenset()
    tail = words[words.index(after) + 1 :]
    return frozenset(w for w in tail if w not in (",", "[", "]"))


def _top_level(ctx: CompletionContext, words: list[str]) -> CompletionContext:
    if not words:
        return dataclasses.replace(ctx, keywords=TOP_KEYWORDS)
    first, n, last = words[0], len(words), words[-1]
    if first == "default" and n == 1:
        return dataclasses.replace(ctx, names=("profile",))
    if first == "profile" and n >= 2:
        own = frozenset({words[1]})
        if "for" in words and last in ("for", ","):
            return dataclasses.replace(ctx, names=("task",), exclude=_listed(words, "for"))
        if last == "extends":
            return dataclasses.replace(ctx, names=("profile",), exclude=own)
        if n == 2:
            return dataclasses.replace(ctx, keywords=("extends", "for"))
        if n == 4 and words[2] == "extends":
            return dataclasses.replace(ctx, keywords=("for",))
    if first == "model" and n >= 2:
        if n == 2:
            return dataclasses.replace(ctx, keywords=("from",))
        if last == "from" and n == 3:
            return dataclasses.replace(ctx, names=("model",), exclude=frozenset({words[1]}))
    return ctx


def _in_block(ctx: CompletionContext, words: list[str], outer: Block) -> CompletionContext:
    if not words:
        keywords: tuple[str, ...]
        if outer == "model":
            keywords = MODEL_KEYWORDS
        elif ctx.block == "when":
            keywords = ("unset",)
        else:
            keywords = PROFILE_KEYWORDS
        return dataclasses.replace(ctx, names=("parameter",), keywords=keywords)
    first, n, last = words[0], len(words), words[-1]
    if first == "use":
        if n == 1:
            return dataclasses.replace(ctx, names=("profile",))
        if n == 2:
            return dataclasses.replace(ctx, keywords=("for",))
        if n == 3 and last == "for":
            return dataclasses.replace(ctx, names=("task",))
        return ctx
    if first == "message":
        return dataclasses.replace(ctx, names=("role",)) if n == 1 else ctx
    if first == "when":
        if n == 1:
            return dataclasses.replace(ctx, keywords=("task",))
        if n == 2 and last == "task":
            return dataclasses.replace(ctx, keywords=("is", "in"))
        if n == 3 and words[2] == "is":
            return dataclasses.replace(ctx, names=("task",))
        if n >= 4 and words[2] == "in" and last in ("[", ","):
            return dataclasses.replace(ctx, names=("task",), exclude=_listed(words, "["))
        return ctx
    if first == "unset":
        return dataclasses.replace(ctx, names=("parameter",)) if last in ("unset", ",") else ctx
    if first in ("adapter", "system", "template", "license", "requires") or first[0] in '"<>[],;':
        return ctx
    if n == 1 or (n == 2 and words[1] == "+="):
        return dataclasses.replace(ctx, value_of=first)
    return ctx

"""Parse: source text to the syntax tree of `mpl.compiler.nodes`, with syntax diagnostics.

The grammar is `grammar/profile.lark` (package `mpl.grammar`), built once per
process as lark's LALR parser with the node builder given to `Lark(...)`, so
that nodes are built at each reduction and no parse tree is made (lark's
fastest documented configuration). Only `_Nodes` knows rule names. Syntax
errors are reported to the sink and the parser recovers declaration by
declaration, blanking the offending line, so that the rest of the file still
gets its semantic diagnostics.
"""

from __future__ import annotations

import bisect
import decimal
import functools
import math
import re
import threading
import typing as t

import msgspec.structs

from mpl._imports import without_optional

with without_optional("regex"):  # lark uses it only for `Lark(regex=True)`
    from lark import (
        Lark,
        Token,
        Transformer,
        UnexpectedCharacters,
        UnexpectedInput,
        UnexpectedToken,
    )

from mpl.compiler import lexicon, nodes  # noqa: E402
from mpl.diagnostics import Diagnostic, Sink  # noqa: E402
from mpl.source import SourceFile, Span  # noqa: E402

MAX_SYNTAX_ERRORS = 50

# How terminals are named in messages ("expected a value or `>`").
_PHRASES = {
    "NAME": "a name",
    "NUMBER": "a number",
    "STRING": "a string",
    "LONG_STRING": "a string",
    "_NL": "a line break",
    "$END": "the end of the file",
    "__ANON_0": "`+=`",
}


@functools.cache
def parser() -> Lark:
    """The LALR parser for `profile.lark`, built once per process.

    Building the LALR tables costs more than the rest of `mpl check`, so lark
    keeps them in the user's cache directory (never beside the installed
    package). Lark checks the grammar's hash on load and rebuilds a stale or
    unreadable cache; a cache that cannot be written only costs time.
    """
    grammar = lexicon.grammar_text()
    options: dict[str, t.Any] = {
        "parser": "lalr",
        "keep_all_tokens": True,  # a rule's keywords and brackets give its span
        "maybe_placeholders": False,
    }
    return Lark(grammar, transformer=_NODES, cache=_cache_file(grammar + repr(sorted(options.items()))), **options)


def _cache_file(key: str) -> str | bool:
    """Where lark keeps the built parser: `$MPL_CACHE_DIR`, else the XDG cache dir.

    The name holds a digest of the grammar and the parser's options (`key`), so
    that two versions of mpl sharing the folder do not overwrite each other's
    cache on every run. Returns False (no cache) when `MPL_CACHE_DIR` is set to
    an empty string or no cache directory can be made.
    """
    import hashlib
    import os

    import lark

    configured = os.environ.get("MPL_CACHE_DIR")
    if configured == "":
        return False
    if configured:
        folder = configured
    else:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        folder = os.path.join(base, "mpl")
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError:
        return False
    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
    return os.path.join(folder, f"profile-grammar-lark{lark.__version__}-{digest}.cache")


@functools.cache
def _terminal_patterns() -> dict[str, str]:
    return {term.name: term.pattern.value for term in parser().terminals if term.pattern.type == "str"}


def describe_terminal(name: str) -> str:
    """Say a terminal in words.

    >>> describe_terminal("MORETHAN"), describe_terminal("NAME")
    ('`>`', 'a name')
    """
    if name in _PHRASES:
        return _PHRASES[name]
    pattern = _terminal_patterns().get(name)
    return f"`{pattern}`" if pattern else name.lower()


def _expected_phrase(expected: t.Iterable[str]) -> str:
    words = sorted({describe_terminal(name) for name in expected if name not in ("LONG_STRING",)})
    if "a number" in words and "a string" in words and "`[`" in words:
        words = [w for w in words if w not in ("a number", "a string", "`[`", "`true`", "`false`")]
        words.insert(0, "a value")
    if len(words) > 6:
        words = words[:6] + ["…"]
    return ", ".join(words[:-1]) + (" or " if len(words) > 1 else "") + words[-1] if words else "something else"


# -- strings ------------------------------------------------------------------

_ESCAPES = {"\\": "\\", '"': '"', "n": "\n", "r": "\r", "t": "\t", "0": "\0"}
_ESCAPE_RE = re.compile(r"\\(u\{[0-9A-Fa-f]{1,6}\}|u[0-9A-Fa-f]{4}|[\s\S])")


def decode_string(raw: str, start: int, sink: Sink | None) -> tuple[str, bool]:
    """Turn the text of a string token (quotes included) into its value.

    `start` is the token's offset, used to place escape diagnostics.

    >>> decode_string('"a\\\\tb"', 0, None)
    ('a\\tb', False)
    >>> decode_string('\"\"\"\\nline\\r\\n\"\"\"', 0, None)
    ('line\\n', True)
    """
    triple = raw.startswith('"""')
    q = 3 if triple else 1
    body = raw[q:-q]
    base = start + q
    if triple:
        # A line break right after the opening quotes is not part of the value.
        for nl in ("\r\n", "\n", "\r"):
            if body.startswith(nl):
                body = body[len(nl) :]
                base += len(nl)
                break
    out: list[str] = []
    pos = 0
    for match in _ESCAPE_RE.finditer(body):
        out.append(_normalise_newlines(body[pos : match.start()]) if triple else body[pos : match.start()])
        esc = match.group(1)
        value = _escape_value(esc)
        if value is None:
            if sink is not None:
                span = Span(base + match.start(), base + match.end())
                code = _escape_code(esc)
                if code is not None and 0xD800 <= code <= 0xDFFF:
                    message = f"`\\{esc}` is a lone surrogate, and a lone surrogate is not a character"
                    fix = "write the character itself, or its code point: `\\u{1F600}`, not the UTF-16 pair `\\uD83D\\uDE00`"
                elif code is not None:
                    message = f"`\\{esc}` is beyond U+10FFFF, the last code point"
                    fix = "a `\\u{X…}` escape names a code point from 0 to 10FFFF"
                else:
                    message = f"unknown escape sequence `\\{esc[:1]}`"
                    fix = "known escapes: \\\\ \\\" \\n \\r \\t \\0 \\uXXXX \\u{X…}; write `\\\\` for a backslash"
                sink.report("MPL104", span, message, help=fix, escape="\\" + esc[:1])
            value = esc
        out.append(value)
        pos = match.end()
    out.append(_normalise_newlines(body[pos:]) if triple else body[pos:])
    return "".join(out), triple


def quote_string(value: str, *, triple: bool | None = None) -> str:
    """The source literal of a string value: the inverse of `decode_string`.

    Values with a line break become triple-quoted strings opened by a line
    break; others use one pair of quotes. Backslashes, quotes that could end
    the string, and characters that are not printable are escaped.

    >>> quote_string('say "hi"')
    '"say \\\\"hi\\\\""'
    >>> quote_string("one\\ntwo").splitlines()
    ['\"\"\"', 'one', 'two\"\"\"']
    """
    if triple is None:
        triple = "\n" in value
    out: list[str] = []
    last = len(value) - 1
    for index, ch in enumerate(value):
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            closing = value[index + 1 : index + 3] == '""' or index == last
            out.append('\\"' if (closing or not triple) else '"')
        elif triple and ch in "\n\t":
            out.append(ch)
        elif ch in _QUOTE_ESCAPES:
            out.append(_QUOTE_ESCAPES[ch])
        elif not ch.isprintable():
            code = ord(ch)
            out.append(f"\\u{code:04x}" if code <= 0xFFFF else f"\\u{{{code:x}}}")
        else:
            out.append(ch)
    body = "".join(out)
    return f'"""\n{body}"""' if triple else f'"{body}"'


def value_literal(value: bool | float | str | t.Sequence[t.Any], *, triple: bool = False) -> str:
    """A value as `.mprof` source writes it on one line: the printer of fmt, show, diff,
    hover and the session, and the inverse of the parser (parsing it gives `value`).

    Strings use `quote_string` with one pair of quotes (a line break is written `\\n`;
    `triple=True` writes a string holding a line break between three quotes), floats the shortest text that reads back as the same float, lists their items.

    >>> value_literal(True), value_literal(0.5), value_literal(4096), value_literal(1e-07)
    ('true', '0.5', '4096', '1e-07')
    >>> print(value_literal(["a\\bb\\f", 'say "hi"\\n']))
    ["a\\u0008b\\u000c", "say \\"hi\\"\\n"]
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{value!r} has no .mprof literal")
        return repr(value)
    if isinstance(value, str):
        return quote_string(value, triple=triple and "\n" in value)
    return "[" + ", ".join(value_literal(v) for v in value) + "]"


_QUOTE_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\0": "\\0"}


def _normalise_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _escape_code(esc: str) -> int | None:
    """The code point a `\\u` escape names, whether or not it is a character."""
    if esc.startswith("u{"):
        return int(esc[2:-1], 16)
    if esc.startswith("u") and len(esc) == 5:
        return int(esc[1:], 16)
    return None


def _escape_value(esc: str) -> str | None:
    if esc in _ESCAPES:
        return _ESCAPES[esc]
    code = _escape_code(esc)
    if code is None:
        return None
    if code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        return None
    return chr(code)


# -- building nodes -------------------------------------------------------------


@functools.lru_cache(maxsize=1 << 16)  # a source repeats the same few numbers
def _number_value(text: str) -> int | float:
    """The value of a NUMBER token's text."""
    if _INTEGER(text):
        # Decimal reads any length (int() refuses more than 4300 digits); the checker says it does not fit.
        return int(text) if len(text) < 4000 else int(decimal.Decimal(text))
    return float(text)


_INTEGER = re.compile(r"[+-]?\d+").fullmatch


_D = t.TypeVar("_D", bound=nodes.Decl)
_Children: t.TypeAlias = "list[t.Any]"  # a rule's children: tokens and nodes


class _Nodes(Transformer):
    """One method per grammar rule: the rule's children, to a node.

    Given to `Lark(transformer=...)`, so lark calls a method at each reduction
    and no parse tree is built. The parser keeps every token
    (`keep_all_tokens`), so a rule's span runs from its first child to its
    last, keywords and brackets included; methods drop the tokens they do not
    need. Token positions are relative to the text lark was given, which
    starts at `offset` in the source. Never raises for user errors (they go to
    the sink).
    """

    def __init__(self) -> None:
        super().__init__()
        self.sink: Sink | None = None
        self.offset = 0
        self.decls: list[nodes.Decl] = []  # every declaration completed so far, in order

    def begin(self, sink: Sink | None, offset: int) -> None:
        """Prepare for the parse of a text that starts at `offset` in the source."""
        self.sink, self.offset, self.decls = sink, offset, []

    def _span(self, children: _Children) -> Span:
        first: t.Any = children[0]
        last: t.Any = children[-1]
        # A token from lark's lexer always has its positions (typed optional).
        start = first.start_pos + self.offset if type(first) is Token else first.span.start  # type: ignore[operator]
        end = last.end_pos + self.offset if type(last) is Token else last.span.end  # type: ignore[operator]
        return Span(start, end)

    def _token_span(self, token: t.Any) -> Span:
        return Span(token.start_pos + self.offset, token.end_pos + self.offset)

    def _declared(self, decl: _D) -> _D:
        self.decls.append(decl)
        return decl

    # values
    def name(self, children: _Children) -> nodes.Name:
        return nodes.Name(span=self._token_span(children[0]), value=str(children[0]))

    role = name

    def number(self, children: _Children) -> nodes.Number:
        text = str(children[0])
        return nodes.Number(span=self._token_span(children[0]), value=_number_value(text), text=text)

    def string(self, children: _Children) -> nodes.String:
        token = children[0]
        value, triple = decode_string(token, token.start_pos + self.offset, self.sink)
        return nodes.String(span=self._token_span(token), value=value, triple=triple)

    def true(self, children: _Children) -> nodes.Bool:
        return nodes.Bool(span=self._token_span(children[0]), value=True)

    def false(self, children: _Children) -> nodes.Bool:
        return nodes.Bool(span=self._token_span(children[0]), value=False)

    def list(self, children: _Children) -> nodes.List:
        return nodes.List(span=self._span(children), items=_kept(children))

    # statements
    def description(self, children: _Children) -> nodes.Description:
        return nodes.Description(span=children[0].span, text=children[0])

    def param(self, children: _Children) -> nodes.Param:
        return nodes.Param(span=self._span(children), name=children[0], value=children[-1])

    def param_append(self, children: _Children) -> nodes.Param:
        return nodes.Param(span=self._span(children), name=children[0], value=children[-1], append=True)

    def unset_stmt(self, children: _Children) -> nodes.UnsetStmt:
        return nodes.UnsetStmt(span=self._span(children), names=_kept(children))

    def when_is(self, children: _Children) -> nodes.When:
        return nodes.When(span=self._span(children), tasks=(children[-2],), form="is", block=children[-1])

    def when_in(self, children: _Children) -> nodes.When:
        *tasks, block = _kept(children)
        return nodes.When(span=self._span(children), tasks=tuple(tasks), form="in", block=block)

    def adapter_stmt(self, children: _Children) -> nodes.AdapterStmt:
        return nodes.AdapterStmt(span=self._span(children), path=children[-1])

    def use_stmt(self, children: _Children) -> nodes.UseStmt:
        kept = _kept(children)
        return nodes.UseStmt(span=self._span(children), profile=kept[0], task=kept[1] if len(kept) > 1 else None)

    def _text_stmt(self, children: _Children) -> nodes.TextStmt:
        return nodes.TextStmt(span=self._span(children), keyword=t.cast(t.Any, str(children[0])), text=children[-1])

    system_stmt = template_stmt = license_stmt = requires_stmt = _text_stmt

    def message_stmt(self, children: _Children) -> nodes.MessageStmt:
        return nodes.MessageStmt(span=self._span(children), role=children[1], text=children[2])

    def block(self, children: _Children) -> nodes.Block:
        return nodes.Block(span=self._span(children), stmts=_kept(children))

    # declarations
    def ollama_decl(self, children: _Children) -> nodes.OllamaDecl:
        return self._declared(nodes.OllamaDecl(span=self._span(children), version=children[-1]))

    def tasks_decl(self, children: _Children) -> nodes.TasksDecl:
        return self._declared(nodes.TasksDecl(span=self._span(children), names=_kept(children)))

    def default_decl(self, children: _Children) -> nodes.DefaultDecl:
        return self._declared(nodes.DefaultDecl(span=self._span(children), name=children[-1]))

    def extends_clause(self, children: _Children) -> _Clause:
        return _Clause("extends", (children[-1],))

    def for_clause(self, children: _Children) -> _Clause:
        return _Clause("for", _kept(children))

    def profile_decl(self, children: _Children) -> nodes.ProfileDecl:
        parent = None
        tasks: tuple[nodes.Name, ...] = ()
        for clause in children[2:-1]:
            if clause.kind == "extends":
                parent = clause.names[0]
            else:
                tasks = clause.names
        return self._declared(nodes.ProfileDecl(span=self._span(children), name=children[1], parent=parent, tasks=tasks, block=children[-1]))

    def model_name(self, children: _Children) -> nodes.Name | nodes.String:
        return t.cast("nodes.Name | nodes.String", children[0])

    model_source = model_name

    def model_decl(self, children: _Children) -> nodes.ModelDecl:
        block = children[4] if len(children) > 4 else None
        return self._declared(nodes.ModelDecl(span=self._span(children), name=children[1], source=children[3], block=block))

    def start(self, children: _Children) -> tuple[nodes.Decl, ...]:
        return _kept(children)


class _Clause(t.NamedTuple):
    """A profile's `extends` or `for` clause, until `profile_decl` places it."""

    kind: str
    names: tuple[nodes.Name, ...]


def _kept(children: _Children) -> tuple[t.Any, ...]:
    """The children that are not tokens (keywords, brackets, separators)."""
    return tuple([child for child in children if type(child) is not Token])


# The one node builder, bound into `parser()`; `parse_chunk` tells it where the text starts.
_NODES = _Nodes()


# -- comments -------------------------------------------------------------------

_COMMENT_SCAN = re.compile(lexicon.STRINGS_AND_COMMENTS)


def scan_comments(text: str) -> tuple[nodes.Comment, ...]:
    """Every `#` comment of a text, skipping `#` inside strings.

    >>> [c.text for c in scan_comments('a "#x" # real\\n# two')]
    ['# real', '# two']
    """
    return tuple(
        nodes.Comment(span=Span(m.start(), m.end()), text=m.group())
        for m in _COMMENT_SCAN.finditer(text)
        if m.group().startswith("#")
    )


# -- parsing with recovery --------------------------------------------------------

# What may stand between two declarations.
_BETWEEN = re.compile(r"(?:[ \t\f\r\n;]|#[^\r\n]*)*").fullmatch

# The transformer lark calls holds the sink and the offset of the parse under way.
_PARSING = threading.RLock()


def parse(source: SourceFile | str, sink: Sink | None = None) -> nodes.File:
    """Parse a source file; syntax errors go to the sink.

    A clean file is parsed once, whole. After a syntax error, the declarations
    lark completed before it are kept, and the rest of the file is parsed one
    declaration at a time (see `chunk_starts`), each once, with recovery: an
    unclosed `<` then costs its own declaration only, and the declarations
    after it keep their semantic diagnostics.

    >>> f = parse(SourceFile("a.mprof", "profile p < temperature 0.5 >"))
    >>> f.decls[0].block.stmts[0].value.value
    0.5
    """
    if isinstance(source, str):
        source = SourceFile("<string>", source)
    if sink is None:
        sink = Sink(source)
    try:
        with _PARSING:
            try:
                decls, syntax_ok = _parse_file(source, sink)
            finally:
                _NODES.begin(None, 0)  # hold no sink or nodes of this parse
    except RecursionError:
        report_too_deep(sink)
        return nodes.File(span=Span(0, len(source.text)), source=source, decls=(), syntax_ok=False)
    text = source.text
    return nodes.File(span=Span(0, len(text)), source=source, decls=decls, comments=scan_comments(text), syntax_ok=syntax_ok)


def _parse_file(source: SourceFile, sink: Sink) -> tuple[tuple[nodes.Decl, ...], bool]:
    text = source.text
    trial = Sink(source)
    _NODES.begin(trial, 0)
    try:
        decls: tuple[nodes.Decl, ...] = parser().parse(text)  # type: ignore[assignment]
    except UnexpectedInput:
        done = _NODES.decls
    else:
        sink.extend(trial.diagnostics)
        return decls, True
    starts = chunk_starts(text)
    offsets = [start for start, _ in starts]
    # Resume with the chunk holding the end of the last declaration lark completed,
    # or the next one when nothing but separators and comments follows that end.
    last_end = done[-1].span.end if done else 0
    first = bisect.bisect_right(offsets, last_end) - 1
    if first + 1 < len(offsets) and _BETWEEN(text, last_end, offsets[first + 1]):
        first += 1
    resume = offsets[first]
    kept = [decl for decl in done if decl.span.end <= resume]
    sink.extend(d for d in trial.diagnostics if d.span is not None and d.span.end <= resume)
    rest = parse_chunks(source, starts, first, _fresh_chunk)
    if rest is None:
        sink.report("MPL101", None, f"too many syntax errors; stopped after {MAX_SYNTAX_ERRORS}")
        return (), False
    found, diagnostics, syntax_ok = rest
    sink.extend(diagnostics)
    return (*kept, *found), syntax_ok


ChunkParse = t.Callable[[SourceFile, int, int], "tuple[tuple[nodes.Decl, ...], list[Diagnostic], bool]"]


def _fresh_chunk(source: SourceFile, start: int, end: int) -> tuple[tuple[nodes.Decl, ...], list[Diagnostic], bool]:
    sink = Sink(source)
    found, ok = parse_chunk(source, sink, start, end)
    return found, list(sink.diagnostics), ok


def parse_chunks(
    source: SourceFile, starts: list[tuple[int, str]], first: int, parse_one: ChunkParse
) -> tuple[list[nodes.Decl], list[Diagnostic], bool] | None:
    """The declarations, syntax diagnostics and syntax verdict of the chunks from `starts[first]` on.

    `parse_one(source, start, end)` parses one chunk (`parse_chunk`, or the
    language server's cache of clean chunks). A chunk's end-of-file error is
    said at the next chunk's keyword (`at_next_keyword`). None after more than
    `MAX_SYNTAX_ERRORS` syntax errors.
    """
    decls: list[nodes.Decl] = []
    diagnostics: list[Diagnostic] = []
    syntax_ok = True
    errors = 0
    for index in range(first, len(starts)):
        start = starts[index][0]
        end = starts[index + 1][0] if index + 1 < len(starts) else len(source.text)
        found, chunk_diagnostics, chunk_ok = parse_one(source, start, end)
        decls.extend(found)
        syntax_ok = syntax_ok and chunk_ok
        if index + 1 < len(starts):
            chunk_diagnostics = [at_next_keyword(d, end, starts[index + 1][1]) for d in chunk_diagnostics]
        diagnostics.extend(chunk_diagnostics)
        errors += sum(1 for d in chunk_diagnostics if d.code.startswith("MPL1"))
        if errors > MAX_SYNTAX_ERRORS:
            return None
    return decls, diagnostics, syntax_ok


def parse_chunk(source: SourceFile, sink: Sink, start: int, end: int) -> tuple[tuple[nodes.Decl, ...], bool]:
    """The declarations of `source.text[start:end]`, recovering from syntax errors, and whether it had none.

    Spans are offsets in the whole source. A syntax error is reported and the
    line holding it blanked (`_blank_line`), and the chunk parsed again: only
    this chunk, whose text is one declaration (`chunk_starts`).
    """
    with _PARSING:
        try:
            return _parse_chunk(source, sink, start, end)
        finally:
            _NODES.begin(None, 0)  # hold no sink or nodes of this parse


def _parse_chunk(source: SourceFile, sink: Sink, start: int, end: int) -> tuple[tuple[nodes.Decl, ...], bool]:
    text = source.text[start:end]
    lost_openers = 0  # `<` removed by recovery, whose `>` errors are not reported
    errors = 0
    appended = ""
    syntax_ok = True
    while True:
        attempt = Sink(source)  # escapes are reported by the attempt that succeeds
        _NODES.begin(attempt, start)
        try:
            decls: tuple[nodes.Decl, ...] = parser().parse(text + appended)  # type: ignore[assignment]
            break
        except UnexpectedInput as exc:
            syntax_ok = False
            errors += 1
            if errors > MAX_SYNTAX_ERRORS:
                sink.report("MPL101", None, f"too many syntax errors; stopped after {MAX_SYNTAX_ERRORS}")
                return (), False
            if isinstance(exc, UnexpectedToken) and exc.token.type == "$END":
                closers = _open_brackets(exc)
                if not closers or len(appended) > 1000:
                    if lost_openers == 0:
                        _report_syntax(sink, source, exc, end, start, end)
                    return (), False
                if lost_openers == 0 and not appended:
                    _report_syntax(sink, source, exc, end, start, end)
                appended += "\n" + "\n".join(closers)
                continue
            at = _error_pos(exc)
            if at >= end - start:
                # An error in the closers recovery appended: the end of the chunk is already reported.
                return (), False
            pos = at + start
            if isinstance(exc, UnexpectedCharacters) and source.text.startswith('"', pos):
                # `"""abc` lexes as the empty string `""` and then a stray `"`.
                while pos > start and source.text[pos - 1] == '"' and not source.text.startswith('"""', pos):
                    pos -= 1
                at = pos - start
            if lost_openers == 0:
                _report_syntax(sink, source, exc, pos, start, end)
            if isinstance(exc, UnexpectedCharacters) and text.startswith("{", at):
                # `profile p { ... }`: reported once; read on as if written with `< >`.
                close = _brace_block(text, at)
                if close is not None:
                    text = text[:at] + "<" + text[at + 1 : close] + ">" + text[close + 1 :]
                    continue
            new_text, delta = _blank_line(text, at)
            if new_text == text:  # no progress possible; give up on the rest
                return (), False
            text = new_text
            lost_openers = max(0, lost_openers + delta)
    sink.extend(attempt.diagnostics)
    return decls, syntax_ok


# Only a triple-quoted string can hide a line start (single-line strings and
# comments end with their line); finding strings also finds where they start.
_STRINGS = re.compile(lexicon.STRINGS_AND_COMMENTS)
_DECL = re.compile(r"(?:\A|(?<=[\r\n]))(" + "|".join(lexicon.DECL_KEYWORDS) + r")(?![A-Za-z0-9_\-])")
_DECL_LF = re.compile(r"^(" + "|".join(lexicon.DECL_KEYWORDS) + r")(?![A-Za-z0-9_\-])", re.MULTILINE)


def chunk_starts(text: str) -> list[tuple[int, str]]:
    """Offsets where top-level chunks start, with the keyword found there (`""` for the head).

    A chunk starts at a line beginning (column 0) with a declaration keyword
    (`profile`, `model`, `tasks`, `default`, `ollama`) outside strings and
    comments.

    >>> chunk_starts('# head\\nprofile a < >\\nmodel m from x <\\n  profile\\n  system \"\"\"\\nprofile\"\"\"\\n>')
    [(0, ''), (7, 'profile'), (21, 'model')]
    """
    hidden: list[tuple[int, int]] = []
    if '"""' in text:
        hidden = [m.span() for m in _STRINGS.finditer(text) if m.group().startswith('"""')]
    lone_cr = "\r" in text and text.count("\r") != text.count("\r\n")
    starts: list[tuple[int, str]] = [(0, "")]
    for match in (_DECL if lone_cr else _DECL_LF).finditer(text):
        offset = match.start()
        if hidden:
            index = bisect.bisect_right(hidden, (offset, len(text) + 1)) - 1
            if index >= 0 and hidden[index][0] < offset < hidden[index][1]:
                continue
        if offset == 0:
            starts[0] = (0, match.group(1))
        else:
            starts.append((offset, match.group(1)))
    return starts


def at_next_keyword(diag: Diagnostic, end: int, keyword: str) -> Diagnostic:
    """An end-of-chunk error, said as the whole-file parse says it: at the next declaration."""
    if diag.code != "MPL102" or diag.span is None or diag.span.start != end:
        return diag
    prefix = "unexpected end of file: "
    note = diag.message[len(prefix) :] if diag.message.startswith(prefix) else None
    return msgspec.structs.replace(
        diag,
        code="MPL101",
        message=f"unexpected `{keyword}`",
        span=Span(end, end + len(keyword)),
        help=note or diag.help,
        args=(("token", keyword),),
    )


# Beyond this depth of `< >` and `[ ]`, a source that made mpl recurse too deeply is reported (MPL007).
MAX_NESTING = 64


def report_too_deep(sink: Sink) -> None:
    """MPL007 at the bracket where the nesting grows too deep to read."""
    text = sink.source.text
    blanked = re.sub(lexicon.STRINGS_AND_COMMENTS, lambda m: " " * len(m.group()), text)
    depth, at = 0, 0
    for match in re.finditer(r"[<\[{]|[>\]}]", blanked):
        depth += 1 if match.group() in "<[{" else -1
        if depth > MAX_NESTING:
            at = match.start()
            break
    sink.report("MPL007", Span(at, min(at + 1, len(text))),
                f"the source nests blocks or lists more than {MAX_NESTING} deep here; mpl does not read it further",
                help="flatten it: a profile's `when` blocks and a parameter's list do not nest")


def _error_pos(exc: UnexpectedInput) -> int:
    """Where the error is, in the text lark was given."""
    if isinstance(exc, UnexpectedToken):
        return exc.token.start_pos if exc.token.start_pos is not None else 0
    return exc.pos_in_stream or 0


def _open_brackets(exc: UnexpectedToken) -> list[str]:
    """The closers needed for the blocks and lists still open on the parser's stack."""
    closers: list[str] = []
    try:
        stack = exc.interactive_parser.parser_state.value_stack
    except AttributeError:  # pragma: no cover - lark always gives it for LALR
        return closers
    for item in stack:
        if isinstance(item, Token) and item.type == "LESSTHAN":
            closers.append(">")
        elif isinstance(item, Token) and item.type == "LSQB":
            closers.append("]")
    return list(reversed(closers))


def _open_block_note(exc: UnexpectedToken, source: SourceFile, offset: int) -> str | None:
    """Name the innermost open block: "to close `profile base` opened at 3:14"."""
    try:
        stack = exc.interactive_parser.parser_state.value_stack
    except AttributeError:  # pragma: no cover
        return None
    for index in range(len(stack) - 1, -1, -1):
        item = stack[index]
        if isinstance(item, Token) and item.type in ("LESSTHAN", "LSQB"):
            line, col = source.line_col(t.cast(int, item.start_pos) + offset)
            header = _header_words(stack[:index], source)
            what = "list" if item.type == "LSQB" else "block"
            closer = "]" if item.type == "LSQB" else ">"
            label = f"`{header}`" if header else f"the {what}"
            return f"expected `{closer}` to close {label} opened at {line}:{col}"
    return None


def _header_words(stack: t.Sequence[t.Any], source: SourceFile) -> str:
    words: list[str] = []
    for item in reversed(stack):
        if isinstance(item, Token):
            if item.type in ("_NL", "SEMICOLON", "LESSTHAN", "MORETHAN"):
                break
            words.append(str(item))
            if item.type in ("PROFILE", "MODEL", "WHEN"):
                break
        elif isinstance(item, nodes.Name):
            words.append(item.value)
        elif isinstance(item, nodes.String):
            words.append(source.text[item.span.start : item.span.end])
        elif isinstance(item, _Clause):
            words.append(" ".join(name.value for name in item.names))
        else:  # a statement, a block, separators
            break
    words.reverse()
    # Keep the keyword and the name: `profile base`, `model x`, `when task is docs`.
    return " ".join(words[:4]) if words else ""


def _report_syntax(sink: Sink, source: SourceFile, exc: UnexpectedInput, pos: int, offset: int, stop: int) -> None:
    """Report a syntax error at `pos` of a chunk that starts at `offset` and ends at `stop` in the source."""
    text = source.text
    if isinstance(exc, UnexpectedCharacters):
        char = text[pos] if pos < len(text) else ""
        if char == '"':
            triple = text.startswith('"""', pos)
            end = pos + (3 if triple else 1)
            sink.report(
                "MPL103",
                Span(pos, end),
                "unterminated multi-line string" if triple else "unterminated string",
                help="close it with `\"\"\"`" if triple else "close it with `\"` on the same line; use `\"\"\"` for text that spans lines",
            )
            return
        shown = char if char.isprintable() else f"U+{ord(char):04X}"
        sink.report(
            "MPL101",
            Span(pos, pos + 1),
            f"unexpected character `{shown}`",
            help=_unquoted_model_name(text, pos)
            or _syntax_hint(text, pos)
            or (f"expected {_expected_phrase(exc.allowed)}" if exc.allowed else None),
            token=char,
        )
        return
    assert isinstance(exc, UnexpectedToken)
    token = exc.token
    note = _open_block_note(exc, source, offset)
    if token.type == "$END":
        sink.report(
            "MPL102",
            Span(stop, stop),
            "unexpected end of file" + (f": {note}" if note else ""),
            help=f"expected {_expected_phrase(exc.expected)}",
        )
        return
    if token.type == "_NL":
        shown = "line break"
    else:
        shown = f"`{token}`"
    help_text = f"expected {_expected_phrase(exc.expected)}"
    if (hint := _unquoted_model_name(text, pos) or _syntax_hint(text, pos)) is not None:
        help_text = hint
    elif token.type == "MORETHAN" and "MORETHAN" not in exc.expected:
        help_text += "; `>` closes a block only after a complete statement"
    elif note and "MORETHAN" in exc.expected and token.type in ("PROFILE", "MODEL", "TASKS", "DEFAULT", "OLLAMA"):
        help_text = note
    end = token.end_pos + offset if token.end_pos is not None else pos + 1
    if token.type == "_NL":
        end = pos  # point at the end of the line, not into the next one
    sink.report("MPL101", Span(pos, max(end, pos)), f"unexpected {shown}", help=help_text, token=str(token))


# Modelfile instructions, which a profile spells in lower case (PARAMETER: not at all).
_MODELFILE_WORDS = ("FROM", "PARAMETER", "SYSTEM", "TEMPLATE", "ADAPTER", "LICENSE", "MESSAGE", "REQUIRES")
# The patterns of the hints below are compiled on first use (`re` keeps them): only a
# syntax error needs them.
_LINE_HEAD = rf"[ \t]*({lexicon.NAME})"


def _line_at(text: str, pos: int) -> tuple[int, int]:
    start = max(text.rfind("\n", 0, pos), text.rfind("\r", 0, pos)) + 1
    ends = [i for i in (text.find("\n", pos), text.find("\r", pos)) if i >= 0]
    return start, min(ends) if ends else len(text)


def _syntax_hint(text: str, pos: int) -> str | None:
    """A hint for syntax borrowed from other formats: `name = value`, `name: value`, `{ }`, Modelfile words."""
    start, end = _line_at(text, pos)
    line = text[start:end].split("#", 1)[0].strip()
    head = re.compile(_LINE_HEAD).match(text, start)
    char = text[pos] if pos < len(text) else ""
    if head is not None and head.group(1) in _MODELFILE_WORDS and pos >= head.start(1):
        word = head.group(1)
        rest = line[len(word) :].strip()
        written = rest if word == "PARAMETER" else f"{word.lower()} {rest}".strip()
        return f"`{word}` is Modelfile syntax: in a profile write `{written}` (`mpl import` converts a Modelfile)"
    if char in "=:" and head is not None and head.end(1) <= pos and not text[head.end(1) : pos].strip():
        rest = text[pos + 1 : end].split("#", 1)[0].strip()
        return f"no `{char}`: write `{' '.join(filter(None, (head.group(1), rest)))}`"
    if char == "{":
        return "blocks use `< >`: write `" + text[start:pos].strip() + " <` and close the block with `>`"
    return None


_BRACES = lexicon.STRINGS_AND_COMMENTS + "|[{}]"


def _brace_block(text: str, pos: int) -> int | None:
    """The offset of the `}` that closes the `{` at `pos` (outside strings and comments), if any."""
    depth = 0
    for match in re.compile(_BRACES).finditer(text, pos):
        token = match.group()
        if token == "{":
            depth += 1
        elif token == "}":
            depth -= 1
            if depth == 0:
                return match.start()
    return None


_MODEL_WORD = r"(?:^|[\s;])(?:model|from)[ \t]+(" + lexicon.NAME + ")$"


def _unquoted_model_name(text: str, pos: int) -> str | None:
    """A hint when a model name or source with `.`, `:`, `/` or `~` was written unquoted."""
    if pos >= len(text) or text[pos] not in ".:/~":
        return None
    line_start = max(text.rfind("\n", 0, pos), text.rfind("\r", 0, pos)) + 1
    before = text[line_start:pos]
    match = re.search(_MODEL_WORD, before)
    if match is not None:
        start = line_start + match.start(1)
    elif text[pos] in "./~" and re.search(r"(?:^|[\s;])from[ \t]+$", before):
        start = pos
    else:
        return None
    end = pos
    while end < len(text) and text[end] not in " \t\r\n<;#":
        end += 1
    return f'quote model names and paths that hold `.`, `:`, `/` or `~`: `"{text[start:end]}"`'


_BRACKETS = lexicon.STRINGS_AND_COMMENTS + "|[<>]"


def _blank_line(text: str, pos: int) -> tuple[str, int]:
    """Replace the line holding `pos` with spaces (offsets are kept).

    Returns the new text and the number of block openers removed minus the
    closers removed, so that the caller can silence the errors this causes.
    """
    start = max(text.rfind("\n", 0, pos), text.rfind("\r", 0, pos)) + 1
    if pos < len(text) and text[pos] in "\r\n" and pos > 0 and start == pos:
        # The error is a line break: blank the line it ends.
        start = max(text.rfind("\n", 0, pos - 1), text.rfind("\r", 0, pos - 1)) + 1
    end = len(text)
    for nl in ("\n", "\r"):
        found = text.find(nl, max(pos, start))
        if found != -1:
            end = min(end, found)
    if end <= start and pos < len(text):
        end = start + 1
    segment = text[start:end]
    delta = 0
    for match in re.finditer(_BRACKETS, segment):
        if match.group() == "<":
            delta += 1
        elif match.group() == ">":
            delta -= 1
    if text.startswith('"""', pos) and start <= pos < end:
        # An unterminated string: blank to the end of the file, since its text is lost.
        blank = re.sub(r"[^\r\n]", " ", text[start:])
        return text[:start] + blank, delta
    blank = re.sub(r"[^\r\n]", " ", segment)
    return text[:start] + blank + text[end:], delta


"""Parse: source text to the syntax tree of `mpl.compiler.nodes`, with syntax diagnostics.

The grammar is `grammar/profile.lark` (package `mpl.grammar`), built once per
process as an LALR parser. The lark tree never leaves this module: one
`Transformer` is the only code that knows rule names. Syntax errors are
reported to the sink and the parser recovers by blanking the offending line,
so that the rest of the file still gets its semantic diagnostics.
"""

from __future__ import annotations

import functools
import decimal
import gc
import math
import re
import typing as t

from lark import Lark, Token, Transformer, Tree, UnexpectedCharacters, UnexpectedInput, UnexpectedToken, v_args
from lark.exceptions import VisitError

from mpl.compiler import lexicon, nodes
from mpl.diagnostics import Sink
from mpl.source import SourceFile, Span

MAX_SYNTAX_ERRORS = 50
# Below this size lark parses alone: building the fast parser's tables costs
# more than it saves on a small file.
FAST_FROM = 4096

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
    return Lark(
        grammar,
        parser="lalr",
        propagate_positions=True,
        maybe_placeholders=False,
        cache=_cache_file(),
    )


def _cache_file() -> str | bool:
    """Where lark keeps the built parser: `$MPL_CACHE_DIR`, else the XDG cache dir.

    Returns False (no cache) when `MPL_CACHE_DIR` is set to an empty string or no
    cache directory can be made.
    """
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
    return os.path.join(folder, f"profile-grammar-lark{lark.__version__}.cache")


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


def value_literal(value: bool | int | float | str | t.Sequence[t.Any], *, triple: bool = False) -> str:
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


class _Builder:
    """One method per grammar rule: the rule's span, then its kept children, to a node.

    Tokens arrive as their text. Both parsers below call these methods, so the
    nodes do not depend on which one parsed. Never raises for user errors
    (they go to the sink).
    """

    def __init__(self, sink: Sink | None) -> None:
        self.sink = sink

    # values
    def name(self, start: int, end: int, text: str) -> nodes.Name:
        return nodes.Name(span=Span(start, end), value=text)

    role = name

    def number(self, start: int, end: int, text: str) -> nodes.Number:
        return nodes.Number(span=Span(start, end), value=_number_value(text), text=text)

    def string(self, start: int, end: int, text: str) -> nodes.String:
        value, triple = decode_string(text, start, self.sink)
        return nodes.String(span=Span(start, end), value=value, triple=triple)

    def true(self, start: int, end: int) -> nodes.Bool:
        return nodes.Bool(span=Span(start, end), value=True)

    def false(self, start: int, end: int) -> nodes.Bool:
        return nodes.Bool(span=Span(start, end), value=False)

    def list(self, start: int, end: int, *items: nodes.Value) -> nodes.List:
        return nodes.List(span=Span(start, end), items=items)

    # statements
    def description(self, start: int, end: int, text: nodes.String) -> nodes.Description:
        return nodes.Description(span=Span(start, end), text=text)

    def param(self, start: int, end: int, name: nodes.Name, value: nodes.Value) -> nodes.Param:
        return nodes.Param(span=Span(start, end), name=name, value=value)

    def param_append(self, start: int, end: int, name: nodes.Name, value: nodes.Value) -> nodes.Param:
        return nodes.Param(span=Span(start, end), name=name, value=value, append=True)

    def unset_stmt(self, start: int, end: int, *names: nodes.Name) -> nodes.UnsetStmt:
        return nodes.UnsetStmt(span=Span(start, end), names=names)

    def when_is(self, start: int, end: int, task: nodes.Name, block: nodes.Block) -> nodes.When:
        return nodes.When(span=Span(start, end), tasks=(task,), form="is", block=block)

    def when_in(self, start: int, end: int, *args: t.Any) -> nodes.When:
        *tasks, block = args
        return nodes.When(span=Span(start, end), tasks=tuple(tasks), form="in", block=block)

    def adapter_stmt(self, start: int, end: int, path: nodes.String) -> nodes.AdapterStmt:
        return nodes.AdapterStmt(span=Span(start, end), path=path)

    def use_stmt(self, start: int, end: int, profile: nodes.Name, task: nodes.Name | None = None) -> nodes.UseStmt:
        return nodes.UseStmt(span=Span(start, end), profile=profile, task=task)

    def system_stmt(self, start: int, end: int, text: nodes.String) -> nodes.TextStmt:
        return nodes.TextStmt(span=Span(start, end), keyword="system", text=text)

    def template_stmt(self, start: int, end: int, text: nodes.String) -> nodes.TextStmt:
        return nodes.TextStmt(span=Span(start, end), keyword="template", text=text)

    def license_stmt(self, start: int, end: int, text: nodes.String) -> nodes.TextStmt:
        return nodes.TextStmt(span=Span(start, end), keyword="license", text=text)

    def requires_stmt(self, start: int, end: int, text: nodes.String) -> nodes.TextStmt:
        return nodes.TextStmt(span=Span(start, end), keyword="requires", text=text)

    def message_stmt(self, start: int, end: int, role: nodes.Name, text: nodes.String) -> nodes.MessageStmt:
        return nodes.MessageStmt(span=Span(start, end), role=role, text=text)

    def block(self, start: int, end: int, *stmts: nodes.Stmt) -> nodes.Block:
        return nodes.Block(span=Span(start, end), stmts=stmts)

    # declarations
    def ollama_decl(self, start: int, end: int, version: nodes.String) -> nodes.OllamaDecl:
        return nodes.OllamaDecl(span=Span(start, end), version=version)

    def tasks_decl(self, start: int, end: int, *names: nodes.Name) -> nodes.TasksDecl:
        return nodes.TasksDecl(span=Span(start, end), names=names)

    def default_decl(self, start: int, end: int, name: nodes.Name) -> nodes.DefaultDecl:
        return nodes.DefaultDecl(span=Span(start, end), name=name)

    def extends_clause(self, start: int, end: int, name: nodes.Name) -> tuple[str, t.Any]:
        return ("extends", name)

    def for_clause(self, start: int, end: int, *names: nodes.Name) -> tuple[str, t.Any]:
        return ("for", names)

    def profile_decl(self, start: int, end: int, name: nodes.Name, *rest: t.Any) -> nodes.ProfileDecl:
        parent = None
        tasks: tuple[nodes.Name, ...] = ()
        block = rest[-1]
        for clause in rest[:-1]:
            if clause[0] == "extends":
                parent = clause[1]
            else:
                tasks = clause[1]
        return nodes.ProfileDecl(span=Span(start, end), name=name, parent=parent, tasks=tasks, block=block)

    def model_name(self, start: int, end: int, value: nodes.Name | nodes.String) -> nodes.Name | nodes.String:
        return value

    model_source = model_name

    def model_decl(
        self, start: int, end: int, name: t.Any, source: t.Any, block: nodes.Block | None = None
    ) -> nodes.ModelDecl:
        return nodes.ModelDecl(span=Span(start, end), name=name, source=source, block=block)

    def start(self, start: int, end: int, *decls: nodes.Decl) -> tuple[nodes.Decl, ...]:
        return decls


_INTEGER = re.compile(r"[+-]?\d+").fullmatch


def _tree_method(rule: str) -> t.Callable[..., t.Any]:
    def method(self: _ToNodes, meta: t.Any, *children: t.Any) -> t.Any:
        args = [str(c) if isinstance(c, Token) else c for c in children]
        # `start` of a file without declarations has no position.
        return getattr(self.build, rule)(getattr(meta, "start_pos", 0), getattr(meta, "end_pos", 0), *args)

    method.__name__ = rule
    return method


@v_args(inline=True, meta=True)
class _ToNodes(Transformer):
    """Lark tree to nodes, through `_Builder`: the reference parse (and every parse with errors)."""

    def __init__(self, sink: Sink) -> None:
        super().__init__()
        self.build = _Builder(sink)

    locals().update(
        (rule, _tree_method(rule)) for rule, value in vars(_Builder).items() if not rule.startswith("_") and callable(value)
    )


# -- the fast parser ---------------------------------------------------------------
#
# Lark's own LALR loop makes a Token object for every token and calls a tree
# builder for every reduction: about 300 KB/s. The driver below runs the same
# LALR(1) automaton (lark's parse table for `profile.lark`) over the same
# tokens (a lexer compiled from the grammar's own terminal patterns, with
# lark's contextual rule for keywords), and builds nodes straight from the
# stack with `_Builder`, so the grammar file still defines everything. It
# only handles text without syntax errors: on any error it gives up and
# `parse` runs lark, whose messages and recovery are the reference.


class _GiveUp(Exception):
    """The fast parser met something it does not handle alike: use lark."""


class _Tables(t.NamedTuple):
    lexer: t.Callable[[str], t.Iterator[re.Match[str]]]
    terms: list[str]  # the lexer's group number -> the terminal it matched (`match.lastindex`)
    keywords: dict[str, str]
    action: list[dict[str, int]]  # state -> terminal -> shift state (>= 0) or ~rule index
    unit: list[dict[int, int] | None]  # rule index -> goto for a rule that only relabels
    reducers: list[t.Any]  # rule index -> reducer(stack, vals, starts, ends, build)
    # state -> (builder, goto) when the state only reduces one token to a node (`name: NAME`):
    # a shift into it builds the node at once and goes where the reduction leads.
    fused: list[tuple[t.Callable[..., t.Any], dict[int, int]] | None]
    start: int
    end: int


# The terminals most tokens of a profile are, commonest first: the lexer tries them
# first wherever that cannot change which terminal matches (`_hot_first`).
_HOT_TERMINALS = ("NAME", "_NL", "NUMBER")


def _hot_first(ordered: list[t.Any], hot: t.Sequence[str]) -> list[t.Any]:
    """`ordered` (lark's order: the first alternative that matches wins) with the `hot`
    terminals moved forward past every terminal that cannot match where they can.

    Two terminals whose matches cannot start with the same character never both
    match at one position, so their order does not matter; the regex engine then
    reaches the common terminals without first trying the rare ones.
    """
    out = list(ordered)
    for name in reversed(hot):
        at = next((i for i, term in enumerate(out) if term.name == name), None)
        if at is None:
            continue
        mine = _FirstChars.of(out[at].pattern.to_regexp())
        to = at
        while to > 0 and mine.disjoint(_FirstChars.of(out[to - 1].pattern.to_regexp())):
            to -= 1
        out.insert(to, out.pop(at))
    return out


class _FirstChars(t.NamedTuple):
    """The characters a match of a regex can start with: code points and `\\d`/`\\s` classes.

    `known` is False when the regex uses something this does not follow, or can match
    the empty string; such a regex is disjoint from nothing.

    >>> number, name = _FirstChars.of(r"[+-]?(\\d+|\\.\\d+)"), _FirstChars.of(r"[A-Za-z_][A-Za-z0-9_]*")
    >>> number.disjoint(name), number.disjoint(_FirstChars.of(r"\\.")), _FirstChars.of(r"a*").known
    (True, False, False)
    """

    chars: frozenset[int]
    classes: frozenset[str]  # "digit", "space"
    known: bool

    def disjoint(self, other: _FirstChars) -> bool:
        if not (self.known and other.known) or self.chars & other.chars or self.classes & other.classes:
            return False
        tests = {"digit": str.isdecimal, "space": str.isspace}
        return not any(tests[cls](chr(ch)) for cls in self.classes for ch in other.chars) and not any(
            tests[cls](chr(ch)) for cls in other.classes for ch in self.chars
        )

    @staticmethod
    def of(regexp: str) -> _FirstChars:
        from re import _constants as c, _parser  # type: ignore[attr-defined]

        classes = {c.CATEGORY_DIGIT: "digit", c.CATEGORY_SPACE: "space"}
        chars: set[int] = set()
        found: set[str] = set()

        def sequence(items: t.Any) -> bool | None:
            """Adds the first characters of a sequence; whether it can be empty (None: unknown)."""
            for op, arg in items:
                nullable = item(op, arg)
                if nullable is None or not nullable:
                    return nullable
            return True

        def item(op: t.Any, arg: t.Any) -> bool | None:
            if op is c.LITERAL:
                chars.add(arg)
                return False
            if op is c.IN:
                for kind, value in arg:
                    if kind is c.LITERAL:
                        chars.add(value)
                    elif kind is c.RANGE and value[1] - value[0] < 0x400:
                        chars.update(range(value[0], value[1] + 1))
                    elif kind is c.CATEGORY and value in classes:
                        found.add(classes[value])
                    else:
                        return None  # a negated set, another class, a wide range
                return False
            if op is c.CATEGORY and arg in classes:
                found.add(classes[arg])
                return False
            if op is c.BRANCH:
                empty: bool | None = False
                for branch in arg[1]:
                    nullable = sequence(branch)
                    if nullable is None:
                        return None
                    empty = empty or nullable
                return empty
            if op is c.SUBPATTERN:
                return sequence(arg[-1])
            if op in (c.MAX_REPEAT, c.MIN_REPEAT):
                nullable = sequence(arg[2])
                return None if nullable is None else nullable or arg[0] == 0
            return None

        nullable = sequence(_parser.parse(regexp))
        return _FirstChars(frozenset(chars), frozenset(found), nullable is False)


def _should_inline(sym: t.Any) -> bool:
    return not sym.is_term and sym.name.startswith("_")


@functools.cache
def _tables() -> _Tables:
    """The fast parser's tables, derived from lark's parser for `profile.lark`."""
    from lark.parsers.lalr_analysis import Shift

    lark = parser()
    terminals = {term.name: term for term in lark.terminals}
    name_re = re.compile(terminals["NAME"].pattern.to_regexp())
    # Keywords: string terminals that NAME would match, told apart per state as lark's contextual lexer does.
    keywords = {
        term.pattern.value: term.name
        for term in lark.terminals
        if term.pattern.type == "str"
        and term.priority == terminals["NAME"].priority
        and name_re.fullmatch(term.pattern.value)
    }
    ignore = [terminals[name] for name in lark.lexer_conf.ignore]
    if any(term.pattern.flags for term in lark.terminals):  # pragma: no cover - the grammar sets none
        raise _GiveUp("terminal flags")
    ordered = sorted(
        (term for term in lark.terminals if term.pattern.value not in keywords and term not in ignore),
        key=lambda x: (-x.priority, -x.pattern.max_width, -len(x.pattern.value), x.name),
    )
    ordered = _hot_first(ordered, _HOT_TERMINALS)
    skip = "|".join(term.pattern.to_regexp() for term in ignore)
    alternatives = "|".join(f"(?P<{term.name}>{term.pattern.to_regexp()})" for term in ordered)
    pattern = re.compile(f"(?:{skip})*(?:{alternatives}|(?P<_OTHER>[\\s\\S])|(?P<_EOF>\\Z))")
    # A terminal's own groups close before it does, so `lastindex` is the terminal's group.
    terms = [""] * (pattern.groups + 1)
    for term_name, group in pattern.groupindex.items():
        terms[group] = term_name

    rules = lark.rules
    index = {id(rule): i for i, rule in enumerate(rules)}
    table = lark.parser.parser._parse_table
    count = max(table.states) + 1
    action: list[dict[str, int]] = [{} for _ in range(count)]
    gotos: dict[str, dict[int, int]] = {}
    for state, actions in table.states.items():
        for symbol, (kind, arg) in actions.items():
            if symbol in terminals or symbol == "$END" or symbol.isupper():
                action[state][symbol] = arg if kind is Shift else ~index[id(arg)]
            else:
                gotos.setdefault(symbol, {})[state] = arg

    # How many values an inlined rule (`_x`, `__x_star_0`) hands its parent: a fixed count or `many`.
    many = -1
    counts: dict[str, int | None] = {rule.origin.name: None for rule in rules if _should_inline(rule.origin)}
    changed = True
    while changed:
        changed = False
        for name in counts:
            outcomes: set[int] = set()
            for rule in rules:
                if rule.origin.name != name:
                    continue
                total: int | None = 0
                for sym in rule.expansion:
                    if sym.is_term and sym.filter_out and not rule.options.keep_all_tokens:
                        continue
                    part = counts[sym.name] if _should_inline(sym) else 1
                    if part is None:
                        total = None
                        break
                    total = many if many in (part, total) else t.cast(int, total) + part
                if total is not None:
                    outcomes.add(total)
            found = (outcomes.pop() if len(outcomes) == 1 else many) if outcomes else None
            if found != counts[name]:
                counts[name], changed = found, True

    unit: list[dict[int, int] | None] = [None] * len(rules)
    reducers: list[t.Any] = [None] * len(rules)
    token_rules: dict[int, t.Callable[..., t.Any]] = {}  # rule index -> builder, for `x: TOKEN` rules
    scope: dict[str, t.Any] = {"GOTO": gotos}
    for i, rule in enumerate(rules):
        name = str(rule.origin.name)  # a lark Token when the tables were just built
        size = len(rule.expansion)
        args: list[str] = []
        for j, sym in enumerate(rule.expansion):
            if sym.is_term and sym.filter_out and not rule.options.keep_all_tokens:
                continue
            part = counts[sym.name] if _should_inline(sym) else 1
            if part == 0:
                continue
            args.append(f"c{j}" if part == 1 else f"*c{j}")
        inline = _should_inline(rule.origin)
        if inline and counts[name] == 0:
            body = "None"
        elif (inline and counts[name] == 1) or (rule.options.expand1 and len(args) == 1 and not args[0].startswith("*")):
            body = args[0]
        elif inline:
            body = "[" + ", ".join(args) + "]"
        else:
            body = f"build.{name}(s, e{''.join(', ' + a for a in args)})"
        if size == 1 and body in ("c0", "None"):  # a relabelling: only the state changes
            unit[i] = gotos.get(name, {})
            continue
        if size == 1 and rule.expansion[0].is_term and body == f"build.{name}(s, e, c0)":
            token_rules[i] = getattr(_Builder, name)
        code = [f"def r{i}(stack, vals, ps, build):", f"    G = GOTO[{name!r}]"]
        if size == 0:
            code += [
                "    s = e = ps[-1][1] if ps else 0",
                f"    vals.append({body})",
                "    ps.append((s, e))",
                "    stack.append(G[stack[-1]])",
            ]
        else:
            code.append("    c0 = vals[-1]" if size == 1 else f"    {', '.join(f'c{j}' for j in range(size))} = vals[-{size}:]")
            first = rule.expansion[0]
            if inline and body.startswith("[*c0") and not first.is_term and first.name == name:
                # Left recursion (`__x_star_0: __x_star_0 _sep item`): grow the list in place.
                rest = [a for a in args[1:]]
                code.append(f"    c0.extend(({', '.join(rest)},))" if rest else "    pass")
                body = "c0"
            if size == 1:
                code += ["    s, e = ps[-1]", f"    vals[-1] = {body}", "    stack[-1] = G[stack[-2]]"]
            else:
                code += [
                    f"    s = ps[-{size}][0]; e = ps[-1][1]",
                    f"    vals[-{size}:] = [{body}]",
                    f"    ps[-{size}:] = [(s, e)]",
                    f"    del stack[-{size - 1}:]; stack[-1] = G[stack[-2]]",
                ]
        reducers[i] = _lazy_reducer(reducers, i, "\n".join(code), scope)

    # The one rule a state reduces whatever the next token (a default reduction), if any.
    sole: list[int | None] = []
    for acts in action:
        taken = set(acts.values())
        sole.append(~only if len(taken) == 1 and (only := next(iter(taken))) < 0 else None)

    # A state whose every action is one relabelling is left as soon as it is
    # entered; shifts and gotos into it go straight to where it leads.
    relabel: dict[int, str] = {
        state: rules[rule].origin.name for state, rule in enumerate(sole) if rule is not None and unit[rule] is not None
    }

    def skip(below: int, state: int) -> int:
        while state in relabel:
            state = gotos[relabel[state]][below]
        return state

    for state, acts in enumerate(action):
        for symbol, act in acts.items():
            if act >= 0:
                acts[symbol] = skip(state, act)
    for table_ in gotos.values():
        for below, state in table_.items():
            table_[below] = skip(below, state)

    # A state that can only reduce one `x: TOKEN` rule needs no look at the next token:
    # an error there is still found before that token is shifted.
    fused: list[tuple[t.Callable[..., t.Any], dict[int, int]] | None] = [
        (token_rules[rule], gotos[str(rules[rule].origin.name)]) if rule in token_rules else None for rule in sole
    ]
    return _Tables(
        lexer=pattern.finditer,
        terms=terms,
        keywords=keywords,
        action=action,
        unit=unit,
        reducers=reducers,
        fused=fused,
        start=table.start_states["start"],
        end=table.end_states["start"],
    )


def _lazy_reducer(reducers: list[t.Any], index: int, code: str, scope: dict[str, t.Any]) -> t.Any:
    """A reducer compiled on first use: a parse meets few of the grammar's rules, and compiling all costs 30 ms."""

    def first_call(*args: t.Any) -> None:
        exec(compile(code, "<mpl.compiler.parse reducers>", "exec"), scope)  # noqa: S102 - built from the grammar
        reducers[index] = scope[f"r{index}"]
        reducers[index](*args)

    return first_call


def _fast_parse(text: str, sink: Sink) -> tuple[nodes.Decl, ...]:
    """The declarations of a text without syntax errors, else `_GiveUp`.

    Escape diagnostics go to `sink`; the caller discards them when this gives up.
    """
    tables = _tables()
    action, unit, reducers, keywords, end_state = tables.action, tables.unit, tables.reducers, tables.keywords, tables.end
    fused = tables.fused
    build = _Builder(sink)
    stack = [tables.start]
    vals: list[t.Any] = []
    ps: list[tuple[int, int]] = []  # the (start, end) of each value
    state = tables.start
    terms = tables.terms
    texts = {}.setdefault
    for match in tables.lexer(text):
        group = match.lastindex
        term = terms[group]  # type: ignore[index]
        span = match.span(group)  # type: ignore[arg-type]
        # A newline's text is never kept (`_NL` is filtered out of every rule). Names and
        # numbers repeat (`temperature`, `0.7`): each text is kept once, as one string.
        token = match.group(group) if term != "_NL" else None  # type: ignore[arg-type]
        if term == "NAME" or term == "NUMBER":
            token = texts(token, token)
        acts = action[state]
        if term == "NAME":
            keyword = keywords.get(token)
            if keyword is not None and keyword in acts:
                term = keyword
        elif term == "_EOF":
            term = "$END"
        while True:
            act = acts.get(term)
            if act is None:
                raise _GiveUp(span[0])
            if act >= 0:
                break
            goto = unit[~act]
            if goto is None:
                reducers[~act](stack, vals, ps, build)
                state = stack[-1]
            else:
                state = stack[-1] = goto[stack[-2]]
            if state == end_state:
                if term != "$END":  # pragma: no cover - LALR accepts only at the end
                    raise _GiveUp(span[0])
                return t.cast("tuple[nodes.Decl, ...]", vals[-1])
            acts = action[state]
        fuse = fused[act]
        if fuse is None:
            stack.append(act)
            vals.append(token)
            ps.append(span)
            state = act
        else:
            state = fuse[1][state]
            stack.append(state)
            vals.append(fuse[0](build, span[0], span[1], token))
            ps.append(span)
    raise _GiveUp(len(text))  # pragma: no cover - the lexer always ends with `_EOF`


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


def parse(source: SourceFile | str, sink: Sink | None = None, *, fast: bool | None = None) -> nodes.File:
    """Parse a source file; syntax errors go to the sink.

    A text of `FAST_FROM` characters or more is parsed by the fast parser
    first, and by lark only if it holds a syntax error; `fast` forces the
    choice (False: lark only, the reference the tests compare with).

    >>> f = parse(SourceFile("a.mprof", "profile p < temperature 0.5 >"))
    >>> f.decls[0].block.stmts[0].value.value
    0.5
    """
    if isinstance(source, str):
        source = SourceFile("<string>", source)
    if sink is None:
        sink = Sink(source)
    # A parse allocates millions of objects and frees none, which makes the
    # collector walk the growing heap again and again (a third of the time at
    # 10,000 profiles); syntax nodes hold no cycles, so pausing it loses nothing.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _parse(source, sink, fast)
    except (RecursionError, VisitError) as exc:
        # lark's tree transformer recurses, and wraps what its callbacks raise.
        if isinstance(exc, VisitError) and not isinstance(exc.orig_exc, RecursionError):
            raise
        report_too_deep(sink)
        return nodes.File(span=Span(0, len(source.text)), source=source, decls=(), syntax_ok=False)
    finally:
        if collecting:
            gc.enable()


# Beyond this depth of `< >` and `[ ]`, a source that made mpl recurse too deeply is reported (MPL007).
MAX_NESTING = 64



def parse_recovering(source: SourceFile, sink: Sink) -> nodes.File:
    """Parse a source; after a syntax error, parse each top-level declaration on its own.

    The one syntax verdict of a file, shared by `mpl check`, `mpl fmt` and the
    API. The whole-file parse reads the declarations after an unclosed `<` into
    the open block, which hides their own diagnostics behind false syntax
    errors. Parsed one declaration at a time (`mpl.compiler.chunks`, as the
    language server does), a syntax error costs only its own declaration. A
    clean file gives the same tree either way.

    >>> src = SourceFile("a.mprof", "profile a < top_k 1\\n\\nprofile b < top_k 2 >\\n")
    >>> sink = Sink(src)
    >>> file = parse_recovering(src, sink)
    >>> [d.code for d in sink.diagnostics], [d.name.value for d in file.decls]
    (['MPL101'], ['a', 'b'])
    """
    trial = Sink(source)
    file = parse(source, trial)
    if file.syntax_ok:
        sink.extend(trial.diagnostics)
        return file
    from mpl.compiler.chunks import ChunkParser  # only after a syntax error

    file, diagnostics = ChunkParser().parse(source)
    sink.extend(diagnostics)
    return file

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


def _parse(source: SourceFile, sink: Sink, fast: bool | None) -> nodes.File:
    text = source.text
    if fast is None:
        fast = len(text) >= FAST_FROM
    if fast:
        trial = Sink(source)
        try:
            decls = _fast_parse(text, trial)
        except _GiveUp:
            pass
        else:
            sink.extend(trial.diagnostics)
            return nodes.File(span=Span(0, len(text)), source=source, decls=decls, comments=scan_comments(text))
    lost_openers = 0  # `<` removed by recovery, whose `>` errors are not reported
    errors = 0
    appended = ""
    syntax_ok = True
    while True:
        try:
            tree = parser().parse(text + appended)
            break
        except UnexpectedInput as exc:
            syntax_ok = False
            errors += 1
            if errors > MAX_SYNTAX_ERRORS:
                sink.report("MPL101", None, f"too many syntax errors; stopped after {MAX_SYNTAX_ERRORS}")
                return nodes.File(span=Span(0, len(source.text)), source=source, decls=(), syntax_ok=False)
            at_end = isinstance(exc, UnexpectedToken) and exc.token.type == "$END"
            if at_end:
                closers = _open_brackets(exc)
                if not closers or len(appended) > 1000:
                    if lost_openers == 0:
                        _report_syntax(sink, source, exc, len(source.text))
                    return nodes.File(span=Span(0, len(source.text)), source=source, decls=(), syntax_ok=False)
                if lost_openers == 0 and not appended:
                    _report_syntax(sink, source, exc, len(source.text))
                appended += "\n" + "\n".join(closers)
                continue
            pos = _error_pos(exc)
            if pos >= len(source.text):
                # An error in the closers recovery appended: the end of file is already reported.
                return nodes.File(span=Span(0, len(source.text)), source=source, decls=(), syntax_ok=False)
            if isinstance(exc, UnexpectedCharacters) and source.text.startswith('"', pos):
                # `"""abc` lexes as the empty string `""` and then a stray `"`.
                while pos > 0 and source.text[pos - 1] == '"' and not source.text.startswith('"""', pos):
                    pos -= 1
            if lost_openers == 0:
                _report_syntax(sink, source, exc, pos)
            if isinstance(exc, UnexpectedCharacters) and text.startswith("{", pos):
                # `profile p { ... }`: reported once; read on as if written with `< >`.
                close = _brace_block(text, pos)
                if close is not None:
                    text = text[:pos] + "<" + text[pos + 1 : close] + ">" + text[close + 1 :]
                    continue
            new_text, delta = _blank_line(text, pos)
            if new_text == text:  # no progress possible; give up on the rest
                return nodes.File(span=Span(0, len(source.text)), source=source, decls=(), syntax_ok=False)
            text = new_text
            lost_openers = max(0, lost_openers + delta)
    decls = _ToNodes(sink).transform(tree)
    return nodes.File(
        span=Span(0, len(source.text)),
        source=source,
        decls=decls,
        comments=scan_comments(source.text),
        syntax_ok=syntax_ok,
    )


def _error_pos(exc: UnexpectedInput) -> int:
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


def _open_block_note(exc: UnexpectedToken, source: SourceFile) -> str | None:
    """Name the innermost open block: "to close `profile base` opened at 3:14"."""
    try:
        stack = exc.interactive_parser.parser_state.value_stack
    except AttributeError:  # pragma: no cover
        return None
    for index in range(len(stack) - 1, -1, -1):
        item = stack[index]
        if isinstance(item, Token) and item.type in ("LESSTHAN", "LSQB"):
            line, col = source.line_col(item.start_pos)
            header = _header_words(stack[:index])
            what = "list" if item.type == "LSQB" else "block"
            closer = "]" if item.type == "LSQB" else ">"
            label = f"`{header}`" if header else f"the {what}"
            return f"expected `{closer}` to close {label} opened at {line}:{col}"
    return None


def _header_words(stack: t.Sequence[t.Any]) -> str:
    words: list[str] = []
    for item in reversed(stack):
        if isinstance(item, Token):
            if item.type in ("_NL", "SEMICOLON", "LESSTHAN", "MORETHAN"):
                break
            words.append(str(item))
            if item.type in ("PROFILE", "MODEL", "WHEN"):
                break
        elif isinstance(item, Tree):
            if item.data in ("_sep", "_stmt", "block"):
                break
            leaves = [str(tok) for tok in item.scan_values(lambda v: isinstance(v, Token))]
            words.append(" ".join(leaves))
    words.reverse()
    # Keep the keyword and the name: `profile base`, `model x`, `when task is docs`.
    return " ".join(words[:4]) if words else ""


def _report_syntax(sink: Sink, source: SourceFile, exc: UnexpectedInput, pos: int) -> None:
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
    note = _open_block_note(exc, source)
    if token.type == "$END":
        sink.report(
            "MPL102",
            Span(len(text), len(text)),
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
    end = token.end_pos if token.end_pos is not None else pos + 1
    if token.type == "_NL":
        end = pos  # point at the end of the line, not into the next one
    sink.report("MPL101", Span(pos, max(end, pos)), f"unexpected {shown}", help=help_text, token=str(token))


# Modelfile instructions, which a profile spells in lower case (PARAMETER: not at all).
_MODELFILE_WORDS = ("FROM", "PARAMETER", "SYSTEM", "TEMPLATE", "ADAPTER", "LICENSE", "MESSAGE", "REQUIRES")
_LINE_HEAD = re.compile(rf"[ \t]*({lexicon.NAME})")


def _line_at(text: str, pos: int) -> tuple[int, int]:
    start = max(text.rfind("\n", 0, pos), text.rfind("\r", 0, pos)) + 1
    ends = [i for i in (text.find("\n", pos), text.find("\r", pos)) if i >= 0]
    return start, min(ends) if ends else len(text)


def _syntax_hint(text: str, pos: int) -> str | None:
    """A hint for syntax borrowed from other formats: `name = value`, `name: value`, `{ }`, Modelfile words."""
    start, end = _line_at(text, pos)
    line = text[start:end].split("#", 1)[0].strip()
    head = _LINE_HEAD.match(text, start)
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


_BRACES = re.compile(lexicon.STRINGS_AND_COMMENTS + "|[{}]")


def _brace_block(text: str, pos: int) -> int | None:
    """The offset of the `}` that closes the `{` at `pos` (outside strings and comments), if any."""
    depth = 0
    for match in _BRACES.finditer(text, pos):
        token = match.group()
        if token == "{":
            depth += 1
        elif token == "}":
            depth -= 1
            if depth == 0:
                return match.start()
    return None


_MODEL_WORD = re.compile(r"(?:^|[\s;])(?:model|from)[ \t]+(" + lexicon.NAME + ")$")


def _unquoted_model_name(text: str, pos: int) -> str | None:
    """A hint when a model name or source with `.`, `:`, `/` or `~` was written unquoted."""
    if pos >= len(text) or text[pos] not in ".:/~":
        return None
    line_start = max(text.rfind("\n", 0, pos), text.rfind("\r", 0, pos)) + 1
    before = text[line_start:pos]
    match = _MODEL_WORD.search(before)
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


_BRACKETS = re.compile(lexicon.STRINGS_AND_COMMENTS + "|[<>]")


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
    for match in _BRACKETS.finditer(segment):
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

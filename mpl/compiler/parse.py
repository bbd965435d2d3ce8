"""Parse: source text to the syntax tree of `mpl.compiler.nodes`, with syntax diagnostics.

The grammar is `grammar/profile.lark` (package `mpl.grammar`), built once per
process as an LALR parser. The lark tree never leaves this module: one
`Transformer` is the only code that knows rule names. Syntax errors are
reported to the sink and the parser recovers by blanking the offending line,
so that the rest of the file still gets its semantic diagnostics.
"""

from __future__ import annotations

import functools
import pkgutil
import decimal
import re
import typing as t

from lark import Lark, Token, Transformer, Tree, UnexpectedCharacters, UnexpectedInput, UnexpectedToken, v_args

from mpl.compiler import nodes
from mpl.diagnostics import Sink
from mpl.source import SourceFile, Span

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
    # `pkgutil.get_data` reads package data through the package's loader, as
    # `importlib.resources` does, but without importing `importlib.resources`
    # and `zipfile`: about 3 ms of every `mpl check`.
    data = pkgutil.get_data("mpl.grammar", "profile.lark")
    if data is None:
        # A source tree imported as it is (its `mpl/` ahead of any installed
        # copy on `sys.path`): `mpl.grammar` exists only in an installed wheel,
        # which maps `grammar/` to it; here the same file is beside `mpl/`.
        import os

        root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        with open(os.path.join(root, "grammar", "profile.lark"), "rb") as fp:
            data = fp.read()
    grammar = data.decode("utf-8")
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
                sink.report(
                    "MPL104",
                    Span(base + match.start(), base + match.end()),
                    f"unknown escape sequence `\\{esc[:1]}`",
                    help="known escapes: \\\\ \\\" \\n \\r \\t \\0 \\uXXXX \\u{X…}; write `\\\\` for a backslash",
                    escape="\\" + esc[:1],
                )
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


_QUOTE_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\0": "\\0"}


def _normalise_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _escape_value(esc: str) -> str | None:
    if esc in _ESCAPES:
        return _ESCAPES[esc]
    if esc.startswith("u{"):
        code = int(esc[2:-1], 16)
    elif esc.startswith("u") and len(esc) == 5:
        code = int(esc[1:], 16)
    else:
        return None
    if code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        return None
    return chr(code)


# -- the transformer ------------------------------------------------------------


def _span(meta: t.Any) -> Span:
    return Span(meta.start_pos, meta.end_pos)


def _tok_span(token: Token) -> Span:
    return Span(token.start_pos, token.end_pos)


@v_args(inline=True, meta=True)
class _ToNodes(Transformer):
    """Lark tree to nodes. Never raises for user errors (they go to the sink)."""

    def __init__(self, sink: Sink) -> None:
        super().__init__()
        self.sink = sink

    # values
    def name(self, meta, token):
        return nodes.Name(span=_tok_span(token), value=str(token))

    def role(self, meta, token):
        return nodes.Name(span=_tok_span(token), value=str(token))

    def number(self, meta, token):
        text = str(token)
        value: int | float
        if re.fullmatch(r"[+-]?\d+", text):
            # Decimal reads any length (int() refuses more than 4300 digits); the checker says it does not fit.
            value = int(text) if len(text) < 4000 else int(decimal.Decimal(text))
        else:
            value = float(text)
        return nodes.Number(span=_tok_span(token), value=value, text=text)

    def string(self, meta, token):
        value, triple = decode_string(str(token), token.start_pos, self.sink)
        return nodes.String(span=_tok_span(token), value=value, triple=triple)

    def true(self, meta):
        return nodes.Bool(span=_span(meta), value=True)

    def false(self, meta):
        return nodes.Bool(span=_span(meta), value=False)

    def list(self, meta, *items):
        return nodes.List(span=_span(meta), items=tuple(items))

    # statements
    def description(self, meta, text):
        return nodes.Description(span=_span(meta), text=text)

    def param(self, meta, name, value):
        return nodes.Param(span=_span(meta), name=name, value=value)

    def param_append(self, meta, name, value):
        return nodes.Param(span=_span(meta), name=name, value=value, append=True)

    def unset_stmt(self, meta, *names):
        return nodes.UnsetStmt(span=_span(meta), names=tuple(names))

    def when_is(self, meta, task, block):
        return nodes.When(span=_span(meta), tasks=(task,), form="is", block=block)

    def when_in(self, meta, *args):
        *tasks, block = args
        return nodes.When(span=_span(meta), tasks=tuple(tasks), form="in", block=block)

    def adapter_stmt(self, meta, path):
        return nodes.AdapterStmt(span=_span(meta), path=path)

    def use_stmt(self, meta, profile, task=None):
        return nodes.UseStmt(span=_span(meta), profile=profile, task=task)

    def system_stmt(self, meta, text):
        return nodes.TextStmt(span=_span(meta), keyword="system", text=text)

    def template_stmt(self, meta, text):
        return nodes.TextStmt(span=_span(meta), keyword="template", text=text)

    def license_stmt(self, meta, text):
        return nodes.TextStmt(span=_span(meta), keyword="license", text=text)

    def requires_stmt(self, meta, text):
        return nodes.TextStmt(span=_span(meta), keyword="requires", text=text)

    def message_stmt(self, meta, role, text):
        return nodes.MessageStmt(span=_span(meta), role=role, text=text)

    def block(self, meta, *stmts):
        return nodes.Block(span=_span(meta), stmts=tuple(stmts))

    # declarations
    def ollama_decl(self, meta, version):
        return nodes.OllamaDecl(span=_span(meta), version=version)

    def tasks_decl(self, meta, *names):
        return nodes.TasksDecl(span=_span(meta), names=tuple(names))

    def default_decl(self, meta, name):
        return nodes.DefaultDecl(span=_span(meta), name=name)

    def extends_clause(self, meta, name):
        return ("extends", name)

    def for_clause(self, meta, *names):
        return ("for", tuple(names))

    def profile_decl(self, meta, name, *rest):
        parent = None
        tasks: tuple[nodes.Name, ...] = ()
        block = rest[-1]
        for clause in rest[:-1]:
            if clause[0] == "extends":
                parent = clause[1]
            else:
                tasks = clause[1]
        return nodes.ProfileDecl(span=_span(meta), name=name, parent=parent, tasks=tasks, block=block)

    def model_name(self, meta, value):
        return value

    def model_source(self, meta, value):
        return value

    def model_decl(self, meta, name, source, block=None):
        return nodes.ModelDecl(span=_span(meta), name=name, source=source, block=block)

    def start(self, meta, *decls):
        return tuple(decls)


# -- comments -------------------------------------------------------------------

_COMMENT_SCAN = re.compile(r'"""(?:[^"\\]|\\[\s\S]|"(?!""))*"""|"(?:[^"\\\r\n]|\\[^\r\n])*"|#[^\r\n]*')


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


def parse(source: SourceFile | str, sink: Sink | None = None) -> nodes.File:
    """Parse a source file; syntax errors go to the sink.

    >>> f = parse(SourceFile("a.mprof", "profile p < temperature 0.5 >"))
    >>> f.decls[0].block.stmts[0].value.value
    0.5
    """
    if isinstance(source, str):
        source = SourceFile("<string>", source)
    if sink is None:
        sink = Sink(source)
    text = source.text
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
            if isinstance(exc, UnexpectedCharacters) and source.text.startswith('"', pos):
                # `"""abc` lexes as the empty string `""` and then a stray `"`.
                while pos > 0 and source.text[pos - 1] == '"' and not source.text.startswith('"""', pos):
                    pos -= 1
            if lost_openers == 0:
                _report_syntax(sink, source, exc, pos)
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
            help=_unquoted_model_name(text, pos) or (f"expected {_expected_phrase(exc.allowed)}" if exc.allowed else None),
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
    if (hint := _unquoted_model_name(text, pos)) is not None:
        help_text = hint
    elif token.type == "MORETHAN" and "MORETHAN" not in exc.expected:
        help_text += "; `>` closes a block only after a complete statement"
    elif note and "MORETHAN" in exc.expected and token.type in ("PROFILE", "MODEL", "TASKS", "DEFAULT", "OLLAMA"):
        help_text = note
    end = token.end_pos if token.end_pos is not None else pos + 1
    if token.type == "_NL":
        end = pos  # point at the end of the line, not into the next one
    sink.report("MPL101", Span(pos, max(end, pos)), f"unexpected {shown}", help=help_text, token=str(token))


_MODEL_WORD = re.compile(r"(?:^|[\s;])(?:model|from)[ \t]+([A-Za-z_][A-Za-z0-9_\-]*)$")


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


_BRACKETS = re.compile(r'"""(?:[^"\\]|\\[\s\S]|"(?!""))*"""|"(?:[^"\\\r\n]|\\[^\r\n])*"|#[^\r\n]*|[<>]')


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

"""The Modelfile reader: Ollama's Modelfile parser, with a position on every value.

Ports the rune-by-rune state machine of Ollama's `parser/parser.go` as it
stands from v0.2.0 through v0.32.15: instructions in any
case, `#` comments only where an instruction could start, bare, `"…"` and
`\"\"\"…\"\"\"` values with no escapes (a value ends at the first line break where
the text so far is complete), silently dropped characters, CR, LF and
CRLF line ends, a UTF-8 BOM and UTF-16 with a BOM. Every parser error
becomes a positioned diagnostic; where Ollama stops at the first error, the
reader skips to the next line and goes on, so one run reports them all.

One reader serves `mpl check` (through `to_file`, which turns the commands
into the syntax tree a `.mprof` model gives, with spans into the Modelfile's
text), `mpl import` and the language server.
"""

from __future__ import annotations

import re
import typing as t
from pathlib import Path

import msgspec

from mpl.catalog import MODELFILE_ROLES
from mpl.compiler import nodes
from mpl.diagnostics import Related, Sink
from mpl.source import MAX_BYTES, SourceFile, Span, read_file
from mpl.catalog.characters import dropped_characters

if t.TYPE_CHECKING:
    from mpl.catalog import Version

KEYWORDS = (
    "FROM", "LICENSE", "TEMPLATE", "SYSTEM", "ADAPTER", "DRAFT",
    "RENDERER", "PARSER", "PARAMETER", "MESSAGE", "REQUIRES",
)
OLLAMA_INVALID_COMMAND = (
    'command must be one of "from", "license", "template", "system", "adapter", '
    '"draft", "renderer", "parser", "parameter", "message", or "requires"'
)
OLLAMA_INVALID_ROLE = 'message role must be one of "system", "user", or "assistant"'

_BLANK = " \t"
_NEWLINE = "\r\n"
_GO_SPACE = "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
_NAME_CHARS = re.compile(r"[A-Za-z0-9_]")


class Command(msgspec.Struct, frozen=True, gc=False):
    """One instruction as Ollama's parser reads it.

    `keyword` is upper case (`FROM`, `PARAMETER`, …); `name` is the parameter name
    of a PARAMETER or the role of a MESSAGE (else ""); `value` is the value after
    quote removal and dropped characters; `quoting` is how it was written
    (`bare`, `quoted` or `triple`). `value_span` covers the value as written,
    quotes included.
    """

    keyword: str
    name: str
    value: str
    quoting: t.Literal["bare", "quoted", "triple"]
    span: Span
    keyword_span: Span
    name_span: Span | None
    value_span: Span
    via_parameter: bool = False  # written `PARAMETER system …`: Ollama reads it as the instruction


# `PARAMETER <name> …` whose name (exactly, lower case) Ollama's CLI takes as an instruction:
# the parser stores a PARAMETER under its name, as it stores FROM under `model`, and
# `Modelfile.CreateRequest` switches on that name (parser/parser.go).
PARAMETER_INSTRUCTIONS = {
    "model": "FROM", "adapter": "ADAPTER", "template": "TEMPLATE", "system": "SYSTEM", "license": "LICENSE",
    "message": "MESSAGE", "renderer": "RENDERER", "parser": "PARSER", "requires": "REQUIRES", "draft": "DRAFT",
}


class Comment(msgspec.Struct, frozen=True, gc=False):
    text: str  # including the leading '#'
    span: Span


class Modelfile(msgspec.Struct):
    """A read Modelfile: its commands and comments in file order."""

    source: SourceFile
    commands: list[Command] = msgspec.field(default_factory=list)
    comments: list[Comment] = msgspec.field(default_factory=list)
    ok: bool = True  # False when the parser reported an error

    def get(self, keyword: str) -> list[Command]:
        return [c for c in self.commands if c.keyword == keyword]


# -- decoding -----------------------------------------------------------------


def decode_modelfile(data: bytes, shown: str) -> tuple[SourceFile, Sink, bool]:
    """Decode Modelfile bytes as Ollama does: UTF-16 LE/BE with a BOM, else UTF-8 (BOM skipped).

    Returns the source, a sink with any input diagnostics and whether reading must stop.
    """
    from mpl.compiler import decode_source, nothing_to_parse

    if len(data) <= MAX_BYTES and data.startswith((b"\xff\xfe", b"\xfe\xff")):
        codec = "utf-16-le" if data.startswith(b"\xff\xfe") else "utf-16-be"
        text = data[2:].decode(codec, errors="replace")
        source = SourceFile(shown, text)
        return source, Sink(source), False
    source, sink, _ = decode_source(data, shown)
    return source, sink, nothing_to_parse(sink)


def read_modelfile_path(path: Path, shown: str | None = None) -> tuple[Modelfile | None, Sink, bool]:
    """Read and parse a Modelfile from disk: (modelfile or None, sink, io_error)."""
    shown = shown or str(path)
    try:
        data = read_file(path)
    except OSError as exc:
        source = SourceFile(shown, "")
        sink = Sink(source)
        sink.report("MPL001", None, f"cannot read `{shown}`: {exc.strerror or type(exc).__name__}")
        return None, sink, True
    source, sink, stop = decode_modelfile(data, shown)
    if stop:
        return None, sink, False
    return read_modelfile(source, sink), sink, False


# -- the state machine --------------------------------------------------------

_NIL, _NAME, _VALUE, _PARAMETER, _MESSAGE, _COMMENT, _SKIP = range(7)


def _go_trim(s: str) -> str:
    return s.strip(_GO_SPACE)


def _unquote(s: str) -> tuple[str, bool, str]:
    """parser.go `unquote` on a trimmed buffer: (value, complete, quoting)."""
    if s.startswith('"""'):
        if len(s) >= 6 and s.endswith('"""'):
            return s[3:-3], True, "triple"
        return "", False, "triple"
    if s.startswith('"'):
        if len(s) >= 2 and s.endswith('"'):
            return s[1:-1], True, "quoted"
        return "", False, "quoted"
    return s, True, "bare"


def ollama_line(text: str, offset: int) -> int:
    """The line number Ollama's parser reports at an offset: every CR and every LF counts.

    >>> ollama_line("a\\r\\nb\\r\\nc", 6)
    5
    """
    return 1 + text.count("\r", 0, offset) + text.count("\n", 0, offset)


def read_modelfile(source: SourceFile | str, sink: Sink | None = None) -> Modelfile:
    """Parse Modelfile text as Ollama's `parser.ParseFile` does; errors go to `sink`.

    >>> mf = read_modelfile('from llama3 # note\\nPARAMETER stop "<|x|>"\\n')
    >>> [(c.keyword, c.name, c.value) for c in mf.commands]
    [('FROM', '', 'llama3 # note'), ('PARAMETER', 'stop', '<|x|>')]
    """
    if isinstance(source, str):
        source = SourceFile("<string>", source)
    sink = sink if sink is not None else Sink(source)
    return _Reader(source, sink).run()


class _Reader:
    def __init__(self, source: SourceFile, sink: Sink) -> None:
        self.source = source
        self.text = source.text
        self.sink = sink
        self.mf = Modelfile(source)
        self.dropped = frozenset(dropped_characters(self.text))

    def error(self, code: str, span: Span | None, message: str, help: str | None = None, **args: t.Any) -> None:
        self.mf.ok = False
        self.sink.report(code, span, message, help=help, **args)

    def run(self) -> Modelfile:
        text = self.text
        state = _NIL
        start = 0  # where the current instruction starts
        word_start = 0
        keyword = ""
        kw_span = Span(0, 0)
        name = ""
        name_span: Span | None = None
        value_start = 0
        buf: list[str] = []
        i = 1 if text.startswith("\ufeff") else 0  # a byte-order mark the decoder left
        n = len(text)
        while i < n:
            ch = text[i]
            if state == _NIL:
                if ch == "#":
                    state, word_start = _COMMENT, i
                elif ch in _BLANK or ch in _NEWLINE:
                    pass
                else:
                    # Ollama's parser enters its name state on any other character but
                    # keeps it only if printable: a leading NBSP vanishes from the name.
                    state, start, word_start = _NAME, i, i + (i in self.dropped)
            elif state == _COMMENT:
                if ch in _NEWLINE:
                    self.mf.comments.append(Comment(text[word_start:i], Span(word_start, i)))
                    state = _NIL
            elif state == _SKIP:
                if ch in _NEWLINE:
                    state = _NIL
            elif state == _NAME:
                if "a" <= ch <= "z" or "A" <= ch <= "Z":
                    pass
                elif ch in _BLANK:
                    word = text[word_start:i]
                    kw_span = Span(word_start, i)
                    keyword = word.upper()
                    if keyword not in KEYWORDS:
                        self.invalid_command(kw_span, word)
                        state = _SKIP
                    elif keyword == "PARAMETER":
                        state, word_start = _PARAMETER, i + 1
                    elif keyword == "MESSAGE":
                        state, word_start = _MESSAGE, i + 1
                    else:
                        name, name_span = "", None
                        state, value_start, buf = _VALUE, i + 1, []
                else:
                    span = Span(word_start, i + (0 if ch in _NEWLINE else 1))
                    word = text[word_start:i]
                    if ch in _NEWLINE and word.upper() in KEYWORDS:
                        self.error(
                            "MPL121", Span(word_start, i), f"`{word}` has no value",
                            help=f"write the value on the same line, after a space; ollama create says "
                            f"`(line {ollama_line(text, i + 1)}): {OLLAMA_INVALID_COMMAND}`",
                        )
                    else:
                        self.invalid_command(span, text[word_start : i + 1].rstrip("\r\n"))
                    state = _NIL if ch in _NEWLINE else _SKIP
            elif state in (_PARAMETER, _MESSAGE):
                ok = _NAME_CHARS.match(ch) if state == _PARAMETER else ("a" <= ch <= "z" or "A" <= ch <= "Z")
                if ok:
                    pass
                elif ch in _BLANK:
                    name, name_span = text[word_start:i], Span(word_start, i)
                    if state == _MESSAGE and name not in MODELFILE_ROLES:
                        self.error(
                            "MPL122", name_span, f"`{name}` is not a MESSAGE role",
                            help=f"use `system`, `user` or `assistant` (lower case); ollama create says "
                            f"`(line {ollama_line(text, i)}): {OLLAMA_INVALID_ROLE}`",
                        )
                        state = _SKIP
                    else:
                        state, value_start, buf = _VALUE, i + 1, []
                else:
                    what = "PARAMETER name" if state == _PARAMETER else "MESSAGE role"
                    allowed = "ASCII letters, digits and `_`" if state == _PARAMETER else "ASCII letters"
                    shown = "a line break" if ch in _NEWLINE else f"`{ch}`"
                    self.error(
                        "MPL123", Span(word_start, i + (0 if ch in _NEWLINE else 1)),
                        f"a {what} may only hold {allowed}, then a space; found {shown}",
                        help=f"ollama create says `unexpected EOF: {text[word_start:i]}`"
                        + ("; did you mean `_`?" if ch in "-." and state == _PARAMETER else ""),
                    )
                    state = _NIL if ch in _NEWLINE else _SKIP
            else:  # _VALUE
                if ch in _NEWLINE:
                    value, complete, quoting = _unquote(_go_trim("".join(buf)))
                    if complete:
                        self.emit(keyword, kw_span, name, name_span, start, value_start, i, value, quoting)
                        state = _NIL
                    else:
                        buf.append(ch)
                elif i not in self.dropped:
                    buf.append(ch)
            i += 1

        # end of file
        if state == _VALUE:
            value, complete, quoting = _unquote(_go_trim("".join(buf)))
            if complete:
                self.emit(keyword, kw_span, name, name_span, start, value_start, n, value, quoting)
            else:
                at = value_start
                while at < n and text[at] in _BLANK:
                    at += 1
                width = 3 if quoting == "triple" else 1
                closing = '"""' if quoting == "triple" else '"'
                self.error(
                    "MPL124", Span(at, min(at + width, n)),
                    f"the {keyword} value opened here is never closed",
                    help=f"close it with `{closing}` at the end of a line, "
                    "with nothing but spaces after it; ollama create says `unexpected EOF`",
                )
        elif state == _COMMENT:
            self.mf.comments.append(Comment(text[word_start:n], Span(word_start, n)))
        elif state in (_NAME, _PARAMETER, _MESSAGE):
            self.error(
                "MPL124", Span(word_start, n), "the file ends inside an instruction",
                help="finish the instruction; ollama create says `unexpected EOF`",
            )
        if self.mf.ok and not self.mf.get("FROM"):
            self.error(
                "MPL125", None, "the Modelfile has no FROM line",
                help="add `FROM <model or GGUF path>`; ollama create says `no FROM line`",
            )
        return self.mf

    def invalid_command(self, span: Span, word: str) -> None:
        from mpl.compiler.names import did_you_mean

        suggestion = did_you_mean(word.upper(), KEYWORDS)
        self.error(
            "MPL121", span, f"`{word}` is not a Modelfile instruction",
            help=(suggestion + "; " if suggestion else "")
            + f"ollama create says `(line {ollama_line(self.text, span.start)}): {OLLAMA_INVALID_COMMAND}`",
        )

    def emit(
        self, keyword: str, kw_span: Span, name: str, name_span: Span | None,
        start: int, value_start: int, end: int, value: str, quoting: str,
    ) -> None:
        text = self.text
        lo, hi = value_start, end
        while lo < hi and (text[lo] in _GO_SPACE or lo in self.dropped):
            lo += 1
        while hi > lo and (text[hi - 1] in _GO_SPACE or hi - 1 in self.dropped):
            hi -= 1
        value_span = Span(lo, hi)
        command = Command(keyword, name, value, quoting, Span(start, hi), kw_span, name_span, value_span)  # type: ignore[arg-type]
        if keyword == "PARAMETER" and name in PARAMETER_INSTRUCTIONS:
            command = as_instruction(command)
        self.mf.commands.append(command)
        self.lint_value(command)

    def lint_value(self, command: Command) -> None:
        span = command.value_span
        dropped = [i for i in range(span.start, span.end) if i in self.dropped]
        if dropped:
            from mpl.catalog.characters import describe

            first = dropped[0]
            more = f" and {len(dropped) - 1} more" if len(dropped) > 1 else ""
            self.sink.report(
                "MPL126", Span(first, first + 1),
                f"Ollama drops {describe(self.text[first])}{more} from this {command.keyword} value without a word",
                help="remove the character, or replace it by one Ollama keeps (a plain space for a Unicode space)",
            )
        if command.quoting != "bare" or "\n" in self.text[span.start : span.end] or "\r" in self.text[span.start : span.end]:
            self.check_swallowed(command)

    def check_swallowed(self, command: Command) -> None:
        """A quoted value whose first line has text after its closing quote swallows the lines after it."""
        span = command.value_span
        raw = self.text[span.start : span.end]
        first_break = re.search(r"[\r\n]", raw)
        if first_break is None or command.quoting == "bare":
            return
        first = raw[: first_break.start()].rstrip(_BLANK)
        quote = '"""' if command.quoting == "triple" else '"'
        inner = first[len(quote) :]
        if quote not in inner:
            return
        close = span.start + len(quote) + inner.index(quote)
        rest = raw[first_break.start() :]
        swallowed = re.search(r"^[ \t]*([A-Za-z]+)[ \t]", rest, re.M)
        if swallowed is None or swallowed.group(1).upper() not in KEYWORDS:
            return
        line_at = span.start + first_break.start() + swallowed.start(1)
        self.sink.report(
            "MPL127", Span(close, close + 1),
            f"text after this closing quote keeps the {command.keyword} value open: "
            f"the `{swallowed.group(1)}` line below is read as part of it",
            related=[Related(Span(line_at, line_at + len(swallowed.group(1))), "read as value text, not as an instruction")],
            help="a quoted value must end with its quote at the end of a line; move the text inside the quotes",
        )


def as_instruction(command: Command) -> Command:
    """`PARAMETER system …` as the SYSTEM it is to Ollama (`PARAMETER message user: hi` as a MESSAGE).

    The instruction's word is the parameter name (`keyword_span`); a message's role is the
    value up to its first `": "`, as `CreateRequest` splits it.
    """
    assert command.name_span is not None
    keyword = PARAMETER_INSTRUCTIONS[command.name]
    if keyword != "MESSAGE":
        return Command(keyword, "", command.value, command.quoting, command.span, command.name_span, None,
                       command.value_span, via_parameter=True)
    role, found, content = command.value.partition(": ")
    opened = {"bare": 0, "quoted": 1, "triple": 3}[command.quoting]
    role_start = command.value_span.start + opened
    role_span = Span(role_start, min(role_start + len(role), command.value_span.end))
    value_span = Span(role_span.end + (2 if found else 0), command.value_span.end) if command.quoting == "bare" else command.value_span
    return Command("MESSAGE", role, content, command.quoting, command.span, command.name_span, role_span, value_span,
                   via_parameter=True)


# -- typed values -------------------------------------------------------------

_GO_INT = re.compile(r"[+-]?[0-9]+")
_FLOAT = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_GO_BOOLS = {"1": True, "t": True, "T": True, "TRUE": True, "true": True, "True": True,
             "0": False, "f": False, "F": False, "FALSE": False, "false": False, "False": False}


def parameter_value(name: str, text: str, span: Span, *, lenient_ints: bool = False) -> nodes.Value:
    """A PARAMETER value as the syntax node its catalog type reads it as.

    Text that the parameter's type cannot read stays a string, so the checker reports
    the type error Ollama's `FormatParams` would raise. With `lenient_ints`, a float
    written for an integer parameter that holds a whole number (`1e+06`, as `ollama show`
    prints large numbers) is read as that integer.
    """
    from mpl.catalog import ValueType, catalog

    spec = catalog().option(name)
    kind = spec.type if spec is not None else None
    if kind == ValueType.BOOL:
        if text in _GO_BOOLS:
            return nodes.Bool(span=span, value=_GO_BOOLS[text])
        return nodes.String(span=span, value=text)
    if kind in (ValueType.INT, ValueType.FLOAT) or (kind is None and _FLOAT.fullmatch(text)):
        if _GO_INT.fullmatch(text):
            number: int | float = int(text)
            if kind == ValueType.FLOAT:
                number = float(number)
            return nodes.Number(span=span, value=number, text=text)
        if _FLOAT.fullmatch(text):
            number = float(text)
            if kind == ValueType.INT and lenient_ints and number.is_integer():
                return nodes.Number(span=span, value=int(number), text=str(int(number)))
            return nodes.Number(span=span, value=number, text=text)
    return nodes.String(span=span, value=text)


# -- commands to the syntax tree of a `.mprof` model ---------------------------

_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9_.\-]+")


def model_name_for(path: str, source: str | None = None) -> str:
    """The model name a Modelfile gets from its file name: the name without its "modelfile" part.

    A name that would be the FROM `source` itself (`Modelfile_llama3` with `FROM llama3`)
    gets `-custom`, so the model is not read as built from itself.

    >>> [model_name_for(p) for p in ("dir/llama3.Modelfile", "/x/coder/Modelfile", "Modelfile", "Modelfile.qwen")]
    ['llama3', 'coder', 'model', 'qwen']
    >>> [model_name_for(p) for p in ("Qwen3_4B_ModelFile", "llama_Modelfile", "/x/coder/Modelfile.txt", "/x/c/Modelfile2")]
    ['Qwen3_4B', 'llama', 'coder', 'c2']
    """
    p = Path(path)
    stem = re.sub(r"\.(txt|md)$", "", p.name, flags=re.IGNORECASE)
    stem = re.sub(r"[._\- ]*modelfile[._\- ]*", "", stem, count=1, flags=re.IGNORECASE)
    if not stem or stem.isdigit():
        folder = p.resolve().parent.name if str(p.parent) not in ("", ".") else ""
        stem = f"{folder}{stem}" if folder else stem
    name = _UNSAFE_NAME.sub("-", stem).strip("-.") or "model"
    if source is not None:
        from mpl.compiler.names import canonical_model_name

        if canonical_model_name(name) == canonical_model_name(source):
            name += "-custom"
    return name


REPLACED = ("FROM", "ADAPTER", "SYSTEM", "TEMPLATE", "REQUIRES", "RENDERER", "PARSER", "DRAFT")


def last_wins(mf: Modelfile, sink: Sink | None, base_dir: Path | None = None) -> dict[str, Command]:
    """The instructions of which Ollama keeps one; the others are reported (MPL128).

    The last one wins, except for FROM (`kept_from`): there the FROM Ollama builds from
    depends on which values are files next to the Modelfile (in `base_dir`).
    """
    kept: dict[str, Command] = {}
    for keyword in REPLACED:
        commands = mf.get(keyword)
        if not commands:
            continue
        if keyword == "FROM":
            kept[keyword] = kept_from(mf, commands, sink, base_dir or Path.cwd())
            continue
        kept[keyword] = commands[-1]
        if sink is not None:
            for earlier in commands[:-1]:
                line = mf.source.line_col(commands[-1].span.start)[0]
                sink.report(
                    "MPL128", earlier.keyword_span,
                    f"this {keyword} is replaced by the one on line {line}: Ollama keeps the last",
                    related=[Related(commands[-1].keyword_span, "the one Ollama keeps")],
                    help=f"remove one of the {keyword} lines",
                )
    return kept


def kept_from(mf: Modelfile, froms: list[Command], sink: Sink | None, base_dir: Path) -> Command:
    """The FROM a model is built from, as Ollama decides it; the others are reported (MPL128).

    The CLI sends a FROM whose path exists (joined to the Modelfile's folder) as files, and
    any other as the model name `from` (the last name wins); the server builds from `from`
    whenever it is set and ignores `files` (server/create.go). So a name wins over every
    file, before or after it; files alone are merged into one model (the first is checked).
    """
    from mpl.compiler.names import exists, expand_path

    if len(froms) == 1:
        return froms[0]
    names = [c for c in froms if not exists(expand_path(c.value, base_dir))]
    kept = names[-1] if names else froms[0]
    line = mf.source.line_col(kept.span.start)[0]
    for other in froms:
        if other is kept or sink is None:
            continue
        if other in names:
            message = f"this FROM is replaced by the one on line {line}: of several model names, Ollama sends the last"
        elif names:
            message = (f"this FROM file is not used: the FROM on line {line} names a model, and Ollama builds from a "
                       "model name whenever one is given, before or after a file (the file is still uploaded)")
        else:
            message = (f"this FROM file is added to the one on line {line}: Ollama sends the files of every FROM, and "
                       "the server makes one model of them all (a model and its vision projector); mpl checks the first only")
        sink.report(
            "MPL128", other.keyword_span, message,
            related=[Related(kept.keyword_span, "the FROM Ollama builds from")],
            help="keep one FROM" + ("" if names else ", unless the other file is the model's projector"),
        )
    return kept


def to_file(
    mf: Modelfile, sink: Sink, *, name: str | None = None, target: Version | None = None, base_dir: Path | None = None,
) -> nodes.File:
    """The syntax tree a `.mprof` holding this Modelfile's model would give, spans in the Modelfile.

    FROM, ADAPTER, SYSTEM, TEMPLATE and REQUIRES keep the last one (earlier ones are
    reported); deprecated or unknown parameters stay, so the checker reports them for
    the target version. A valid REQUIRES sets the version checked against when no
    `target` is given. RENDERER, PARSER and DRAFT, which a `.mprof` cannot hold, are
    checked here against the target version.
    """
    from mpl.catalog import NEWEST, Version, catalog
    from mpl.compiler.check import _missing_instruction, valid_requires

    kept = last_wins(mf, sink, base_dir)
    decls: list[nodes.Decl] = []
    requires = kept.get("REQUIRES")
    version = target
    if requires is not None and valid_requires(requires.value):
        try:
            required = Version.parse(requires.value.removeprefix("v").split("-")[0].split("+")[0])
        except ValueError:
            required = None
        if required is not None and target is None:
            decls.append(nodes.OllamaDecl(span=requires.span, version=nodes.String(span=requires.value_span, value=str(required))))
            version = required
    version = version or NEWEST
    for keyword in ("RENDERER", "PARSER", "DRAFT"):
        command = kept.get(keyword)
        if command is not None and not catalog().instructions[keyword].works_in(version):
            _missing_instruction(sink, command.keyword_span, keyword, version)

    stmts: list[nodes.Stmt] = []
    for command in mf.commands:
        value = nodes.String(span=command.value_span, value=command.value, triple=command.quoting == "triple")
        kw = command.keyword
        if kw in REPLACED and kept.get(kw) is not command:
            continue
        if kw == "PARAMETER":
            assert command.name_span is not None
            stmts.append(nodes.Param(
                span=Span(command.name_span.start, command.span.end), name=nodes.Name(span=command.name_span, value=command.name),
                value=parameter_value(command.name, command.value, command.value_span),
            ))
        elif kw == "ADAPTER":
            stmts.append(nodes.AdapterStmt(span=command.span, path=value))
        elif kw in ("SYSTEM", "TEMPLATE", "LICENSE", "REQUIRES"):
            stmts.append(nodes.TextStmt(span=command.span, keyword=kw.lower(), text=value))  # type: ignore[arg-type]
        elif kw == "MESSAGE":
            assert command.name_span is not None
            stmts.append(nodes.MessageStmt(span=command.span, role=nodes.Name(span=command.name_span, value=command.name), text=value))
    source = kept.get("FROM")
    if source is not None:
        span = Span(0, len(mf.source.text))
        model_name = nodes.String(span=source.keyword_span, value=name or model_name_for(mf.source.path, source.value))
        from_value = nodes.String(span=source.value_span, value=source.value)
        block = nodes.Block(span=span, stmts=tuple(stmts))
        decls.append(nodes.ModelDecl(span=span, name=model_name, source=from_value, block=block))
    comments = tuple(nodes.Comment(span=c.span, text=c.text) for c in mf.comments)
    return nodes.File(span=Span(0, len(mf.source.text)), source=mf.source, decls=tuple(decls), comments=comments, syntax_ok=mf.ok)


def analyze_modelfile(
    source: Path | SourceFile | str,
    *,
    target: Version | None = None,
    checks: t.Sequence[t.Callable[[t.Any, Sink], None]] = (),
    name: str | None = None,
    base_dir: Path | None = None,
):  # -> Analysis
    """Check a Modelfile with the passes of a `.mprof` model, diagnostics at the Modelfile's positions.

    `checks` run after the passes, as `mpl.compiler.analyze`'s do (`mpl.pipeline` passes targets' checks).
    """
    from mpl.compiler import Analysis, analyze

    if isinstance(source, Path):
        mf, sink, io_error = read_modelfile_path(source)
        if base_dir is None:
            base_dir = source.resolve().parent if source.exists() else Path.cwd()
        if mf is None:
            return Analysis(source=sink.source, sink=sink, io_error=io_error)
    else:
        src = source if isinstance(source, SourceFile) else SourceFile("<string>", source)
        sink = Sink(src)
        mf = read_modelfile(src, sink)
    file = to_file(mf, sink, name=name, target=target, base_dir=base_dir)
    if not file.decls:
        return Analysis(source=mf.source, sink=sink, tree=file)
    analysis = analyze(file, target=target, base_dir=base_dir, checks=checks)
    analysis.sink.extend(sink.diagnostics)
    return analysis

"""The compiler: read a source, parse it, resolve it, run the passes and the policy.

`analyze` accepts a path, text, a `SourceFile` or an already parsed `File`, and
never raises for user errors: everything becomes a diagnostic. It knows nothing of
targets: a caller passes further `checks` (`mpl.pipeline` passes the checks of the
targets a command writes), which run after the passes and before the policy.
"""

from __future__ import annotations

import typing as t
from pathlib import Path

import msgspec

from mpl.compiler import nodes
from mpl.compiler.check import check, check_syntax
from mpl.compiler.lint import lint
from mpl.compiler.policy import apply_policy
from mpl.compiler.parse import parse, report_too_deep
from mpl.compiler.resolve import file_target, resolve
from mpl.diagnostics import Diagnostic, Sink
from mpl.source import MAX_BYTES, SourceFile, Span, read_binary, read_file  # noqa: F401 (MAX_BYTES re-exported)

if t.TYPE_CHECKING:
    from mpl.catalog import Version
    from mpl.compiler.program import Program

# The passes that run over the resolved program, in order: `f(program, sink) -> program`.
PASSES: tuple[t.Callable[[Program, Sink], Program], ...] = (check, lint)

#: A further check of a resolved program, run after the passes (a target's `check`).
Check = t.Callable[["Program", Sink], None]


class Analysis(msgspec.Struct):
    """The outcome of analysing one source."""

    source: SourceFile
    sink: Sink
    tree: nodes.File | None = None  # the syntax tree (None when the source could not be read)
    program: Program | None = None
    io_error: bool = False  # the file could not be read at all (exit code 2)
    suppressed: list[Diagnostic] = msgspec.field(default_factory=list)  # silenced by `# mpl: allow(...)`

    @property
    def diagnostics(self) -> list[Diagnostic]:
        return self.sink.sorted()

    @property
    def has_errors(self) -> bool:
        return self.sink.has_errors


def read_source(path: str | Path, display: str | None = None) -> tuple[SourceFile, Sink, bool]:
    """Read a file as UTF-8 text, turning every input problem into a diagnostic.

    Returns the source, a sink holding any input diagnostics, and whether the
    file could not be read at all (an I/O problem rather than bad content:
    missing, no permission, a folder, a FIFO or a device; see `read_file`).
    """
    shown = display or str(path)
    try:
        data = read_file(path)
    except OSError as exc:
        return _unreadable(shown, exc)
    return decode_source(data, shown)


def read_input(stream: t.Any, shown: str) -> tuple[SourceFile, Sink, bool]:
    """`read_source` for an open stream (standard input): read to its end, at most 16 MiB and a byte."""
    try:
        data = read_binary(stream)
    except OSError as exc:
        return _unreadable(shown, exc)
    return decode_source(data, shown)


def _unreadable(shown: str, exc: OSError) -> tuple[SourceFile, Sink, bool]:
    source = SourceFile(shown, "")
    sink = Sink(source)
    reason = exc.strerror or type(exc).__name__
    sink.report("MPL001", None, f"cannot read `{shown}`: {reason}")
    return source, sink, True


def _too_large(source: SourceFile, size: int) -> Sink | None:
    """A sink saying MPL005 when `size` bytes are more than mpl reads, else None."""
    if size <= MAX_BYTES:
        return None
    sink = Sink(source)
    sink.report("MPL005", None, f"`{source.path}` is larger than 16 MiB ({MAX_BYTES} bytes), the most mpl reads of a source")
    return sink


def _text_too_large(source: SourceFile) -> Sink | None:
    """`_too_large` for text: its size in UTF-8, counted only when it could matter."""
    text = source.text
    if len(text) * 4 <= MAX_BYTES:
        return None
    return _too_large(source, len(text) if len(text) > MAX_BYTES else len(text.encode("utf-8", "surrogatepass")))


def nothing_to_parse(sink: Sink) -> bool:
    """Whether the input diagnostics leave nothing to parse (binary, too large, not UTF-8 at all)."""
    return any(d.code in ("MPL003", "MPL005") or (d.code == "MPL002" and d.span is None) for d in sink.diagnostics)


def _utf16(data: bytes) -> str | None:
    """"UTF-16LE"/"UTF-16BE" when `data` is UTF-16 text (a byte-order mark, or ASCII with every other byte NUL).

    >>> _utf16(b"\\xff\\xfep\\x00"), _utf16("profile p".encode("utf-16-be")), _utf16(b"profile")
    ('UTF-16LE', 'UTF-16BE', None)
    """
    if data.startswith(b"\xff\xfe"):
        return "UTF-16LE"
    if data.startswith(b"\xfe\xff"):
        return "UTF-16BE"
    head = data[:256]
    if len(head) >= 4:
        even, odd = head[0::2], head[1::2]
        if odd and odd.count(0) == len(odd) and 0 not in even:
            return "UTF-16LE"
        if even and even.count(0) == len(even) and 0 not in odd:
            return "UTF-16BE"
    return None


def decode_source(data: bytes, shown: str) -> tuple[SourceFile, Sink, bool]:
    big = _too_large(SourceFile(shown, ""), len(data))
    if big is not None:
        return big.source, big, False
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    utf16 = _utf16(data)
    if utf16 is not None:
        source = SourceFile(shown, "")
        sink = Sink(source)
        sink.report(
            "MPL002", None, f"`{shown}` is {utf16}, not UTF-8 (what some editors call \"Unicode\")",
            help="save it as UTF-8: in Notepad, File > Save As > Encoding: UTF-8; in VS Code, "
                 "\"Save with Encoding\" > UTF-8; or `iconv -f UTF-16 -t UTF-8`",
        )
        return source, sink, False
    text = data.decode("utf-8", errors="replace")
    source = SourceFile(shown, text)
    sink = Sink(source)
    if b"\x00" in data:
        offset = len(data[: data.index(b"\x00")].decode("utf-8", errors="replace"))
        sink.report("MPL003", Span(offset, offset + 1), "the file contains NUL bytes: it is binary, not a profile source")
        return source, sink, False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        offset = len(data[: exc.start].decode("utf-8", errors="replace"))
        sink.report(
            "MPL002", Span(offset, offset + 1),
            f"the file is not valid UTF-8: byte 0x{data[exc.start]:02x} at byte offset {exc.start}",
            help="save the file as UTF-8",
        )
    return source, sink, False


def analyze(
    source: str | Path | SourceFile | nodes.File,
    *,
    target: Version | None = None,
    target_origin: t.Literal["option", "server"] = "option",
    base_dir: Path | None = None,
    checks: t.Sequence[Check] = (),
) -> Analysis:
    """Parse, check, resolve and lint a source, then run the further `checks` and the policy.

    A `Path` is read from disk; a `str` is source text; a `nodes.File` (an
    earlier analysis' tree) is not parsed again, so `mpl build` re-checks
    against the server's version from the same tree.

    >>> a = analyze("profile p < temperature 0.5 >")
    >>> a.has_errors, a.program.resolve("p")["temperature"].value
    (False, 0.5)
    """
    if isinstance(source, nodes.File):
        try:
            return _analyze_tree(source, Sink(source.source), False, target, target_origin, base_dir, checks)
        except RecursionError:
            return _too_deep(Analysis(source=source.source, sink=Sink(source.source)))
    io_error = False
    if isinstance(source, Path):
        src, sink, io_error = read_source(source)
        if base_dir is None:
            base_dir = _folder_of(source)
    else:
        src = source if isinstance(source, SourceFile) else SourceFile("<string>", source)
        sink = _text_too_large(src) or Sink(src)
    return analyze_read(src, sink, io_error, target=target, target_origin=target_origin, base_dir=base_dir, checks=checks)


def analyze_read(
    src: SourceFile, sink: Sink, io_error: bool = False, *,
    target: Version | None = None,
    target_origin: t.Literal["option", "server"] = "option",
    base_dir: Path | None = None,
    checks: t.Sequence[Check] = (),
) -> Analysis:
    """`analyze` of what `read_source` or `read_input` returned (its diagnostics are kept)."""
    analysis = Analysis(source=src, sink=sink, io_error=io_error)
    if io_error or nothing_to_parse(sink):
        return analysis
    try:
        file = parse(src, sink)  # after a syntax error, it recovers declaration by declaration
        return _analyze_tree(file, sink, io_error, target, target_origin, base_dir, checks)
    except RecursionError:
        return _too_deep(analysis)


def _folder_of(path: Path) -> Path:
    """The folder a source's relative paths are taken from (the current one when it cannot be found)."""
    try:
        return path.resolve().parent if path.exists() else Path.cwd()
    except (OSError, ValueError):
        return Path.cwd()


def _analyze_tree(
    file: nodes.File, sink: Sink, io_error: bool, target: Version | None,
    target_origin: t.Literal["option", "server"], base_dir: Path | None, checks: t.Sequence[Check],
) -> Analysis:
    analysis = Analysis(source=file.source, sink=sink, tree=file, io_error=io_error)
    if not file.decls and file.syntax_ok:
        sink.report("MPL004", None, f"`{file.source.path}` declares nothing", help="add a `profile` or `model` declaration")
    check_syntax(file, file_target(file, target), sink)
    program = resolve(file, sink, base_dir=base_dir, target=target, target_origin=target_origin)
    for compiler_pass in PASSES:
        program = compiler_pass(program, sink)
    analysis.program = program
    for further in checks:
        further(program, sink)
    analysis.suppressed = apply_policy(sink, program)
    return analysis


def _too_deep(analysis: Analysis) -> Analysis:
    """An analysis that says only MPL007 (nothing else is known of the source)."""
    analysis.sink = Sink(analysis.source)
    report_too_deep(analysis.sink)
    analysis.program = None
    return analysis

"""The compiler driver: read a source, parse it, run the passes, run target checks.

`analyze` is the one entry point the CLI, the API and the language server
share. It accepts a path, text, a `SourceFile` or an already parsed `File`,
and never raises for user errors: everything becomes a diagnostic.
"""

from __future__ import annotations

import typing as t
from pathlib import Path

import msgspec

from mpl.compiler import nodes
from mpl.compiler.check import check, check_syntax
from mpl.compiler.lint import apply_allows, lint
from mpl.compiler.parse import parse
from mpl.compiler.resolve import file_target, resolve
from mpl.diagnostics import Diagnostic, Sink
from mpl.source import SourceFile, Span

if t.TYPE_CHECKING:
    from mpl.catalog import Version
    from mpl.compiler.program import Program

# The passes that run over the resolved program, in order: `f(program, sink) -> program`.
PASSES: tuple[t.Callable[[Program, Sink], Program], ...] = (check, lint)

MAX_BYTES = 16 * 1024 * 1024
ALL_TARGETS = ("options", "meton", "modelfile")


class Analysis(msgspec.Struct):
    """The outcome of analysing one source."""

    source: SourceFile
    sink: Sink
    file: nodes.File | None = None
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
    file could not be read at all (an I/O problem rather than bad content).
    """
    shown = display or str(path)
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        source = SourceFile(shown, "")
        sink = Sink(source)
        reason = exc.strerror or type(exc).__name__
        sink.report("MPL001", None, f"cannot read `{shown}`: {reason}")
        return source, sink, True
    return decode_source(data, shown)


def decode_source(data: bytes, shown: str) -> tuple[SourceFile, Sink, bool]:
    if len(data) > MAX_BYTES:
        source = SourceFile(shown, "")
        sink = Sink(source)
        sink.report("MPL005", None, f"`{shown}` is {len(data)} bytes; mpl reads sources up to {MAX_BYTES} bytes")
        return source, sink, False
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
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


def _parse_recovering(source: SourceFile, sink: Sink) -> nodes.File:
    """Parse a source; after a syntax error, parse each top-level declaration on its own.

    The whole-file parse reads the declarations after an unclosed `<` into the
    open block, which hides their own diagnostics behind false syntax errors.
    Parsed one declaration at a time (`mpl.compiler.chunks`, as the language
    server does), a syntax error costs only its own declaration. A clean file
    gives the same tree either way.
    """
    trial = Sink(source)
    file = parse(source, trial)
    if file.syntax_ok:
        sink.extend(trial.diagnostics)
        return file
    from mpl.compiler.chunks import ChunkParser

    file, diagnostics = ChunkParser().parse(source)
    sink.extend(diagnostics)
    return file


def analyze(
    source: str | Path | SourceFile | nodes.File,
    *,
    target: Version | None = None,
    target_origin: t.Literal["option", "server"] = "option",
    base_dir: Path | None = None,
    targets: t.Sequence[str] = ALL_TARGETS,
) -> Analysis:
    """Parse, check, resolve and lint a source, then run the checks of the given targets.

    A `Path` is read from disk; a `str` is source text; a `nodes.File` (an
    earlier analysis' tree) is not parsed again, so `mpl build` re-checks
    against the server's version from the same tree.

    >>> a = analyze("profile p < temperature 0.5 >")
    >>> a.has_errors, a.program.resolve("p")["temperature"].value
    (False, 0.5)
    """
    io_error = False
    if isinstance(source, nodes.File):
        file = source
        sink = Sink(file.source)
    else:
        if isinstance(source, Path):
            src, sink, io_error = read_source(source)
            if base_dir is None:
                base_dir = source.resolve().parent if source.exists() else Path.cwd()
        elif isinstance(source, SourceFile):
            src, sink = source, Sink(source)
        else:
            src = SourceFile("<string>", source)
            sink = Sink(src)
        analysis = Analysis(source=src, sink=sink, io_error=io_error)
        if io_error or any(d.code in ("MPL003", "MPL005") for d in sink.diagnostics):
            return analysis
        file = _parse_recovering(src, sink)
    analysis = Analysis(source=file.source, sink=sink, file=file, io_error=io_error)
    if not file.decls and file.syntax_ok:
        sink.report("MPL004", None, f"`{file.source.path}` declares nothing", help="add a `profile` or `model` declaration")
    check_syntax(file, file_target(file, target), sink)
    program = resolve(file, sink, base_dir=base_dir, target=target, target_origin=target_origin)
    for compiler_pass in PASSES:
        program = compiler_pass(program, sink)
    analysis.program = program
    from mpl.targets import get_target

    for name in targets:
        get_target(name).check(program, sink)
    analysis.suppressed = apply_allows(program, sink)
    return analysis

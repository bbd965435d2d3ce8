"""The `mpl` command: thin typer commands over the compiler and the targets.

Exit codes: 0 clean (or warnings only), 1 errors found (or warnings under
`--strict`), 2 usage or I/O problems. Heavy modules are imported inside the
command that needs them, so `mpl check` stays quick to start.
"""

from __future__ import annotations

import enum
import os
import sys
import typing as t
from pathlib import Path

import typer

from mpl import __version__

app = typer.Typer(
    name="mpl",
    help="Compile model profiles into Ollama options, Meton config, Modelfiles and created models.",
    no_args_is_help=True,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)


class Format(str, enum.Enum):
    text = "text"
    json = "json"


class TargetName(str, enum.Enum):
    options = "options"
    meton = "meton"
    modelfile = "modelfile"


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"mpl {__version__}")
        raise typer.Exit(0)


@app.callback()
def _main(
    version: t.Annotated[
        bool,
        typer.Option("--version", help="Show the version and exit.", callback=_version_callback, is_eager=True),
    ] = False,
) -> None:
    """mpl: one checked source for your Ollama model profiles."""


FileArg = t.Annotated[Path, typer.Argument(help="The .mprof source file.", show_default=False)]
OllamaOpt = t.Annotated[
    t.Optional[str],
    typer.Option("--ollama", metavar="X.Y", help="Check against this Ollama version (overrides the file's `ollama` line)."),
]
TargetOpt = t.Annotated[
    t.Optional[list[TargetName]],
    typer.Option("--target", "-t", help="Only this target (repeatable). Default: options, meton and modelfile."),
]


def _usage_error(message: str) -> t.NoReturn:
    typer.echo(f"mpl: error: {message}", err=True)
    raise typer.Exit(2)


def _parse_version(text: str | None):  # -> Version | None
    if text is None:
        return None
    from mpl.catalog import Version

    try:
        return Version.parse(text)
    except ValueError as exc:
        _usage_error(f"--ollama: {exc}")


def _use_colour(stream: t.TextIO) -> bool:
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR") or os.environ.get("CLICOLOR_FORCE"):
        return True
    return hasattr(stream, "isatty") and stream.isatty() and os.environ.get("TERM") != "dumb"


def _analyze(path: Path, version: str | None, targets: t.Sequence[str]):
    from mpl.compiler import analyze

    return analyze(path, target=_parse_version(version), targets=targets)


def _print_text(analysis, stream: t.TextIO) -> None:
    from mpl.diagnostics.render import render_text

    diags = analysis.diagnostics
    if diags:
        stream.write(render_text(analysis.source, diags, colour=_use_colour(stream)))


@app.command()
def check(
    files: t.Annotated[list[Path], typer.Argument(help="The .mprof source files.", show_default=False)],
    ollama: OllamaOpt = None,
    strict: t.Annotated[bool, typer.Option("--strict", help="Treat warnings as errors (exit 1).")] = False,
    format: t.Annotated[Format, typer.Option("--format", "-f", help="Output format.")] = Format.text,
    target: TargetOpt = None,
) -> None:
    """Check profile sources and report diagnostics; nothing is written."""
    from mpl.diagnostics import Severity
    from mpl.diagnostics.render import render_json, summary_line

    targets = [t_.value for t_ in target] if target else ["options", "meton", "modelfile"]
    worst = 0
    io_problem = False
    payloads: list[str] = []
    for path in files:
        analysis = _analyze(path, ollama, targets)
        diags = analysis.diagnostics
        io_problem |= analysis.io_error
        errors = any(d.severity is Severity.ERROR for d in diags)
        warnings = any(d.severity is Severity.WARNING for d in diags)
        if errors or (strict and warnings):
            worst = max(worst, 1)
        if format is Format.json:
            payloads.append(render_json(analysis.source, diags))
        else:
            _print_text(analysis, sys.stdout)
            if diags:
                typer.echo(f"{analysis.source.path}: {summary_line(diags)}")
    if format is Format.json:
        if len(payloads) == 1:
            sys.stdout.write(payloads[0])
        else:
            import json

            sys.stdout.write(json.dumps([json.loads(p) for p in payloads], indent=2, ensure_ascii=False) + "\n")
    if io_problem:
        raise typer.Exit(2)
    raise typer.Exit(worst)


@app.command("compile")
def compile_(
    file: FileArg,
    output: t.Annotated[Path, typer.Option("--output", "-o", help="Output directory.")] = Path("build"),
    target: TargetOpt = None,
    ollama: OllamaOpt = None,
) -> None:
    """Check a source, then write its targets (all or nothing) into the output directory."""
    from mpl.diagnostics.render import summary_line
    from mpl.output import OutputError, write_all
    from mpl.targets import get_target

    targets = [t_.value for t_ in target] if target else ["options", "meton", "modelfile"]
    analysis = _analyze(file, ollama, targets)
    _print_text(analysis, sys.stderr)
    if analysis.io_error:
        raise typer.Exit(2)
    if analysis.has_errors or analysis.program is None:
        typer.echo(f"{analysis.source.path}: {summary_line(analysis.diagnostics)}; nothing written", err=True)
        raise typer.Exit(1)
    outputs = []
    for name in targets:
        outputs.extend(get_target(name).emit(analysis.program, output))
    try:
        written = write_all(output, outputs)
    except OutputError as exc:
        _usage_error(str(exc))
    for path in written:
        typer.echo(str(path))


@app.command()
def explain(code: t.Annotated[str, typer.Argument(help="A diagnostic code, e.g. MPL301.")]) -> None:
    """Explain a diagnostic code: what triggers it, why it matters, how to fix it."""
    from mpl.diagnostics import CODES

    spec = CODES.get(code.upper())
    if spec is None:
        _usage_error(f"unknown diagnostic code `{code}`")
    typer.echo(f"{spec.code} ({spec.name}, {spec.severity})\n\n{spec.summary}\n\nWhy: {spec.why}\n\nFix: {spec.fix}")


def main() -> None:
    """Entry point of the `mpl` script."""
    try:
        app()
    except KeyboardInterrupt:  # pragma: no cover
        sys.stderr.write("mpl: interrupted\n")
        sys.exit(130)

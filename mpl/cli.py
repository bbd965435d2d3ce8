"""The `mpl` command: thin typer commands over the compiler and the targets.

Exit codes: 0 clean (or warnings only), 1 errors found (or warnings under
`--strict`), 2 usage or I/O problems. Heavy modules are imported inside the
command that needs them, so `mpl check` stays quick to start.
"""

from __future__ import annotations

import copy
import enum
import gc
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
    sarif = "sarif"


class ShowFormat(str, enum.Enum):
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


class Lang(str, enum.Enum):
    auto = "auto"
    mprof = "mprof"
    modelfile = "modelfile"


def _analyze_as(path: Path, version: str | None, targets: t.Sequence[str] | None, lang: Lang):
    """Analyse a `.mprof` source, or a Modelfile (by its name, or `--lang modelfile`)."""
    from mpl.compiler.modelfile import is_modelfile_path

    if lang is Lang.modelfile or (lang is Lang.auto and is_modelfile_path(path)):
        from mpl.compiler.modelfile import analyze_modelfile

        return analyze_modelfile(path, target=_parse_version(version), targets=targets or ("options", "modelfile"))
    return _analyze(path, version, targets or ["options", "meton", "modelfile"])


def _print_text(analysis, stream: t.TextIO, *, notes: bool = True) -> None:
    """Render an analysis's diagnostics; without `notes`, info-level ones are only counted."""
    from mpl.diagnostics import Severity
    from mpl.diagnostics.render import render_text

    diags = analysis.diagnostics
    shown = diags if notes else [d for d in diags if d.severity is not Severity.INFO]
    if shown:
        stream.write(render_text(analysis.source, shown, colour=_use_colour(stream)))
    hidden = len(diags) - len(shown)
    if hidden:
        plural = "s" if hidden > 1 else ""
        stream.write(f"{analysis.source.path}: {hidden} note{plural} not shown; `mpl check` shows them\n")


@app.command()
def check(
    files: t.Annotated[list[Path], typer.Argument(help="The .mprof source files or Modelfiles.", show_default=False)],
    ollama: OllamaOpt = None,
    strict: t.Annotated[bool, typer.Option("--strict", help="Treat warnings as errors (exit 1).")] = False,
    format: t.Annotated[Format, typer.Option("--format", "-f", help="Output format (sarif: SARIF 2.1.0 for code scanning).")] = Format.text,
    target: TargetOpt = None,
    explain_defaults: t.Annotated[
        bool, typer.Option("--explain-defaults", help="Also list, per profile and model, the moved Ollama defaults it relies on.")
    ] = False,
    lang: t.Annotated[
        Lang, typer.Option("--lang", help="Read the files as `.mprof` sources or Modelfiles (auto: `Modelfile`, `*.Modelfile` and `*.modelfile` are Modelfiles).")
    ] = Lang.auto,
) -> None:
    """Check profile sources and Modelfiles and report diagnostics; nothing is written."""
    from mpl.diagnostics import Severity
    from mpl.diagnostics.render import render_json, summary_line

    targets = [t_.value for t_ in target] if target else None
    worst = 0
    io_problem = False
    payloads: list[str] = []
    reports: list = []  # (source, diagnostics, silenced) for SARIF
    for path in files:
        analysis = _analyze_as(path, ollama, targets, lang)
        diags = analysis.diagnostics
        io_problem |= analysis.io_error
        errors = any(d.severity is Severity.ERROR for d in diags)
        warnings = any(d.severity is Severity.WARNING for d in diags)
        if errors or (strict and warnings):
            worst = max(worst, 1)
        if format is Format.json:
            extra = {}
            if explain_defaults and analysis.program is not None:
                from mpl.show import defaults_report

                extra["defaults"] = defaults_report(analysis.program)
            payloads.append(render_json(analysis.source, diags, suppressed=analysis.suppressed, **extra))
        elif format is Format.sarif:
            reports.append((analysis.source, diags, analysis.suppressed))
        else:
            _print_text(analysis, sys.stdout)
            if diags:
                typer.echo(f"{analysis.source.path}: {summary_line(diags)}")
            if explain_defaults and analysis.program is not None:
                from mpl.show import render_defaults

                sys.stdout.write(render_defaults(analysis.program))
    if format is Format.sarif:
        from mpl.diagnostics.sarif import render_sarif

        sys.stdout.write(render_sarif(reports))
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
    into: t.Annotated[
        t.Optional[Path],
        typer.Option("--into", metavar="CONFIG.YAML", show_default=False,
                     help="Write the Meton sections into this existing Meton config.yaml instead (models.settings, "
                          "parameter_profiles and, with --meton-primary, models.primary); nothing else in it changes. "
                          "Implies --target meton."),
    ] = None,
    no_backup: t.Annotated[bool, typer.Option("--no-backup", help="With --into: do not keep the old file as CONFIG.YAML.bak.")] = False,
    meton_primary: t.Annotated[
        t.Optional[str],
        typer.Option("--meton-primary", metavar="MODEL", show_default=False,
                     help="Write this model of the file as Meton's models.primary."),
    ] = None,
) -> None:
    """Check a source, then write its targets (all or nothing) into the output directory."""
    from mpl.diagnostics.render import summary_line
    from mpl.output import OutputError, write_all
    from mpl.targets import get_target

    targets = [t_.value for t_ in target] if target else ["options", "meton", "modelfile"]
    if into is not None:
        if target and targets != ["meton"]:
            _usage_error("--into writes only the meton target; drop the other --target options")
        targets = ["meton"]
    elif no_backup:
        _usage_error("--no-backup only applies with --into")
    if meton_primary is not None and "meton" not in targets:
        _usage_error("--meton-primary needs the meton target")
    analysis = _analyze(file, ollama, targets)
    _print_text(analysis, sys.stderr, notes=False)
    if analysis.io_error:
        raise typer.Exit(2)
    if analysis.has_errors or analysis.program is None:
        typer.echo(f"{analysis.source.path}: {summary_line(analysis.diagnostics)}; nothing written", err=True)
        raise typer.Exit(1)
    meton = None
    if "meton" in targets:
        from mpl.targets.meton import MetonTarget

        meton = MetonTarget(primary=meton_primary)
        try:
            meton.primary = meton.primary_name(analysis.program)
        except ValueError as exc:
            _usage_error(str(exc))
    if into is not None:
        from mpl.targets.meton import IntoError, write_into

        try:
            changed = write_into(into, analysis.program, meton, backup=not no_backup)  # type: ignore[arg-type]
        except IntoError as exc:
            _usage_error(f"{into} {exc}; it was left unchanged")
        except OSError as exc:
            _usage_error(f"cannot write into {into}: {exc.strerror or exc}")
        typer.echo(str(into) if changed else f"{into}: already up to date")
        return
    outputs = []
    for name in targets:
        outputs.extend((meton if name == "meton" else get_target(name)).emit(analysis.program, output))  # type: ignore[union-attr]
    try:
        written = write_all(output, outputs)
    except OutputError as exc:
        _usage_error(str(exc))
    for path in written:
        typer.echo(str(path))


@app.command()
def fmt(
    files: t.Annotated[
        list[str],
        typer.Argument(
            help="The .mprof files or folders to format in place; `-` reads standard input and writes standard output.",
            show_default=False,
            metavar="FILE",
        ),
    ],
    check: t.Annotated[
        bool, typer.Option("--check", help="Write nothing; print `would reformat FILE` and exit 1 if a file would change.")
    ] = False,
    diff: t.Annotated[
        bool, typer.Option("--diff", help="Write nothing; print a unified diff of the changes and exit 1 if there are any.")
    ] = False,
) -> None:
    """Rewrite sources in the canonical layout; files with syntax errors are reported and left as they are."""
    from mpl.fmt import run

    raise typer.Exit(run(files, check=check, diff=diff, colour=_use_colour(sys.stderr)))


class BuildTargetName(str, enum.Enum):
    ollama = "ollama"


@app.command()
def build(
    names: t.Annotated[t.Optional[list[str]], typer.Argument(help="Models to build (those they are built from come along).", show_default=False, metavar="NAME...")] = None,
    target: t.Annotated[BuildTargetName, typer.Option("--target", "-t", help="Where to build (only `ollama`).")] = BuildTargetName.ollama,
    file: t.Annotated[t.Optional[Path], typer.Option("--file", "-f", help="The .mprof source. Default: the one *.mprof in the current folder.", show_default=False)] = None,
    all_: t.Annotated[bool, typer.Option("--all", help="Build every model of the file.")] = False,
    host: t.Annotated[t.Optional[str], typer.Option("--host", envvar="OLLAMA_HOST", help="Ollama server URL. Default: $OLLAMA_HOST, else http://127.0.0.1:11434.", show_default=False)] = None,
    ollama: OllamaOpt = None,
    dry_run: t.Annotated[bool, typer.Option("--dry-run", help="Print the create requests and uploads as JSON; change nothing.")] = False,
    force: t.Annotated[bool, typer.Option("--force", help="Re-create models that are already up to date.")] = False,
    timeout: t.Annotated[float, typer.Option("--timeout", help="Seconds to wait for the server: to connect, for each answer, each upload chunk and each create progress line (a dripping answer is cut too).")] = 30.0,
    jobs: t.Annotated[int, typer.Option("--jobs", "-j", help="Models built at the same time.", min=1)] = 4,
) -> None:
    """Create models on an Ollama server: check, upload GGUF blobs, create, then verify."""
    from mpl.deploy.run import BuildOptions, run_build

    options = BuildOptions(names=list(names or []), file=file, all=all_, host=host, ollama=ollama,
                           dry_run=dry_run, force=force, timeout=timeout, jobs=jobs)
    raise typer.Exit(run_build(options, sys.stdout, sys.stderr, colour=_use_colour(sys.stderr)))


@app.command("import")
def import_(
    sources: t.Annotated[
        t.Optional[list[Path]],
        typer.Argument(help="Modelfiles, `ollama show --modelfile` output, or Meton's config.yaml.", show_default=False, metavar="SOURCE..."),
    ] = None,
    output: t.Annotated[t.Optional[Path], typer.Option("--output", "-o", help="Write the .mprof here (default: standard output).", show_default=False)] = None,
    profile: t.Annotated[t.Optional[str], typer.Option("--profile", help="Put a Modelfile's parameters in a profile of this name that the model uses.", show_default=False)] = None,
    name: t.Annotated[t.Optional[str], typer.Option("--name", help="The model's name (default: from the file name).", show_default=False)] = None,
    factor: t.Annotated[bool, typer.Option("--factor", help="Move parameters most imported profiles share into a base profile they extend.")] = False,
    from_server: t.Annotated[
        t.Optional[list[str]], typer.Option("--from-server", help="Import a model of the Ollama server through /api/show (repeatable).", show_default=False, metavar="NAME")
    ] = None,
    host: t.Annotated[t.Optional[str], typer.Option("--host", envvar="OLLAMA_HOST", help="Ollama server URL for --from-server.", show_default=False)] = None,
) -> None:
    """Import Modelfiles, `ollama show` output, live models or Meton's config.yaml into one formatted .mprof."""
    from mpl.deploy.host import HostError
    from mpl.diagnostics.render import render_text, summary_line
    from mpl.importer import ImportError_, run_import, write_output

    if not sources and not from_server:
        _usage_error("give a SOURCE or --from-server NAME")
    try:
        text, imported, io_error = run_import(
            list(sources or []), output=output, profile=profile, name=name, do_factor=factor,
            from_server=list(from_server or []), host=host,
        )
    except (ImportError_, HostError) as exc:
        _usage_error(str(exc))
    for source, sink in imported.reports:
        diags = sink.sorted()
        if diags:
            sys.stderr.write(render_text(source, diags, colour=_use_colour(sys.stderr)))
            typer.echo(f"{source.path}: {summary_line(diags)}", err=True)
    if io_error:
        raise typer.Exit(2)
    if text is None:
        typer.echo("mpl import: errors found; nothing written", err=True)
        raise typer.Exit(1)
    if output is None:
        sys.stdout.write(text)
    else:
        try:
            write_output(output, text)
        except OSError as exc:
            _usage_error(f"cannot write `{output}`: {exc.strerror or exc}")
        typer.echo(str(output), err=True)
    raise typer.Exit(0)


@app.command()
def explain(code: t.Annotated[str, typer.Argument(help="A diagnostic code, e.g. MPL301.")]) -> None:
    """Explain a diagnostic code: what triggers it, why it matters, how to fix it."""
    from mpl.diagnostics import CODES

    spec = CODES.get(code.upper())
    if spec is None:
        _usage_error(f"unknown diagnostic code `{code}`")
    typer.echo(f"{spec.code} ({spec.name}, {spec.severity})\n\n{spec.summary}\n\nWhy: {spec.why}\n\nFix: {spec.fix}")


SubjectArg = t.Annotated[
    str, typer.Argument(help="A profile or model; or `task:T`, `PROFILE@T`, `profile:NAME`, `model:NAME`.", show_default=False)
]


@app.command()
def show(
    file: FileArg,
    name: SubjectArg,
    task: t.Annotated[t.Optional[str], typer.Option("--task", help="Resolve the profile for this task.")] = None,
    ollama: OllamaOpt = None,
    format: t.Annotated[ShowFormat, typer.Option("--format", "-f", help="Output format.")] = ShowFormat.text,
) -> None:
    """Show the resolved parameters of a profile, task or model, and where each value comes from."""
    from mpl.show import show_command

    rich = format is ShowFormat.text and _use_colour(sys.stdout)
    raise typer.Exit(show_command(file, name, task=task, ollama=_parse_version(ollama), fmt=format.value,
                                  out=sys.stdout, err=sys.stderr, rich=rich))


@app.command()
def diff(
    file: FileArg,
    a: SubjectArg,
    b: SubjectArg,
    ollama: OllamaOpt = None,
    format: t.Annotated[ShowFormat, typer.Option("--format", "-f", help="Output format.")] = ShowFormat.text,
) -> None:
    """Show the parameters that differ between two profiles, tasks or models, with provenance."""
    from mpl.show import diff_command

    rich = format is ShowFormat.text and _use_colour(sys.stdout)
    raise typer.Exit(diff_command(file, a, b, ollama=_parse_version(ollama), fmt=format.value,
                                  out=sys.stdout, err=sys.stderr, rich=rich))


@app.command()
def lsp() -> None:
    """Run the language server for editors (LSP over standard input and output)."""
    from mpl.lsp import serve

    serve()


def _app_for(argv: t.Sequence[str]) -> typer.Typer:
    """The app to run for `argv`: `app` itself, or a copy that registers only the named command.

    typer builds the click command of every registered command on each run,
    which costs `mpl check` several milliseconds for commands it never calls.
    When the first argument names a command, nothing else can run, and that
    command's parsing, errors and help read the same without its siblings;
    `mpl`, `mpl -h` and `mpl --version` still get the whole app.
    """
    if len(argv) > 1:
        for info in app.registered_commands:
            name = info.name or info.callback.__name__.lower().replace("_", "-")  # typer's own rule
            if name == argv[1]:
                single = copy.copy(app)
                single.registered_commands = [info]
                return single
    return app


# What a command imports on its first line, imported by `main` before the
# command runs (so while `mpl.__main__` still has the collector paused).
_START_UP_IMPORTS = {
    "check": ("mpl.compiler", "mpl.diagnostics.render"),
    "compile": ("mpl.compiler", "mpl.diagnostics.render"),
}


def main() -> None:
    """Entry point of the `mpl` script (through `mpl.__main__.main`, which pauses the collector).

    Start-up creates some hundred thousand objects that live until the process
    ends (typer's and lark's modules, mpl's classes), and the cyclic garbage
    collector would walk them again and again while they are made: several
    milliseconds of a `mpl check`. So the script imports with the collector
    paused; here the command's own modules are imported too, everything made so
    far is frozen (the collector never walks frozen objects), and the
    collector is back on before any command runs: `mpl lsp`, `mpl build` and
    the check of a large file run with it as usual.
    """
    import importlib

    for module in _START_UP_IMPORTS.get(sys.argv[1] if len(sys.argv) > 1 else "", ()):
        importlib.import_module(module)
    gc.freeze()
    gc.enable()
    try:
        _app_for(sys.argv)()
    except KeyboardInterrupt:  # pragma: no cover
        sys.stderr.write("mpl: interrupted\n")
        sys.exit(130)
    finally:
        # On the way out the interpreter runs the cyclic garbage collector over
        # every object still alive (modules, typer's commands, lark's tables):
        # about 14 ms of a `mpl check`, spent just before the process ends.
        # The collector never walks frozen objects, so freeze them all once the
        # command is done.
        gc.freeze()

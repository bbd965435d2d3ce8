"""What `mpl check` does, and what every command shares (configuration, inputs, reports), without typer.

`mpl.cli` declares the command line with typer and calls these. `mpl check
FILE...` with no option leaves typer nothing to parse, so the `mpl` script
(`mpl.__main__`) calls `check` here itself, with every option at its default,
and never imports typer: that is how pre-commit runs it, on every commit.
`tests/test_cli.py` holds typer's reading of such a command line to that call.
"""

from __future__ import annotations

import enum
import os
import sys
import typing as t
from pathlib import Path

if t.TYPE_CHECKING:
    from mpl.catalog import Version
    from mpl.config import Config
    from mpl.targets import TargetName

STDIN = "-"


class Format(str, enum.Enum):
    text = "text"
    json = "json"
    sarif = "sarif"


class Lang(str, enum.Enum):
    auto = "auto"
    mprof = "mprof"
    modelfile = "modelfile"


def usage_error(message: str) -> t.NoReturn:
    """Say what is wrong with the command line or its files, and end with exit status 2."""
    sys.stderr.write(f"mpl: error: {message}\n")
    raise SystemExit(2)


def parse_version(text: str | None) -> Version | None:
    if text is None:
        return None
    from mpl.catalog import Version

    try:
        return Version.parse(text)
    except ValueError as exc:
        usage_error(f"--ollama: {exc}")


def use_colour(stream: t.TextIO) -> bool:
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR") or os.environ.get("CLICOLOR_FORCE"):
        return True
    return hasattr(stream, "isatty") and stream.isatty() and os.environ.get("TERM") != "dumb"


def read_config(files: t.Sequence[str | Path], explicit: Path | None = None, isolated: bool = False) -> Config:
    """The configuration for these files; an invalid one is reported (MPL006) and exits with 2."""
    from mpl.config import Config, ConfigError, load_config

    if isolated:
        return Config()
    try:
        return load_config(files, explicit=explicit)
    except ConfigError as exc:
        from mpl.diagnostics.render import render_text, summary_line

        sys.stderr.write(render_text(exc.source, exc.diagnostics, colour=use_colour(sys.stderr)))
        usage_error(f"{exc.source.path}: {summary_line(exc.diagnostics)} in the configuration; nothing was run")
    except OSError as exc:
        where = f"--config: cannot read `{explicit}`" if explicit is not None else f"cannot read the configuration `{exc.filename}`"
        usage_error(f"{where}: {exc.strerror or exc}; nothing was run")


def inputs(files: t.Sequence[str] | None, config, *, command: str) -> list[str]:
    """The files a command works on: those given (a folder stands for its .mprof files), else `sources`."""
    if not files:
        if config.sources is None:
            where = f"`{config.key_name('sources')}` in {config.origin('sources') or config.path}" if config.path else "a configuration"
            usage_error(f"no files given; name them (`mpl {command} FILE...`) or list them as `sources` in "
                         f"mpl.toml or [tool.mpl] of pyproject.toml" if config.path is None else
                         f"no files given, and {where} is not set")
        found = [str(p) for p in config.sources_paths()]
        if not found:
            usage_error(f"`{config.key_name('sources')}` ({config.origin('sources')}) names no existing file")
        return found
    out: list[str] = []
    for name in files:
        if name != STDIN and os.path.isdir(name):
            inside = folder_sources(Path(name), modelfiles=command == "check")
            if not inside:
                usage_error(f"`{name}` is a folder without .mprof files" + (" or Modelfiles" if command == "check" else ""))
            out.extend(str(p) for p in inside)
        else:
            out.append(name)
    return out


def folder_sources(folder: Path, *, modelfiles: bool) -> list[Path]:
    """The `.mprof` files under a folder, and with `modelfiles` the files whose name says Modelfile
    (`mpl.source.source_language` by name only: a folder's other files are not opened)."""
    import re

    from mpl.source import CHECKED_NAMES, SOURCE_NAME

    pattern = re.compile(CHECKED_NAMES if modelfiles else SOURCE_NAME, re.IGNORECASE)
    return sorted(p for p in folder.rglob("*") if pattern.search(p.as_posix()) and p.is_file())


def chosen_targets(target: t.Sequence[TargetName] | None, config) -> list[str]:
    from mpl.config import DEFAULT_TARGETS

    if target:
        return [t_.value for t_ in target]
    if config.targets is not None:
        return list(config.targets)
    return list(DEFAULT_TARGETS)


def analyze(path: str | Path, version: str | None, targets: t.Sequence[str], config=None):
    """Analyse a file (`-`: standard input), then apply the configuration's lint selection."""
    from mpl import pipeline

    ollama = parse_version(version)
    if str(path) == STDIN:
        from mpl.compiler import read_input
        from mpl.pipeline import analyze_read

        analysis = analyze_read(*read_input(sys.stdin, "<stdin>"), target=ollama, targets=targets, base_dir=Path.cwd())
    else:
        analysis = pipeline.analyze(Path(path), target=ollama, targets=targets)
    if config is not None:
        keep = config.lint_filter(str(path))
        if keep is not None:
            analysis.sink.diagnostics[:] = [d for d in analysis.sink.diagnostics if keep(d)]
    return analysis


def analyze_as(path: str | Path, version: str | None, targets: t.Sequence[str], lang: Lang, config=None):
    """Analyse a `.mprof` source, or a Modelfile (`--lang modelfile`, else `mpl.source.source_language`)."""
    from mpl.source import source_language

    if str(path) != STDIN and (lang is Lang.modelfile or (lang is Lang.auto and source_language(path) == "modelfile")):
        from mpl.pipeline import analyze_modelfile

        return analyze_modelfile(Path(path), target=parse_version(version), targets=[x for x in targets if x != "meton"])
    return analyze(path, version, targets, config)


def print_text(analysis, stream: t.TextIO, *, notes: bool = True, docs_url: str | None = None, sum_notes: bool = True) -> None:
    """Render an analysis's diagnostics; without `notes`, notes are summed up in one line by code
    (unless not `sum_notes`: the caller's summary line counts them)."""
    from mpl.diagnostics import Severity
    from mpl.diagnostics.render import notes_summary, render_text

    diags = analysis.diagnostics
    shown = diags if notes else [d for d in diags if d.severity is not Severity.INFO]
    if shown:
        stream.write(render_text(analysis.source, shown, colour=use_colour(stream), docs_url=docs_url))
    if sum_notes and len(shown) < len(diags):
        stream.write(f"{analysis.source.path}: {notes_summary(diags, '`mpl check --notes` lists them')}\n")


def given_flags(**values: t.Any) -> dict[str, t.Any]:
    """The settings given on the command line, as `show_config` takes them."""
    out: dict[str, t.Any] = {}
    for key, value in values.items():
        if value is None or value == []:
            continue
        if isinstance(value, enum.Enum):
            value = value.value
        elif isinstance(value, list):
            value = [v.value if isinstance(v, enum.Enum) else v for v in value]
        elif isinstance(value, Path):
            value = str(value)
        out[{"target": "targets"}.get(key, key)] = value
    return out


def plain_check(argv: t.Sequence[str]) -> bool:
    """Whether `argv` (without the program name) is `check` followed by operands only.

    Such a command line has one reading: typer would pass the operands as `files`
    (none: `None`) and every option at its default, which is what `check` below
    declares. An argument that starts with `-` (but `-` itself, standard input),
    a completion request (`_MPL_COMPLETE`) or Windows, where click expands
    wildcards in arguments, goes through typer.
    """
    return (
        len(argv) >= 1 and argv[0] == "check"
        and all(arg == STDIN or not arg.startswith("-") for arg in argv[1:])
        and "_MPL_COMPLETE" not in os.environ and sys.platform != "win32"
    )


def check(
    files: t.Sequence[str] | None = None,
    *,
    ollama: str | None = None,
    strict: bool = False,
    format: Format | None = None,
    target: t.Sequence[TargetName] | None = None,
    explain_defaults: bool = False,
    config_file: Path | None = None,
    isolated: bool = False,
    show_config: bool = False,
    lang: Lang = Lang.auto,
    notes: bool = False,
) -> int:
    """`mpl check` (its options are documented in `mpl.cli.check`); returns the exit status."""
    from mpl.diagnostics import Severity
    from mpl.diagnostics.render import render_json, summary_line

    config = read_config(files or (), config_file, isolated)
    if show_config:
        from mpl.config import show_config as render_config

        sys.stdout.write(render_config(config, flags=given_flags(ollama=ollama, target=target, format=format)))
        return 0
    paths = inputs(files, config, command="check")
    targets = chosen_targets(target, config)
    version = ollama or config.ollama
    fmt = format or Format(config.format or "text")
    docs_url = config.docs_url
    worst = 0
    io_problem = False
    payloads: list[str] = []
    reports: list = []  # (source, diagnostics, silenced) for SARIF
    for path in paths:
        analysis = analyze_as(path, version, targets, lang, config)
        diags = analysis.diagnostics
        io_problem |= analysis.io_error
        errors = any(d.severity is Severity.ERROR for d in diags)
        warnings = any(d.severity is Severity.WARNING for d in diags)
        if errors or (strict and warnings):
            worst = max(worst, 1)
        if fmt is Format.json:
            extra = {}
            if explain_defaults and analysis.program is not None:
                from mpl.show import defaults_report

                extra["defaults"] = defaults_report(analysis.program)
            payloads.append(render_json(analysis.source, diags, suppressed=analysis.suppressed, docs_url=docs_url, **extra))
        elif fmt is Format.sarif:
            reports.append((analysis.source, diags, analysis.suppressed))
        else:
            print_text(analysis, sys.stdout, notes=notes, docs_url=docs_url, sum_notes=False)
            if diags:
                sys.stdout.write(f"{analysis.source.path}: {summary_line(diags, notes_hint=None if notes else '`--notes` lists them')}\n")
            if explain_defaults and analysis.program is not None:
                from mpl.show import render_defaults

                sys.stdout.write(render_defaults(analysis.program))
    if fmt is Format.sarif:
        from mpl import __version__
        from mpl.diagnostics.sarif import render_sarif

        sys.stdout.write(render_sarif(reports, version=__version__, docs_url=docs_url))
    if fmt is Format.json:
        if len(payloads) == 1:
            sys.stdout.write(payloads[0])
        else:
            import json

            sys.stdout.write(json.dumps([json.loads(p) for p in payloads], indent=2, ensure_ascii=False) + "\n")
    return 2 if io_problem else worst

"""The `mpl` command: thin typer commands over the compiler and the targets.

Exit codes: 0 clean (or warnings only), 1 errors found (or warnings under
`--strict`), 2 usage or I/O problems. Heavy modules are imported inside the
command that needs them, so `mpl check` stays quick to start.
"""

from __future__ import annotations

import copy
import enum
import os
import sys
import typing as t
from pathlib import Path

import typer

from mpl import __version__, commands
from mpl.commands import (
    STDIN,
    Format,
    Lang,
    analyze,
    chosen_targets,
    inputs,
    parse_version,
    print_text,
    read_config,
    usage_error,
    use_colour,
)

app = typer.Typer(
    name="mpl",
    help="Compile model profiles into Ollama options, Meton config, Modelfiles and created models.",
    no_args_is_help=True,
    add_completion=True,
    context_settings={"help_option_names": ["-h", "--help"]},
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)


class ShowFormat(str, enum.Enum):
    text = "text"
    json = "json"


from mpl.targets import TargetName  # noqa: E402  (the registry's file targets)


def _version_callback(value: bool) -> None:
    if value:
        from mpl.catalog.versions import NEWEST

        typer.echo(f"mpl {__version__} (parameter catalog up to Ollama {NEWEST})")
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
    typer.Option("--target", "-t", help="Only this target (repeatable). Default: the configuration's `targets`, else options and modelfile."),
]
ConfigOpt = t.Annotated[
    t.Optional[Path],
    typer.Option("--config", metavar="FILE", show_default=False,
                 help="Use this configuration file. Default: the nearest mpl.toml, or pyproject.toml with [tool.mpl], from the files' folder upwards."),
]
IsolatedOpt = t.Annotated[bool, typer.Option("--isolated", help="Ignore every configuration file.")]


def _interactive() -> bool:
    """Whether a person can answer a question: standard input and error are a terminal."""
    return sys.stdin.isatty() and sys.stderr.isatty()


def _confirm_untrusted(what: str, instead: str) -> None:
    """Go on with what a configuration file asks for and the user did not: only once they confirm it.

    A configuration can come with a cloned repository, so a server elsewhere or a file
    outside the project is used only when the user says so: at a prompt on a terminal,
    else (a script, CI) never, with a usage error that says how to ask for it.
    """
    if _interactive():
        try:
            if typer.confirm(f"mpl: {what}. Go on?", default=False, err=True):
                return
        except typer.Abort:  # end of input
            pass
        usage_error(f"{what}; not confirmed, so nothing was done")
    usage_error(f"{what}; nothing was done. {instead}")


def _within_config(config, path: Path, key: str, instead: str) -> None:
    """A path the configuration names for writing must lie in its folder, unless the user confirms it."""
    root = os.path.realpath(config.root)
    real = os.path.realpath(path)
    if os.path.commonpath([root, real]) != root:
        origin = config.origin(*key.split(".")) or config.path
        _confirm_untrusted(f"`{config.key_name(*key.split('.'))}` ({origin}) would write to {real}, "
                           f"outside the configuration's folder {root}", instead)


@app.command()
def check(
    files: t.Annotated[
        t.Optional[list[str]],
        typer.Argument(help="The .mprof files, Modelfiles or folders (of both); `-` reads standard input. Default: the configuration's `sources`.",
                       show_default=False, metavar="FILE..."),
    ] = None,
    ollama: OllamaOpt = None,
    strict: t.Annotated[bool, typer.Option("--strict", help="Treat warnings as errors (exit 1).")] = False,
    format: t.Annotated[
        t.Optional[Format],
        typer.Option("--format", help="Output format (sarif: SARIF 2.1.0 for code scanning). Default: the configuration's `format`, else text.", show_default=False),
    ] = None,
    target: TargetOpt = None,
    explain_defaults: t.Annotated[
        bool, typer.Option("--explain-defaults", help="Also list, per profile and model, the moved Ollama defaults it relies on.")
    ] = False,
    config_file: ConfigOpt = None,
    isolated: IsolatedOpt = False,
    show_config: t.Annotated[bool, typer.Option("--show-config", help="Print the settings in force and where each comes from; check nothing.")] = False,
    lang: t.Annotated[
        Lang, typer.Option("--lang", help="Read the files as `.mprof` sources or Modelfiles (auto: a `.mprof` name is a source; a name holding `modelfile` in any case, or a first instruction such as FROM, is a Modelfile).")
    ] = Lang.auto,
    notes: t.Annotated[
        bool, typer.Option("--notes", help="List every note too (text output; by default notes are counted by code in the summary line).")
    ] = False,
) -> None:
    """Check sources and Modelfiles; write nothing.

    Text output lists errors and warnings, then a summary line per file that
    counts the notes by code (`--notes` lists them); JSON and SARIF hold every
    diagnostic.
    """
    raise typer.Exit(commands.check(files, ollama=ollama, strict=strict, format=format, target=target,
                                    explain_defaults=explain_defaults, config_file=config_file, isolated=isolated,
                                    show_config=show_config, lang=lang, notes=notes))


class _Settings(t.NamedTuple):
    """A target's settings for one run: each key of its table (and each flag of the run only) by name."""

    values: dict[str, t.Any]  # None: not set
    configured: frozenset[str]  # the keys whose value comes from the configuration (not a flag)


def _with_target_flags(command: t.Callable[..., None]) -> t.Callable[..., None]:
    """`command` with every target's `mpl compile` options (`mpl.targets.Flag`) after its own.

    typer reads a command's options from its signature: the registry's flags are
    added to it, and their values reach `command` as one dict, `flags`, by
    parameter name (`meton_primary`).
    """
    import functools
    import inspect

    from mpl import targets as registry

    signature = inspect.signature(command, eval_str=True)
    own = [p for p in signature.parameters.values() if p.name != "flags"]
    added: list[inspect.Parameter] = []
    for info in registry.REGISTRY:
        for flag in info.flags:
            kind = info.kind(flag)
            if kind == "bool":
                hint: t.Any = t.Annotated[bool, typer.Option(flag.name, help=flag.help)]
                default: t.Any = False
            else:
                value: type = Path if kind == "path" else str
                option = typer.Option(flag.name, metavar=flag.metavar, show_default=False, help=flag.help)
                hint, default = t.Annotated[t.Optional[value], option], None
            added.append(inspect.Parameter(flag.parameter, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=hint))
    names = [p.name for p in own + added]
    assert len(set(names)) == len(names), f"a target's flag takes the name of a compile option: {names}"

    @functools.wraps(command)
    def run(**values: t.Any) -> None:
        command(**{p.name: values.pop(p.name) for p in own}, flags=values)

    del run.__wrapped__  # typer must see the new signature, not `command`'s
    run.__signature__ = signature.replace(parameters=own + added)  # type: ignore[attr-defined]
    run.__annotations__ = {p.name: p.annotation for p in own + added}
    return run


def compile_(
    files: t.Annotated[
        t.Optional[list[str]],
        typer.Argument(help="The .mprof sources. Default: the configuration's `sources`.", show_default=False, metavar="FILE..."),
    ] = None,
    output: t.Annotated[
        t.Optional[Path],
        typer.Option("--output", "-o", help="Output folder for every target. Default: the configuration's `output` and per-target places, else mpl-out/.", show_default=False),
    ] = None,
    target: TargetOpt = None,
    ollama: OllamaOpt = None,
    config_file: ConfigOpt = None,
    isolated: IsolatedOpt = False,
    *,
    flags: dict[str, t.Any],
) -> None:
    """Check sources, then write their targets.

    All or nothing: when a source has an error, no file is written.
    """
    from mpl.diagnostics.render import summary_line
    from mpl.output import OutputError, write_all
    from mpl.targets import target_info
    from mpl.targets.base import OutputFile

    config = read_config(files or (), config_file, isolated)
    paths = inputs(files, config, command="compile")
    if STDIN in paths:
        usage_error("compile reads files, not standard input (`mpl check -` checks standard input)")
    targets, settings = _target_settings(flags, target, chosen_targets(target, config), config, output)
    # a file merged in place (`--into`, `[targets.meton] into`): (target, key, path)
    into = next(((name, key, settings[name].values[key.name]) for name in targets for key in target_info(name).places
                 if key.place == "into" and settings[name].values[key.name] is not None), None)
    if into is not None and into[1].name in settings[into[0]].configured:
        flag = next(f for f in target_info(into[0]).flags if f.key == into[1].name)
        _within_config(config, into[2], f"targets.{into[0]}.{into[1].name}",
                       f"Name the file on the command line (`{flag.name} FILE`) to write it")
    silenced = {code for name in targets for key in target_info(name).table
                if key.kind == "bool" and settings[name].values[key.name] for code in key.silences}
    version = ollama or config.ollama
    analyses = []
    for path in paths:
        analysis = analyze(path, version, targets, config)
        if silenced:  # codes the run's settings make moot (complete presets depend on no preset applied before them)
            analysis.sink.diagnostics[:] = [d for d in analysis.sink.diagnostics if d.code not in silenced]
        print_text(analysis, sys.stderr, notes=False, docs_url=config.docs_url)
        analyses.append(analysis)
    if any(a.io_error for a in analyses):
        raise typer.Exit(2)
    failed = [a for a in analyses if a.has_errors or a.program is None]
    for analysis in failed:
        typer.echo(f"{analysis.source.path}: {summary_line(analysis.diagnostics)}; nothing written", err=True)
    if failed:
        raise typer.Exit(1)
    made = {name: _made_target(name, settings[name], config, analyses) for name in targets}
    if into is not None and len(analyses) > 1:
        what = next(f.metavar for f in target_info(into[0]).flags if f.key == into[1].name) or "file"
        usage_error(f"`{into[2]}` is one {made[into[0]].title} {what.lower()}, but {len(analyses)} sources are compiled; compile one source into it")
    outputs: list[OutputFile] = []
    for name in targets:
        if into is not None and name == into[0]:
            continue
        folder, file_name, key = _target_place(name, settings[name], config, output)
        if output is None and config.path is not None:
            _within_config(config, file_name or folder, key, "Name the folder on the command line (`-o FOLDER`) to write there")
        if file_name is not None and len(analyses) > 1:
            usage_error(f"`{config.key_name(*key.split('.'))}` names one file, but {len(analyses)} sources are compiled")
        for analysis in analyses:
            for item in made[name].emit(analysis.program, folder):
                outputs.append(OutputFile(str(file_name or (folder / item.path)), item.content))
    seen: dict[str, int] = {}
    for item in outputs:
        seen[os.path.normpath(item.path)] = seen.get(os.path.normpath(item.path), 0) + 1
    twice = sorted(p for p, n in seen.items() if n > 1)
    if twice:
        usage_error(f"two outputs would be written to `{twice[0]}`; compile these sources into separate folders")
    folded: dict[str, str] = {}  # (MPL508 says so for the models of one source)
    for path in seen:
        other = folded.setdefault(path.casefold(), path)
        if other != path:
            usage_error(f"outputs `{other}` and `{path}` differ only in case: on a case-insensitive filesystem (macOS, "
                         f"Windows) one would overwrite the other; compile these sources into separate folders")
    if into is not None:
        _write_into(into[2], analyses[0].program, made[into[0]], backup=not settings[into[0]].values.get("no-backup"))
        if not outputs:
            return
    try:
        written = write_all(Path(), outputs)
    except OutputError as exc:
        usage_error(str(exc))
    for done in written:
        typer.echo(str(done))


app.command("compile")(_with_target_flags(compile_))


def _target_settings(
    flags: dict[str, t.Any], target: t.Sequence[TargetName] | None, targets: list[str], config, output: Path | None,
) -> tuple[list[str], dict[str, _Settings]]:
    """The targets a compile writes, and each one's settings: its flags given, else its configuration.

    A flag of a file merged in place (`--into`) writes its target alone; any other
    flag needs its target among those written. `-o` stands for the configured places.
    """
    from mpl import targets as registry

    given = [(info, flag) for info in registry.REGISTRY for flag in info.flags if flags[flag.parameter] not in (None, False)]
    for info, flag in given:
        key = info.key(flag.key)
        if key is not None and key.place == "into":
            if target and targets != [info.name]:
                usage_error(f"{flag.name} writes only the {info.name} target; drop the other --target options")
            targets = [info.name]
    names = {flag.name for _, flag in given}
    for _, flag in given:
        if flag.requires is not None and flag.requires not in names:
            usage_error(f"{flag.name} only applies with {flag.requires}")
    if not targets:
        usage_error(f"no targets to write (`{config.key_name('targets')}` is empty)")
    for info, flag in given:
        if flag.requires is None and info.name not in targets:
            usage_error(f"{flag.name} needs the {info.name} target")
    settings: dict[str, _Settings] = {}
    for name in targets:
        info = registry.target_info(name)
        values = {flag.key: flags[flag.parameter] for flag in info.flags}
        configured: set[str] = set()
        for key in info.table:
            value = values.get(key.name)
            if key.kind == "bool":
                value = bool(value) or config.switched_on(name, key.name)
            elif value is None and (key.place is None or output is None) and config.setting(name, key.name):
                text = config.setting(name, key.name)
                value = config.resolve(text) if key.kind == "path" else text
                configured.add(key.name)
            values[key.name] = value
        settings[name] = _Settings(values, frozenset(configured))
    return targets, settings


def _made_target(name: str, settings: _Settings, config, analyses: list) -> t.Any:  # -> Target
    """The target with its settings, checked against every source (`Target.check_settings`): a usage error if they do not fit."""
    from mpl.targets import make_target, target_info

    info = target_info(name)
    made = make_target(name, {key.argument: settings.values[key.name] for key in info.table if key.argument is not None})
    for analysis in analyses:
        try:
            made.check_settings(analysis.program)
        except ValueError as exc:
            message = str(exc)
            for flag in info.flags:  # a setting from the configuration is named by its key
                if flag.key in settings.configured:
                    message = message.replace(flag.name, f"`{config.key_name('targets', name, flag.key)}`")
            usage_error(message)
    return made


def _write_into(path: Path, program, target, *, backup: bool) -> None:
    """Merge a target's output into the existing file at `path` (`mpl.pipeline.write_into`), and say what changed."""
    from mpl.output import OutputError, Unchangeable
    from mpl.pipeline import write_into
    from mpl.targets.meton_into import IntoError

    try:
        remarks = write_into(path, program, target, backup=backup)
    except (IntoError, Unchangeable) as exc:
        usage_error(f"{path} {exc}; it was left unchanged")
    except OutputError as exc:  # another run kept the folder
        usage_error(f"{exc}; {path} was left unchanged")
    except OSError as exc:
        usage_error(f"cannot write into {path}: {exc.strerror or exc}")
    if remarks is None:
        typer.echo(f"{path}: already up to date")
    elif not backup:
        typer.echo(str(path))
    else:
        from mpl.config import relative_to_cwd
        from mpl.output import backup_path

        kept = relative_to_cwd(backup_path(Path(os.path.realpath(path))))
        typer.echo(f"{path} (the previous file is now {kept}, replacing any earlier backup)")
    for remark in remarks or ():
        typer.echo(f"{path}: {remark}")


def _target_place(name: str, settings: _Settings, config, output: Path | None) -> tuple[Path, Path | None, str]:
    """Where a target's files go: (folder, the one file's path or None, the configuration key that chose it).

    The target's first place key set (`mpl.targets.Key.place`: a file or a folder), else `-o`,
    else the configuration's `output`, else mpl-out/.
    """
    from mpl.config import DEFAULT_OUTPUT, relative_to_cwd
    from mpl.targets import target_info

    for key in target_info(name).places:
        value = settings.values[key.name]
        if value is None or key.place == "into":
            continue
        place = relative_to_cwd(value)
        where = f"targets.{name}.{key.name}"
        return (place.parent, place, where) if key.place == "file" else (place, None, where)
    if output is not None:
        return output, None, "output"
    if config.path is None:
        return Path(DEFAULT_OUTPUT), None, "output"
    return relative_to_cwd(config.resolve(config.output or DEFAULT_OUTPUT)), None, "output"


@app.command()
def fmt(
    files: t.Annotated[
        t.Optional[list[str]],
        typer.Argument(
            help="The .mprof files or folders to format in place; `-` reads standard input and writes standard output. "
                 "Default: the configuration's `sources`.",
            show_default=False,
            metavar="FILE...",
        ),
    ] = None,
    check: t.Annotated[
        bool, typer.Option("--check", help="Write nothing; print `would reformat FILE` and exit 1 if a file would change.")
    ] = False,
    diff: t.Annotated[
        bool, typer.Option("--diff", help="Write nothing; print a unified diff of the changes and exit 1 if there are any.")
    ] = False,
    config_file: ConfigOpt = None,
    isolated: IsolatedOpt = False,
) -> None:
    """Rewrite sources in the canonical layout.

    Files with syntax errors are reported and left as they are.
    """
    from mpl.fmt import run

    if not files:
        config = read_config((), config_file, isolated)
        files = inputs(files, config, command="fmt")
        if not (check or diff):  # files the configuration names are rewritten only inside its folder
            for name in files:
                _within_config(config, Path(name), "sources", "Name the files on the command line (`mpl fmt FILE`) to format them")
    else:
        files = inputs(files, None, command="fmt")  # a folder without .mprof files is a usage error, as in check
    raise typer.Exit(run(files, check=check, diff=diff, colour=use_colour(sys.stderr)))


from mpl.targets import BuildTargetName  # noqa: E402  (the registry's server targets)

_OLLAMA = BuildTargetName("ollama")


@app.command()
def build(
    names: t.Annotated[t.Optional[list[str]], typer.Argument(help="Models to build (those they are built from come along).", show_default=False, metavar="NAME...")] = None,
    target: t.Annotated[BuildTargetName, typer.Option("--target", "-t", help="Where to build (only `ollama`).")] = _OLLAMA,
    file: t.Annotated[t.Optional[Path], typer.Option("--file", "-f", help="The .mprof source. Default: the configuration's one `sources` file, else the one *.mprof in the current folder.", show_default=False)] = None,
    all_: t.Annotated[bool, typer.Option("--all", help="Build every model of the file.")] = False,
    host: t.Annotated[t.Optional[str], typer.Option("--host", envvar="OLLAMA_HOST", help="Ollama server URL. Default: $OLLAMA_HOST, else the configuration's `host` (each of them), else http://127.0.0.1:11434.", show_default=False)] = None,
    ollama: OllamaOpt = None,
    dry_run: t.Annotated[bool, typer.Option("--dry-run", help="Print the create requests and uploads as JSON; change nothing.")] = False,
    force: t.Annotated[bool, typer.Option("--force", help="Re-create models that are already up to date.")] = False,
    timeout: t.Annotated[float, typer.Option("--timeout", help="Seconds to wait for the server: to connect, for each answer, each upload chunk and each create progress line (a dripping answer is cut too).")] = 30.0,
    jobs: t.Annotated[int, typer.Option("--jobs", "-j", help="Models built at the same time.", min=1)] = 4,
    allow_outside: t.Annotated[
        bool, typer.Option("--allow-outside", help="Upload GGUF files from outside the project's folder (the configuration's folder, else the source's).")
    ] = False,
    config_file: ConfigOpt = None,
    isolated: IsolatedOpt = False,
) -> None:
    """Create models on an Ollama server.

    Check, upload the GGUF blobs the server lacks, create, then verify.
    """
    from mpl.deploy.run import BuildOptions, run_build

    config = read_config([file] if file else (), config_file, isolated)
    if file is None and config.sources is not None:
        found = config.sources_paths()
        if len(found) == 1:
            file = found[0]
    hosts: list[str | None] = [host] if host else [*config.hosts] or [None]
    if not host and not (dry_run and (ollama or config.ollama)):  # an offline dry run contacts no server
        from mpl.deploy.host import HostError, is_loopback, parse_host

        for one in config.hosts:
            try:
                url = parse_host(one)
            except HostError:
                continue  # run_build names it
            if not is_loopback(url):
                _confirm_untrusted(f"{config.origin('host') or config.path} names the server {url}, which is not this machine",
                                   f"To build there, name it yourself: `--host {url}` or OLLAMA_HOST")
    worst = 0
    for server in hosts:
        options = BuildOptions(names=list(names or []), source=file, all=all_, host=server, ollama=ollama or config.ollama,
                               dry_run=dry_run, force=force, timeout=timeout, jobs=jobs,
                               project=config.root if config.path is not None else None, allow_outside=allow_outside)
        worst = max(worst, run_build(options, sys.stdout, sys.stderr, colour=use_colour(sys.stderr)))
    raise typer.Exit(worst)


@app.command("eval")
def eval_(
    cases: t.Annotated[Path, typer.Argument(help="The cases: a YAML suite, or held-out chat JSONL (one conversation a line).", show_default=False, metavar="CASES")],
    arm: t.Annotated[
        t.Optional[list[str]],
        typer.Option("--arm", "-a", metavar="NAME=MODEL[@PROFILE]", show_default=False,
                     help="An arm to compare (repeatable): a model on the server, with a profile's options, or without @PROFILE the profile each case's task routes to."),
    ] = None,
    file: t.Annotated[t.Optional[Path], typer.Option("--file", "-f", help="The .mprof source of the profiles. Default: the configuration's one `sources` file, else the one *.mprof in the current folder, else none (no options sent but the seed).", show_default=False)] = None,
    repeat: t.Annotated[int, typer.Option("--repeat", "-n", help="Runs of each case on each arm; repeat r sends seed + r.", min=1)] = 1,
    seed: t.Annotated[int, typer.Option("--seed", help="The seed of repeat 0 where the profile sets none (repeat r sends it + r).")] = 0,
    host: t.Annotated[t.Optional[str], typer.Option("--host", envvar="OLLAMA_HOST", help="Ollama server URL. Default: $OLLAMA_HOST, else http://127.0.0.1:11434.", show_default=False)] = None,
    json_out: t.Annotated[t.Optional[Path], typer.Option("--json", metavar="OUT.json", help="Write the summary, the comparisons and every run as JSON.", show_default=False)] = None,
    report: t.Annotated[t.Optional[Path], typer.Option("--report", metavar="OUT.html", help="Write a self-contained HTML report.", show_default=False)] = None,
    concurrency: t.Annotated[int, typer.Option("--concurrency", "-j", help="Runs at the same time.", min=1)] = 4,
    timeout: t.Annotated[float, typer.Option("--timeout", help="Seconds a run may take, from the request to the answer's last line (each line too).")] = 300.0,
    fail_if_worse: t.Annotated[
        t.Optional[tuple[str, str]],
        typer.Option("--fail-if-worse", metavar="A B", show_default=False, help="Exit 1 when arm B is significantly worse than arm A (for CI)."),
    ] = None,
    config_file: ConfigOpt = None,
    isolated: IsolatedOpt = False,
) -> None:
    """Compare models and profiles on a suite of cases.

    Runs every case on every arm (a model on an Ollama server, with a profile's
    options) and says, with statistics, which arm is better (docs/eval.md).
    """
    from mpl.eval.command import EvalOptions, run_eval

    config = read_config([file] if file else [cases], config_file, isolated)
    configured = None
    if file is None and config.sources is not None:
        found = config.sources_paths()
        configured = found[0] if len(found) == 1 else None
    options = EvalOptions(cases=cases, arms=list(arm or []), source=file, repeat=repeat, seed=seed, host=host, json=json_out,
                          report=report, concurrency=concurrency, timeout=timeout,
                          fail_if_worse=(fail_if_worse[0], fail_if_worse[1]) if fail_if_worse else None, configured=configured)
    raise typer.Exit(run_eval(options, sys.stdout, sys.stderr, colour=use_colour(sys.stderr)))


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
    """Import Modelfiles, live models or a Meton config.

    Modelfiles, `ollama show --modelfile` output, models of a server
    (`--from-server`) or Meton's config.yaml, into one formatted .mprof.
    """
    from mpl.deploy.host import HostError
    from mpl.diagnostics.render import render_text, summary_line
    from mpl.importer import ImportError_, run_import, write_output

    if not sources and not from_server:
        usage_error("give a SOURCE or --from-server NAME")
    try:
        text, imported, io_error = run_import(
            list(sources or []), output=output, profile=profile, name=name, do_factor=factor,
            from_server=list(from_server or []), host=host,
        )
    except (ImportError_, HostError) as exc:
        usage_error(str(exc))
    for source, sink in imported.reports:
        diags = sink.sorted()
        if diags:
            sys.stderr.write(render_text(source, diags, colour=use_colour(sys.stderr)))
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
            usage_error(f"cannot write `{output}`: {exc.strerror or exc}")
        typer.echo(str(output), err=True)
    raise typer.Exit(0)


class DataFormat(str, enum.Enum):
    openai = "openai"
    sharegpt = "sharegpt"
    alpaca = "alpaca"
    text = "text"


class ToolsMode(str, enum.Enum):
    keep = "keep"
    fold = "fold"
    drop = "drop"


@app.command()
def data(
    sources: t.Annotated[list[Path], typer.Argument(
        help="Meton conversation files or folders (conversations/, web_sessions/), exports, OpenAI or ShareGPT JSON/JSONL.",
        show_default=False, metavar="SOURCE...")],
    output: t.Annotated[Path, typer.Option("--output", "-o", help="The training file; beside it FILE.holdout.EXT and FILE.manifest.json.",
                                           show_default=False, metavar="FILE")],
    format: t.Annotated[DataFormat, typer.Option("--format", help="openai, sharegpt or alpaca JSONL, or text rendered with a chat template.")] = DataFormat.openai,
    base: t.Annotated[t.Optional[Path], typer.Option("--base", metavar="BASE.gguf", help="--format text: render with this GGUF's own chat template.", show_default=False)] = None,
    template: t.Annotated[t.Optional[str], typer.Option("--template", metavar="FAMILY", help="--format text: render with a family's template (chatml, llama3, mistral, gemma, phi3).", show_default=False)] = None,
    holdout: t.Annotated[float, typer.Option("--holdout", metavar="FRACTION", help="Put this share of sessions (0 up to, not including, 1) into FILE.holdout.EXT.")] = 0.0,
    seed: t.Annotated[int, typer.Option("--seed", help="Seed of the split: the same seed puts each session on the same side.")] = 0,
    tools: t.Annotated[ToolsMode, typer.Option("--tools", help="Tool turns: keep (the format's own, else folded), fold into the user message, or drop.")] = ToolsMode.keep,
    no_redact: t.Annotated[bool, typer.Option("--no-redact", help="Keep secrets as they are (redaction is on by default).")] = False,
    since: t.Annotated[t.Optional[str], typer.Option("--since", metavar="DATE", help="Only sessions started on or after this ISO date (YYYY-MM-DD).", show_default=False)] = None,
    until: t.Annotated[t.Optional[str], typer.Option("--until", metavar="DATE", help="Only sessions started on or before this ISO date (YYYY-MM-DD).", show_default=False)] = None,
    min_turns: t.Annotated[int, typer.Option("--min-turns", metavar="N", help="Only conversations with at least N assistant replies.")] = 1,
    model: t.Annotated[t.Optional[str], typer.Option("--model", metavar="NAME", help="Only sessions in which this model replied (Meton records it).", show_default=False)] = None,
) -> None:
    """Turn saved conversations into fine-tuning data.

    One conversation per session, tool turns kept, failed turns left out, secrets
    redacted, split by session, with a manifest (docs/data.md).
    """
    import datetime
    import math

    from mpl.data.cli import data_command
    from mpl.data.run import Options

    if format is DataFormat.text and (base is None) == (template is None):
        usage_error("--format text needs exactly one of --base BASE.gguf or --template FAMILY")
    if format is not DataFormat.text and (base is not None or template is not None):
        usage_error("--base and --template are for --format text")
    if not (math.isfinite(holdout) and 0 <= holdout < 1):
        usage_error(f"--holdout: {holdout} is not a fraction from 0 up to (not including) 1")
    if min_turns < 0:
        usage_error("--min-turns: give 0 or more")
    for name, value in (("--since", since), ("--until", until)):
        if value is not None:
            try:
                datetime.date.fromisoformat(value)
            except ValueError:
                usage_error(f"{name}: `{value}` is not a date of the form YYYY-MM-DD")
    options = Options(list(sources), output, format.value, base, template, holdout, seed, tools.value,
                      not no_redact, since, until, min_turns, model)
    raise typer.Exit(data_command(options, colour=use_colour(sys.stderr)))


@app.command()
def explain(
    code: t.Annotated[
        t.Optional[str], typer.Argument(help="A diagnostic code or name, e.g. MPL301 or greedy-ignores-filters.", show_default=False)
    ] = None,
    list_: t.Annotated[bool, typer.Option("--list", help="List every code with its name, severity and summary.")] = False,
) -> None:
    """Explain a diagnostic code and how to fix it.

    What triggers it, why it matters, how to fix it.
    """
    from mpl.diagnostics import CODES

    if list_:
        for spec in CODES.values():
            typer.echo(f"{spec.code}  {spec.name:<32} {spec.severity:<8} {spec.summary}")
        raise typer.Exit(0)
    if code is None:
        usage_error("name a code (`mpl explain MPL301`) or a name (`mpl explain unknown-parameter`), or give --list")
    found = CODES.get(code.upper()) or next((c for c in CODES.values() if c.name == code.lower()), None)
    if found is None:
        from mpl.compiler.names import suggest

        guess = f"MPL{code}" if code.isdigit() and f"MPL{code}" in CODES else suggest(code, [*CODES, *(c.name for c in CODES.values())])
        hint = f"; did you mean `{guess}`?" if guess else ""
        usage_error(f"unknown diagnostic code `{code}`{hint} (`mpl explain --list` lists them)")
    typer.echo(f"{found.code} ({found.name}, {found.severity})\n\n{found.summary}\n\nWhy: {found.why}\n\nFix: {found.fix}")


SubjectArg = t.Annotated[
    str, typer.Argument(help="A profile or model; or `task:T`, `PROFILE@T`, `profile:NAME`, `model:NAME`.", show_default=False)
]


@app.command()
def show(
    file: FileArg,
    name: SubjectArg,
    task: t.Annotated[t.Optional[str], typer.Option("--task", help="Resolve the profile for this task.")] = None,
    ollama: OllamaOpt = None,
    format: t.Annotated[ShowFormat, typer.Option("--format", help="Output format.")] = ShowFormat.text,
    config_file: ConfigOpt = None,
    isolated: IsolatedOpt = False,
) -> None:
    """Show resolved parameters and where each comes from.

    Of a profile, a task's profile or a model.
    """
    from mpl.show import show_command

    rich = format is ShowFormat.text and use_colour(sys.stdout)
    version, origin = _version_and_origin(ollama, read_config([file], config_file, isolated))
    raise typer.Exit(show_command(file, name, task=task, ollama=parse_version(version), fmt=format.value,
                                  out=sys.stdout, err=sys.stderr, rich=rich, origin=origin))


@app.command()
def diff(
    file: FileArg,
    a: SubjectArg,
    b: SubjectArg,
    ollama: OllamaOpt = None,
    format: t.Annotated[ShowFormat, typer.Option("--format", help="Output format.")] = ShowFormat.text,
    exit_code: t.Annotated[bool, typer.Option("--exit-code", help="Exit with 1 when the two differ, 0 when they do not (as `git diff --exit-code`).")] = False,
    config_file: ConfigOpt = None,
    isolated: IsolatedOpt = False,
) -> None:
    """Show what differs between two profiles or models.

    Profiles, tasks or models, with where each value comes from on both sides.
    """
    from mpl.show import diff_command

    rich = format is ShowFormat.text and use_colour(sys.stdout)
    version, _ = _version_and_origin(ollama, read_config([file], config_file, isolated))
    raise typer.Exit(diff_command(file, a, b, ollama=parse_version(version), fmt=format.value,
                                  out=sys.stdout, err=sys.stderr, rich=rich, exit_code=exit_code))


def _version_and_origin(ollama: str | None, config) -> tuple[str | None, str | None]:
    """The Ollama version to check against, from `--ollama` or the configuration, and where it came from."""
    if ollama is not None:
        return ollama, "--ollama"
    if config.ollama is not None:
        return config.ollama, f"`{config.key_name('ollama')}` in {config.origin('ollama') or config.path}"
    return None, None


class InitTemplate(str, enum.Enum):
    profile = "profile"
    fine_tuned = "fine-tuned"


@app.command()
def init(
    folder: t.Annotated[Path, typer.Argument(help="Where to write the files.", show_default="the current folder")] = Path("."),
    template: t.Annotated[InitTemplate, typer.Option("--template", help="What to start from: profiles, or a model over a fine-tuned LoRA adapter.")] = InitTemplate.profile,
    family: t.Annotated[str | None, typer.Option("--family", help="fine-tuned: the base's chat format (chatml, llama3, mistral, gemma, phi3); read from a GGUF --base when not given.")] = None,
    base: t.Annotated[str | None, typer.Option("--base", help="fine-tuned: the base the adapter was trained on, a GGUF file or an Ollama model name.")] = None,
    adapter: t.Annotated[Path | None, typer.Option("--adapter", help="fine-tuned: the LoRA adapter GGUF (convert_lora_to_gguf.py's output); with it, two models: `base` and `tuned` over it.")] = None,
) -> None:
    """Write a starter profile and its mpl.toml.

    A commented profiles.mprof and its configuration, or with `--template fine-tuned`
    a model over a LoRA adapter in its base's chat format; never overwrites a file.
    """
    from mpl.config import STARTER_CONFIG, STARTER_PROFILE, config_table_in
    from mpl.output import OutputError, write_all
    from mpl.targets.base import OutputFile

    taken = [name for name in ("profiles.mprof", "mpl.toml") if os.path.lexists(folder / name)]
    if taken:
        usage_error(f"`{folder / taken[0]}` exists; mpl init writes nothing over existing files")
    if config_table_in(folder / "pyproject.toml"):
        usage_error(f"`{folder / 'pyproject.toml'}` already has a [tool.mpl] table; mpl init writes nothing")
    starter = STARTER_PROFILE
    if template is InitTemplate.fine_tuned:
        from mpl.chat import ChatTemplateError
        from mpl.chat.starter import fine_tuned_starter

        try:
            starter = fine_tuned_starter(folder, family=family, base=base, adapter=adapter)
        except ChatTemplateError as exc:
            usage_error(str(exc))
    elif family is not None or base is not None or adapter is not None:
        usage_error("--family, --base and --adapter go with --template fine-tuned")
    try:
        written = write_all(folder, [OutputFile("profiles.mprof", starter), OutputFile("mpl.toml", STARTER_CONFIG)])
    except OutputError as exc:
        usage_error(str(exc))
    for path in written:
        typer.echo(str(path))
    if template is InitTemplate.fine_tuned:
        typer.echo("next: `mpl check`, then `mpl build tuned` (docs/fine-tuning.md)")
    else:
        typer.echo("next: `mpl check`, then `mpl compile` (writes into mpl-out/)")


@app.command()
def lsp(
    stdio: t.Annotated[
        bool, typer.Option("--stdio", help="Talk LSP over standard input and output: the default and only transport "
                                           "(accepted because editor clients pass it).")
    ] = False,
) -> None:
    """Run the language server for editors.

    LSP over standard input and output.
    """
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
            name = info.name or getattr(info.callback, "__name__", "").lower().replace("_", "-")  # typer's own rule
            if name == argv[1]:
                single = copy.copy(app)
                single.registered_commands = [info]
                return single
    return app


def main() -> None:
    """Entry point of the `mpl` script (through `mpl.__main__.main`, which steers the collector)."""
    try:
        _app_for(sys.argv)()
    except KeyboardInterrupt:  # pragma: no cover
        sys.stderr.write("mpl: interrupted\n")
        sys.exit(130)

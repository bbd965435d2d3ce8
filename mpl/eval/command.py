"""`mpl eval`: read the cases and the arms, check them against the server, run, summarize, write.

Consumes `EvalOptions` from the CLI; produces the terminal summary (stdout), the
`--json` and `--report` files, and an exit code: 0 when every run finished, 1 when
the inputs have errors (nothing is run), some runs errored, or `--fail-if-worse A B`
finds B significantly worse than A; 2 for usage and I/O problems (a server that
cannot be reached included); 130 after Ctrl-C, once what had finished is written.
"""

from __future__ import annotations

import sys
import typing as t
from dataclasses import dataclass, field
from pathlib import Path

from mpl.deploy.plan import (
    UsageError,  # a problem with the command line or a file it names: one line, exit 2
)
from mpl.diagnostics import Sink
from mpl.eval.arms import Arm, arms_source, parse_arms, plan_options
from mpl.eval.cases import Suite, load_cases

if t.TYPE_CHECKING:
    from mpl.compiler import Analysis
    from mpl.compiler.program import Program
    from mpl.deploy.server import Server


@dataclass(slots=True)
class EvalOptions:
    """What `mpl eval` was asked to do (see docs/eval.md)."""

    cases: Path
    arms: list[str] = field(default_factory=list)
    source: Path | None = None  # --file, else found (see `find_profiles`)
    repeat: int = 1
    seed: int = 0
    host: str | None = None
    json: Path | None = None
    report: Path | None = None
    concurrency: int = 4
    timeout: float = 300.0
    fail_if_worse: tuple[str, str] | None = None
    configured: Path | None = None  # the configuration's `sources` when it names one file


def run_eval(options: EvalOptions, out: t.TextIO = sys.stdout, err: t.TextIO = sys.stderr, *, colour: bool = False,
             live: bool | None = None) -> int:
    """Run an evaluation and return its exit code."""
    from mpl.deploy.server import ServerError

    try:
        return _Eval(options, out, err, colour, live).run()
    except (UsageError, ServerError) as exc:  # the server fails before any run: it is down, or not Ollama
        err.write(f"mpl: error: {exc}\n")
        return 2


class _Eval:
    def __init__(self, options: EvalOptions, out: t.TextIO, err: t.TextIO, colour: bool, live: bool | None) -> None:
        self.opts = options
        self.out = out
        self.err = err
        self.colour = colour
        self.live = live
        self._shown: set[tuple[t.Any, ...]] = set()
        self.profiles: str | None = None  # the profile source, when it declares profiles

    def show(self, source: t.Any, diagnostics: t.Sequence[t.Any]) -> None:
        """Render the diagnostics not shown yet (notes are left to `mpl check`)."""
        from mpl.diagnostics import Severity
        from mpl.diagnostics.render import render_text

        def key(d: t.Any) -> tuple[t.Any, ...]:  # not id(): a list of copies may be freed and its ids reused
            return (source.path, d.code, d.span.start if d.span else -1, d.message)

        fresh = [d for d in diagnostics if key(d) not in self._shown and d.severity is not Severity.INFO]
        self._shown.update(key(d) for d in fresh)
        if fresh:
            self.err.write(render_text(source, fresh, colour=self.colour))

    def run(self) -> int:
        from mpl.deploy.host import HostError, parse_host
        from mpl.deploy.limits import check_timeout

        opts = self.opts
        if opts.repeat < 1 or opts.concurrency < 1:
            raise UsageError("--repeat and --concurrency are 1 or more")
        try:
            check_timeout(opts.timeout)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        try:
            url = parse_host(opts.host)
        except HostError as exc:
            raise UsageError(f"--host / OLLAMA_HOST {exc}") from None
        arms_sink = Sink(arms_source())
        arms = parse_arms(opts.arms, arms_sink)
        self._check_fail_if_worse(arms, arms_sink)
        self._check_seed(arms_sink)
        suite = load_cases(opts.cases)
        self.show(suite.source, suite.sink.sorted())
        self.show(arms_sink.source, arms_sink.diagnostics)
        if suite.io_error:
            raise UsageError(f"cannot read the cases `{opts.cases}`; nothing was run")
        if suite.has_errors or arms_sink.has_errors:
            self.err.write("mpl: error: nothing was run; fix the errors above\n")
            return 1
        path = find_profiles(opts.source, opts.configured)
        if path is None and any(a.profile for a in arms):
            named = next(a for a in arms if a.profile)
            raise UsageError(f"arm `{named.name}` names profile `{named.profile}`, but there is no profile source; pass --file PROFILES.mprof")

        from mpl.deploy.server import Server

        server = Server(url, opts.timeout)
        try:
            version = server.version()  # a server that is down: one line, exit 2
            program, status = self._profiles(path, version, arms_sink)
            if status:
                return status
            plans = plan_options(arms, suite.cases, program, opts.seed, suite.sink, arms_sink)
            self.profiles = str(path) if program is not None and program.profiles else None
            self.show(suite.source, suite.sink.sorted())
            self.show(arms_sink.source, arms_sink.diagnostics)
            if suite.has_errors or arms_sink.has_errors:
                self.err.write("mpl: error: nothing was run; fix the errors above\n")
                return 1
            missing = self._missing_models(server, arms)
            return self._execute(server, url, version, arms, suite, plans, missing)
        finally:
            server.close()

    # -- before anything runs ------------------------------------------------------

    def _check_fail_if_worse(self, arms: list[Arm], sink: Sink) -> None:
        pair = self.opts.fail_if_worse
        if pair is None:
            return
        names = [a.name for a in arms]
        for name in pair:
            if name not in names and names:
                from mpl.compiler.names import did_you_mean

                sink.report("MPL044", None, f"--fail-if-worse names `{name}`, which is not an arm",
                            help=did_you_mean(name, names) or f"the arms are {', '.join(names)}")
        if pair[0] == pair[1]:
            sink.report("MPL044", None, "--fail-if-worse compares an arm with itself", help="name two different arms")

    def _check_seed(self, sink: Sink) -> None:
        """`--seed` as a profile's `seed` is checked (an int Ollama reads), for the last repeat too."""
        from mpl.catalog import catalog, validate

        spec = catalog().option("seed")
        assert spec is not None
        for value in (self.opts.seed, self.opts.seed + self.opts.repeat - 1):
            for problem in validate(spec, value).problems:
                if problem.severity == "error":
                    sink.report(problem.code, None, f"--seed: {problem.message}", help=problem.help)

    def _profiles(self, path: Path | None, version: str, sink: Sink) -> tuple[Program | None, int]:
        """The profile source checked against the server's version (MPL401 for options it does not know)."""
        from mpl.pipeline import analyze
        from mpl.deploy.plan import against_server, parse_server_version
        from mpl.deploy.untrusted import visible

        reported = parse_server_version(version)
        if reported is None:
            sink.report("MPL621", None, f"the server reports version `{visible(version, 80)}` (a development build?): "
                        "the options are checked against the file's `ollama` version, else the newest known",
                        help="run a released Ollama to have the options checked against what it accepts")
            self.show(sink.source, sink.diagnostics)
        if path is None:
            return None, 0
        analysis: Analysis = analyze(path, targets=("options",))
        if analysis.program is not None and not analysis.io_error:
            analysis = against_server(analysis, path, None, reported, targets=("options",))
        self.show(analysis.source, analysis.diagnostics)
        if analysis.io_error:
            raise UsageError(f"cannot read the profiles `{path}`; nothing was run")
        if analysis.has_errors or analysis.program is None:
            self.err.write(f"mpl: error: {path}: errors against Ollama {reported or version}; nothing was run\n")
            return None, 1
        return analysis.program, 0

    def _missing_models(self, server: Server, arms: t.Sequence[Arm]) -> dict[str, str]:
        """Arms whose model the server does not have (MPL620): their runs are errors, the others run."""
        from mpl.deploy.server import ServerError

        sink = Sink(arms_source())
        missing: dict[str, str] = {}
        known: dict[str, bool] = {}
        for arm in arms:
            if arm.model not in known:
                try:
                    known[arm.model] = server.show(arm.model) is not None
                except ServerError:
                    known[arm.model] = True  # let each run say what goes wrong
            if not known[arm.model]:
                missing[arm.name] = f"model `{arm.model}` is not on the server"
                sink.report("MPL620", None, f"arm `{arm.name}`: model `{arm.model}` is not on the server; its runs are errors",
                            help=f"`ollama pull {arm.model}` (or `mpl build` it), then run again")
        self.show(sink.source, sink.diagnostics)
        return missing

    # -- running ------------------------------------------------------------------

    def _execute(self, server: Server, url: str, version: str, arms: list[Arm], suite: Suite,
                 plans: dict[tuple[str, str], t.Any], missing: dict[str, str]) -> int:
        from mpl.deploy.untrusted import visible
        from mpl.eval.runner import Interrupted, Progress, jobs_for, run_all

        opts = self.opts
        jobs = jobs_for(suite.cases, arms, plans, opts.repeat, missing)
        self.err.write(f"mpl: {len(jobs)} runs ({len(suite.cases)} cases x {len(arms)} arms x {opts.repeat}) "
                       f"on {url} (Ollama {visible(version, 80)}), {opts.concurrency} at a time\n")
        interrupted = False
        with Progress(self.err, len(jobs), live=self.live) as progress:
            try:
                results = run_all(server, jobs, concurrency=opts.concurrency, timeout=opts.timeout, progress=progress)
            except Interrupted as exc:
                results, interrupted = exc.records, True
        server.close()  # runs still reading after Ctrl-C stop at once
        report = build_report(url, version, arms, suite, results, opts, self.profiles)
        self._write(report)
        if interrupted:
            self.err.write(f"mpl: interrupted; {len(results)} of {len(jobs)} runs had finished"
                           f"{' and are written' if opts.json or opts.report else ''}\n")
            return 130
        status = 0
        errored = sum(r["error"] is not None for r in results)
        if errored:
            self.err.write(f"mpl: error: {errored} of {len(results)} runs errored (see `error` in the results)\n")
            status = 1
        if opts.fail_if_worse is not None and worse(report, *opts.fail_if_worse):
            a, b = opts.fail_if_worse
            self.err.write(f"mpl: error: arm `{b}` is significantly worse than arm `{a}` (--fail-if-worse)\n")
            status = 1
        return status

    def _write(self, report: dict[str, t.Any]) -> None:
        from mpl.eval.report import summary_lines, write_html, write_json
        from mpl.output import OutputError

        for line in summary_lines(report):
            self.out.write(line + "\n")
        for path, write in ((self.opts.json, write_json), (self.opts.report, write_html)):
            if path is None:
                continue
            try:
                write(path, report)
            except OSError as exc:
                raise UsageError(f"cannot write `{path}`: {exc.strerror or exc}") from None
            except OutputError as exc:
                raise UsageError(str(exc)) from None
            self.err.write(f"mpl: wrote {path}\n")


def build_report(url: str, version: str, arms: t.Sequence[Arm], suite: Suite, results: list[dict[str, t.Any]],
                 opts: EvalOptions, profiles: str | None = None) -> dict[str, t.Any]:
    """The report: the server, the statistics of `summarize`, the cases, every run and the options of the run
    (with `profiles`, the profile source when it declares profiles: arms without @PROFILE are routed by task)."""
    from mpl.eval.stats import summarize

    arm_dicts = [a.as_dict() for a in arms]
    summary = summarize(arm_dicts, results)
    return {
        "server": {"host": url, "version": version},
        "arms": summary["arms"],
        "comparisons": summary["comparisons"],
        "cases": [c.as_dict() for c in suite.cases],
        "results": results,
        "options": {"repeat": opts.repeat, "seed": opts.seed, "concurrency": opts.concurrency, "timeout": opts.timeout,
                    "profiles": profiles},
    }


def worse(report: t.Mapping[str, t.Any], a: str, b: str) -> bool:
    """Whether the comparison of arms `a` and `b` says `b` is significantly worse."""
    for comparison in report.get("comparisons", []):
        if {comparison.get("a"), comparison.get("b")} == {a, b}:
            return bool(comparison.get("significant")) and comparison.get("better") == a
    return False


def find_profiles(given: Path | None, configured: Path | None = None, cwd: Path | None = None) -> Path | None:
    """`--file`, else the configuration's one source, else the one `*.mprof` in the current folder, else None.

    Raises:
        UsageError: Several `*.mprof` files in the current folder, and none named.
    """
    if given is not None:
        return given
    if configured is not None:
        return configured
    found = sorted((cwd or Path()).glob("*.mprof"))
    if len(found) > 1:
        raise UsageError(f"several .mprof files in the current folder ({', '.join(p.name for p in found)}); pass --file PATH")
    return found[0] if found else None

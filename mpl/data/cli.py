"""The terminal side of `mpl data`: diagnostics, the progress bar and the summary table."""

from __future__ import annotations

import sys
import typing as t

from mpl.data.read import Problem
from mpl.data.run import DataError, Options, Result, run

#: From this many input files on, a terminal shows a progress bar.
PROGRESS_FROM = 200


def render_problem(problem: Problem, *, colour: bool = False) -> str:
    """A problem as mpl renders every diagnostic: `file:line:col: error[MPL020]: ...`, the line, help."""
    from mpl.diagnostics import Sink
    from mpl.diagnostics.render import render_text
    from mpl.source import SourceFile, Span

    if problem.line is not None:
        shown = problem.line_text or ""
        source = SourceFile(problem.path, "\n" * (problem.line - 1) + shown)
        start = source.line_start(problem.line) + min(max((problem.col or 1) - 1, 0), len(shown))
        span: Span | None = Span(start, min(start + 1, len(source.text)))
    else:
        source = SourceFile(problem.path, "")
        span = None
    sink = Sink(source)
    sink.report(problem.code, span, problem.message, help=problem.help)
    return render_text(source, sink.diagnostics, colour=colour)


class _Bar:
    """rich's progress bar over the two passes, shown only on a terminal and for long runs."""

    def __init__(self) -> None:
        self.progress: t.Any = None
        self.task: t.Any = None

    def start(self, total: int) -> None:
        if total < 2 * PROGRESS_FROM or not sys.stderr.isatty():
            return
        from rich.console import Console
        from rich.progress import Progress

        self.progress = Progress(console=Console(stderr=True), transient=True)
        self.progress.start()
        self.task = self.progress.add_task("reading conversations", total=total)

    def advance(self) -> None:
        if self.progress is not None:
            self.progress.advance(self.task)

    def stop(self) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None


def summary(result: Result) -> str:
    """The counts as a small table (plain text: it goes to standard error, maybe a log)."""
    counts = result.counts
    rows = [("sessions", counts["sessions"]), ("earlier saves merged", counts["prefix_files"]), ("examples", counts["examples"]), ("  train", counts["train"]),
            ("  held out", counts["holdout"]), ("tool outputs folded", counts["folded"]),
            ("secrets redacted", counts["redacted"])]
    rows += [(f"dropped: {reason}", number) for reason, number in counts["dropped"].items()]
    width = max(len(name) for name, _ in rows)
    lines = [f"{name:<{width}}  {number:>8}" for name, number in rows]
    lines += [f"wrote {path}" for path in result.outputs]
    return "\n".join(lines) + "\n"


def data_command(options: Options, *, colour: bool) -> int:
    """Run `mpl data`; prints diagnostics and the summary on standard error, returns the exit code."""
    from mpl.output import OutputError

    template = None
    if options.format == "text":
        try:
            from mpl.chat import ChatTemplateError, load_template
        except ImportError:  # pragma: no cover  (until mpl.chat is merged)
            sys.stderr.write("mpl: error: --format text needs mpl.chat, which this build lacks\n")
            return 2
        try:
            template = load_template(base=options.base, family=options.template)
        except ChatTemplateError as exc:
            where = str(options.base) if options.base else f"--template {options.template}"
            sys.stderr.write(render_problem(Problem("MPL024", where, f"cannot use the chat template: {exc}"), colour=colour))
            sys.stderr.write("mpl data: errors found; nothing written\n")
            return 1
    bar = _Bar()
    try:
        result = run(options, progress=bar, template=template)
    except DataError as exc:
        bar.stop()
        sys.stderr.write(render_problem(exc.problem, colour=colour))
        sys.stderr.write("mpl data: errors found; nothing written\n")
        return 2 if exc.problem.code == "MPL001" else 1
    except OutputError as exc:
        bar.stop()
        sys.stderr.write(f"mpl: error: {exc}\n")
        return 2
    bar.stop()
    for problem in result.warnings:
        sys.stderr.write(render_problem(problem, colour=colour))
    sys.stderr.write(summary(result))
    return 0

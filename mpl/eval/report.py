"""The reports of an evaluation: JSON, a self-contained HTML page and a terminal summary.

Consumes a report dict, `{"server", "arms", "comparisons", "cases", "results",
"options"}` (arms and comparisons as `mpl.eval.stats.summarize` makes them; the
schema is in docs/eval.md), and produces:

- `write_json`: the report as JSON (`version` 1), written atomically;
- `write_html`: one HTML file with no network resource at all (inline CSS, an inline
  SVG chart, no script; a Content-Security-Policy that allows nothing else), written
  atomically. Model outputs are untrusted text: the template escapes everything it
  prints (jinja2 autoescape), so markup in an output is shown, never interpreted;
- `summary_lines`: the terminal summary, a table of arms (through rich on a terminal,
  plain aligned text otherwise, as `mpl show` prints) and one sentence per comparison.
"""

from __future__ import annotations

import json
import os
import typing as t
from pathlib import Path

from mpl.eval.stats import format_p, summary_sentence
from mpl.output import write_atomic
from mpl.source import visible

Report = t.Mapping[str, t.Any]

#: JSON schema version of `write_json`'s output (docs/eval.md, "JSON schema").
VERSION = 1
#: An output longer than this (characters or lines) is collapsed in the HTML report.
LONG_CHARS = 1200
LONG_LINES = 16


def write_json(path: str | os.PathLike[str], report: Report) -> None:
    """Write `report` as JSON to `path` at once (never a half-written file).

    Raises:
        OSError: The file cannot be written; nothing was changed.
    """
    document = {"version": VERSION, **report}
    text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    write_atomic(Path(path), text.encode("utf-8"))


def write_html(path: str | os.PathLike[str], report: Report) -> None:
    """Write the HTML report of `report` to `path` at once (never a half-written file).

    Raises:
        OSError: The file cannot be written; nothing was changed.
    """
    write_atomic(Path(path), render_html(report).encode("utf-8"))


def render_html(report: Report) -> str:
    """The HTML report as text."""
    from jinja2 import Environment, PackageLoader

    env = Environment(loader=PackageLoader("mpl.eval", "templates"), autoescape=True, trim_blocks=True, lstrip_blocks=True)
    env.filters.update(pct=pct, num=num, seconds=seconds, interval=interval, p=format_p, long=is_long, text=as_text)
    options = report.get("options") or {}
    env.globals["profile_label"] = lambda arm: profile_label(arm, options)
    template = env.get_template("report.html.j2")
    arms = list(report.get("arms", []))
    return template.render(
        report=report,
        server=report.get("server") or {},
        options=options,
        arms=arms,
        comparisons=list(report.get("comparisons", [])),
        cases=case_rows(report),
        chart=chart(arms),
    )


# -- formatting ---------------------------------------------------------------------


def pct(value: float | None) -> str:
    """A fraction as a percentage.

    >>> pct(0.8), pct(1.0), pct(None)
    ('80.0%', '100.0%', '–')
    """
    return "–" if value is None else f"{100 * value:.1f}%"


def num(value: float | None, digits: int = 3) -> str:
    """A number shortly.

    >>> num(0.12345), num(None), num(40.0, 1)
    ('0.123', '–', '40.0')
    """
    return "–" if value is None else f"{value:.{digits}f}"


def seconds(value: float | None) -> str:
    """A duration in seconds.

    >>> seconds(1.23456), seconds(None)
    ('1.23 s', '–')
    """
    return "–" if value is None else f"{value:.2f} s"


def interval(bounds: t.Sequence[float] | None, percent: bool = True) -> str:
    """An interval as `[lo, hi]`.

    >>> interval([0.49, 0.9433]), interval([0.1, 0.25], False), interval(None)
    ('[49.0, 94.3]', '[0.100, 0.250]', '')
    """
    if not bounds:
        return ""
    if percent:
        return f"[{100 * bounds[0]:.1f}, {100 * bounds[1]:.1f}]"
    return f"[{bounds[0]:.3f}, {bounds[1]:.3f}]"


def is_long(text: str | None) -> bool:
    """Whether an output is collapsed in the HTML report."""
    return text is not None and (len(text) > LONG_CHARS or text.count("\n") >= LONG_LINES)


def as_text(value: t.Any) -> str:
    """A prompt or reference as text (a message list as JSON)."""
    if not value:  # None, "", or a field the case does not have
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, indent=2, ensure_ascii=False)


# -- what the page shows ------------------------------------------------------------


def case_rows(report: Report) -> list[dict[str, t.Any]]:
    """Every case with its runs per arm (in arm order, then by repeat).

    Cases come in the suite's order; a case that has runs but is missing from
    `cases` is still shown, after them.
    """
    arm_names = [arm["name"] for arm in report.get("arms", [])]
    runs: dict[str, dict[str, list[t.Mapping[str, t.Any]]]] = {}
    for run in report.get("results", []):
        runs.setdefault(run["case"], {}).setdefault(run["arm"], []).append(run)
    cases = [dict(case) for case in report.get("cases", [])]
    known = {case["id"] for case in cases}
    cases += [{"id": name, "task": None, "prompt": None, "reference": None} for name in runs if name not in known]
    for case in cases:
        by_arm = runs.get(case["id"], {})
        case["arms"] = [
            {"name": name, "runs": sorted(by_arm.get(name, []), key=lambda run: run.get("repeat") or 0)}
            for name in arm_names
        ]
    return cases


class Bar(t.NamedTuple):
    """One arm's row of the chart, in SVG user units."""

    name: str
    y: float
    label: str
    width: float | None  # the bar's width; None when the arm has no assertions
    low: float | None
    high: float | None


class Chart(t.NamedTuple):
    width: int
    height: int
    left: int
    span: int
    top: int
    row: int
    ticks: list[tuple[float, str]]
    bars: list[Bar]


def chart(arms: t.Sequence[t.Mapping[str, t.Any]]) -> Chart:
    """The geometry of the pass-rate chart: a bar per arm with its 95% interval as whiskers.

    >>> c = chart([{"name": "a", "pass_rate": 0.8, "ci95": [0.49, 0.943]}])
    >>> c.bars[0].width, round(c.bars[0].low, 1), c.height
    (336.0, 365.8, 64)
    """
    left, span, top, row = 160, 420, 8, 32
    bars = []
    for i, arm in enumerate(arms):
        rate, ci = arm.get("pass_rate"), arm.get("ci95")
        y = top + i * row
        if rate is None:
            bars.append(Bar(arm["name"], y, "no assertions", None, None, None))
            continue
        low, high = (left + ci[0] * span, left + ci[1] * span) if ci else (None, None)
        bars.append(Bar(arm["name"], y, f"{pct(rate)} {interval(ci)}", rate * span, low, high))
    ticks = [(left + f * span, f"{int(f * 100)}%") for f in (0, 0.25, 0.5, 0.75, 1)]
    return Chart(left + span + 200, top + row * len(arms) + 24, left, span, top, row, ticks, bars)


# -- terminal -----------------------------------------------------------------------

HEADERS = ("arm", "model", "profile", "pass rate [95% CI]", "passed", "mean score [95% CI]", "latency p50/p95", "tokens/s", "errors")


def profile_label(arm: t.Mapping[str, t.Any], options: t.Mapping[str, t.Any]) -> str:
    """What an arm's options come from: its profile, `by task` (routed per case), or `none` (the seed alone:
    no profile source, or one without profiles; a report without the `profiles` option is routed)."""
    if arm.get("profile"):
        return str(arm["profile"])
    return "by task" if options.get("profiles", True) else "none"


def arm_cells(arm: t.Mapping[str, t.Any], options: t.Mapping[str, t.Any]) -> list[str]:
    """One arm's row of the summary table."""
    rate = "no assertions" if arm.get("pass_rate") is None else f"{pct(arm['pass_rate'])} {interval(arm.get('ci95'))}"
    graded = arm.get("graded")
    passed = "–" if not graded else f"{arm.get('passed', 0)}/{graded}"
    score = "–" if arm.get("mean_score") is None else f"{num(arm['mean_score'])} {interval(arm.get('score_ci95'), False)}"
    latency = f"{seconds(arm.get('latency_p50'))} / {seconds(arm.get('latency_p95'))}"
    errors = f"{arm.get('errors', 0)}/{arm.get('runs', 0)}"
    return [str(arm["name"]), str(arm.get("model") or ""), profile_label(arm, options), rate, passed, score,
            latency, num(arm.get("tokens_per_s"), 1), errors]


def title(report: Report) -> str:
    """The summary's title: how much ran, and where."""
    server, options = report.get("server") or {}, report.get("options") or {}
    cases, arms = len(report.get("cases", [])), len(report.get("arms", []))
    repeat = options.get("repeat", 1)
    where = f"Ollama {server.get('version') or '?'} at {server.get('host') or '?'}"
    return (f"{cases} case{'s' * (cases != 1)} × {arms} arm{'s' * (arms != 1)} × {repeat} "
            f"repeat{'s' * (repeat != 1)} on {where}")


def summary_lines(report: Report, *, rich: bool | None = None) -> list[str]:
    """The terminal summary: the arms' table, then one sentence per comparison.

    Names, models and the server's version are shown escaped (`mpl.source.visible`):
    they cannot drive the terminal, nor carry rich markup.

    `rich` draws the table with rich (bold headers, box lines); by default it does so
    when standard output is a terminal that takes colour (rich's own test: `NO_COLOR`,
    `FORCE_COLOR`, `TERM=dumb` are honoured), plain aligned text otherwise.
    """
    from mpl.show import table

    if rich is None:
        from rich.console import Console

        console = Console()
        rich = console.is_terminal and not console.is_dumb_terminal and not console.no_color
    shown = _shown_in_rich if rich else visible
    options = report.get("options") or {}
    body = [[shown(cell) for cell in arm_cells(arm, options)] for arm in report.get("arms", [])]
    lines = table(shown(title(report)), HEADERS, body, [False] * len(body), rich).rstrip("\n").split("\n")
    comparisons = list(report.get("comparisons", []))
    if comparisons:
        lines.append("")
        lines += [visible(comparison.get("summary") or summary_sentence(comparison)) for comparison in comparisons]
    return lines


def _shown_in_rich(text: str) -> str:
    """Text for a rich table: one line with no terminal controls, and no rich markup."""
    from rich.markup import escape

    return escape(visible(text))

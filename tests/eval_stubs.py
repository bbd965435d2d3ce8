"""Stand-ins for `mpl.eval.stats` and `mpl.eval.report`, used only where those modules are not there yet.

`install()` puts them in `sys.modules` when the real ones cannot be imported, and does
nothing once they can. They keep to the interface the real ones implement:
`summarize(arms, results) -> {"arms", "comparisons"}`, `write_json`, `write_html`,
`summary_lines`.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import types
import typing as t
from pathlib import Path


def summarize(arms: list[dict[str, t.Any]], results: list[dict[str, t.Any]]) -> dict[str, t.Any]:
    out = []
    for arm in arms:
        runs = [r for r in results if r["arm"] == arm["name"]]
        passed = sum(r["passed"] is True for r in runs)
        out.append({**arm, "runs": len(runs), "passed": passed, "pass_rate": passed / len(runs) if runs else None,
                    "errors": sum(r["error"] is not None for r in runs)})
    return {"arms": out, "comparisons": []}


def write_json(path: Path, report: dict[str, t.Any]) -> None:
    Path(path).write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def write_html(path: Path, report: dict[str, t.Any]) -> None:
    Path(path).write_text("<!doctype html><title>mpl eval</title>\n", encoding="utf-8")


def summary_lines(report: dict[str, t.Any]) -> list[str]:
    return [f"{a['name']}: {a['passed']}/{a['runs']} passed" for a in report["arms"]]


def install() -> None:
    """Register the stand-ins for the modules that are missing."""
    for name, functions in (("mpl.eval.stats", ("summarize",)), ("mpl.eval.report", ("write_json", "write_html", "summary_lines"))):
        if name in sys.modules or importlib.util.find_spec(name) is not None:
            continue
        module = types.ModuleType(name)
        for function in functions:
            setattr(module, function, globals()[function])
        sys.modules[name] = module
        setattr(sys.modules["mpl.eval"], name.rsplit(".", 1)[1], module)

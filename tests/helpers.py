"""Test helpers that keep test bodies to one line: analyze_document text, name diagnostics, compile examples."""

from __future__ import annotations

import os
import subprocess
import sys
import typing as t
from pathlib import Path

from mpl.catalog import Version
from mpl.compiler import Analysis
from mpl.pipeline import analyze
from mpl.targets import DEFAULT_TARGETS
from mpl.source import SourceFile

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def after_a_script_check(argv: list[str], report: str, *, before: str = "") -> str:
    """Run `mpl check ARGV` as the `mpl` script runs it, in a child process, then the Python code
    `report`; return the last line the child printed.

    The script ends a check with `os._exit`; in the child that raises SystemExit
    instead, so that `report` can look at what the check left (its modules, say).
    `before` runs first (to watch something the check does).
    """
    code = (
        f"import os, sys\n{before}\n"
        "def _exit(code):\n    raise SystemExit(code)\n"
        "os._exit = _exit\n"
        "from mpl.__main__ import main\n"
        f"sys.argv = ['mpl', 'check', *{argv!r}]\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        f"{report}\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ, "NO_COLOR": "1"})
    lines = out.stdout.strip().splitlines()
    return lines[-1] if lines else out.stderr


def run(text: str, *, ollama: str | None = None, targets: t.Sequence[str] = DEFAULT_TARGETS, base_dir: Path | None = None) -> Analysis:
    """Analyse source text as `mpl check` without configuration would (Meton only when `targets` names it)."""
    version = Version.parse(ollama) if ollama else None
    return analyze(SourceFile("test.mprof", text), target=version, targets=targets, base_dir=base_dir or ROOT)


def labels(analysis: Analysis, *, severity: str | None = None) -> list[str]:
    """Diagnostics as `CODE@line:col` (or `CODE` when there is no span)."""
    out = []
    for d in analysis.diagnostics:
        if severity and d.severity.value != severity:
            continue
        if d.span is None:
            out.append(d.code)
        else:
            line, col = analysis.source.line_col(d.span.start)
            out.append(f"{d.code}@{line}:{col}")
    return out


def assert_diagnostics(text: str, *expected: str, ollama: str | None = None, exact: bool = False, **kw: t.Any) -> Analysis:
    """Assert that the given `CODE@line:col` labels are reported (all of them, and only them if `exact`)."""
    analysis = run(text, ollama=ollama, **kw)
    got = labels(analysis)
    missing = [e for e in expected if e not in got]
    assert not missing, f"missing {missing}; got {got}"
    if exact:
        assert sorted(got) == sorted(expected), f"got {got}"
    return analysis


def assert_clean(text: str, **kw: t.Any) -> Analysis:
    analysis = run(text, **kw)
    bad = [f"{l}" for l, d in zip(labels(analysis), analysis.diagnostics) if d.severity.value in ("error", "warning")]
    assert not bad, f"unexpected diagnostics {bad}"
    return analysis


def compile_example(name: str, target: str, out_dir: Path | None = None) -> dict[str, str]:
    """Compile an example file for one target; returns {file name: content}."""
    from mpl.targets import get_target

    analysis = analyze(EXAMPLES / f"{name}.mprof", targets=(target,))
    assert not analysis.has_errors, labels(analysis)
    assert analysis.program is not None
    files = get_target(target).emit(analysis.program, out_dir or ROOT / "build")
    return {f.path: f.content for f in files}

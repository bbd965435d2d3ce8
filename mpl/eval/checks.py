"""Judging an answer: each assertion's verdict, the weighted score, and chrF against a reference.

`judge(case, output)` gives the run record's `passed`, `score`, `similarity` and
`assertions`. A `python` assertion runs the user's `check(output, case)` in a
child Python process with a time limit (its whole process group is killed when it
runs over), so a check that loops, crashes or prints cannot harm the run. The
similarity is sacrebleu's sentence chrF, scaled to 0..1.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import typing as t
from dataclasses import dataclass

from mpl.eval.cases import Assertion, Case

#: Characters of a check's error output kept in a verdict's detail.
DETAIL = 300


@dataclass(slots=True)
class Verdict:
    """What `judge` says of one answer."""

    passed: bool | None
    score: float | None
    similarity: float | None
    assertions: list[dict[str, t.Any]]


def judge(case: Case, output: str) -> Verdict:
    """Every assertion of the case on `output`, the weighted score, and the similarity to the reference."""
    results = [check(a, output, case) for a in case.expect]
    similarity = chrf(output, case.reference) if case.reference is not None else None
    if results:
        total = sum(r["weight"] for r in results)
        won = sum(r["weight"] for r in results if r["passed"])
        score = won / total if total else float(all(r["passed"] for r in results))
        return Verdict(all(r["passed"] for r in results), score, similarity, results)
    return Verdict(None, similarity, similarity, [])


def failed(case: Case) -> Verdict:
    """The verdict of a run that errored: failed, score 0 (None when nothing would score it)."""
    scored = bool(case.expect) or case.reference is not None
    return Verdict(False, 0.0 if scored else None, None, [])


def check(assertion: Assertion, output: str, case: Case) -> dict[str, t.Any]:
    """One assertion's verdict: {"kind", "passed", "weight", "detail"}."""
    kind, value = assertion.kind, assertion.value
    if kind == "contains":
        passed, detail = value in output, f"{'has' if value in output else 'lacks'} {_quote(value)}"
    elif kind == "not-contains":
        passed, detail = value not in output, f"{'lacks' if value not in output else 'has'} {_quote(value)}"
    elif kind == "equals":
        passed = output.strip() == value.strip()
        detail = "equal" if passed else f"differs from {_quote(value)}"
    elif kind == "regex":
        match = re.search(value, output, re.MULTILINE)
        passed, detail = match is not None, f"matches at {match.start()}" if match else f"no match for /{value}/"
    elif kind == "json":
        passed, detail = _json(output, value)
    else:
        passed, detail = run_python(assertion, output, case)
    return {"kind": kind, "passed": passed, "weight": assertion.weight, "detail": detail}


def _quote(text: str) -> str:
    shown = text if len(text) <= 60 else text[:60] + "…"
    return json.dumps(shown, ensure_ascii=False)


def _json(output: str, schema: dict[str, t.Any] | None) -> tuple[bool, str]:
    text = output.strip()
    fenced = re.fullmatch(r"```(?:json)?\s*\n(.*)\n```", text, re.DOTALL)  # an answer in a fenced block
    if fenced:
        text = fenced.group(1)
    try:
        value = json.loads(text)
    except (ValueError, RecursionError) as exc:
        return False, f"not JSON: {exc}"[:DETAIL]
    if schema is None:
        return True, "valid JSON"
    import jsonschema  # type: ignore[import-untyped]

    error = jsonschema.exceptions.best_match(jsonschema.validators.validator_for(schema)(schema).iter_errors(value))
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "the top level"
        return False, f"does not match the schema at {where}: {error.message}"[:DETAIL]
    return True, "valid JSON, matches the schema"


# The child process: reads {"output", "case"} from stdin, imports the check file, calls
# check(output, case), writes {"passed": ...} or {"error": ...} on the original stdout (the
# check's own prints go to stderr).
_RUNNER = r"""
import json, os, sys, traceback, importlib.util
out = os.fdopen(os.dup(1), "w")
os.dup2(2, 1)
path = sys.argv[1]
try:
    data = json.load(sys.stdin)
    sys.path.insert(0, os.path.dirname(path))
    spec = importlib.util.spec_from_file_location("mpl_eval_check", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    check = getattr(module, "check", None)
    if not callable(check):
        raise SystemExit("__no_check__")
    result = check(data["output"], data["case"])
    out.write(json.dumps({"passed": result is True, "returned": repr(result)[:80]}))
except SystemExit as exc:
    if exc.code == "__no_check__":
        out.write(json.dumps({"error": "the file defines no function `check(output, case)`"}))
    else:
        out.write(json.dumps({"error": f"the check exited ({exc.code!r})"}))
except BaseException as exc:
    traceback.print_exc()
    out.write(json.dumps({"error": f"{type(exc).__name__}: {exc}"[:300]}))
out.flush()
"""


def run_python(assertion: Assertion, output: str, case: Case) -> tuple[bool, str]:
    """Run `check(output, case)` from the assertion's file in a child process, within its time limit."""
    path = str(assertion.value)
    payload = json.dumps({"output": output, "case": case.for_check()}).encode()
    with tempfile.TemporaryFile() as errors:
        try:
            child = subprocess.Popen(
                [sys.executable, "-I", "-c", _RUNNER, path], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=errors, cwd=os.path.dirname(path), start_new_session=True,
            )
        except OSError as exc:
            return False, f"cannot start Python: {exc.strerror or exc}"
        try:
            answer, _ = child.communicate(payload, timeout=assertion.timeout)
        except subprocess.TimeoutExpired:
            _kill_group(child)
            child.communicate()
            return False, f"the check ran longer than {assertion.timeout:g} s and was stopped"
        except BaseException:
            _kill_group(child)
            child.communicate()
            raise
        try:
            result = json.loads(answer[:1 << 16] or b"{}")
        except ValueError:
            result = {}
        if "passed" in result:
            verdict = bool(result["passed"])
            return verdict, "check returned True" if verdict else f"check returned {result.get('returned', 'False')}"
        errors.seek(0, os.SEEK_END)
        errors.seek(max(0, errors.tell() - DETAIL))
        tail = errors.read().decode("utf-8", "replace").strip().splitlines()
        reason = result.get("error") or (tail[-1] if tail else f"the check process ended with status {child.returncode}")
        return False, f"check failed: {reason}"[:DETAIL]


def _kill_group(child: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(child.pid, 9)
    except (OSError, AttributeError):  # already gone, or no process groups here
        child.kill()


def chrf(output: str, reference: str) -> float:
    """Sentence chrF (sacrebleu, its defaults: character 6-grams, beta 2) of an answer to its reference, 0..1.

    >>> chrf("the cat sat on the mat", "the cat sat on the mat")
    1.0
    >>> 0 < chrf("the cat sat", "the cat sat on the mat") < 1
    True
    """
    from sacrebleu.metrics import CHRF

    return round(_metric(CHRF).sentence_score(output, [reference]).score / 100.0, 6)


_METRICS: dict[type, t.Any] = {}


def _metric(kind: type) -> t.Any:
    metric = _METRICS.get(kind)
    if metric is None:
        metric = _METRICS[kind] = kind()
    return metric

"""A small fixed evaluation (two arms, five cases, two repeats) for the statistics and report tests.

Outcomes, case by case (`base` / `tuned`; T pass, F fail, E error):

    c1  T T / T F      base better
    c2  T F / F F      base better
    c3  F F / F F      tie
    c4  T T / E T      base better (an errored run fails)
    c5  no assertions, reference scores 0.8 0.6 / 0.5 E (an errored run scores 0): base better

so base passes 5 of 8 graded runs, tuned 2 of 8; base wins 4 cases, loses none, ties 1.
"""

from __future__ import annotations

import typing as t

from mpl.eval.stats import summarize

ARMS = [
    {"name": "base", "model": "llama3.2:3b", "profile": "precise"},
    {"name": "tuned", "model": "meton-tuned:latest", "profile": None},
]
SERVER = {"host": "http://127.0.0.1:11434", "version": "0.12.3"}
OPTIONS = {"repeat": 2, "seed": 42, "concurrency": 2, "timeout": 120.0}
CASES: list[dict[str, t.Any]] = [
    {"id": "c1", "task": "debugging", "prompt": "Why does `x = [] ; x[0]` fail?", "reference": None,
     "expect": [{"contains": "IndexError"}]},
    {"id": "c2", "task": "coding", "prompt": "Write a function that adds two numbers.", "reference": None,
     "expect": [{"regex": "def \\w+\\("}]},
    {"id": "c3", "task": None, "prompt": "Say <b>hello</b> & goodbye.", "reference": None, "expect": [{"equals": "hi"}]},
    {"id": "c4", "task": "coding", "prompt": "Return JSON with a key `ok`.", "reference": None, "expect": [{"json": {}}]},
    {"id": "c5", "task": "chat", "prompt": "Summarise the release notes.", "reference": "mpl 0.1 compiles profiles.",
     "expect": []},
]

# (case, base outcomes, tuned outcomes): True/False a verdict, "E" an error, a float a reference score
OUTCOMES: list[tuple[str, list[t.Any], list[t.Any]]] = [
    ("c1", [True, True], [True, False]),
    ("c2", [True, False], [False, False]),
    ("c3", [False, False], [False, False]),
    ("c4", [True, True], ["E", True]),
    ("c5", [0.8, 0.6], [0.5, "E"]),
]

SCRIPT = "<script>document.title = 'pwned'; window.pwned = 1; console.error('injected')</script>"
LONG = "".join(f"line {i}: the model kept talking\n" for i in range(40))


def _run(case: str, arm: str, repeat: int, outcome: t.Any, latency: float) -> dict[str, t.Any]:
    error = "model 'meton-tuned:latest' stopped mid-stream" if outcome == "E" else None
    graded = not isinstance(outcome, float)
    passed = (outcome is True) if graded else None
    output = None if error else f"{arm} answers {case} (repeat {repeat})"
    if case == "c3" and arm == "tuned":
        output = SCRIPT
    if case == "c2" and arm == "base" and repeat == 1:
        output = LONG
    assertions = [] if not graded or error else [
        {"kind": "contains", "passed": bool(passed), "weight": 1.0, "detail": "" if passed else "`IndexError` not found"}
    ]
    score = (1.0 if passed else 0.0) if graded and not error else (outcome if not error else None)
    return {
        "case": case, "arm": arm, "repeat": repeat, "task": None,
        "options": {"temperature": 0.2, "seed": 42 + repeat},
        "output": output, "passed": passed if not error else (False if graded else None),
        "score": score, "similarity": outcome if isinstance(outcome, float) else None,
        "assertions": assertions, "latency_s": None if error else latency,
        "tokens_per_s": None if error else 40.0 + latency, "eval_count": None if error else 64, "error": error,
    }


def results() -> list[dict[str, t.Any]]:
    """The run records: base's latencies are 1..10 s, tuned's 11..20 s, in case order."""
    runs = []
    for offset, arm in ((0, "base"), (10, "tuned")):
        latency = offset
        for case, base, tuned in OUTCOMES:
            for repeat, outcome in enumerate(base if arm == "base" else tuned):
                latency += 1
                runs.append(_run(case, arm, repeat, outcome, float(latency)))
    return runs


def report() -> dict[str, t.Any]:
    """The whole report as `mpl eval` hands it to the writers."""
    runs = results()
    summary = summarize(ARMS, runs)
    return {"server": SERVER, "arms": summary["arms"], "comparisons": summary["comparisons"], "cases": CASES,
            "results": runs, "options": OPTIONS}

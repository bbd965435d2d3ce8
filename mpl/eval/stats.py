"""Statistics of an evaluation: per arm and per pair of arms, from the run records.

Consumes the run records `mpl eval` collects (plain dicts, one per case, arm and
repeat; see docs/eval.md) and produces plain dicts for the JSON and HTML reports:

- per arm: the pass rate with its 95% Wilson score interval, the mean score with a
  bootstrap percentile interval over *cases* (the repeats of one case are not
  independent, so cases, not runs, are resampled), latency p50/p95 and the median
  tokens per second;
- per ordered pair of arms (a before b): case-level wins, losses and ties and an
  exact two-sided sign test (with one repeat and pass/fail outcomes it is the exact
  McNemar test), with a sentence that says "no significant difference" when the
  test finds none.

Only the standard library is used; every figure is deterministic (the bootstrap's
random numbers come from a seeded generator).
"""

from __future__ import annotations

import math
import random
import typing as t
from statistics import NormalDist

#: z for a two-sided 95% interval (1.959963984540054).
Z95 = NormalDist().inv_cdf(0.975)
#: The significance level of the comparisons.
ALPHA = 0.05
#: Bootstrap resamples for the mean score's interval, and the generator's seed.
RESAMPLES = 10_000
SEED = 0

Record = t.Mapping[str, t.Any]


def wilson(passed: int, n: int, z: float = Z95) -> tuple[float, float] | None:
    """The Wilson score interval for `passed` successes out of `n` (None when n is 0).

    It stays inside [0, 1] and is sound for small n and for rates near 0 or 1, where the
    normal ("Wald") interval is not.

    >>> [round(x, 3) for x in wilson(8, 10)]
    [0.49, 0.943]
    >>> wilson(0, 0) is None
    True
    """
    if n <= 0:
        return None
    p = passed / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def sign_test(wins: int, losses: int) -> float:
    """The exact two-sided sign test's p-value for `wins` against `losses` (ties left out).

    Under "no difference" each untied case goes either way with probability 1/2, so the
    p-value is twice the binomial tail of the smaller count (at most 1). Integers are
    summed exactly and divided once, so the figure is exact to the last bit.

    >>> round(sign_test(9, 1), 4), sign_test(0, 0), sign_test(3, 3)
    (0.0215, 1.0, 1.0)
    """
    n = wins + losses
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, i) for i in range(min(wins, losses) + 1))
    return min(1.0, 2 * tail / (1 << n))


def percentile(values: t.Sequence[float], q: float) -> float | None:
    """The `q`-th percentile (0-100) by linear interpolation between order statistics.

    This is the common definition (numpy's default, R's type 7).

    >>> percentile([1.0, 2.0, 3.0, 4.0], 50), percentile([1.0, 2.0, 3.0, 4.0], 95), percentile([], 50)
    (2.5, 3.85, None)
    """
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def bootstrap_mean(values: t.Sequence[float], *, resamples: int = RESAMPLES, seed: int = SEED) -> tuple[float, float] | None:
    """A 95% bootstrap percentile interval for the mean of `values` (None when there are none).

    `values` are drawn with replacement `resamples` times from a generator seeded with
    `seed`, so the same values always give the same interval.

    >>> bootstrap_mean([0.5, 0.5, 0.5])
    (0.5, 0.5)
    >>> bootstrap_mean([0.0, 1.0]) == bootstrap_mean([0.0, 1.0])
    True
    """
    if not values:
        return None
    rng = random.Random(seed)
    n = len(values)
    means = [math.fsum(rng.choices(values, k=n)) / n for _ in range(resamples)]
    low, high = percentile(means, 2.5), percentile(means, 97.5)
    assert low is not None and high is not None
    return low, high


def _mean(values: t.Sequence[float]) -> float | None:
    return math.fsum(values) / len(values) if values else None


def _interval(bounds: tuple[float, float] | None) -> list[float] | None:
    return list(bounds) if bounds is not None else None


# -- case-level outcomes ------------------------------------------------------------


class _Case(t.NamedTuple):
    """What one case's runs tell about it, across arms."""

    graded: bool  # the case has assertions (a run's `passed` is not None)
    scored: bool  # the case has a score (assertions or a reference)


def _cases(results: t.Sequence[Record]) -> dict[str, _Case]:
    """Whether each case is graded and scored, judged from its runs that did not error
    (an errored run says nothing of the case), else from any of its runs."""
    runs: dict[str, list[Record]] = {}
    for run in results:
        runs.setdefault(run["case"], []).append(run)
    seen = {}
    for name, group in runs.items():
        judges = [run for run in group if run.get("error") is None] or group
        seen[name] = _Case(any(run.get("passed") is not None for run in judges),
                           any(run.get("score") is not None for run in judges))
    return seen


def _passed(run: Record, case: _Case) -> bool | None:
    """A run's verdict: None for a case without assertions; an errored run fails."""
    if not case.graded:
        return None
    return bool(run.get("passed")) and run.get("error") is None


def _score(run: Record, case: _Case) -> float | None:
    """A run's score: None for a case without one; an errored run scores 0."""
    if not case.scored:
        return None
    score = run.get("score")
    return 0.0 if score is None or run.get("error") is not None else float(score)


def _by_case(runs: t.Iterable[Record], figure: t.Callable[[Record], float | bool | None]) -> dict[str, float]:
    """The mean of `figure` over each case's runs (runs where it is None left out)."""
    found: dict[str, list[float]] = {}
    for run in runs:
        value = figure(run)
        if value is not None:
            found.setdefault(run["case"], []).append(float(value))
    return {name: math.fsum(values) / len(values) for name, values in found.items()}


def case_outcomes(results: t.Sequence[Record], arm: str) -> dict[str, float]:
    """One figure per case for `arm`: the fraction of its repeats that passed when the case
    has assertions, else its mean score; cases with neither are left out."""
    cases = _cases(results)
    runs = [run for run in results if run["arm"] == arm]
    passes = _by_case(runs, lambda run: _passed(run, cases[run["case"]]))
    scores = _by_case(runs, lambda run: _score(run, cases[run["case"]]))
    return passes | {name: score for name, score in scores.items() if name not in passes}


# -- per arm ------------------------------------------------------------------------


def arm_summary(arm: t.Mapping[str, t.Any], results: t.Sequence[Record], *, seed: int = SEED) -> dict[str, t.Any]:
    """The figures of one arm (see docs/eval.md, "Statistics")."""
    cases = _cases(results)
    runs = [run for run in results if run["arm"] == arm["name"]]
    verdicts = [v for v in (_passed(run, cases[run["case"]]) for run in runs) if v is not None]
    passed = sum(verdicts)
    case_means = list(_by_case(runs, lambda run: _score(run, cases[run["case"]])).values())
    clean = [run for run in runs if run.get("error") is None]
    latencies = [float(run["latency_s"]) for run in clean if run.get("latency_s") is not None]
    speeds = [float(run["tokens_per_s"]) for run in clean if run.get("tokens_per_s") is not None]
    return {
        "name": arm["name"],
        "model": arm.get("model"),
        "profile": arm.get("profile"),
        "runs": len(runs),
        "errors": sum(1 for run in runs if run.get("error") is not None),
        "graded": len(verdicts),
        "passed": passed,
        "pass_rate": passed / len(verdicts) if verdicts else None,
        "ci95": _interval(wilson(passed, len(verdicts))),
        "cases_scored": len(case_means),
        "mean_score": _mean(case_means),
        "score_ci95": _interval(bootstrap_mean(case_means, seed=seed)),
        "latency_p50": percentile(latencies, 50),
        "latency_p95": percentile(latencies, 95),
        "tokens_per_s": percentile(speeds, 50),
    }


# -- per pair of arms ---------------------------------------------------------------


def compare(a: str, b: str, results: t.Sequence[Record]) -> dict[str, t.Any]:
    """Arm `a` against arm `b`, case by case: `wins` are the cases `a` did better on,
    `losses` those `b` did better on, `ties` the rest, over the cases both arms ran."""
    left, right = case_outcomes(results, a), case_outcomes(results, b)
    shared = [case for case in left if case in right]
    wins = sum(1 for case in shared if left[case] > right[case])
    losses = sum(1 for case in shared if left[case] < right[case])
    ties = len(shared) - wins - losses
    p_value = sign_test(wins, losses)
    significant = p_value < ALPHA
    better = (a if wins > losses else b) if significant else None
    comparison = {
        "a": a,
        "b": b,
        "cases": len(shared),
        "wins": wins,
        "losses": losses,
        "ties": ties,
        "p_value": p_value,
        "test": "sign",
        "significant": significant,
        "better": better,
    }
    comparison["summary"] = summary_sentence(comparison)
    return comparison


def format_p(p_value: float) -> str:
    """A p-value as people read it.

    >>> format_p(0.021484375), format_p(1.0), format_p(0.00001)
    ('0.0215', '1', '< 0.0001')
    """
    if p_value < 0.0001:
        return "< 0.0001"
    return f"{p_value:.4f}".rstrip("0").rstrip(".")


def summary_sentence(comparison: t.Mapping[str, t.Any]) -> str:
    """One sentence that says what a comparison found.

    >>> summary_sentence({"a": "base", "b": "tuned", "cases": 12, "wins": 1, "losses": 9, "ties": 2,
    ...                   "p_value": 0.021484375, "significant": True, "better": "tuned"})
    'tuned is significantly better than base (sign test p = 0.0215): tuned better on 9 of 12 cases, base on 1, 2 ties.'
    >>> summary_sentence({"a": "base", "b": "tuned", "cases": 3, "wins": 1, "losses": 1, "ties": 1,
    ...                   "p_value": 1.0, "significant": False, "better": None})
    'base vs tuned: no significant difference (sign test p = 1): base better on 1 of 3 cases, tuned on 1, 1 tie.'
    """
    a, b, wins, losses = comparison["a"], comparison["b"], comparison["wins"], comparison["losses"]
    ties = comparison["ties"]
    p = f"sign test p = {format_p(comparison['p_value'])}"
    if comparison["cases"] == 0:
        return f"{a} vs {b}: no case was run by both arms with a result to compare."
    if comparison["better"] is not None:
        winner = comparison["better"]
        loser = b if winner == a else a
        lead, trail = (wins, losses) if winner == a else (losses, wins)
        head = f"{winner} is significantly better than {loser} ({p})"
    else:
        winner, loser, lead, trail = a, b, wins, losses
        head = f"{a} vs {b}: no significant difference ({p})"
    tail = f"{ties} tie" if ties == 1 else f"{ties} ties"
    return f"{head}: {winner} better on {lead} of {comparison['cases']} cases, {loser} on {trail}, {tail}."


def summarize(arms: t.Sequence[t.Mapping[str, t.Any]], results: t.Sequence[Record], *, seed: int = SEED) -> dict[str, t.Any]:
    """Every arm's figures and every ordered pair's comparison (a before b in arm order)."""
    names = [arm["name"] for arm in arms]
    return {
        "arms": [arm_summary(arm, results, seed=seed) for arm in arms],
        "comparisons": [compare(a, b, results) for i, a in enumerate(names) for b in names[i + 1:]],
    }

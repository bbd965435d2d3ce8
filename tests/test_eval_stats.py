"""`mpl eval`'s statistics against hand computations and published values."""

from __future__ import annotations

from fractions import Fraction
from math import comb

import eval_sample
import pytest

from mpl.eval.report import summary_lines
from mpl.eval.stats import bootstrap_mean, percentile, sign_test, summarize, wilson


@pytest.mark.parametrize(("passed", "n", "low", "high"), [
    (8, 10, 0.490, 0.943),  # Wilson (1927); Newcombe (1998), Table I
    (0, 10, 0.0, 0.278),
    (10, 10, 0.722, 1.0),
    (5, 8, 0.306, 0.863),
    (81, 263, 0.2553, 0.3662),  # Newcombe (1998), example (81/263)
])
def test_wilson_interval_matches_published_values(passed: int, n: int, low: float, high: float) -> None:
    digits = 4 if n > 100 else 3
    assert [round(x, digits) for x in wilson(passed, n)] == [low, high]


def test_wilson_interval_of_nothing_is_none() -> None:
    assert wilson(0, 0) is None


@pytest.mark.parametrize(("wins", "losses", "p"), [
    (9, 1, 22 / 1024),  # 2 * (C(10,0) + C(10,1)) / 2**10 = 0.0215
    (1, 9, 22 / 1024),
    (10, 0, 2 / 1024),
    (5, 5, 1.0),
    (6, 4, 2 * 386 / 1024),  # C(10,0..4) sum to 386
    (3, 3, 1.0),  # twice the tail past the middle is capped at 1
    (0, 0, 1.0),
    (4, 0, 0.125),
])
def test_sign_test_p_values(wins: int, losses: int, p: float) -> None:
    assert sign_test(wins, losses) == p


def test_sign_test_is_exact_for_large_counts() -> None:
    exact = 2 * Fraction(sum(comb(1000, i) for i in range(401)), 2**1000)
    assert sign_test(600, 400) == float(exact) and 0 < sign_test(600, 400) < 1e-9


def test_bootstrap_is_deterministic_and_brackets_the_mean() -> None:
    values = [(i * 0.37) % 1 for i in range(30)]
    first, again = bootstrap_mean(values), bootstrap_mean(values)
    assert first == again
    assert bootstrap_mean(values, seed=1) != first
    low, high = first
    assert low < sum(values) / len(values) < high
    assert bootstrap_mean([]) is None and bootstrap_mean([0.25]) == (0.25, 0.25)


def test_percentiles_interpolate_between_order_statistics() -> None:
    latencies = [float(x) for x in range(1, 11)]
    assert (percentile(latencies, 50), percentile(latencies, 95)) == (5.5, pytest.approx(9.55))


def test_summary_agrees_with_a_hand_computation() -> None:
    summary = summarize(eval_sample.ARMS, eval_sample.results())
    base, tuned = summary["arms"]
    assert (base["runs"], base["errors"], base["graded"], base["passed"]) == (10, 0, 8, 5)
    assert (tuned["runs"], tuned["errors"], tuned["graded"], tuned["passed"]) == (10, 2, 8, 2)
    assert base["pass_rate"] == 5 / 8 and tuned["pass_rate"] == 2 / 8
    assert [round(x, 3) for x in base["ci95"]] == [0.306, 0.863]
    assert [round(x, 4) for x in tuned["ci95"]] == [0.0715, 0.5907]
    # mean of the case means: base (1 + 0.5 + 0 + 1 + 0.7) / 5, tuned (0.5 + 0 + 0 + 0.5 + 0.25) / 5
    assert base["mean_score"] == pytest.approx(0.64) and tuned["mean_score"] == pytest.approx(0.25)
    assert base["cases_scored"] == 5
    # latencies of runs that did not error: base 1..10 s; tuned 11..20 s less 17 and 20 (errors)
    assert (base["latency_p50"], base["latency_p95"]) == (5.5, pytest.approx(9.55))
    assert tuned["latency_p50"] == 14.5 and base["tokens_per_s"] == 45.5
    [comparison] = summary["comparisons"]
    assert {k: comparison[k] for k in ("a", "b", "cases", "wins", "losses", "ties", "test")} == {
        "a": "base", "b": "tuned", "cases": 5, "wins": 4, "losses": 0, "ties": 1, "test": "sign"}
    assert comparison["p_value"] == 0.125 and not comparison["significant"] and comparison["better"] is None
    assert "no significant difference" in comparison["summary"]


def test_the_mean_scores_interval_resamples_cases_not_runs() -> None:
    summary = summarize(eval_sample.ARMS, eval_sample.results())
    case_means = [1.0, 0.5, 0.0, 1.0, 0.7]
    assert summary["arms"][0]["score_ci95"] == list(bootstrap_mean(case_means))


def _run(case: str, arm: str, passed: bool, repeat: int = 0) -> dict[str, object]:
    return {"case": case, "arm": arm, "repeat": repeat, "passed": passed, "score": float(passed), "error": None,
            "latency_s": 1.0, "tokens_per_s": 10.0}


def test_equal_arms_show_no_significant_difference() -> None:
    arms = [{"name": "a", "model": "m", "profile": "p"}, {"name": "b", "model": "m", "profile": "p"}]
    runs = [_run(f"c{i}", arm, i % 3 == 0) for i in range(20) for arm in ("a", "b")]
    [comparison] = summarize(arms, runs)["comparisons"]
    assert (comparison["wins"], comparison["losses"], comparison["ties"], comparison["p_value"]) == (0, 0, 20, 1.0)
    assert comparison["summary"].startswith("a vs b: no significant difference (sign test p = 1)")


def test_a_significant_difference_names_the_better_arm() -> None:
    arms = [{"name": "base", "model": "m", "profile": None}, {"name": "tuned", "model": "n", "profile": None}]
    runs = [_run(f"c{i}", "base", i == 0) for i in range(10)] + [_run(f"c{i}", "tuned", i != 0) for i in range(10)]
    [comparison] = summarize(arms, runs)["comparisons"]
    assert (comparison["wins"], comparison["losses"], round(comparison["p_value"], 4)) == (1, 9, 0.0215)
    assert comparison["significant"] and comparison["better"] == "tuned"
    assert comparison["summary"] == ("tuned is significantly better than base (sign test p = 0.0215): "
                                     "tuned better on 9 of 10 cases, base on 1, 0 ties.")


def test_comparisons_are_every_ordered_pair_in_arm_order() -> None:
    arms = [{"name": n, "model": "m", "profile": None} for n in ("x", "y", "z")]
    runs = [_run("c", n, True) for n in ("x", "y", "z")]
    assert [(c["a"], c["b"]) for c in summarize(arms, runs)["comparisons"]] == [("x", "y"), ("x", "z"), ("y", "z")]


def test_an_arm_without_assertions_has_no_pass_rate() -> None:
    runs = [{"case": "c", "arm": "a", "repeat": 0, "passed": None, "score": None, "error": None}]
    [arm] = summarize([{"name": "a", "model": "m", "profile": None}], runs)["arms"]
    assert (arm["pass_rate"], arm["ci95"], arm["mean_score"], arm["score_ci95"], arm["latency_p50"]) == (None,) * 5


def test_repeats_of_a_case_count_as_one_case_in_the_comparison() -> None:
    arms = [{"name": "a", "model": "m", "profile": None}, {"name": "b", "model": "m", "profile": None}]
    runs = [_run("c1", "a", True, r) for r in range(5)] + [_run("c1", "b", r == 0, r) for r in range(5)]
    [comparison] = summarize(arms, runs)["comparisons"]
    assert (comparison["cases"], comparison["wins"], comparison["p_value"]) == (1, 1, 1.0)


def test_summary_lines(snapshot) -> None:  # type: ignore[no-untyped-def]
    assert "\n".join(summary_lines(eval_sample.report(), rich=False)) == snapshot


def test_summary_lines_through_rich_name_every_arm() -> None:
    text = "\n".join(summary_lines(eval_sample.report(), rich=True))
    assert "base" in text and "tuned" in text and "no significant difference" in text


def test_the_summary_cannot_drive_the_terminal_nor_carry_markup() -> None:
    report = eval_sample.report()
    report["server"] = {"host": "http://127.0.0.1:11434", "version": "0.12.3\x1b]0;pwned\x07"}
    arms = [{"name": "[bold]base\x1b[2J", "model": "m\nmpl: ok", "profile": None}, {"name": "b", "model": "m", "profile": None}]
    runs = [{"case": "c", "arm": arm["name"], "repeat": 0, "passed": True, "score": 1.0, "error": None} for arm in arms]
    report |= summarize(arms, runs)
    plain = "\n".join(summary_lines(report, rich=False))
    assert "\x1b" not in plain and "\nmpl: ok" not in plain
    assert "0.12.3\\x1b]0;pwned\\x07" in plain and "[bold]base\\x1b[2J" in plain and "m\\nmpl: ok" in plain
    drawn = "\n".join(summary_lines(report, rich=True)).split("\n\n")[0]  # the table; rich folds its cells
    assert "\x1b]" not in drawn and "\x1b[2J" not in drawn and "\nmpl: ok" not in drawn
    assert "pwned\\x07" in drawn and "[bold]bas" in drawn  # shown, not read as markup


def test_the_summary_is_plain_text_off_a_terminal() -> None:
    report = eval_sample.report()
    assert summary_lines(report) == summary_lines(report, rich=False)

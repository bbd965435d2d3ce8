"""`mpl eval` against the fake server: arms routed by task, repeats and seeds, cases, assertions, faults.

The options each run sends are what `mpl show` reports for the case's task (plus the
seed of its repeat); a held-out chat JSONL runs as a suite with reference scores; a
server that is down is one line and exit 2; a missing model makes only its arm's runs
errors; a timeout or an error in the middle of a stream is that run's error; Ctrl-C
writes the runs that finished.
"""

from __future__ import annotations

import json
import math
import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from fake_ollama import FakeOllama, fake_ollama  # noqa: F401 - the `fake_ollama` fixture
from helpers import FIXTURES, ROOT, labels
from typer.testing import CliRunner

from mpl.cli import app


PROFILES = """\
tasks coding, docs
default balanced
profile balanced < temperature 0.7; top_k 40 >
profile precise for coding < temperature 0.2; seed 42; stop ["</s>"]; when task is coding < top_k 10 > >
profile creative for docs < temperature 0.9; min_p 0.05 >
"""

CASES = """\
- id: add
  task: coding
  prompt: "Write add(a, b) in Python"
  expect:
    - contains: "the"
    - regex: "\\\\w+"
      weight: 2
- id: intro
  task: docs
  system: "Be brief."
  prompt: "Describe mpl"
  reference: "mpl compiles model profiles"
- id: plain
  messages:
    - {role: user, content: "hello"}
    - {role: assistant, content: "hi"}
    - {role: user, content: "how are you?"}
  expect:
    - not-contains: "zzz"
"""


def evaluate(tmp_path: Path, *args: str, cases: str = CASES, profiles: str | None = PROFILES, name: str = "cases.yaml") -> tuple[int, str, str, dict | None]:
    """Run `mpl eval` in `tmp_path`; returns (exit code, stdout, stderr, the --json document or None)."""
    (tmp_path / name).write_text(cases, encoding="utf-8")
    if profiles is not None:
        (tmp_path / "profiles.mprof").write_text(profiles, encoding="utf-8")
    out = tmp_path / "out.json"
    out.unlink(missing_ok=True)
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        result = CliRunner().invoke(app, ["eval", name, "--json", "out.json", "--isolated", *args])
    finally:
        os.chdir(cwd)
    assert "Traceback" not in result.output + result.stderr, result.output + result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    document = json.loads(out.read_text(encoding="utf-8")) if out.exists() else None
    return result.exit_code, result.stdout, result.stderr, document


@pytest.fixture
def fake(fake_ollama: FakeOllama) -> FakeOllama:  # noqa: F811
    for name in ("m1", "m2", "echo"):
        fake_ollama.add_model(name)
    return fake_ollama


def shown_options(tmp_path: Path, subject: str) -> dict:
    """The parameters `mpl show --format json` says a subject sets."""
    result = CliRunner().invoke(app, ["show", str(tmp_path / "profiles.mprof"), subject, "--format", "json"])
    assert result.exit_code == 0, result.output
    return {p["name"]: p["value"] for p in json.loads(result.stdout)["parameters"] if p["source"] == "set"}


# -- the first "done when": two arms, routed by task, two repeats ------------------------


def test_the_options_each_run_sends_are_what_mpl_show_reports_for_its_task(tmp_path, fake):
    code, _, err, doc = evaluate(tmp_path, "--arm", "base=m1", "--arm", "tuned=m2@creative", "--repeat", "2",
                                 "--host", fake.url, "--seed", "7")
    assert code == 0, err
    sent = {}
    for path, model, options in fake.generations:
        assert path == "/api/chat"
        sent.setdefault(model, []).append(options)
    assert len(doc["results"]) == 3 * 2 * 2 and len(sent["m1"]) == len(sent["m2"]) == 6
    show = {("base", "add"): "task:coding", ("base", "intro"): "task:docs", ("base", "plain"): "balanced",
            ("tuned", "add"): "creative@coding", ("tuned", "intro"): "creative@docs", ("tuned", "plain"): "creative"}
    for run in doc["results"]:
        expected = shown_options(tmp_path, show[run["arm"], run["case"]])
        seed = expected.pop("seed", 7)  # the profile's seed, else --seed
        options = dict(run["options"])
        assert options.pop("seed") == seed + run["repeat"]  # repeats carry different seeds
        assert options == expected, (run["arm"], run["case"])
        model = "m1" if run["arm"] == "base" else "m2"
        assert run["options"] in sent[model]
    def key(options: dict) -> str:
        return json.dumps(options, sort_keys=True)

    assert sorted(map(key, sent["m1"])) == sorted(key(r["options"]) for r in doc["results"] if r["arm"] == "base")
    add = [r for r in doc["results"] if r["case"] == "add" and r["arm"] == "base"]
    assert [r["options"]["seed"] for r in add] == [42, 43] and add[0]["output"] != add[1]["output"]


def test_the_json_holds_the_server_the_arms_the_cases_and_every_run(tmp_path, fake):
    code, out, err, doc = evaluate(tmp_path, "--arm", "base=m1", "--arm", "tuned=m2@precise", "--host", fake.url)
    assert code == 0, err
    assert doc["server"] == {"host": fake.url, "version": "0.32.15"}
    assert [a["name"] for a in doc["arms"]] == ["base", "tuned"] and doc["arms"][1]["profile"] == "precise"
    assert [c["id"] for c in doc["cases"]] == ["add", "intro", "plain"]
    assert doc["cases"][0]["expect"] == [{"kind": "contains", "value": "the", "weight": 1.0}, {"kind": "regex", "value": "\\w+", "weight": 2.0}]
    assert doc["cases"][2]["prompt"] == "how are you?"
    assert doc["options"] == {"repeat": 1, "seed": 0, "concurrency": 4, "timeout": 300.0, "profiles": "profiles.mprof"}
    keys = ["case", "arm", "repeat", "task", "options", "output", "passed", "score", "similarity", "assertions",
            "latency_s", "tokens_per_s", "eval_count", "error"]
    for run in doc["results"]:
        assert list(run) == keys and run["error"] is None and run["latency_s"] > 0 and run["tokens_per_s"] > 0
        assert run["eval_count"] == len(run["output"].split())
    intro = next(r for r in doc["results"] if r["case"] == "intro")
    assert intro["passed"] is None and intro["score"] == intro["similarity"] and 0 <= intro["similarity"] <= 1
    assert "base" in out and "tuned" in out  # the summary table


def test_the_arms_answer_differently_and_the_same_run_answers_the_same(tmp_path, fake):
    _, _, _, first = evaluate(tmp_path, "--arm", "a=m1", "--arm", "b=m2", "--host", fake.url)
    _, _, _, second = evaluate(tmp_path, "--arm", "a=m1", "--arm", "b=m2", "--host", fake.url)
    outputs = {(r["case"], r["arm"]): r["output"] for r in first["results"]}
    assert outputs == {(r["case"], r["arm"]): r["output"] for r in second["results"]}
    assert outputs["add", "a"] != outputs["add", "b"]


HAND_CASES = """\
- {id: k1, task: coding, prompt: "k1", expect: [{contains: "yes"}]}
- {id: k2, task: coding, prompt: "k2", expect: [{contains: "yes"}]}
- {id: k3, task: coding, prompt: "k3", expect: [{contains: "yes"}]}
- {id: d1, task: docs, prompt: "d1", expect: [{contains: "yes"}]}
- {id: d2, task: docs, prompt: "d2", expect: [{contains: "yes"}]}
- {id: n1, prompt: "n1", expect: [{contains: "yes"}]}
- {id: n2, prompt: "n2", expect: [{contains: "yes"}]}
"""

# Which (case, seed) each model answers "yes" to: a rule of the test, so the outcomes are known beforehand.
M1_YES = {("k1", 42), ("k1", 43), ("k2", 42), ("k3", 43), ("d1", 7), ("d1", 8), ("d2", 7), ("n1", 7), ("n1", 8), ("n2", 8)}
M2_YES = {("k1", 7), ("d1", 7), ("d2", 8), ("n2", 7), ("n2", 8)}


def test_pass_rates_intervals_and_the_comparison_agree_with_a_hand_computation(tmp_path, fake):
    """The issue's first "done when", in one run: two arms on different models and profiles, routed by task,
    `--repeat 2`; every figure of the JSON computed by hand from the answers the models were made to give."""
    def rule(yes):
        return lambda req: "yes" if (req["messages"][-1]["content"], req["options"]["seed"]) in yes else "no"

    fake.answers["m1"], fake.answers["m2"] = rule(M1_YES), rule(M2_YES)
    code, out, err, doc = evaluate(tmp_path, "--arm", "base=m1", "--arm", "tuned=m2@creative", "--repeat", "2",
                                   "--seed", "7", "--host", fake.url, "--report", "report.html", cases=HAND_CASES)
    assert code == 0, err

    # By hand: base routes coding to `precise` (its seed 42), docs to `creative` and the rest to the default
    # `balanced` (no seed: --seed 7); tuned sends `creative` (no seed) to every case. Repeat r adds r.
    seeds = {("base", case): (42 if case.startswith("k") else 7) for case in ("k1", "k2", "k3", "d1", "d2", "n1", "n2")}
    seeds |= {("tuned", case): 7 for case in ("k1", "k2", "k3", "d1", "d2", "n1", "n2")}
    rules = {"base": M1_YES, "tuned": M2_YES}
    passes = {(arm, case): [(case, seed + r) in rules[arm] for r in (0, 1)] for (arm, case), seed in seeds.items()}
    assert {(r["arm"], r["case"], r["repeat"]): r["passed"] for r in doc["results"]} == {
        (arm, case, r): passed[r] for (arm, case), passed in passes.items() for r in (0, 1)}
    assert {(r["arm"], r["case"], r["repeat"]): r["options"]["seed"] for r in doc["results"]} == {
        (arm, case, r): seed + r for (arm, case), seed in seeds.items() for r in (0, 1)}

    for arm in doc["arms"]:
        runs = [p for (name, _), ps in passes.items() if name == arm["name"] for p in ps]
        k, n = sum(runs), len(runs)
        assert (arm["runs"], arm["graded"], arm["passed"], arm["errors"]) == (n, n, k, 0)
        assert arm["pass_rate"] == pytest.approx(k / n) and arm["ci95"] == pytest.approx(list(wilson(k, n)), abs=1e-12)
        case_means = [sum(ps) / 2 for (name, _), ps in passes.items() if name == arm["name"]]
        assert arm["mean_score"] == pytest.approx(sum(case_means) / len(case_means))
        low, high = arm["score_ci95"]
        assert 0 <= low <= arm["mean_score"] <= high <= 1
    assert [(a["name"], a["passed"]) for a in doc["arms"]] == [("base", 10), ("tuned", 5)]  # the rules, counted

    # Case by case: the share of repeats that passed; base wins where its share is higher.
    share = {key: sum(ps) / 2 for key, ps in passes.items()}
    cases = sorted({case for _, case in share})
    wins = sum(share["base", c] > share["tuned", c] for c in cases)
    losses = sum(share["base", c] < share["tuned", c] for c in cases)
    ties = len(cases) - wins - losses
    untied = wins + losses
    p_value = min(1.0, 2 * sum(math.comb(untied, i) for i in range(min(wins, losses) + 1)) / 2 ** untied)
    comparison = doc["comparisons"][0]
    assert (comparison["a"], comparison["b"], comparison["cases"]) == ("base", "tuned", 7)
    assert (comparison["wins"], comparison["losses"], comparison["ties"]) == (wins, losses, ties) == (5, 1, 1)
    assert comparison["p_value"] == pytest.approx(p_value) == pytest.approx(14 / 64)
    assert comparison["significant"] is False and comparison["better"] is None
    assert "no significant difference" in comparison["summary"] and comparison["summary"] in " ".join(out.split())
    assert [line.split()[:3] for line in out.splitlines()[2:4]] == [["base", "m1", "by"], ["tuned", "m2", "creative"]]

    # The options each run sent are those `mpl show` reports for its arm and its case's task, plus the seed.
    show = {"base": {"k": "task:coding", "d": "task:docs", "n": "balanced"},
            "tuned": {"k": "creative@coding", "d": "creative@docs", "n": "creative"}}
    for run in doc["results"]:
        expected = shown_options(tmp_path, show[run["arm"]][run["case"][0]])
        expected.pop("seed", None)
        options = dict(run["options"])
        assert options.pop("seed") == seeds[run["arm"], run["case"]] + run["repeat"] and options == expected
    received = sorted(json.dumps([model, options], sort_keys=True) for _, model, options in fake.generations)
    assert received == sorted(json.dumps(["m1" if r["arm"] == "base" else "m2", r["options"]], sort_keys=True) for r in doc["results"])
    assert (tmp_path / "report.html").is_file()


def wilson(passed: int, runs: int, z: float = 1.959963984540054) -> tuple[float, float]:
    p = passed / runs
    centre = (p + z * z / (2 * runs)) / (1 + z * z / runs)
    half = z * math.sqrt(p * (1 - p) / runs + z * z / (4 * runs * runs)) / (1 + z * z / runs)
    return centre - half, centre + half


# -- the second: a held-out file from `mpl data` ------------------------------------------


HELD_OUT = [
    {"messages": [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "What is 2+2?"},
                  {"role": "assistant", "content": "What is 2+2?"}]},
    {"messages": [{"role": "user", "content": "Name a colour."}, {"role": "assistant", "content": "Blue."},
                  {"role": "user", "content": "Another one."}, {"role": "assistant", "content": "Green, like grass."}]},
    {"messages": [{"role": "user", "content": "Say nothing."}]},
]


def test_a_held_out_jsonl_runs_as_a_suite_with_reference_scores(tmp_path, fake):
    from mpl.eval.checks import chrf

    text = "\n".join(json.dumps(line) for line in HELD_OUT[:2]) + "\n\n" + json.dumps(HELD_OUT[2]) + "\n"
    code, _, err, doc = evaluate(tmp_path, "--arm", "echo=echo", "--host", fake.url, cases=text, name="held.jsonl", profiles=None)
    assert code == 0, err
    assert [c["id"] for c in doc["cases"]] == ["held:1", "held:2", "held:4"]
    assert [c["reference"] for c in doc["cases"]] == ["What is 2+2?", "Green, like grass.", None]
    runs = {r["case"]: r for r in doc["results"]}
    assert runs["held:1"]["output"] == "What is 2+2?" and runs["held:1"]["similarity"] == 1.0 == runs["held:1"]["score"]
    assert runs["held:2"]["output"] == "Another one." and runs["held:2"]["similarity"] == chrf("Another one.", "Green, like grass.")
    assert 0 <= runs["held:2"]["similarity"] < 1 and runs["held:4"]["similarity"] is None and runs["held:4"]["score"] is None
    sent = [options for _, _, options in fake.generations]
    assert sent == [{"seed": 0}] * 3  # no profile source: only the seed
    assert {"role": "user", "content": "Say nothing."} in [r.json["messages"][-1] for r in fake.requests if r.path == "/api/chat"]


def test_the_held_out_file_of_mpl_data_runs_as_a_suite_with_reference_scores(tmp_path, fake):
    """`mpl data --holdout` on examples/training and more sessions, then `mpl eval` on its held-out file with two
    arms: every held-out conversation is a case whose reference is its last answer, every run has a similarity,
    the conversation up to its last user turn is what each arm was sent, and the report shows every case."""
    import shutil

    from helpers import EXAMPLES

    from mpl.eval.checks import chrf

    history = tmp_path / "history"
    shutil.copytree(EXAMPLES / "training", history)
    (history / "more").mkdir()
    for i in range(12):
        turns = [("user", f"What does step {i} do?"), ("assistant", f"Step {i} reads the input."),
                 ("user", f"And step {i + 1}?"), ("assistant", f"Step {i + 1} writes the output {i} times.")]
        messages = [{"role": role, "content": text, "timestamp": "2026-11-05T10:00:00", "metadata": {}} for role, text in turns]
        session = {"session_id": f"{i:08x}-1111-2222-3333-444455556666", "start_time": "2026-11-05T10:00:00",
                   "end_time": "2026-11-05T10:01:00", "message_count": 4, "max_history": 20, "messages": messages}
        (history / "more" / f"session_20261105_100100_{i:08x}.json").write_text(json.dumps(session), encoding="utf-8")
    result = CliRunner().invoke(app, ["data", str(history / "conversations"), str(history / "web_sessions"),
                                      str(history / "export.json"), str(history / "more"), "-o", str(tmp_path / "data" / "train.jsonl"),
                                      "--holdout", "0.5", "--seed", "7"])
    assert result.exit_code == 0, result.output
    held_out = [json.loads(line) for line in (tmp_path / "data" / "train.holdout.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(held_out) >= 3

    code, _, err, doc = evaluate(tmp_path, "--arm", "base=m1", "--arm", "tuned=m2", "--repeat", "2", "--host", fake.url,
                                 "--report", "report.html", cases=(tmp_path / "data" / "train.holdout.jsonl").read_text(encoding="utf-8"),
                                 name="train.holdout.jsonl", profiles=None)
    assert code == 0, err
    assert [case["id"] for case in doc["cases"]] == [f"train.holdout:{n}" for n in range(1, len(held_out) + 1)]
    for case, line in zip(doc["cases"], held_out):
        answer = line["messages"][-1]
        assert answer["role"] == "assistant" and case["reference"] == answer["content"] and case["expect"] == []
    references = {case["id"]: case["reference"] for case in doc["cases"]}
    assert len(doc["results"]) == len(held_out) * 2 * 2
    for run in doc["results"]:
        assert run["error"] is None and run["passed"] is None
        assert run["similarity"] == run["score"] == chrf(run["output"], references[run["case"]])
    sent = sorted(json.dumps(r.json["messages"]) for r in fake.requests if r.path == "/api/chat")
    prompts = [[{"role": m["role"], "content": m["content"]} for m in line["messages"][:-1]] for line in held_out]
    assert sent == sorted(json.dumps(prompt) for prompt in prompts for _ in range(4))  # 2 arms × 2 repeats
    assert [(arm["name"], arm["cases_scored"], arm["graded"]) for arm in doc["arms"]] == [
        ("base", len(held_out), 0), ("tuned", len(held_out), 0)]
    assert doc["comparisons"][0]["cases"] == len(held_out)
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert all(f'data-case="{case["id"]}"' in html for case in doc["cases"])


def test_the_conversation_up_to_the_last_user_turn_is_sent(tmp_path, fake):
    evaluate(tmp_path, "--arm", "e=echo", "--host", fake.url, cases=json.dumps(HELD_OUT[1]) + "\n", name="h.jsonl", profiles=None)
    chat = [r.json for r in fake.requests if r.path == "/api/chat"]
    assert chat[0]["messages"] == HELD_OUT[1]["messages"][:3]


# -- the third: faults ----------------------------------------------------------------


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_server_that_is_down_is_one_line_and_exit_2(tmp_path):
    url = f"http://127.0.0.1:{_closed_port()}"
    code, stdout, err, doc = evaluate(tmp_path, "--arm", "a=m1", "--host", url)
    assert code == 2 and doc is None and stdout == ""
    assert err.splitlines() == [f"mpl: error: cannot connect to Ollama at {url} (asking the server for its version): is `ollama serve` running there?"]


def test_a_missing_model_makes_its_arms_runs_errors_and_the_other_arm_stands(tmp_path, fake):
    code, _, err, doc = evaluate(tmp_path, "--arm", "here=m1", "--arm", "gone=nope:7b", "--host", fake.url, "--repeat", "2")
    assert code == 1
    assert "--arm: warning[MPL620]: arm `gone`: model `nope:7b` is not on the server; its runs are errors" in err
    assert "mpl: error: 6 of 12 runs errored" in err
    here = [r for r in doc["results"] if r["arm"] == "here"]
    gone = [r for r in doc["results"] if r["arm"] == "gone"]
    assert len(here) == len(gone) == 6 and all(r["error"] is None and r["output"] for r in here)
    assert all(r["error"] == "model `nope:7b` is not on the server" and r["passed"] is False and r["output"] is None for r in gone)
    assert [r["score"] for r in gone if r["case"] == "add"] == [0.0, 0.0]
    assert not any(model == "nope:7b" for _, model, _ in fake.generations)


def test_a_model_that_disappears_during_the_runs_is_the_servers_404(tmp_path, fake):
    from mpl.deploy.server import Server
    from mpl.eval.arms import Arm
    from mpl.eval.cases import Case
    from mpl.eval.runner import Job, run_one

    server = Server(fake.url, 5)
    try:
        case = Case("c", None, [{"role": "user", "content": "x"}], [], "ref")
        record = run_one(server, Job(0, case, Arm("a", "later"), 0, {"seed": 1}), 5)
    finally:
        server.close()
    assert record["error"] == 'model "later" not found, try pulling it first (HTTP 404)'
    assert (record["passed"], record["score"], record["similarity"]) == (False, 0.0, None)


def test_a_timeout_and_an_error_mid_stream_are_errors_of_their_runs(tmp_path, fake):
    fake.token_delay["m1"] = 3.0
    fake.chat_error_after["m2"] = 2
    code, _, err, doc = evaluate(tmp_path, "--arm", "slow=m1", "--arm", "broken=m2", "--arm", "fine=echo",
                                 "--host", fake.url, "--timeout", "0.5", cases=CASES.split("- id: intro")[0])
    assert code == 1 and "mpl: error: 2 of 3 runs errored" in err
    runs = {r["arm"]: r for r in doc["results"]}
    assert "within 0.5 s" in runs["slow"]["error"] and runs["slow"]["output"] is None
    assert runs["broken"]["error"] == "an error in the middle of the stream"
    assert runs["fine"]["error"] is None and runs["fine"]["output"] == "Write add(a, b) in Python"


def test_an_option_the_server_refuses_is_the_error_of_each_run(tmp_path, fake):
    fake.add_model("typed", parameters={"top_k": "forty"})  # a stored parameter of the wrong type: every request fails
    code, _, _, doc = evaluate(tmp_path, "--arm", "t=typed", "--host", fake.url, cases=CASES.split("- id: intro")[0])
    assert code == 1 and doc["results"][0]["error"] == 'option "top_k" must be of type integer (HTTP 500)'


def test_ctrl_c_writes_the_runs_that_finished(tmp_path, fake):
    cases = "".join(f"- id: c{i}\n  prompt: \"p{i}\"\n" for i in range(40))
    (tmp_path / "cases.yaml").write_text(cases)
    fake.token_delay["m1"] = 0.05
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tests")])}
    child = subprocess.Popen(
        [sys.executable, "-c", "import sys; from mpl.__main__ import main; sys.argv[0] = 'mpl'; main()",
         "eval", "cases.yaml", "--arm", "a=m1", "--host", fake.url, "--json", "out.json", "--concurrency", "2", "--isolated"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    deadline = time.monotonic() + 60
    while sum(1 for r in fake.requests if r.path == "/api/chat") < 6 and time.monotonic() < deadline and child.poll() is None:
        time.sleep(0.05)
    child.send_signal(signal.SIGINT)
    _, err = child.communicate(timeout=60)
    assert child.returncode == 130, err
    assert "Traceback" not in err and re.search(r"mpl: interrupted; \d+ of 40 runs had finished and are written", err)
    doc = json.loads((tmp_path / "out.json").read_text())
    assert 0 < len(doc["results"]) < 40 and all(r["error"] is None and r["output"] for r in doc["results"])


# -- options against the server's version ------------------------------------------------


def test_options_are_checked_against_the_servers_version_before_anything_runs(tmp_path):
    with FakeOllama("0.1.30") as old:
        old.add_model("m1")
        code, _, err, doc = evaluate(tmp_path, "--arm", "a=m1@creative", "--host", old.url)
    assert code == 1 and doc is None and not old.generations
    assert "profiles.mprof:5:46: error[MPL401]: `min_p`" in err and "rejects requests that carry it" in err
    assert "nothing was run" in err


def test_an_option_the_server_ignores_is_a_warning_and_the_runs_go_on(tmp_path):
    with FakeOllama("0.2.0") as old:
        old.add_model("m1")
        code, _, err, doc = evaluate(tmp_path, "--arm", "a=m1@creative", "--host", old.url, cases=CASES.split("- id: intro")[0])
    assert code == 0, err
    assert "profiles.mprof:5:46: warning[MPL401]" in err and "Ollama 0.2.0 ignores it" in err
    assert doc["results"][0]["options"] == {"temperature": 0.9, "min_p": 0.05, "seed": 0}  # what was sent, as sent


def test_a_development_build_is_checked_against_the_files_version(tmp_path):
    with FakeOllama("0.0.0") as dev:
        dev.add_model("m1")
        code, _, err, _ = evaluate(tmp_path, "--arm", "a=m1", "--host", dev.url, cases=CASES.split("- id: intro")[0])
    assert code == 0 and "--arm: warning[MPL621]: the server reports version `0.0.0`" in err


# -- the command line -----------------------------------------------------------------------


def test_fail_if_worse_reads_the_comparison_of_the_two_arms() -> None:
    from mpl.eval.command import worse

    report = {"comparisons": [{"a": "base", "b": "tuned", "wins": 9, "losses": 1, "ties": 0, "p_value": 0.02,
                               "significant": True, "better": "base"}]}
    assert worse(report, "base", "tuned") and not worse(report, "tuned", "base")
    report["comparisons"][0].update(significant=False)
    assert not worse(report, "base", "tuned") and not worse({"comparisons": []}, "base", "tuned")


def test_a_profile_named_without_a_source_is_a_usage_error(tmp_path, fake):
    code, _, err, _ = evaluate(tmp_path, "--arm", "a=m1@precise", "--host", fake.url, profiles=None)
    assert code == 2 and err.strip() == ("mpl: error: arm `a` names profile `precise`, but there is no profile source; "
                                         "pass --file PROFILES.mprof")


def test_a_source_of_models_only_sends_the_seed_alone(tmp_path, fake):
    """The folder `mpl init --template fine-tuned` writes holds models, no profile: its models carry their
    parameters, so arms without @PROFILE send the seed alone, as with no source (not MPL045)."""
    models = 'model base from "m1" < temperature 0.3 >\nmodel tuned from base < num_ctx 4096 >\n'
    code, out, err, doc = evaluate(tmp_path, "--arm", "base=m1", "--arm", "tuned=m2", "--host", fake.url, "--repeat", "2",
                                   profiles=models, cases=CASES.replace("  task: coding\n", "").replace("  task: docs\n", ""))
    assert code == 0 and "MPL045" not in err, err
    assert [r["options"] for r in doc["results"]] == [{"seed": r["repeat"]} for r in doc["results"]]
    assert doc["options"]["profiles"] is None and [a["profile"] for a in doc["arms"]] == [None, None]
    rows = [line.split() for line in out.splitlines() if line.startswith(("base ", "tuned ")) and " vs " not in line]
    assert [row[:3] for row in rows] == [["base", "m1", "none"], ["tuned", "m2", "none"]]  # not "by task": nothing routes
    code, _, err, _ = evaluate(tmp_path, "--arm", "a=m1@precise", "--host", fake.url, profiles=models)
    assert code == 1 and "profile `precise` does not exist" in err


def test_an_unknown_profile_is_the_usual_diagnostic(tmp_path, fake):
    code, _, err, _ = evaluate(tmp_path, "--arm", "a=m1@precis", "--host", fake.url)
    assert code == 1 and "--arm: error[MPL207]: arm `a`: profile `precis` does not exist" in err
    assert "did you mean `precise`?" in err and not fake.generations


def test_a_seed_out_of_range_is_refused(tmp_path, fake):
    code, _, err, _ = evaluate(tmp_path, "--arm", "a=m1", "--host", fake.url, "--seed", str(2**63))
    assert code == 1 and "--seed:" in err and not fake.generations


def test_concurrency_bounds_the_runs_in_flight(tmp_path, fake):
    fake.token_delay["m1"] = 0.02
    cases = "".join(f"- id: c{i}\n  prompt: \"p{i}\"\n" for i in range(12))
    code, _, err, doc = evaluate(tmp_path, "--arm", "a=m1", "--host", fake.url, "--concurrency", "3", cases=cases, profiles=None)
    assert code == 0, err
    assert len(doc["results"]) == 12
    assert fake.most_in_flight <= 3


# -- diagnostic fixtures: one per code ------------------------------------------------------

EVAL_FIXTURES = sorted(p for p in (FIXTURES / "diagnostics").glob("MPL*") if p.is_dir() and (p / "cases.yaml").exists())


def test_every_eval_code_has_its_fixture() -> None:
    assert [p.name.split("-")[0] for p in EVAL_FIXTURES] == [
        "MPL040", "MPL041", "MPL042", "MPL043", "MPL044", "MPL045", "MPL620", "MPL621"]


@pytest.mark.parametrize("folder", EVAL_FIXTURES, ids=lambda p: p.name)
def test_eval_fixture_reports_its_code(folder: Path, tmp_path: Path) -> None:
    from mpl.diagnostics import CODES

    code, _, name = folder.name.partition("-")
    assert CODES[code].name == name
    text = (folder / "cases.yaml").read_text(encoding="utf-8")
    expected = re.findall(r"^# expect: (\S+)\s*$", text, re.MULTILINE)
    args = re.search(r"^# args: (.*)$", text, re.MULTILINE)
    version = re.search(r"^# server: (\S+)$", text, re.MULTILINE)
    for path in folder.iterdir():
        (tmp_path / path.name).write_bytes(path.read_bytes())
    with FakeOllama(version.group(1) if version else "0.32.15") as server:
        for model in ("m1", "m2"):
            server.add_model(model)
        cwd = os.getcwd()
        os.chdir(tmp_path)
        try:
            result = CliRunner().invoke(app, ["eval", "cases.yaml", "--host", server.url, "--isolated", *(args.group(1).split() if args else [])])
        finally:
            os.chdir(cwd)
    assert "Traceback" not in result.stderr
    got = []
    for match in re.finditer(r"^(\S+?)(?::(\d+):(\d+))?: (?:error|warning)\[(MPL\d{3})\]", result.stderr, re.MULTILINE):
        got.append(match[4] + (f"@{match[2]}:{match[3]}" if match[2] else ""))
    assert [g for g in got if g.split("@")[0] == code] == expected, result.stderr
    exit_code = re.search(r"^# exit: (\d)$", text, re.MULTILINE)
    assert result.exit_code == (int(exit_code.group(1)) if exit_code else 1 if CODES[code].severity == "error" else 0), result.stderr


# -- assertions and cases, one by one -------------------------------------------------------


def suite_of(tmp_path: Path, text: str, name: str = "cases.yaml"):
    from mpl.eval.cases import load_cases

    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return load_cases(path)


def verdict(tmp_path: Path, expect: str, output: str, reference: str | None = None):
    from mpl.eval.checks import judge

    ref = f"  reference: {json.dumps(reference)}\n" if reference is not None else ""
    suite = suite_of(tmp_path, f"- id: c\n  prompt: p\n{ref}  expect:\n" + textwrap.indent(textwrap.dedent(expect), "    "))
    assert not suite.has_errors, labels(suite)
    return judge(suite.cases[0], output)


@pytest.mark.parametrize(("expect", "output", "passed"), [
    ('- contains: "def "', "def f(): pass", True),
    ('- contains: "def "', "lambda: 0", False),
    ('- not-contains: "TODO"', "done", True),
    ('- not-contains: "TODO"', "# TODO later", False),
    ('- regex: "^def \\\\w+\\\\("', "x = 1\ndef add(a, b):", True),
    ('- regex: "^def"', "  def", False),
    ('- equals: "42"', "  42\n", True),
    ('- equals: "42"', "42.0", False),
    ("- json: true", '{"a": 1}', True),
    ("- json: true", "```json\n[1, 2]\n```", True),
    ("- json: true", "{a: 1}", False),
    ("- json: {schema: {type: object, required: [name], properties: {name: {type: string}}}}", '{"name": "x"}', True),
    ("- json: {schema: {type: object, required: [name]}}", '{"nom": "x"}', False),
])
def test_each_assertion_kind(tmp_path, expect, output, passed):
    result = verdict(tmp_path, expect, output)
    assert result.passed is passed and result.score == float(passed)
    assert result.assertions[0]["passed"] is passed and result.assertions[0]["detail"]


def test_the_score_is_the_weighted_share_of_assertions_passed(tmp_path):
    result = verdict(tmp_path, '- contains: "a"\n  weight: 3\n- contains: "zzz"\n- regex: "b"\n', "ab", reference="ab")
    assert result.passed is False and result.score == pytest.approx(4 / 5)
    assert [a["weight"] for a in result.assertions] == [3.0, 1.0, 1.0] and result.similarity == 1.0


def test_a_run_that_errored_fails_with_score_zero_or_none() -> None:
    from mpl.eval.cases import Assertion, Case
    from mpl.eval.checks import failed

    plain = Case("c", None, [{"role": "user", "content": "x"}])
    assert (failed(plain).passed, failed(plain).score) == (False, None)
    with_ref = Case("c", None, [{"role": "user", "content": "x"}], [], "ref")
    checked = Case("c", None, [{"role": "user", "content": "x"}], [Assertion("contains", "x")])
    assert failed(with_ref).score == failed(checked).score == 0.0


CHECK = """\
import json

def check(output, case):
    if case["id"] == "loops":
        while True:
            pass
    if case["id"] == "raises":
        raise ValueError("no good")
    print("noise on stdout")
    return output.strip() == "4" and case["messages"][-1]["content"] == "2+2?"
"""


@pytest.mark.parametrize(("case_id", "output", "passed", "detail"), [
    ("ok", "4", True, "check returned True"),
    ("ok", "5", False, "check returned False"),
    ("raises", "4", False, "check failed: ValueError: no good"),
    ("loops", "4", False, "the check ran longer than 1 s and was stopped"),
])
def test_a_python_check_runs_in_a_child_process_with_a_time_limit(tmp_path, case_id, output, passed, detail):
    from mpl.eval.checks import judge

    (tmp_path / "checks").mkdir()
    (tmp_path / "checks" / "math.py").write_text(CHECK)
    suite = suite_of(tmp_path, f"- id: {case_id}\n  prompt: '2+2?'\n  expect:\n    - python: checks/math.py\n      timeout: 1\n")
    assert not suite.has_errors, labels(suite)
    result = judge(suite.cases[0], output)
    assert result.passed is passed and result.assertions[0]["detail"] == detail


def test_a_python_file_without_check_fails_the_assertion(tmp_path):
    from mpl.eval.checks import judge

    (tmp_path / "empty.py").write_text("x = 1\n")
    suite = suite_of(tmp_path, "- id: c\n  prompt: p\n  expect:\n    - python: empty.py\n")
    result = judge(suite.cases[0], "out")
    assert result.assertions[0]["detail"] == "check failed: the file defines no function `check(output, case)`"


@pytest.mark.parametrize(("text", "expected"), [
    ("", ["MPL040"]),
    ("cases: 3\n", ["MPL040@1:8"]),
    ("- id: a\n  prompt: [1\n", ["MPL040@3:1"]),
    ("- id: a\n  prompt: x\n- id: a\n  prompt: y\n", ["MPL041@3:7"]),
    ("- id: a\n  prompt: x\n  messages: [{role: user, content: y}]\n", ["MPL041@3:13"]),
    ("- id: a\n  messages: [{role: user, content: y}, {role: assistant, content: z}]\n", ["MPL041@2:40"]),
    ("- id: a\n  messages: [{role: usr, content: y}]\n", ["MPL041@2:21"]),
    ("- id: a\n  system: s\n  messages: [{role: system, content: t}, {role: user, content: y}]\n", ["MPL041@3:21"]),
    ("- id: a\n  prompt: 5\n", ["MPL041@2:11"]),
    ("- prompt: x\n", ["MPL041@1:3"]),
    ("- id: a\n  prompt: x\n  expect: {contains: y}\n", ["MPL042@3:11"]),
    ("- id: a\n  prompt: x\n  expect:\n    - regex: '('\n", ["MPL042@4:14"]),
    ("- id: a\n  prompt: x\n  expect:\n    - contains: y\n      equals: y\n", ["MPL042@4:7"]),
    ("- id: a\n  prompt: x\n  expect:\n    - contains: y\n      weight: -1\n", ["MPL042@5:15"]),
    ("- id: a\n  prompt: x\n  expect:\n    - contains: y\n      timeout: 3\n", ["MPL042@5:7"]),
    ("- id: a\n  prompt: x\n  expect:\n    - json: {schema: {type: 12}}\n", ["MPL042@4:13"]),
    ("- id: a\n  prompt: x\n  expect:\n    - python: missing.py\n", ["MPL042@4:15"]),
])
def test_a_malformed_suite_is_a_diagnostic_at_its_place(tmp_path, text, expected):
    suite = suite_of(tmp_path, text)
    assert labels(suite) == expected


@pytest.mark.parametrize(("line", "expected"), [
    ("{not json", "MPL040@1:1"),
    ('{"messages": "hi"}', "MPL041@1:1"),
    ('{"messages": [{"role": "assistant", "content": "only"}]}', "MPL041@1:1"),
    ('{"messages": [{"role": "user", "content": 3}]}', "MPL041@1:1"),
])
def test_a_malformed_held_out_line_is_a_diagnostic_at_its_line(tmp_path, line, expected):
    suite = suite_of(tmp_path, line + "\n", name="held.jsonl")
    assert labels(suite) == [expected]


def test_cases_may_be_held_under_a_cases_key(tmp_path):
    suite = suite_of(tmp_path, "cases:\n  - id: 1\n    prompt: x\n    system: be brief\n")
    assert not suite.has_errors and suite.cases[0].id == "1"
    assert suite.cases[0].messages == [{"role": "system", "content": "be brief"}, {"role": "user", "content": "x"}]


def test_fail_if_worse_names_two_arms(tmp_path, fake):
    code, _, err, doc = evaluate(tmp_path, "--arm", "a=m1", "--arm", "b=m2", "--host", fake.url, "--fail-if-worse", "a", "c")
    assert code == 1 and doc is None and not fake.generations
    assert "--arm: error[MPL044]: --fail-if-worse names `c`, which is not an arm" in err
    code, _, err, doc = evaluate(tmp_path, "--arm", "a=m1", "--arm", "b=m2", "--host", fake.url, "--fail-if-worse", "a", "b")
    assert code == 0, err  # the stand-in statistics (or the real ones) find no significant difference in three cases


def test_the_progress_bar_on_a_terminal_counts_the_runs_and_the_errors() -> None:
    import io

    from mpl.eval.runner import Progress

    stream = io.StringIO()
    with Progress(stream, 3, live=True) as progress:
        for error in (None, "boom", None):
            progress({"error": error})
    assert (progress.done, progress.errors) == (3, 1)
    plain = io.StringIO()
    with Progress(plain, 20, live=False) as progress:
        for _ in range(20):
            progress({"error": None})
    assert len(plain.getvalue().splitlines()) == 10 and plain.getvalue().splitlines()[-1].startswith("mpl: 20/20 runs (100%)")


def test_tool_calls_of_a_held_out_file_are_named_once_as_not_sent(tmp_path):
    tool = {"messages": [{"role": "user", "content": "List files."},
                         {"role": "assistant", "content": "", "tool_calls": [{"id": "1", "type": "function", "function": {"name": "ls", "arguments": "{}"}}]},
                         {"role": "tool", "content": "a.py", "tool_call_id": "1", "name": "ls"},
                         {"role": "user", "content": "And now?"}, {"role": "assistant", "content": "a.py"}],
            "tools": [{"type": "function", "function": {"name": "ls"}}]}
    suite = suite_of(tmp_path, "\n".join([json.dumps(HELD_OUT[0]), json.dumps(tool), json.dumps(tool)]) + "\n", name="h.jsonl")
    assert labels(suite) == ["MPL041@2:1"] and not suite.has_errors
    assert "2 conversations hold tool calls" in suite.diagnostics[0].message
    assert suite.cases[1].messages[1:3] == [{"role": "assistant", "content": ""}, {"role": "tool", "content": "a.py"}]


def test_an_output_that_cannot_be_written_is_one_line_and_exit_2(tmp_path, fake):
    (tmp_path / "taken").mkdir()
    code, _, err, _ = evaluate(tmp_path, "--arm", "a=m1", "--host", fake.url, "--report", "taken", cases=CASES.split("- id: intro")[0])
    assert code == 2 and [line for line in err.splitlines() if line.startswith("mpl: error:")] == [
        line for line in err.splitlines() if "taken" in line and line.startswith("mpl: error:")] != []


def test_an_answer_that_cannot_be_judged_is_the_error_of_its_run(fake, monkeypatch):
    from mpl.deploy.server import Server
    from mpl.eval import runner
    from mpl.eval.arms import Arm
    from mpl.eval.cases import Case

    def broken(case, output):
        raise OSError("no room for a check")

    monkeypatch.setattr(runner, "judge", broken)
    server = Server(fake.url, 5)
    try:
        record = runner.run_one(server, runner.Job(0, Case("c", None, [{"role": "user", "content": "x"}]), Arm("a", "echo"), 0, {}), 5)
    finally:
        server.close()
    assert record["output"] == "x" and record["error"] == "the answer could not be judged: OSError: no room for a check"


def test_each_diagnostic_is_shown_once_and_every_new_one_is_shown() -> None:
    """The shown set is keyed by what a diagnostic says, not by `id()`: freed diagnostics' ids are reused."""
    import io

    from mpl.diagnostics import Diagnostic, Severity
    from mpl.eval.command import EvalOptions, _Eval
    from mpl.source import SourceFile

    err = io.StringIO()
    shower = _Eval(EvalOptions(cases=Path("cases.yaml")), io.StringIO(), err, False, None)
    source = SourceFile("cases.yaml", "")
    for i in range(50):
        shower.show(source, [Diagnostic(code="MPL041", severity=Severity.ERROR, message=f"problem {i}", span=None)])
    shower.show(source, [Diagnostic(code="MPL041", severity=Severity.ERROR, message="problem 7", span=None)])
    assert err.getvalue().count("error[MPL041]") == 50

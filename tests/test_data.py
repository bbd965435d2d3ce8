"""`mpl data`: Meton's history in, split and redacted fine-tuning sets out (docs/data.md)."""

from __future__ import annotations

import json
import os
import re
import shutil
import typing as t
from pathlib import Path

import pytest
from helpers import EXAMPLES, FIXTURES
from typer.testing import CliRunner

from mpl.cli import app

TRAINING = EXAMPLES / "training"
SECRETS = ("AKIAZ4Q7XBRT2KQWL3NP", "Sup3rS3cretPw", "ghp_R8fK2mQ9xLp4vT7nB1cZ6wY3sH5jD0aE2gUi", "MIIEowIBAAKCAQEAq3Zl9mP0yXo7ZVJ0nB1cQ8n5v2H1Kx4bR7dT0qW9sLmE3yFh")


def mpl_data(cwd: Path, *args: str) -> t.Any:
    """Run `mpl data ARGS` in `cwd`; the result has exit_code and output (standard error included)."""
    old = os.getcwd()
    os.chdir(cwd)
    try:
        return CliRunner().invoke(app, ["data", *args])
    finally:
        os.chdir(old)


class ChatStandIn:
    """A stand-in for `mpl.chat` (its interface only): ChatML for any family it knows."""

    FAMILIES = ("chatml", "llama3", "mistral", "gemma", "phi3")

    def __init__(self) -> None:
        import types

        self.calls: list[tuple[list[dict[str, t.Any]], t.Any, bool]] = []
        self.loaded: list[tuple[Path | None, str | None]] = []
        self.fail_on: str | None = None
        self.times: list[t.Any] = []
        stand_in = self

        class ChatTemplateError(Exception):
            pass

        class Template:
            def render(self, messages: list[dict[str, t.Any]], tools: t.Any = None, add_generation_prompt: bool = False,
                       *, now: t.Any = None) -> str:
                stand_in.calls.append((messages, tools, add_generation_prompt))
                stand_in.times.append(now)
                if stand_in.fail_on and any(stand_in.fail_on in m["content"] for m in messages):
                    raise ChatTemplateError("raise_exception: roles must alternate")
                return stand_in.render_one(messages)

        def load_template(base: Path | None = None, family: str | None = None) -> Template:
            assert (base is None) != (family is None)
            self.loaded.append((base, family))
            if base is not None and not Path(base).read_bytes().startswith(b"GGUF"):
                raise ChatTemplateError(f"{base} is not a GGUF file")
            if family is not None and family not in self.FAMILIES:
                raise ChatTemplateError(f"unknown template family `{family}`")
            return Template()

        self.module = types.ModuleType("mpl.chat")
        self.module.load_template = load_template  # type: ignore[attr-defined]
        self.module.ChatTemplateError = ChatTemplateError  # type: ignore[attr-defined]

    @staticmethod
    def render_one(messages: list[dict[str, t.Any]]) -> str:
        return "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages)


def install_chat_standin(monkeypatch: pytest.MonkeyPatch) -> ChatStandIn:
    """`mpl.chat` replaced by a `ChatStandIn` for the test."""
    import sys

    stand_in = ChatStandIn()
    monkeypatch.setitem(sys.modules, "mpl.chat", stand_in.module)
    return stand_in


@pytest.fixture
def chat_standin(monkeypatch: pytest.MonkeyPatch) -> ChatStandIn:
    return install_chat_standin(monkeypatch)


@pytest.fixture
def history(tmp_path: Path) -> Path:
    """A copy of examples/training to work in."""
    shutil.copytree(TRAINING, tmp_path / "h")
    return tmp_path / "h"


def lines(path: Path) -> list[dict[str, t.Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def done_when_run(cwd: Path, out: str = "out/train.jsonl", *extra: str) -> t.Any:
    return mpl_data(cwd, "conversations", "web_sessions", "export.json", "-o", out, "--format", "openai",
                    "--holdout", "0.25", "--seed", "7", *extra)


# -- the first "done when" --------------------------------------------------------


def test_the_example_history_gives_three_files_split_by_session(history: Path) -> None:
    result = done_when_run(history)
    assert result.exit_code == 0, result.output
    out = history / "out"
    assert sorted(p.name for p in out.iterdir()) == ["train.holdout.jsonl", "train.jsonl", "train.manifest.json"]
    manifest = json.loads((out / "train.manifest.json").read_text())
    counts = manifest["counts"]
    assert (counts["sessions"], counts["examples"], counts["train"], counts["holdout"]) == (4, 4, 3, 1)
    assert counts["dropped"] == {"failed-turn": 1}
    assert counts["prefix_files"] == 3  # two earlier saves of one session, one of the other
    assert counts["redacted"] == 4
    train, holdout = manifest["sessions"]["train"], manifest["sessions"]["holdout"]
    assert not set(train) & set(holdout) and len(set(train + holdout)) == 4
    assert len(lines(out / "train.jsonl")) == 3 and len(lines(out / "train.holdout.jsonl")) == 1
    assert [i["path"] for i in manifest["inputs"]][-1] == "export.json"
    assert all(re.fullmatch(r"[0-9a-f]{64}", i["sha256"]) for i in manifest["inputs"])
    assert manifest["options"]["seed"] == 7 and manifest["options"]["holdout"] == 0.25


def test_the_output_equals_what_the_longest_prefix_file_alone_gives(history: Path) -> None:
    assert done_when_run(history).exit_code == 0
    alone = history / "alone"
    alone.mkdir()
    for name in ("session_20261102_100104_21636369.json", "session_20261103_090310_795b929e.json"):
        shutil.copy(history / "conversations" / name, alone / name)
    result = mpl_data(history, "alone", "web_sessions", "export.json", "-o", "out2/train.jsonl",
                      "--holdout", "0.25", "--seed", "7")
    assert result.exit_code == 0, result.output
    for name in ("train.jsonl", "train.holdout.jsonl"):
        assert (history / "out" / name).read_bytes() == (history / "out2" / name).read_bytes()


def test_no_secret_survives_tool_outputs_stay_and_the_failed_turn_is_gone(history: Path) -> None:
    assert done_when_run(history).exit_code == 0
    text = (history / "out" / "train.jsonl").read_text() + (history / "out" / "train.holdout.jsonl").read_text()
    for secret in SECRETS:
        assert secret not in text
    for marker in ("aws-access-key", "basic-auth-credentials", "github-token", "private-key"):
        assert f"[REDACTED:{marker}]" in text
    assert "✓ 42 passed in 3.1s" in text and "✓ git push origin feature/parser" in text and "✓ Found 1 match" in text
    assert "Agent execution failed" not in text and "Run the tests." not in text
    assert "Run the tests again, please." in text


def test_a_second_run_gives_identical_bytes(history: Path) -> None:
    assert done_when_run(history).exit_code == 0
    first = {p.name: p.read_bytes() for p in (history / "out").iterdir()}
    assert done_when_run(history).exit_code == 0
    assert {p.name: p.read_bytes() for p in (history / "out").iterdir()} == first


# -- readers -------------------------------------------------------------------------------


def conversation(session: str, messages: list[tuple[str, str, dict[str, t.Any]]], start: str = "2026-11-01T09:00:00") -> dict[str, t.Any]:
    return {"session_id": session, "start_time": start, "end_time": start, "message_count": len(messages), "max_history": 20,
            "messages": [{"role": r, "content": c, "timestamp": start, "metadata": meta} for r, c, meta in messages]}


def write(path: Path, value: t.Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value), encoding="utf-8")
    return path


def test_a_file_that_is_not_a_prefix_of_its_sessions_longest_is_reported_and_left_out(tmp_path: Path) -> None:
    shutil.copytree(FIXTURES / "diagnostics" / "MPL023-data-not-a-prefix", tmp_path / "f")
    result = mpl_data(tmp_path / "f", "conversations", "-o", "out/t.jsonl")
    assert result.exit_code == 0 and "warning[MPL023]" in result.output
    assert "session_20261101_090005_c1ea7ed0.json" in result.output
    manifest = json.loads((tmp_path / "f" / "out" / "t.manifest.json").read_text())
    assert manifest["counts"]["dropped"] == {"not-a-prefix": 1} and manifest["counts"]["examples"] == 1
    assert "haiku" in (tmp_path / "f" / "out" / "t.jsonl").read_text()


def test_openai_and_sharegpt_jsonl_inputs_are_read(tmp_path: Path) -> None:
    rows = [{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]},
            {"conversations": [{"from": "human", "value": "2+2?"}, {"from": "gpt", "value": "4"}]}]
    (tmp_path / "in.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n\n")
    result = mpl_data(tmp_path, "in.jsonl", "-o", "t.jsonl", "--format", "sharegpt")
    assert result.exit_code == 0, result.output
    assert lines(tmp_path / "t.jsonl") == [
        {"conversations": [{"from": "human", "value": "hi"}, {"from": "gpt", "value": "hello"}]},
        {"conversations": [{"from": "human", "value": "2+2?"}, {"from": "gpt", "value": "4"}]}]


def test_a_bad_jsonl_line_is_named_with_its_line(tmp_path: Path) -> None:
    (tmp_path / "in.jsonl").write_text('{"messages": []}\n{"messages": [}\n')
    result = mpl_data(tmp_path, "in.jsonl", "-o", "t.jsonl")
    assert result.exit_code == 1 and "in.jsonl:2:15: error[MPL020]" in result.output
    assert not (tmp_path / "t.jsonl").exists()


def test_a_file_cut_short_is_pointed_at_where_it_ends(tmp_path: Path) -> None:
    """A truncated file (an auto-save cut off) is reported where the JSON stops, not at its first byte."""
    (tmp_path / "cut.json").write_text('{"session_id": "x",\n "messages": [{"role": "user", \n')
    result = mpl_data(tmp_path, "cut.json", "-o", "t.jsonl")
    assert result.exit_code == 1 and "cut.json:2:31: error[MPL020]: `cut.json` is not valid JSON: it ends before its JSON does" in result.output
    (tmp_path / "cut.jsonl").write_text('{"messages": []}\n{"messages": [\n')
    result = mpl_data(tmp_path, "cut.jsonl", "-o", "t.jsonl")
    assert result.exit_code == 1 and "cut.jsonl:2:15: error[MPL020]" in result.output
    assert not (tmp_path / "t.jsonl").exists()


@pytest.mark.parametrize("text", ['[1, 2]', '"a string"', '{"messages": [{"role": "wizard", "content": "x"}]}',
                                  '{"session_id": "s", "messages": [{"role": "user", "content": 5}]}',
                                  '{"export_metadata": {"export_type": "memories"}, "memories": []}'])
def test_json_of_other_shapes_is_named_never_a_traceback(tmp_path: Path, text: str) -> None:
    (tmp_path / "x.json").write_text(text)
    result = mpl_data(tmp_path, "x.json", "-o", "t.jsonl")
    assert result.exit_code == 1 and "x.json: error[MPL021]" in result.output, result.output
    assert "Traceback" not in result.output and not (tmp_path / "t.jsonl").exists()


def test_json_nested_too_deep_is_a_diagnostic(tmp_path: Path) -> None:
    (tmp_path / "x.json").write_text("[" * 100_000)
    result = mpl_data(tmp_path, "x.json", "-o", "t.jsonl")
    assert result.exit_code == 1 and "error[MPL020]" in result.output and "too deeply" in result.output


def test_a_missing_path_is_an_io_error_and_an_error_keeps_the_previous_outputs(history: Path) -> None:
    assert done_when_run(history).exit_code == 0
    before = (history / "out" / "train.jsonl").read_bytes()
    result = mpl_data(history, "conversations", "nowhere.json", "-o", "out/train.jsonl")
    assert result.exit_code == 2 and "nowhere.json: error[MPL001]" in result.output
    assert (history / "out" / "train.jsonl").read_bytes() == before
    assert not [p for p in (history / "out").iterdir() if p.name.startswith(".")]


def test_the_web_session_and_the_export_are_read(history: Path) -> None:
    assert mpl_data(history, "web_sessions", "export.json", "-o", "t.jsonl", "--no-redact").exit_code == 0
    text = (history / "t.jsonl").read_text()
    assert "why does ssh refuse it?" in text and "Push my branch" in text


# -- tool turns ------------------------------------------------------------------------------


def test_tool_turns_fold_the_same_way_in_every_json_format(history: Path) -> None:
    for fmt in ("openai", "sharegpt", "alpaca"):
        assert mpl_data(history, "export.json", "-o", f"{fmt}.jsonl", "--format", fmt).exit_code == 0
    folded = "Push my branch; the token is [REDACTED:github-token]\n\n[tool output: git push]\n✓ git push origin feature/parser: 3 commits pushed"
    assert lines(history / "openai.jsonl")[0]["messages"][0] == {"role": "user", "content": folded}
    assert lines(history / "sharegpt.jsonl")[0]["conversations"][0] == {"from": "human", "value": folded}
    alpaca = lines(history / "alpaca.jsonl")[0]
    assert alpaca["instruction"] == folded and alpaca["output"].startswith("Pushed 3 commits") and alpaca["history"] == []
    assert set(alpaca) == {"instruction", "input", "output", "system", "history"}


def test_tools_drop_leaves_them_out_and_counts_them(history: Path) -> None:
    assert mpl_data(history, "export.json", "-o", "t.jsonl", "--tools", "drop").exit_code == 0
    assert "git push" not in (history / "t.jsonl").read_text()
    assert json.loads((history / "t.manifest.json").read_text())["counts"]["dropped"] == {"tool-message": 1}


def test_real_tool_calls_stay_native_in_openai_and_sharegpt(tmp_path: Path) -> None:
    call = {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'}}
    row = {"messages": [{"role": "user", "content": "Weather in Oslo?"}, {"role": "assistant", "content": None, "tool_calls": [call]},
                        {"role": "tool", "tool_call_id": "call_1", "content": "-3 C"}, {"role": "assistant", "content": "-3 C in Oslo."}],
           "tools": [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]}
    (tmp_path / "in.jsonl").write_text(json.dumps(row) + "\n")
    assert mpl_data(tmp_path, "in.jsonl", "-o", "o.jsonl").exit_code == 0
    out = lines(tmp_path / "o.jsonl")[0]
    assert out["messages"][1]["tool_calls"] == [call] and out["messages"][2]["tool_call_id"] == "call_1"
    assert out["tools"] == row["tools"]
    assert mpl_data(tmp_path, "in.jsonl", "-o", "s.jsonl", "--format", "sharegpt").exit_code == 0
    assert [r["from"] for r in lines(tmp_path / "s.jsonl")[0]["conversations"]] == ["human", "function_call", "observation", "gpt"]
    assert json.loads(lines(tmp_path / "s.jsonl")[0]["conversations"][1]["value"]) == {"name": "get_weather", "arguments": {"city": "Oslo"}}
    assert mpl_data(tmp_path, "in.jsonl", "-o", "f.jsonl", "--tools", "fold").exit_code == 0
    assert lines(tmp_path / "f.jsonl")[0]["messages"][0]["content"] == \
        'Weather in Oslo?\n\n[tool call: get_weather {"city": "Oslo"}]\n\n[tool output: tool]\n-3 C'


# -- redaction, split, duplicates, filters ----------------------------------------------------


def test_no_redact_keeps_secrets_and_says_so_in_the_manifest(history: Path) -> None:
    assert mpl_data(history, "export.json", "-o", "t.jsonl", "--no-redact").exit_code == 0
    assert SECRETS[2] in (history / "t.jsonl").read_text()
    manifest = json.loads((history / "t.manifest.json").read_text())
    assert manifest["options"]["redact"] is False and manifest["counts"]["redacted"] == 0


@pytest.mark.parametrize("secret, marker", [
    ("AKIAZ4Q7XBRT2KQWL3NP", "aws-access-key"),
    ("https://deploy:Hunter2Hunter2@git.example.com/repo.git", "basic-auth-credentials"),
    ("xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx", "slack-token"),
    ("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U", "json-web-token"),
    ("sk_live_4eC39HqLyjWDarjtT1zdp7dc", "stripe-access-key"),
])
def test_each_kind_of_secret_is_replaced_whole(secret: str, marker: str) -> None:
    from mpl.data.redact import Redactor

    redactor = Redactor()
    out = redactor.redact(f"before {secret} after")
    assert f"[REDACTED:{marker}]" in out and out.startswith("before ") and out.endswith(" after")
    assert not re.search(r"[A-Za-z0-9]{8,}", out.replace("before", "").replace("after", "").replace(marker, "")
                         .replace("REDACTED", "").replace("https://deploy:", "").replace("@git.example.com/repo.git", "")), out
    assert sum(redactor.counts.values()) == 1


def test_the_split_depends_on_the_seed_and_never_splits_a_session(tmp_path: Path) -> None:
    for n in range(40):
        write(tmp_path / "c" / f"s{n:02}.json", conversation(f"session-{n}", [("user", f"q{n}", {}), ("assistant", f"a{n}", {})]))
    sides = {}
    for seed in ("1", "2"):
        assert mpl_data(tmp_path, "c", "-o", f"{seed}/t.jsonl", "--holdout", "0.3", "--seed", seed).exit_code == 0
        manifest = json.loads((tmp_path / seed / "t.manifest.json").read_text())
        sides[seed] = set(manifest["sessions"]["holdout"])
        assert 4 <= len(sides[seed]) <= 20 and not sides[seed] & set(manifest["sessions"]["train"])
    assert sides["1"] != sides["2"]


def test_the_same_record_twice_in_jsonl_is_a_counted_duplicate(tmp_path: Path) -> None:
    row = json.dumps({"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]})
    (tmp_path / "in.jsonl").write_text(f"{row}\n{row}\n")
    assert mpl_data(tmp_path, "in.jsonl", "-o", "t.jsonl").exit_code == 0
    counts = json.loads((tmp_path / "t.manifest.json").read_text())["counts"]
    assert counts["examples"] == 1 and counts["dropped"] == {"duplicate": 1} and counts["prefix_files"] == 0


def test_exact_duplicates_are_removed_and_counted(tmp_path: Path) -> None:
    for n in range(3):
        write(tmp_path / "c" / f"s{n}.json", conversation(f"session-{n}", [("user", "same", {}), ("assistant", "same", {})]))
    assert mpl_data(tmp_path, "c", "-o", "t.jsonl").exit_code == 0
    assert len(lines(tmp_path / "t.jsonl")) == 1
    assert json.loads((tmp_path / "t.manifest.json").read_text())["counts"]["dropped"] == {"duplicate": 2}


def test_filters_leave_sessions_out_by_reason(tmp_path: Path) -> None:
    write(tmp_path / "c" / "old.json", conversation("old", [("user", "q", {}), ("assistant", "a", {"model": "m1"})], "2025-01-01T00:00:00"))
    write(tmp_path / "c" / "new.json", conversation("new", [("user", "q2", {}), ("assistant", "a2", {"model": "m2"}),
                                                          ("user", "q3", {}), ("assistant", "a3", {"model": "m2"})], "2026-06-01T00:00:00"))
    write(tmp_path / "c" / "none.json", conversation("none", [("user", "q4", {})], "2026-06-01T00:00:00"))
    assert mpl_data(tmp_path, "c", "-o", "a.jsonl", "--since", "2026-01-01").exit_code == 0
    assert json.loads((tmp_path / "a.manifest.json").read_text())["counts"]["dropped"] == {"before-since": 1, "no-reply": 1, "unanswered-message": 1}
    assert mpl_data(tmp_path, "c", "-o", "b.jsonl", "--until", "2025-12-31", "--model", "m1").exit_code == 0
    assert json.loads((tmp_path / "b.manifest.json").read_text())["counts"]["dropped"] == {"after-until": 2, "unanswered-message": 1}
    assert mpl_data(tmp_path, "c", "-o", "c.jsonl", "--min-turns", "2").exit_code == 0
    assert [r["messages"][0]["content"] for r in lines(tmp_path / "c.jsonl")] == ["q2"]


@pytest.mark.parametrize("args, message", [
    (["--holdout", "1"], "--holdout"), (["--holdout", "nan"], "--holdout"), (["--since", "yesterday"], "--since"),
    (["--format", "text"], "exactly one of"), (["--template", "chatml"], "for --format text"),
])
def test_usage_errors(history: Path, args: list[str], message: str) -> None:
    result = mpl_data(history, "conversations", "-o", "t.jsonl", *args)
    assert result.exit_code == 2 and message in result.output and not (history / "t.jsonl").exists()


# -- outputs ---------------------------------------------------------------------------------


def test_a_failure_while_writing_leaves_no_output_and_no_temporary(history: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import mpl.data.run as run_module

    calls = {"n": 0}
    real = run_module.convert

    def failing(*args: t.Any, **kwargs: t.Any) -> t.Any:
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError(28, "No space left on device")
        return real(*args, **kwargs)

    monkeypatch.setattr(run_module, "convert", failing)
    (history / "out").mkdir()
    result = done_when_run(history)
    assert result.exit_code == 2 and "No space left on device" in result.output and "no output was changed" in result.output
    assert list((history / "out").iterdir()) == []


def test_the_summary_names_the_counts_and_the_files(history: Path) -> None:
    result = done_when_run(history)
    assert re.search(r"sessions\s+4\n", result.output) and re.search(r"dropped: failed-turn\s+1\n", result.output)
    assert "wrote out/train.manifest.json" in result.output


# -- the codes' fixtures ----------------------------------------------------------------------

DATA_FIXTURES = sorted((FIXTURES / "diagnostics").glob("MPL02*-data-*"))


def test_the_data_codes_have_fixtures() -> None:
    assert [p.name.split("-")[0] for p in DATA_FIXTURES] == ["MPL020", "MPL021", "MPL022", "MPL023", "MPL024"]


@pytest.mark.parametrize("fixture", DATA_FIXTURES, ids=lambda p: p.name)
def test_data_fixture_reports_its_code(tmp_path: Path, fixture: Path, chat_standin: t.Any) -> None:
    from mpl.diagnostics import CODES

    code, _, name = fixture.name.partition("-")
    assert CODES[code].name == name
    spec = dict(line.split(": ", 1) for line in (fixture / "expect").read_text().splitlines() if ": " in line)
    shutil.copytree(fixture, tmp_path / "f")
    result = mpl_data(tmp_path / "f", *spec["args"].split())
    label = spec["expect"]
    assert f"[{code}]" in result.output and "Traceback" not in result.output, result.output
    if "@" in label:
        assert f":{label.split('@')[1]}: error[{code}]" in result.output, result.output
    if CODES[code].severity == "error":
        assert result.exit_code == 1 and not (tmp_path / "f" / "out").exists()
    else:
        assert result.exit_code == 0


@pytest.mark.parametrize("fmt", ["openai", "sharegpt", "alpaca"])
def test_each_format_of_the_example_history(history: Path, fmt: str, snapshot: t.Any) -> None:
    """The example history in each JSON format, one record a line (the snapshot shows them indented)."""
    result = mpl_data(history, "conversations", "web_sessions", "export.json", "-o", "t.jsonl", "--format", fmt)
    assert result.exit_code == 0, result.output
    records = lines(history / "t.jsonl")
    assert "\n".join(json.dumps(r, indent=2, ensure_ascii=False) for r in records) == snapshot


def test_a_long_run_on_a_terminal_shows_a_progress_bar(monkeypatch: pytest.MonkeyPatch) -> None:
    import io
    import sys

    from mpl.data import cli as data_cli

    stream = io.StringIO()
    stream.isatty = lambda: True  # type: ignore[method-assign]
    monkeypatch.setattr(sys, "stderr", stream)
    bar = data_cli._Bar()
    bar.start(2 * data_cli.PROGRESS_FROM - 2)  # a short run: no bar
    assert bar.progress is None
    bar.start(2 * data_cli.PROGRESS_FROM)
    assert bar.progress is not None
    bar.advance()
    bar.stop()
    assert bar.progress is None


def test_an_exports_prefix_files_merge_with_the_conversation_files(tmp_path: Path) -> None:
    """Meton's export holds every file of conversations/, prefixes too: one session, wherever its files are."""
    short = conversation("s-1", [("user", "q", {}), ("assistant", "a", {})])
    full = conversation("s-1", [("user", "q", {}), ("assistant", "a", {}), ("user", "q2", {}), ("assistant", "a2", {})])
    write(tmp_path / "export.json", {"export_metadata": {"export_type": "complete"}, "conversations": [full, short]})
    write(tmp_path / "conversations" / "session_20261101_090000_s-1.json", short)
    assert mpl_data(tmp_path, "conversations", "export.json", "-o", "t.jsonl").exit_code == 0
    counts = json.loads((tmp_path / "t.manifest.json").read_text())["counts"]
    assert (counts["sessions"], counts["examples"], counts["prefix_files"]) == (1, 1, 2)
    assert [m["content"] for m in lines(tmp_path / "t.jsonl")[0]["messages"]] == ["q", "a", "q2", "a2"]


def test_outputs_written_into_the_folder_read_are_not_read_again(history: Path) -> None:
    for _ in range(2):
        result = mpl_data(history, "conversations", "-o", "conversations/train.jsonl", "--holdout", "0.5")
        assert result.exit_code == 0, result.output
    manifest = json.loads((history / "conversations" / "train.manifest.json").read_text())
    assert manifest["counts"]["inputs"] == 5 and manifest["counts"]["sessions"] == 2

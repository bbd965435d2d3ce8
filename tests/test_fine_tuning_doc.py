"""docs/fine-tuning.md: every `mpl` command in its shell blocks runs, in order, in a project laid out as the page says."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest
from fake_ollama import server  # noqa: F401 - the `server` fixture
from gguf_files import write_adapter, write_model
from helpers import ROOT
from typer.testing import CliRunner

from mpl.chat import FAMILIES
from mpl.cli import app

DOC = ROOT / "docs" / "fine-tuning.md"



def doc_commands() -> list[list[str]]:
    """The `mpl …` command lines of the page's ```sh blocks, continuation lines joined, without `mpl`."""
    text = DOC.read_text(encoding="utf-8")
    commands = []
    for block in re.findall(r"```sh\n(.*?)```", text, re.DOTALL):
        for line in block.replace("\\\n", " ").splitlines():
            if line.startswith("mpl "):
                commands.append(shlex.split(line)[1:])
    return commands


def registered() -> set[str]:
    return {info.name or info.callback.__name__.lower().replace("_", "-") for info in app.registered_commands}


# Sessions in conversations/: enough for the page's `--holdout 0.1` to hold some out.
SESSIONS = 30


def lay_out_project(root: Path) -> None:
    """The folders the page starts from: Meton conversations, a ChatML base GGUF (quantized and F32), the adapter."""
    spec = FAMILIES["chatml"]
    vocabulary = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<tool_call>", "</tool_call>", "a", "b"]
    kv = {"tokenizer.ggml.tokens": vocabulary, "tokenizer.ggml.bos_token_id": 0, "tokenizer.ggml.eos_token_id": 2,
          "tokenizer.chat_template": spec.text()}
    for name in ("models/qwen2.5-7b-instruct-q4_k_m.gguf", "models/qwen2.5-7b-instruct-f32.gguf", "finetuned-model.gguf"):
        write_model(root / name, architecture="qwen2", extra_kv=kv)
    write_adapter(root / "lora" / "tuned-lora.gguf", architecture="qwen2")
    (root / "conversations").mkdir()
    for i in range(SESSIONS):
        messages = [
            {"role": "user", "content": f"List the files in project {i}.", "timestamp": "2025-01-01T12:00:00", "metadata": {}},
            {"role": "tool", "content": f"main{i}.py\nREADME.md", "timestamp": "2025-01-01T12:00:01",
             "metadata": {"tool_name": "file_operations", "action": "list"}},
            {"role": "assistant", "content": f"Two files: main{i}.py and README.md.", "timestamp": "2025-01-01T12:00:02",
             "metadata": {"thoughts": [], "tool_calls": [], "iterations": 2, "model": "qwen2.5:7b"}},
        ]
        session = {"session_id": f"{i:08x}-0000-0000-0000-000000000000", "start_time": "2025-01-01T12:00:00",
                   "end_time": "2025-01-01T12:00:02", "message_count": 3, "max_history": 20, "messages": messages}
        name = f"session_20250101_120002_{i:08x}.json"
        (root / "conversations" / name).write_text(json.dumps(session), encoding="utf-8")
    web = {"id": "web-1", "created_at": "2025-01-02T09:00:00", "last_activity": "2025-01-02T09:01:00",
           "conversation_history": [{**m, "timestamp": "2025-01-02T09:00:00"} for m in messages],
           "uploaded_files": [], "settings": {}, "agent_state": {}}
    (root / "web_sessions").mkdir()
    (root / "web_sessions" / "session_web-1.json").write_text(json.dumps(web), encoding="utf-8")


def test_the_page_names_the_commands_of_the_workflow() -> None:
    assert [args[0] for args in doc_commands()] == ["data", "init", "check", "build", "eval", "data", "init", "check"]


def test_every_mpl_command_of_the_page_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, server) -> None:  # noqa: F811
    lay_out_project(tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OLLAMA_HOST", server.url)
    ran = []
    for args in doc_commands():
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 0 and "Traceback" not in result.output, (args, result.output)
        ran.append(args[0])
        if args[0] == "eval":
            check_the_comparison(tmp_path, args, result.stdout, server)
    assert ran == [args[0] for args in doc_commands()]
    text = (tmp_path / "profiles.mprof").read_text(encoding="utf-8")
    assert 'model base from "./models/qwen2.5-7b-instruct-q4_k_m.gguf" <' in text and "model tuned from base <" in text
    assert '  adapter "./lora/tuned-lora.gguf"' in text
    created = [r.json for r in server.requests if r.path == "/api/create"]
    assert [c["model"].split(":")[0] for c in created] == ["base", "tuned"]  # `mpl build tuned` builds its base first
    assert "adapters" not in created[0] and created[0]["parameters"]["stop"] == ["<|im_start|>", "<|im_end|>"]
    assert created[1]["from"] == "base" and list(created[1]["adapters"]) == ["tuned-lora.gguf"]
    full = (tmp_path / "full" / "profiles.mprof").read_text(encoding="utf-8")
    assert 'from "../finetuned-model.gguf"' in full and '  # adapter "adapter.gguf"' in full


def check_the_comparison(root: Path, args: list[str], stdout: str, server) -> None:  # noqa: F811
    """The page's `mpl eval`: the held-out file of its `mpl data` is the suite, run on both models it built."""
    held_out = [json.loads(line) for line in (root / "data" / "train.holdout.jsonl").read_text(encoding="utf-8").splitlines()]
    assert args[1] == "data/train.holdout.jsonl" and held_out
    report = json.loads((root / args[args.index("--json") + 1]).read_text(encoding="utf-8"))
    repeat = int(args[args.index("--repeat") + 1])
    assert [(arm["name"], arm["model"], arm["runs"], arm["errors"]) for arm in report["arms"]] == [
        ("base", "base", len(held_out) * repeat, 0), ("tuned", "tuned", len(held_out) * repeat, 0)]
    assert [case["reference"] for case in report["cases"]] == [line["messages"][-1]["content"] for line in held_out]
    assert all(isinstance(run["similarity"], float) and run["output"] for run in report["results"])
    assert [run["options"] for run in report["results"]] == [{"seed": run["repeat"]} for run in report["results"]]  # the seed alone
    chats = [r.json for r in server.requests if r.path == "/api/chat"]
    assert sorted({chat["model"] for chat in chats}) == ["base", "tuned"] and len(chats) == 2 * len(held_out) * repeat
    [comparison] = report["comparisons"]
    assert (comparison["a"], comparison["b"]) == ("base", "tuned") and comparison["summary"] in stdout.replace("\n", " ")
    html = (root / args[args.index("--report") + 1]).read_text(encoding="utf-8")
    assert all(f'data-case="{case["id"]}"' in html for case in report["cases"])


def command_flags(name: str) -> set[str]:
    """Every option string of `mpl NAME` (`-o`, `--output`, …), but help."""
    import typer

    command = typer.main.get_command(app).commands[name]  # type: ignore[attr-defined]
    options = [param for param in command.params if param.param_type_name == "option"]
    return {flag for param in options for flag in (*param.opts, *param.secondary_opts)} - {"-h", "--help"}


def flags_named(page: str, name: str) -> set[str]:
    """The options a page gives `mpl NAME`: on its command lines (a synopsis's indented continuation
    lines included) and in the first column of its option table rows."""
    text = (ROOT / "docs" / page).read_text(encoding="utf-8")
    lines = re.findall(rf"mpl {name}\b((?:[^\n`]|\\\n|\n[ \t]+(?=\[|-))*)", text)
    rows = re.findall(r"^\| ((?:`-[^|]*`(?:, )?)+) \|", text, re.MULTILINE)
    return {flag for part in lines + rows for flag in re.findall(r"(?<![\w-])(--?[a-zA-Z][\w-]*)", part)}


@pytest.mark.parametrize(("page", "name"), [("data.md", "data"), ("eval.md", "eval"), ("fine-tuning.md", "data"),
                                            ("fine-tuning.md", "eval"), ("fine-tuning.md", "init")])
def test_the_options_a_page_names_are_the_commands_own(page: str, name: str) -> None:
    named = flags_named(page, name)
    assert named and named <= command_flags(name), named - command_flags(name)
    if page != "fine-tuning.md":  # a command's own page names every option it has
        assert command_flags(name) <= named, command_flags(name) - named

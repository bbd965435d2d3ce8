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

# Commands built alongside this page: their lines run as soon as the command is registered
# (`mpl data` reads the conversations laid out below). `mpl eval` needs its cases file and
# a server that has both arms; its line is skipped until that is set up here.
AFTER_MERGE = {"data", "eval"}
NOT_SET_UP = {"eval"}


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


def lay_out_project(root: Path) -> None:
    """The folders the page starts from: Meton conversations, a ChatML base GGUF (quantized and F32), the adapter."""
    spec = FAMILIES["chatml"]
    vocabulary = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<tool_call>", "</tool_call>", "a", "b"]
    kv = {"tokenizer.ggml.tokens": vocabulary, "tokenizer.ggml.bos_token_id": 0, "tokenizer.ggml.eos_token_id": 2,
          "tokenizer.chat_template": spec.text()}
    for name in ("models/qwen2.5-7b-instruct-q4_k_m.gguf", "models/qwen2.5-7b-instruct-f32.gguf", "finetuned-model.gguf"):
        write_model(root / name, architecture="qwen2", extra_kv=kv)
    write_adapter(root / "lora" / "tuned-lora.gguf", architecture="qwen2")
    messages = [
        {"role": "user", "content": "List the files here.", "timestamp": "2025-01-01T12:00:00", "metadata": {}},
        {"role": "tool", "content": "main.py\nREADME.md", "timestamp": "2025-01-01T12:00:01",
         "metadata": {"tool_name": "file_operations", "action": "list"}},
        {"role": "assistant", "content": "Two files: main.py and README.md.", "timestamp": "2025-01-01T12:00:02",
         "metadata": {"thoughts": [], "tool_calls": [], "iterations": 2, "model": "qwen2.5:7b"}},
    ]
    session = {"session_id": "abcd1234-0000-0000-0000-000000000000", "start_time": "2025-01-01T12:00:00",
               "end_time": "2025-01-01T12:00:02", "message_count": 3, "max_history": 20, "messages": messages}
    (root / "conversations").mkdir()
    (root / "conversations" / "session_20250101_120002_abcd1234.json").write_text(json.dumps(session), encoding="utf-8")
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
    known = registered()
    ran = []
    for args in doc_commands():
        if args[0] not in known or args[0] in NOT_SET_UP:
            assert args[0] in AFTER_MERGE, f"`mpl {args[0]}` is not a command"
            continue
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 0 and "Traceback" not in result.output, (args, result.output)
        ran.append(args[0])
    assert {"init", "check", "build"} <= set(ran)
    text = (tmp_path / "profiles.mprof").read_text(encoding="utf-8")
    assert 'model tuned from "./models/qwen2.5-7b-instruct-q4_k_m.gguf" <' in text
    assert '  adapter "./lora/tuned-lora.gguf"' in text
    created = [r.json for r in server.requests if r.path == "/api/create"]
    assert [c["model"].split(":")[0] for c in created] == ["tuned"]
    assert created[0]["adapters"] and created[0]["parameters"]["stop"] == ["<|im_start|>", "<|im_end|>"]
    full = (tmp_path / "full" / "profiles.mprof").read_text(encoding="utf-8")
    assert 'from "../finetuned-model.gguf"' in full and '  # adapter "adapter.gguf"' in full

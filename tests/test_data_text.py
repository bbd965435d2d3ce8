"""`mpl data --format text`: conversations rendered one after another by the chat template.

`mpl.chat` (the templates) is tested on its own; here a stand-in of its interface
checks what `mpl data` asks of it and writes.
"""

from __future__ import annotations

import shutil
import typing as t
from pathlib import Path

import pytest
from test_data import TRAINING, ChatStandIn, install_chat_standin, mpl_data


@pytest.fixture
def chat_standin(monkeypatch: pytest.MonkeyPatch) -> ChatStandIn:
    return install_chat_standin(monkeypatch)


def test_text_is_each_conversation_rendered_with_nothing_between(tmp_path: Path, chat_standin: t.Any) -> None:
    shutil.copytree(TRAINING, tmp_path / "h")
    result = mpl_data(tmp_path / "h", "export.json", "conversations", "-o", "t.txt", "--format", "text", "--template", "chatml")
    assert result.exit_code == 0, result.output
    text = (tmp_path / "h" / "t.txt").read_text()
    rendered = [call for call in chat_standin.calls]
    assert text == "".join(chat_standin.render_one(messages) for messages, _, _ in rendered)
    assert all(generation is False for _, _, generation in rendered)
    first = rendered[0][0]  # the export: its tool message reaches the template as a tool message, not folded
    assert [m["role"] for m in first] == ["user", "tool", "assistant"] and first[1]["name"] == "git"
    assert "[REDACTED:github-token]" in text and "Agent execution failed" not in text
    assert (tmp_path / "h" / "t.manifest.json").exists()


def test_base_names_the_gguf_and_a_failing_template_writes_nothing(tmp_path: Path, chat_standin: t.Any) -> None:
    shutil.copytree(TRAINING, tmp_path / "h")
    (tmp_path / "h" / "base.gguf").write_bytes(b"GGUF")
    assert mpl_data(tmp_path / "h", "export.json", "-o", "a.txt", "--format", "text", "--base", "base.gguf").exit_code == 0
    assert chat_standin.loaded[-1] == (Path("base.gguf"), None)
    (tmp_path / "h" / "bad.gguf").write_bytes(b"not a model")
    result = mpl_data(tmp_path / "h", "export.json", "-o", "b.txt", "--format", "text", "--base", "bad.gguf")
    assert result.exit_code == 1 and "bad.gguf: error[MPL024]" in result.output and not (tmp_path / "h" / "b.txt").exists()
    chat_standin.fail_on = "Push my branch"
    result = mpl_data(tmp_path / "h", "export.json", "-o", "c.txt", "--format", "text", "--template", "chatml")
    assert result.exit_code == 1 and "error[MPL024]" in result.output and "export.json#conversations[0]" in result.output
    assert not (tmp_path / "h" / "c.txt").exists()

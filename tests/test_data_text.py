"""`mpl data --format text`: conversations rendered one after another by the chat template.

`mpl.chat` (the templates) is tested on its own; here a stand-in of its interface
checks what `mpl data` asks of it and writes, and the real templates of a GGUF base
(Qwen's ChatML and Llama 3's) check the bytes end to end.
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


# -- end to end, with the real templates of a GGUF base ------------------------------------------

CONVERSATIONS = [
    [{"role": "system", "content": "You are a careful reviewer."},
     {"role": "user", "content": "Is `café.py` imported anywhere?"},
     {"role": "assistant", "content": "No: only `main.py` imports it — and only in tests."}],
    [{"role": "user", "content": "Sort these: 3, 1, 2"},
     {"role": "assistant", "content": "1, 2, 3"},
     {"role": "user", "content": "Descending?"},
     {"role": "assistant", "content": "3, 2, 1"}],
]


@pytest.mark.parametrize("family", ["chatml", "llama3"])
def test_text_with_a_base_is_jinja2s_rendering_of_the_gguf_template(tmp_path: Path, family: str) -> None:
    """The issue's check: `--format text --base base.gguf` equals jinja2's own rendering of the
    GGUF's `tokenizer.chat_template`, conversation after conversation, and again the next day."""
    import json

    from test_chat import base_gguf, reference_render

    from mpl.chat import FAMILIES
    from mpl.data.run import UNDATED

    base = base_gguf(tmp_path, family)
    (tmp_path / "chats.jsonl").write_text("".join(json.dumps({"messages": c}) + "\n" for c in CONVERSATIONS), encoding="utf-8")
    result = mpl_data(tmp_path, "chats.jsonl", "-o", "train.txt", "--format", "text", "--base", base.name)
    assert result.exit_code == 0, result.output
    spec = FAMILIES[family]
    bos, eos = spec.bos_token or "<|endoftext|>", spec.eos_token

    def jinja2_rendering(conversation: list[dict[str, str]]) -> str:
        import test_chat

        saved = test_chat.DAY
        test_chat.DAY = UNDATED  # the inputs carry no time: the date such templates print without a clock
        try:
            return reference_render(spec.text(), messages=conversation, tools=None, documents=None,
                                    add_generation_prompt=False, bos_token=bos, eos_token=eos)
        finally:
            test_chat.DAY = saved

    written = (tmp_path / "train.txt").read_text(encoding="utf-8")
    assert written == "".join(jinja2_rendering(c) for c in CONVERSATIONS)

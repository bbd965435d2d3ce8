"""mpl.chat: chat templates from a GGUF or a named family, rendered as Hugging Face's `apply_chat_template` does."""

from __future__ import annotations

import datetime as dt
import json
import typing as t
from pathlib import Path

import jinja2
import pytest
from gguf_files import write_model, write_not_gguf
from jinja2.ext import loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment

from mpl.chat import FAMILIES, ChatTemplate, ChatTemplateError, load_template
from mpl.chat.starter import LIBRARY_BASES

DAY = dt.datetime(2024, 7, 26)  # the date llama.cpp's goldens were rendered with (Llama 3 prints it)

# llama.cpp's tests/chat/contexts/simple.json: its goldens (tests/chat/goldens/*-simple.txt) are
# what transformers' apply_chat_template gave for the models' own templates, with these tokens.
SIMPLE = [
    {"role": "user", "content": "What's your favourite LLM framework?"},
    {"role": "assistant", "content": "llama.cpp!"},
]
GOLDEN_BOS, GOLDEN_EOS = "<|startoftext|>", "<|endoftext|>"
GOLDENS = {
    "chatml": (  # Qwen-Qwen2.5-7B-Instruct-simple.txt
        "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n"
        "<|im_start|>user\nWhat's your favourite LLM framework?<|im_end|>\n"
        "<|im_start|>assistant\nllama.cpp!<|im_end|>\n<|im_start|>assistant\n"
    ),
    "llama3": (  # meta-llama-Llama-3.2-3B-Instruct-simple.txt
        "<|startoftext|><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\n"
        "Today Date: 26 Jul 2024\n\n<|eot_id|><|start_header_id|>user<|end_header_id|>\n\n"
        "What's your favourite LLM framework?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"
        "llama.cpp!<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"
    ),
    "gemma": (  # google-gemma-2-2b-it-simple.txt
        "<|startoftext|><start_of_turn>user\nWhat's your favourite LLM framework?<end_of_turn>\n"
        "<start_of_turn>model\nllama.cpp!<end_of_turn>\n<start_of_turn>model\n"
    ),
    "phi3": (  # microsoft-Phi-3-mini-4k-instruct-simple.txt
        "<|user|>\nWhat's your favourite LLM framework?<|end|>\n<|assistant|>\nllama.cpp!<|end|>\n<|assistant|>\n"
    ),
    # Mistral's documented v0.3 instruct format (`<s>[INST] user[/INST] assistant</s>`), with the family's own tokens.
    "mistral": "<s>[INST] What's your favourite LLM framework?[/INST] llama.cpp!</s>",
}

CONVERSATION = [
    {"role": "system", "content": "You are a careful coding assistant."},
    {"role": "user", "content": "List the files, then say how many — café.py too?"},
    {"role": "assistant", "content": "", "tool_calls": [
        {"type": "function", "function": {"name": "file_ops", "arguments": {"action": "list", "path": "."}}}]},
    {"role": "tool", "content": "café.py\nmain.py", "name": "file_ops"},
    {"role": "assistant", "content": "Two files: café.py and main.py."},
    {"role": "user", "content": "Thanks."},
]
TOOLS = [{"type": "function", "function": {"name": "file_ops", "description": "Fichiers: lister, lire",
                                           "parameters": {"type": "object", "properties": {"path": {"type": "string"}}}}}]


def reference_render(text: str, **variables: t.Any) -> str:
    """jinja2's own rendering of a template text, set up as transformers' `_compile_jinja_template` does."""
    def tojson(x: t.Any, ensure_ascii: bool = False, indent: t.Any = None, separators: t.Any = None, sort_keys: bool = False) -> str:
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    def raise_exception(message: str) -> t.NoReturn:
        raise jinja2.exceptions.TemplateError(message)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = lambda fmt: DAY.strftime(fmt)
    return env.from_string(text).render(**variables)


def base_gguf(tmp_path: Path, family: str, *, template: str | None = None, name: str = "base.gguf") -> Path:
    """A GGUF carrying a family's real template and a vocabulary with its special tokens."""
    spec = FAMILIES[family]
    tokens = ["<unk>", spec.bos_token or "<|endoftext|>", spec.eos_token, *spec.stop, "a", "b"]
    extra: dict[str, t.Any] = {
        "tokenizer.ggml.tokens": tokens,
        "tokenizer.ggml.bos_token_id": 1,
        "tokenizer.ggml.eos_token_id": 2,
        "tokenizer.chat_template": spec.text() if template is None else template,
    }
    return write_model(tmp_path / name, architecture="llama" if family == "llama3" else "qwen2", extra_kv=extra)


@pytest.mark.parametrize("family", sorted(GOLDENS))
def test_each_family_renders_its_models_known_format(family: str) -> None:
    spec = FAMILIES[family]
    if family == "mistral":
        template = load_template(family=family)
    else:
        template = ChatTemplate(spec.text(), bos_token=GOLDEN_BOS, eos_token=GOLDEN_EOS)
    assert template.render(SIMPLE, add_generation_prompt=family != "mistral", now=DAY) == GOLDENS[family]


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_each_family_names_its_source_tokens_and_stops(family: str) -> None:
    spec = FAMILIES[family]
    assert spec.source and spec.model and spec.stop and spec.eos_token
    assert all(stop in spec.text() or stop in spec.go_template() for stop in spec.stop)
    template = load_template(family=family)
    assert (template.bos_token, template.eos_token, template.stop_tokens) == (spec.bos_token, spec.eos_token, spec.stop)


@pytest.mark.parametrize("family", ["chatml", "llama3"])
def test_gguf_template_renders_as_jinja2_renders_its_text(tmp_path: Path, family: str) -> None:
    path = base_gguf(tmp_path, family)
    template = load_template(base=path)
    spec = FAMILIES[family]
    assert (template.bos_token, template.eos_token) == (spec.bos_token or "<|endoftext|>", spec.eos_token)
    messages = CONVERSATION
    for tools in (None, TOOLS):
        for prompt in (False, True):
            got = template.render(messages, tools=tools, add_generation_prompt=prompt, now=DAY)
            expected = reference_render(spec.text(), messages=messages, tools=tools, documents=None,
                                        add_generation_prompt=prompt, bos_token=template.bos_token,
                                        eos_token=template.eos_token)
            assert got == expected
    assert "café.py" in got and "Fichiers: lister, lire" in got  # tojson keeps non-ASCII as is


def test_tool_calls_and_outputs_render_in_qwen_form(tmp_path: Path) -> None:
    text = load_template(base=base_gguf(tmp_path, "chatml")).render(CONVERSATION)
    assert '<tool_call>\n{"name": "file_ops", "arguments": {"action": "list", "path": "."}}\n</tool_call>' in text
    assert "<|im_start|>user\n<tool_response>\ncafé.py\nmain.py\n</tool_response><|im_end|>" in text


@pytest.mark.parametrize(("make", "message"), [
    (lambda p: p / "missing.gguf", "cannot read"),
    (lambda p: write_not_gguf(p / "x.gguf"), "is not a GGUF file"),
    (lambda p: p, "is not a GGUF file: it is a folder"),
    (lambda p: write_model(p / "plain.gguf"), "has no `tokenizer.chat_template`"),
    (lambda p: base_gguf(p, "chatml", template="{% for %}"), "does not compile"),
    (lambda p: base_gguf(p, "chatml", template="x" * (1 << 20 + 1)), "more than mpl reads"),
])
def test_a_bad_base_is_a_chat_template_error(tmp_path: Path, make: t.Callable[[Path], Path], message: str) -> None:
    with pytest.raises(ChatTemplateError, match=message):
        load_template(base=make(tmp_path))


def test_unknown_family_and_wrong_arguments_are_errors(tmp_path: Path) -> None:
    with pytest.raises(ChatTemplateError, match="unknown template family `vicuna`; known: chatml, llama3"):
        load_template(family="vicuna")
    with pytest.raises(ChatTemplateError, match="not both or neither"):
        load_template()
    with pytest.raises(ChatTemplateError, match="not both or neither"):
        load_template(base=tmp_path / "x.gguf", family="chatml")


def test_raise_exception_and_render_failures_are_errors() -> None:
    gemma = load_template(family="gemma")
    with pytest.raises(ChatTemplateError, match="refuses the conversation: System role not supported"):
        gemma.render([{"role": "system", "content": "x"}, *SIMPLE])
    with pytest.raises(ChatTemplateError, match="failed to render"):
        ChatTemplate("{{ messages[0].content + 1 }}").render(SIMPLE)
    with pytest.raises(ChatTemplateError, match="failed to render: SecurityError"):
        ChatTemplate("{{ messages.append(1) }}").render(SIMPLE)  # the sandbox is immutable


def test_generation_blocks_and_loop_controls_compile() -> None:
    text = "{% for m in messages %}{% if loop.index > 1 %}{% break %}{% endif %}{% generation %}[{{ m.content }}]{% endgeneration %}{% endfor %}"
    assert ChatTemplate(text).render(SIMPLE) == "[What's your favourite LLM framework?]"


def test_strftime_now_defaults_to_today() -> None:
    rendered = ChatTemplate("{{ strftime_now('%Y') }}").render([])
    assert rendered == str(dt.datetime.now().year)


# -- MPL733: chat markers the base's vocabulary lacks --------------------------------------


def lint_labels(tmp_path: Path, body: str, *, family: str = "chatml", tokens: list[str] | None = None) -> list[str]:
    """MPL733 labels of a model over a GGUF base with `family`'s vocabulary (or `tokens`)."""
    from helpers import labels, run

    spec = FAMILIES[family]
    vocab = tokens if tokens is not None else ["<unk>", spec.bos_token or "<|endoftext|>", spec.eos_token, *spec.stop]
    write_model(tmp_path / "base.gguf", extra_kv={"tokenizer.ggml.tokens": vocab})
    text = f'model tuned from "./base.gguf" <\n{body}\n>\n'
    return [label for label in labels(run(text, base_dir=tmp_path)) if label.startswith("MPL733")]


def test_llama2_markers_on_a_chatml_base_are_named(tmp_path: Path) -> None:
    from helpers import run

    body = '  template "<s>[INST] {{ .Prompt }} [/INST] {{ .Response }}</s>"\n  stop "[INST]"'
    assert lint_labels(tmp_path, body) == ["MPL733@2:13", "MPL733@2:16", "MPL733@2:37", "MPL733@2:60", "MPL733@3:9"]
    messages = [d.message for d in run(f'model tuned from "./base.gguf" <\n{body}\n>\n', base_dir=tmp_path).diagnostics]
    assert "`[INST]` in stop string \"[INST]\" is not a token of the base `./base.gguf`: the model reads it as plain text" in messages


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_each_familys_own_template_and_stops_are_clean_on_its_vocabulary(tmp_path: Path, family: str) -> None:
    spec = FAMILIES[family]
    stops = ", ".join(json.dumps(s) for s in spec.stop)
    body = f"  template {json.dumps(spec.go_template())}\n  stop [{stops}]"
    assert lint_labels(tmp_path, body, family=family) == []


def test_inst_on_a_vocabulary_without_chat_tokens_is_plain_text_it_learned(tmp_path: Path) -> None:
    # Llama 2 and Mistral v0.1 have only <unk>, <s>, </s>: their [INST] is text, as trained.
    body = '  template "<s>[INST] {{ .Prompt }} [/INST]"\n  stop "[INST]"'
    assert lint_labels(tmp_path, body, tokens=["<unk>", "<s>", "</s>", "a"]) == []


def test_a_model_from_a_model_of_the_file_is_checked_against_the_first_base(tmp_path: Path) -> None:
    from helpers import labels, run

    write_model(tmp_path / "base.gguf", extra_kv={"tokenizer.ggml.tokens": ["<|im_start|>", "<|im_end|>"]})
    text = 'model a from "./base.gguf" <\n  stop "<|im_end|>"\n>\nmodel b from a <\n  stop "<|eot_id|>"\n>\n'
    assert labels(run(text, base_dir=tmp_path)) == ["MPL733@5:9"]


def test_no_vocabulary_no_warning(tmp_path: Path) -> None:
    from helpers import labels, run

    write_model(tmp_path / "base.gguf")  # no tokenizer.ggml.tokens
    text = 'model a from "./base.gguf" <\n  stop "<|im_end|>"\n>\nmodel r from "qwen2.5:7b" <\n  stop "[INST]"\n>\n'
    assert labels(run(text, base_dir=tmp_path)) == []


def test_allow_comment_silences_the_marker_lint(tmp_path: Path) -> None:
    assert lint_labels(tmp_path, '  stop "</s>"  # mpl: allow(MPL733)') == []


# -- mpl init --template fine-tuned ---------------------------------------------------------


def invoke(*args: str) -> t.Any:
    from typer.testing import CliRunner

    from mpl.cli import app

    return CliRunner().invoke(app, list(args))


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_fine_tuned_starter_for_each_family_checks_clean_and_compiles(tmp_path: Path, family: str) -> None:
    result = invoke("init", str(tmp_path / "new"), "--template", "fine-tuned", "--family", family)
    assert result.exit_code == 0, result.output
    source = tmp_path / "new" / "profiles.mprof"
    checked = invoke("check", str(source))
    assert checked.exit_code == 0 and "MPL" not in checked.output, checked.output  # not even a note
    assert invoke("compile", str(source), "-o", str(tmp_path / "out")).exit_code == 0
    modelfile = (tmp_path / "out" / "tuned.Modelfile").read_text(encoding="utf-8")
    spec = FAMILIES[family]
    assert f'TEMPLATE """{spec.go_template()}"""' in modelfile
    assert all(f"PARAMETER stop {stop}\n" in modelfile for stop in spec.stop)
    assert f"FROM {LIBRARY_BASES[family]}\n" in modelfile


def test_fine_tuned_starter_over_a_local_base_and_adapter(tmp_path: Path) -> None:
    from gguf_files import write_adapter

    base = base_gguf(tmp_path, "chatml", name="models/qwen.gguf")
    adapter = write_adapter(tmp_path / "lora" / "tuned-lora.gguf", architecture="qwen2")
    result = invoke("init", str(tmp_path / "proj"), "--template", "fine-tuned", "--base", str(base), "--adapter", str(adapter))
    assert result.exit_code == 0, result.output
    text = (tmp_path / "proj" / "profiles.mprof").read_text(encoding="utf-8")
    # the base as it is and the tuned model over it: the two arms of the comparison, differing by the adapter alone
    assert 'model base from "../models/qwen.gguf" <' in text and "model tuned from base <" in text
    assert text.count("  adapter ") == 1 and text.index('  adapter "../lora/tuned-lora.gguf"\n') > text.index("model tuned")
    assert 'stop ["<|im_start|>", "<|im_end|>"]' in text and "(the template of Qwen/Qwen2.5-7B-Instruct)" in text
    checked = invoke("check", str(tmp_path / "proj" / "profiles.mprof"))
    assert checked.exit_code == 0 and "MPL" not in checked.output, checked.output  # MPL605-607 and MPL733 quiet


@pytest.mark.parametrize(("args", "message"), [
    (["--template", "fine-tuned"], "name the base's chat format with --family"),
    (["--family", "chatml"], "--family, --base and --adapter go with --template fine-tuned"),
    (["--template", "fine-tuned", "--family", "vicuna"], "unknown template family `vicuna`"),
    (["--template", "fine-tuned", "--base", "missing.gguf"], "base `missing.gguf` is not a file"),
    (["--template", "fine-tuned", "--family", "chatml", "--adapter", "missing.gguf"], "adapter `missing.gguf` is not a file"),
])
def test_fine_tuned_starter_usage_errors_write_nothing(tmp_path: Path, args: list[str], message: str) -> None:
    result = invoke("init", str(tmp_path / "new"), *args)
    assert result.exit_code == 2 and message in result.output
    assert not (tmp_path / "new").exists()


def test_fine_tuned_starter_reads_the_family_from_the_base_or_asks(tmp_path: Path) -> None:
    plain = write_model(tmp_path / "plain.gguf", extra_kv={"tokenizer.ggml.tokens": ["<unk>", "<s>", "</s>"]})
    result = invoke("init", str(tmp_path / "a"), "--template", "fine-tuned", "--base", str(plain))
    assert result.exit_code == 2 and "cannot tell the chat format of" in result.output and "pass --family" in result.output
    gemma = base_gguf(tmp_path, "gemma", name="gemma.gguf")
    result = invoke("init", str(tmp_path / "b"), "--template", "fine-tuned", "--base", str(gemma), "--family", "chatml")
    assert result.exit_code == 2 and "has gemma chat tokens, not chatml's" in result.output
    result = invoke("init", str(tmp_path / "c"), "--template", "fine-tuned", "--base", str(write_not_gguf(tmp_path / "x.gguf")))
    assert result.exit_code == 2 and "is not a GGUF file" in result.output
    assert invoke("init", str(tmp_path / "d"), "--template", "fine-tuned", "--base", str(gemma)).exit_code == 0
    assert "Chat format: gemma" in (tmp_path / "d" / "profiles.mprof").read_text(encoding="utf-8")


@pytest.mark.parametrize("text", ["{{ 'a' * 10**10 }}", "{{ [1] * 100000000 }}", "{{ 7 ** 100000000 }}"])
def test_a_hostile_template_cannot_ask_for_gigabytes(text: str) -> None:
    with pytest.raises(ChatTemplateError, match="failed to render: SecurityError"):
        ChatTemplate(text).render([])
    assert ChatTemplate("{{ '  ' * 3 }}{{ 2 ** 10 }}").render([]) == "      1024"


def test_a_truncated_or_odd_vocabulary_is_an_error_or_silence_never_a_traceback(tmp_path: Path) -> None:
    from helpers import labels, run

    from mpl.compiler.modelinfo import gguf_vocabulary

    whole = base_gguf(tmp_path, "chatml").read_bytes()
    cut = whole.index(b"<|im_start|>") + 4  # inside the vocabulary
    (tmp_path / "cut.gguf").write_bytes(whole[:cut])
    with pytest.raises(ChatTemplateError, match="is not a GGUF file: its header cannot be read"):
        load_template(base=tmp_path / "cut.gguf")
    assert gguf_vocabulary(tmp_path / "cut.gguf") is None
    write_model(tmp_path / "ints.gguf", extra_kv={"tokenizer.ggml.tokens": [1, 2, 3], "tokenizer.chat_template": "{{ bos_token }}x"})
    assert gguf_vocabulary(tmp_path / "ints.gguf") is None
    assert load_template(base=tmp_path / "ints.gguf").render([]) == "x"  # no vocabulary: no bos_token
    text = 'model a from "./cut.gguf" <\n  stop "</s>"\n>\nmodel b from "./ints.gguf" <\n  stop "</s>"\n>\n'
    assert "MPL733" not in " ".join(labels(run(text, base_dir=tmp_path)))

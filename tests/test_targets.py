"""Targets: golden snapshots of every example × target, and what each consumer reads back."""

from __future__ import annotations

import json
import typing as t
from pathlib import Path

import pytest
import yaml
from pydantic import BaseModel, ConfigDict, Field

from helpers import EXAMPLES, compile_example, labels, run
from modelfile_reader import create_request, parse_modelfile
from mpl.pipeline import analyze
from mpl.targets import get_target
from mpl.catalog import ModelfileBehaviour, Version, catalog
from mpl.targets.base import typed
from mpl.targets.modelfile import file_name

EXAMPLE_NAMES = ["meton", "finetune", "legacy-ollama"]
TARGET_NAMES = ["options", "meton", "modelfile"]


@pytest.mark.parametrize("target", TARGET_NAMES)
@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_example_snapshot(name: str, target: str, snapshot) -> None:
    files = compile_example(name, target, out_dir=EXAMPLES)
    assert files == snapshot


# -- options ------------------------------------------------------------------


def test_options_have_ollama_json_types() -> None:
    doc = json.loads(compile_example("meton", "options")["meton.options.json"])
    precise = doc["profiles"]["precise"]["options"]
    assert precise["temperature"] == 0.0 and isinstance(precise["temperature"], float)
    assert precise["top_k"] == 40 and isinstance(precise["top_k"], int)
    assert precise["num_ctx"] == 32768 and precise["seed"] == -1
    assert doc["tasks"]["docs"]["profile"] == "explanation"
    assert doc["tasks"]["docs"]["options"]["repeat_penalty"] == 1.15
    assert doc["tasks"]["explain"]["options"]["repeat_penalty"] == 1.25
    assert doc["tasks"]["debug"]["options"]["mirostat"] == 2
    assert doc["tasks"]["debug"]["options"]["top_k"] == 20


def test_options_stop_is_a_list_of_strings() -> None:
    analysis = run('profile p < stop "x"; temperature 1 >', targets=("options",))
    doc = get_target("options").document(analysis.program)
    assert doc["profiles"]["p"]["options"] == {"stop": ["x"], "temperature": 1.0}


# -- meton --------------------------------------------------------------------


class MetonSettings(BaseModel):
    """Meton's ModelSettings, from its config.py: fourteen fields and their ranges."""

    model_config = ConfigDict(extra="forbid")
    temperature: float = Field(default=0.7, ge=0.0, le=2.0)
    max_tokens: int = Field(default=2048, ge=1)
    top_p: float = Field(default=0.9, ge=0.0, le=1.0)
    num_ctx: int = Field(default=4096, ge=1)
    top_k: int = Field(default=40, ge=0)
    min_p: float = Field(default=0.1, ge=0.0, le=1.0)
    repeat_penalty: float = Field(default=1.1, ge=0.0, le=2.0)
    repeat_last_n: int = Field(default=64, ge=-1)
    presence_penalty: float = Field(default=0.0, ge=-2.0, le=2.0)
    frequency_penalty: float = Field(default=0.0, ge=-2.0, le=2.0)
    mirostat: int = Field(default=0, ge=0, le=2)
    mirostat_tau: float = Field(default=5.0, ge=0.0)
    mirostat_eta: float = Field(default=0.1, ge=0.0, le=1.0)
    seed: int = Field(default=-1, ge=-1)


class MetonProfile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    description: str
    settings: MetonSettings


class MetonModels(BaseModel):
    settings: MetonSettings


class MetonConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    models: MetonModels | None = None
    parameter_profiles: dict[str, MetonProfile] = {}


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_meton_yaml_loads_into_metons_schema(name: str) -> None:
    (text,) = compile_example(name, "meton").values()
    config = MetonConfig.model_validate(yaml.safe_load(text))
    for key, profile in config.parameter_profiles.items():
        assert profile.name == key


def test_meton_spells_num_predict_as_max_tokens_and_adds_task_variants() -> None:
    doc = yaml.safe_load(compile_example("meton", "meton")["meton.yaml"])
    assert doc["models"]["settings"]["max_tokens"] == 2048
    assert doc["models"]["settings"]["temperature"] == 0.0
    assert "num_predict" not in doc["models"]["settings"]
    variant = doc["parameter_profiles"]["explanation-docs"]
    assert variant["settings"]["repeat_penalty"] == 1.15
    assert doc["parameter_profiles"]["explanation"]["settings"]["repeat_penalty"] == 1.25


def test_meton_variant_name_clash_is_reported() -> None:
    text = "tasks docs\nprofile a < temperature 0.5; when task is docs < temperature 0.2 > >\nprofile a-docs < temperature 0.1 >"
    assert "MPL506" in [d.code for d in run(text, targets=("meton",)).diagnostics]


# -- modelfile ----------------------------------------------------------------


def _compiled_model(name: str) -> tuple[t.Any, t.Any]:
    analysis = analyze(EXAMPLES / f"{name}.mprof")
    assert not analysis.has_errors
    return analysis.program, get_target("modelfile")


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_modelfiles_parse_into_the_request_the_source_meant(name: str, tmp_path: Path) -> None:
    """Each Modelfile, read by a port of Ollama's parser and CLI, gives the intended request."""
    program, target = _compiled_model(name)
    for output in target.emit(program, tmp_path):
        (tmp_path / output.path).write_text(output.content, encoding="utf-8")
    for model in program.models:
        path = tmp_path / file_name(model.name)
        request = create_request(parse_modelfile(path.read_text(encoding="utf-8")), tmp_path)
        # The reader is Ollama's current CLI: it drops the names deprecated by then.
        current = Version.parse("0.32.15")
        expected_params = {
            n: typed(n, s.value)
            for n, s in model.params.items()
            if catalog().modelfile_behaviour(n, current) is ModelfileBehaviour.ACCEPT
        }
        assert request.get("parameters", {}) == expected_params
        for n, v in request.get("parameters", {}).items():
            assert type(v) is type(expected_params[n]), n
        if model.system is not None:
            assert request["system"] == model.system.value
        if model.template is not None:
            assert request["template"] == model.template.value
        assert request.get("messages", []) == [{"role": m.role, "content": m.content} for m in model.messages]
        assert request.get("license", []) == [lic.value for lic in model.licenses]
        if model.source.kind == "path":
            assert "files" in request
        else:
            assert request["from"] == model.source.value
        if model.adapter is not None:
            assert list(request["adapters"]) == [model.adapter.path.name]


TRICKY = [
    "plain",
    "  leading and trailing spaces  ",
    "\ttab at the edges\t",
    'say "hi" now',
    '"quoted"',
    '"',
    "a\r\nb with CRLF",
    "line ending in quote\"\nnext",
    "# not a comment",
    "ends with three quotes \"\"\"",
    "",
]


@pytest.mark.parametrize("text", TRICKY)
def test_system_strings_are_byte_exact(text: str, tmp_path: Path) -> None:
    from mpl.compiler.parse import decode_string

    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")
    analysis = run(f'model m from "llama3" <\n  system "{escaped}"\n  stop "{escaped}"\n>', targets=("modelfile",))
    assert decode_string(f'"{escaped}"', 0, None)[0] == text
    if analysis.has_errors:
        # An empty stop string ends every generation (MPL726, parameters.md §6 rule 20).
        assert {d.code for d in analysis.diagnostics if d.is_error} == ({"MPL726"} if text == "" else {"MPL503"})
        return
    (output,) = get_target("modelfile").emit(analysis.program, tmp_path)
    request = create_request(parse_modelfile(output.content), tmp_path)
    assert request.get("system", "") == text
    assert request["parameters"]["stop"] == [text]


@pytest.mark.parametrize(
    ("body", "label"),
    [
        ('  system "a\\u00a0b"', "MPL503@2:10"),  # NBSP: dropped by Ollama's parser
        ('  system "abc\\"\\"\\"\\nmore"', "MPL503@2:10"),  # `"""` then a line break
        ('  message user "zero\\u200bwidth"', "MPL503@2:16"),
        ('  license "bell\\u0007"', "MPL503@2:11"),
        ('  stop ["ok", "tab\\u000bvt"]', "MPL503@2:15"),
    ],
)
def test_unrepresentable_string_is_an_error_at_its_span(body: str, label: str) -> None:
    analysis = run(f'model m from "llama3" <\n{body}\n>', targets=("modelfile",))
    assert [l for l in labels(analysis) if l.startswith("MPL503")] == [label]


def test_unrepresentable_adapter_path_is_an_error(tmp_path: Path) -> None:
    folder = tmp_path / "a\u00a0b"
    folder.mkdir()
    (folder / "lora.gguf").write_bytes((EXAMPLES / "adapters" / "meton-lora.gguf").read_bytes())
    analysis = run('model m from "llama3" < adapter "./a\\u00a0b/lora.gguf" >', targets=("modelfile",), base_dir=tmp_path)
    assert labels(analysis) == ["MPL503@1:33"]


def test_adapter_path_is_relative_to_the_output(tmp_path: Path) -> None:
    program, target = _compiled_model("meton")
    (output,) = target.emit(program, tmp_path / "deep" / "out")
    adapter_line = next(line for line in output.content.splitlines() if line.startswith("ADAPTER "))
    rel = adapter_line.removeprefix("ADAPTER ")
    assert rel.startswith("../")
    assert ((tmp_path / "deep" / "out") / rel).resolve() == (EXAMPLES / "adapters" / "meton-lora.gguf").resolve()


def test_no_trailing_comments_on_instruction_lines() -> None:
    for name in EXAMPLE_NAMES:
        for content in compile_example(name, "modelfile").values():
            for line in content.splitlines():
                if not line.startswith("#") and line.split(" ", 1)[0] in ("FROM", "PARAMETER", "ADAPTER"):
                    assert " #" not in line, line

"""Targets: golden snapshots of every example × target, and what each consumer reads back."""

from __future__ import annotations

import copy
import json
import typing as t
from pathlib import Path

import pytest
import typer
import yaml
from pydantic import BaseModel, ConfigDict, Field
from typer.testing import CliRunner

from helpers import EXAMPLES, compile_example, labels, run
from modelfile_reader import create_request, parse_modelfile
from mpl.pipeline import analyze
from mpl.targets import REGISTRY, Flag, Key, TargetInfo, get_target
from mpl.targets.base import OutputFile, Target
from mpl.catalog import ModelfileBehaviour, Version, catalog
from mpl.targets.base import typed
from mpl.targets.modelfile import file_name

EXAMPLE_NAMES = ["meton", "finetune", "legacy-ollama"]
TARGET_NAMES = [info.name for info in REGISTRY if info.files]


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


# -- the registry: a target owns its settings ------------------------------------


class ThrowawayTarget(Target):
    """A target registered by the tests below only: one text file per source."""

    name = "throwaway"
    title = "Throwaway"

    def __init__(self, label: str | None = None, loud: bool = False) -> None:
        self.label, self.loud = label, loud

    def check_settings(self, program: t.Any) -> None:
        if self.label == "nobody":
            raise ValueError("--throwaway-label: the file declares no model named `nobody`")

    def emit(self, program: t.Any, out_dir: Path) -> list[OutputFile]:
        text = f"{self.label} {'LOUD' if self.loud else 'quiet'} {sorted(program.profiles)}\n"
        return [OutputFile(f"{Path(program.source.path).stem}.throwaway.txt", text)]


THROWAWAY = TargetInfo(
    "throwaway", f"{__name__}:ThrowawayTarget", "STEM.throwaway.txt", default=False,
    table=(
        Key("dir", "path", "the folder its files go to", place="folder"),
        Key("label", "text", "the label written", argument="label"),
        Key("loud", "bool", "write loudly", argument="loud", silences=("MPL701",)),
    ),
    flags=(Flag("--throwaway-label", "Write this label.", key="label", metavar="TEXT"),),
)


@pytest.fixture
def throwaway(monkeypatch: pytest.MonkeyPatch) -> t.Iterator[typer.Typer]:
    """The registry with `throwaway` added, and the `mpl` app whose compile command is built from it."""
    import mpl.cli
    import mpl.config
    import mpl.targets

    monkeypatch.setattr(mpl.targets, "REGISTRY", (*REGISTRY, THROWAWAY))
    monkeypatch.setattr(mpl.config, "_MODEL", None)  # the configuration's model, built anew from the registry
    monkeypatch.setenv("MPL_CACHE_DIR", "")
    app = copy.copy(mpl.cli.app)
    commands = []
    for command in mpl.cli.app.registered_commands:
        command = copy.copy(command)
        if command.name == "compile":  # as `mpl.cli` builds it at import, from the registry in force now
            command.callback = mpl.cli._with_target_flags(mpl.cli.compile_)
        commands.append(command)
    app.registered_commands = commands
    yield app
    get_target.cache_clear()  # (monkeypatch puts the registry and the configuration's model back)


def _project(tmp_path: Path, table: str) -> Path:
    (tmp_path / "mpl.toml").write_text(f'sources = ["p.mprof"]\n\n[targets.throwaway]\n{table}')
    (tmp_path / "p.mprof").write_text("profile calm < temperature 0.5 >\nprofile bold < temperature 1.5 >\n")
    return tmp_path / "p.mprof"


def test_a_registered_target_s_table_is_validated_from_its_declaration(throwaway: typer.Typer, tmp_path: Path) -> None:
    from mpl.config import ConfigError, load_config

    source = _project(tmp_path, 'dir = "gen"\nlabel = "hello"\nloud = true\n')
    config = load_config([source])
    assert config.targets == ("throwaway",) and config.setting("throwaway", "label") == "hello"
    assert config.switched_on("throwaway", "loud") and config.silenced() == ["MPL701"]
    _project(tmp_path, 'loud = "yes"\nlabl = "x"\n')
    with pytest.raises(ConfigError) as caught:
        load_config([source])
    assert [(d.code, d.span.start > 0) for d in caught.value.diagnostics] == [("MPL006", True)] * 2
    assert "did you mean `label`?" in " ".join(str(d.help) for d in caught.value.diagnostics)


def test_a_registered_target_s_files_go_where_its_table_says(throwaway: typer.Typer, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    source = _project(tmp_path, 'dir = "gen"\nlabel = "hello"\nloud = true\n')
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(throwaway, ["compile"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "gen" / "p.throwaway.txt").read_text() == "hello LOUD ['bold', 'calm']\n"
    result = CliRunner().invoke(throwaway, ["compile", str(source), "-o", "elsewhere"])  # -o stands for its place
    assert result.exit_code == 0 and (tmp_path / "elsewhere" / "p.throwaway.txt").is_file()


def test_a_registered_target_s_flag_sets_its_key_for_one_run(throwaway: typer.Typer, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    _project(tmp_path, 'label = "hello"\n')
    monkeypatch.chdir(tmp_path)
    help_text = CliRunner().invoke(throwaway, ["compile", "--help"]).output
    assert "--throwaway-label TEXT" in help_text and "Write this label." in help_text
    result = CliRunner().invoke(throwaway, ["compile", "--throwaway-label", "bye"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "mpl-out" / "p.throwaway.txt").read_text() == "bye quiet ['bold', 'calm']\n"
    result = CliRunner().invoke(throwaway, ["compile", "--throwaway-label", "bye", "-t", "options"])
    assert result.exit_code == 2 and "--throwaway-label needs the throwaway target" in result.output
    # a setting that does not fit the file is a usage error naming the flag, or the key that set it
    result = CliRunner().invoke(throwaway, ["compile", "--throwaway-label", "nobody"])
    assert result.exit_code == 2 and "mpl: error: --throwaway-label: the file declares no model" in result.output
    _project(tmp_path, 'label = "nobody"\n')
    result = CliRunner().invoke(throwaway, ["compile"])
    assert result.exit_code == 2 and "`targets.throwaway.label`: the file declares no model" in result.output


def test_the_docs_list_every_target_key_as_declared() -> None:
    """docs/configuration.md's per-target table is the registry's declarations, row for row."""
    text = (Path(__file__).parent.parent / "docs" / "configuration.md").read_text()
    rows = [line for line in text.splitlines() if line.startswith("| `targets.")]
    declared = [f"| `targets.{info.name}.{key.name}` | {key.help} |" for info in REGISTRY for key in info.table]
    assert rows == declared

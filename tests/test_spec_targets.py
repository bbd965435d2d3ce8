"""An adversarial audit of the targets against DESIGN.md and ollama-facts.md.

The Modelfile target is read back by `modelfile_reader` (a port of Ollama's
parser and CLI, ollama-facts.md §1-§2); the Meton target is loaded into a
model of Meton's settings; the options target is compared to Ollama's JSON
types; the CLI is driven as a user would.
"""

from __future__ import annotations

import json
import os
import shutil
import typing as t
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from helpers import EXAMPLES, labels, run
from modelfile_reader import create_request, go_parse_float32, go_parse_int, parse_modelfile
from mpl.cli import app
from mpl.targets import get_target
from mpl.targets.modelfile import file_name
from test_spec_language import DESIGN_EXAMPLE
from test_targets import MetonConfig

runner = CliRunner()


def emit(text: str, target: str, out_dir: Path, *, base_dir: Path | None = None, ollama: str | None = None) -> dict[str, str]:
    a = run(text, targets=(target,), base_dir=base_dir or out_dir, ollama=ollama)
    assert not a.has_errors, labels(a)
    return {f.path: f.content for f in get_target(target).emit(a.program, out_dir)}


def modelfile_request(text: str, tmp_path: Path, *, name: str = "m", base_dir: Path | None = None, out: Path | None = None) -> dict[str, t.Any]:
    out_dir = out or tmp_path
    files = emit(text, "modelfile", out_dir, base_dir=base_dir or tmp_path)
    content = files[file_name(name)]
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / file_name(name)).write_text(content, encoding="utf-8")
    return create_request(parse_modelfile(content), out_dir)


def modelfile_codes(text: str, **kw) -> list[str]:
    return labels(run(text, targets=("modelfile",), **kw))


# -- Modelfile: strings round-trip (§1.3-§1.8) ---------------------------------------------

ROUND_TRIP = [
    "plain",
    "  leading and trailing  ",
    "\ttab edges\t",
    "line1\nline2",
    "\nstarts with newline",
    "ends with newline\n",
    "cr\rin the middle",
    "crlf\r\nline",
    '"quoted"',
    '"',
    '""',
    '"""',
    'say "hi" now',
    'a """ b',
    '"""a',
    'ends with """',
    "# not a comment",
    "x # y",
    "'single'",
    "",
    " ",
    "emoji 😀 and é and 日本",
    "variation \u2764\ufe0f selector",
    "back\\slash \\n literal",
    "{{ .System }}\n{{ .Prompt }}",
    "mixed \"\"\" inner \"\"\" quotes",
    "\n\n",
    "trailing quote\"",
    "a" * 5000,
]


@pytest.mark.parametrize("value", ROUND_TRIP)
def test_system_round_trips(value: str, tmp_path: Path) -> None:
    source = f'model m from "x" < system "{_escape(value)}" >'
    if value == "":
        source = 'model m from "x" < system "" >'  # MPL505 is a warning; the value still round-trips
    req = modelfile_request(source, tmp_path)
    assert req.get("system", "") == value


@pytest.mark.parametrize("value", [v for v in ROUND_TRIP if v])
def test_every_instruction_round_trips(value: str, tmp_path: Path) -> None:
    esc = _escape(value)
    source = f'''model m from "x" <
  template "{esc}"
  message user "{esc}"
  message assistant "{esc}"
  message system "{esc}"
  license "{esc}"
  stop ["{esc}", "second"]
>'''
    req = modelfile_request(source, tmp_path)
    assert req["template"] == value
    assert req["messages"] == [{"role": r, "content": value} for r in ("user", "assistant", "system")]
    assert req["license"] == [value]
    assert req["parameters"]["stop"] == [value, "second"]


def _escape(value: str) -> str:
    out = []
    for ch in value:
        out.append({"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}.get(ch, ch))
    return "".join(out)


@pytest.mark.parametrize(
    ("literal", "what"),
    [
        ("a\\u00a0b", "NBSP"),
        ("a\\u200db", "ZWJ"),
        ("a\\u200bb", "ZWSP"),
        ("a\\u00adb", "soft hyphen"),
        ("a\\u0001b", "control"),
        ("a\\u007fb", "DEL"),
        ("a\\u0085b", "C1"),
        ("a\\u001bb", "ESC"),
        ("a\\u000bb", "VT"),
        ("a\\u000cb", "FF"),
        ("a\\0b", "NUL"),
        ("a\\u2028b", "line separator"),
        ("a\\u3000b", "ideographic space"),
        ("a\\ue000b", "private use"),
        ("a\\u2060b", "word joiner"),
        ("a\\ufeffb", "BOM"),
        ('abc\\"\\"\\"\\ndef', "triple quote before LF"),
        ('abc\\"\\"\\"  \\r\\ndef', "triple quote, blanks, CRLF"),
        ('\\"\\"\\"\\n', "triple quote then newline"),
    ],
)
def test_unrepresentable_strings_are_errors_at_span(literal: str, what: str) -> None:
    text = f'model m from "x" <\n  system "{literal}"\n>'
    got = modelfile_codes(text)
    assert "MPL503@2:10" in got, (what, got)
    a = run(text, targets=("modelfile",))
    assert a.has_errors


@pytest.mark.parametrize("stmt", ['template "a\\u200db"', 'license "\\u00a0"', 'message user "x\\u0000"', 'stop "a\\u200bb"', 'stop ["ok", "a\\u200bb"]'])
def test_unrepresentable_in_other_instructions(stmt: str) -> None:
    got = modelfile_codes(f'model m from "x" < {stmt} >')
    assert any(l.startswith("MPL503") for l in got), got


def test_unrepresentable_stop_from_profile_points_at_profile() -> None:
    got = modelfile_codes('profile p < stop "a\\u200bb" >\nmodel m from "x" < use p >')
    assert any(l.startswith("MPL503@1:") for l in got), got


def test_unrepresentable_only_matters_for_modelfile() -> None:
    a = run('profile p < stop "a\\u200bb" >', targets=("options",))
    assert not a.has_errors


def test_tool_message_is_error_for_modelfile() -> None:
    got = modelfile_codes('model m from "x" < message tool "{}" >')
    assert "MPL504@1:28" in got
    assert run('model m from "x" < message tool "{}" >', targets=("modelfile",)).has_errors


def test_one_parameter_line_per_stop_element(tmp_path: Path) -> None:
    files = emit('model m from "x" < stop ["a", "b b", " c"] >', "modelfile", tmp_path)
    lines = [l for l in files["m.Modelfile"].splitlines() if l.startswith("PARAMETER")]
    assert lines == ["PARAMETER stop a", "PARAMETER stop b b", 'PARAMETER stop """ c"""']


def test_no_trailing_comments_and_one_from(tmp_path: Path) -> None:
    files = emit('model m from "qwen2.5-coder:7b" < temperature 0.5; top_k 3 >', "modelfile", tmp_path)
    lines = files["m.Modelfile"].splitlines()
    body = [l for l in lines if l and not l.startswith("#")]
    assert body == ["FROM qwen2.5-coder:7b", "PARAMETER temperature 0.5", "PARAMETER top_k 3"]
    assert not any("#" in l for l in body)


@pytest.mark.parametrize(
    ("stmt", "name", "expected"),
    [
        ("num_ctx 1000000", "num_ctx", 1000000),
        ("seed 1234567", "seed", 1234567),
        ("seed 9223372036854775807", "seed", 9223372036854775807),
        ("num_predict -1", "num_predict", -1),
        ("top_k +5", "top_k", 5),
        ("temperature 1", "temperature", 1.0),
        ("temperature 0", "temperature", 0.0),
        ("min_p 1e-5", "min_p", 1e-05),
        ("min_p 0.00001234", "min_p", 1.234e-05),
        ("presence_penalty 1e10", "presence_penalty", 1e10),
        ("repeat_penalty 1.1", "repeat_penalty", 1.1),
        ("use_mmap false", "use_mmap", False),
        ("use_mmap true", "use_mmap", True),
    ],
)
def test_numbers_parse_with_go(stmt: str, name: str, expected, tmp_path: Path) -> None:
    files = emit(f'model m from "x" < {stmt} >', "modelfile", tmp_path)
    (line,) = [l for l in files["m.Modelfile"].splitlines() if l.startswith(f"PARAMETER {name} ")]
    raw = line.split(" ", 2)[2]
    assert "inf" not in raw.lower() and "nan" not in raw.lower()
    if isinstance(expected, bool):
        assert raw == str(expected).lower()
    elif isinstance(expected, int):
        assert go_parse_int(raw) == expected and "e" not in raw and "." not in raw
    else:
        assert abs(go_parse_float32(raw) - expected) <= abs(expected) * 1e-6
    req = create_request(parse_modelfile(files["m.Modelfile"]), tmp_path)
    assert req["parameters"][name] == pytest.approx(expected) if not isinstance(expected, bool) else req["parameters"][name] is expected


@pytest.mark.parametrize("stmt", ["temperature 1e39", "temperature -1e39", "temperature 1e400", "seed 1e400"])
def test_non_finite_or_huge_numbers_refused(stmt: str) -> None:
    a = run(f'model m from "x" < {stmt} >')
    assert a.has_errors


def test_from_and_adapter_paths_relative_to_output(tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "adapters").mkdir(parents=True)
    shutil.copy(EXAMPLES / "adapters" / "meton-lora.gguf", src / "adapters" / "lora.gguf")
    shutil.copy(EXAMPLES / "adapters" / "meton-lora.gguf", src / "base.gguf")
    out = tmp_path / "deep" / "out"
    out.mkdir(parents=True)
    text = 'model m from "./base.gguf" < adapter "adapters/lora.gguf" >'
    files = emit(text, "modelfile", out, base_dir=src)
    lines = [l for l in files["m.Modelfile"].splitlines() if not l.startswith("#")]
    assert lines[0] == "FROM ../../src/base.gguf"
    assert lines[1] == "ADAPTER ../../src/adapters/lora.gguf"
    (out / "m.Modelfile").write_text(files["m.Modelfile"])
    req = create_request(parse_modelfile(files["m.Modelfile"]), out)
    assert list(req["files"]) == ["base.gguf"] and list(req["adapters"]) == ["lora.gguf"]
    assert "from" not in req


def test_adapter_path_with_spaces_round_trips(tmp_path: Path) -> None:
    (tmp_path / "my adapters").mkdir()
    shutil.copy(EXAMPLES / "adapters" / "meton-lora.gguf", tmp_path / "my adapters" / " lora .gguf")
    req = modelfile_request('model m from "x" < adapter "my adapters/ lora .gguf" >', tmp_path)
    assert list(req["adapters"]) == [" lora .gguf"]


def test_from_other_model_uses_its_name(tmp_path: Path) -> None:
    files = emit('model "team/base:v1" from "llama3"\nmodel m from "team/base:v1" < system "s" >', "modelfile", tmp_path)
    assert "FROM team/base:v1" in files["m.Modelfile"].splitlines()


def test_message_roles_and_order(tmp_path: Path) -> None:
    req = modelfile_request('model m from "x" < message system "s"; message user "u"; message assistant "a"; message user "u2" >', tmp_path)
    assert [m["role"] for m in req["messages"]] == ["system", "user", "assistant", "user"]


def test_requires_emitted_and_accepted(tmp_path: Path) -> None:
    req = modelfile_request('model m from "x" < requires "v0.14.0" >', tmp_path)
    assert req["requires"] == "0.14.0"


def test_design_example_modelfile(tmp_path: Path) -> None:
    (tmp_path / "adapters").mkdir()
    shutil.copy(EXAMPLES / "adapters" / "meton-lora.gguf", tmp_path / "adapters" / "meton-lora.gguf")
    out = tmp_path / "build"
    req = modelfile_request(DESIGN_EXAMPLE, tmp_path, name="meton-custom", base_dir=tmp_path, out=out)
    assert req["from"] == "qwen2.5-coder:7b"
    assert list(req["adapters"]) == ["meton-lora.gguf"]
    assert req["system"] == "You are Meton, a local coding assistant.\n"
    assert req["messages"] == [{"role": "user", "content": "Is Toronto in Canada?"}, {"role": "assistant", "content": "yes"}]
    assert req["parameters"] == {
        "num_ctx": 16384, "num_predict": 2048, "seed": -1, "temperature": 0.0, "top_k": 40,
        "min_p": pytest.approx(0.1), "repeat_penalty": pytest.approx(1.1), "stop": ["<|im_end|>"],
    }


# -- Meton -----------------------------------------------------------------------------


def meton_doc(text: str, tmp_path: Path) -> dict[str, t.Any]:
    (content,) = emit(text, "meton", tmp_path).values()
    doc = yaml.safe_load(content)
    MetonConfig.model_validate(doc)
    return doc


def subset(settings: dict[str, t.Any], expected: dict[str, t.Any]) -> dict[str, t.Any]:
    """The keys a test names, after checking that all fourteen of Meton's are written."""
    assert len(settings) == 14
    return {key: settings[key] for key in expected}


def test_meton_design_example(tmp_path: Path) -> None:
    doc = meton_doc(DESIGN_EXAMPLE.replace("  when task is docs < repeat_penalty 1.15 >\n", "  when task is docs < repeat_penalty 1.15 >\n").split("model meton-custom")[0].replace("mirostat 2; ", ""), tmp_path)
    expected = {"num_ctx": 32768, "max_tokens": 2048, "seed": -1, "temperature": 0.0, "top_k": 40, "min_p": 0.1, "repeat_penalty": 1.1}
    assert subset(doc["models"]["settings"], expected) == expected
    profiles = doc["parameter_profiles"]
    assert set(profiles) == {"base", "precise", "debugging", "explanation", "explanation-docs"}
    for key, p in profiles.items():
        assert p["name"] == key and isinstance(p["description"], str)
    assert profiles["base"]["description"] == "Shared defaults"
    assert profiles["debugging"]["description"] == ""
    assert profiles["explanation-docs"]["settings"]["repeat_penalty"] == 1.15
    assert profiles["explanation"]["settings"]["repeat_penalty"] == 1.25


def test_meton_design_example_with_mirostat_is_fine_for_meton(tmp_path: Path) -> None:
    # mirostat is one of Meton's fourteen parameters; under 0.6 it is a real Ollama option too
    text = DESIGN_EXAMPLE.replace('ollama "0.12"', 'ollama "0.6"').split("model meton-custom")[0]
    doc = meton_doc(text, tmp_path)
    assert doc["parameter_profiles"]["debugging"]["settings"]["mirostat"] == 2


def test_meton_float_types(tmp_path: Path) -> None:
    doc = meton_doc("default p\nprofile p < temperature 1; top_p 1; num_predict 5 >", tmp_path)
    s = doc["models"]["settings"]
    assert subset(s, {"temperature": 1.0, "top_p": 1.0, "max_tokens": 5}) == {"temperature": 1.0, "top_p": 1.0, "max_tokens": 5}
    assert isinstance(s["temperature"], float) and isinstance(s["max_tokens"], int)


@pytest.mark.parametrize(
    "stmt",
    ["typical_p 0.9", "num_keep 4", 'stop "x"', "num_batch 8", "num_gpu 1", "main_gpu 0", "use_mmap false", "num_thread 4", "draft_num_predict 2"],
)
def test_meton_cannot_hold_other_params(stmt: str) -> None:
    a = run(f"profile p < {stmt} >", targets=("meton",))
    assert "MPL501@1:13" in labels(a) and a.has_errors


@pytest.mark.parametrize(
    "stmt",
    [
        "temperature 2.5", "num_predict -1", "num_predict 0", "num_ctx 0", "top_k -1",
        "repeat_penalty 2.5", "presence_penalty 2.5", "presence_penalty -2.5", "frequency_penalty 3",
        "seed -2", "repeat_last_n -2",
    ],
)
def test_meton_ranges(stmt: str) -> None:
    a = run(f'ollama "0.6"\nprofile p < {stmt} >', targets=("meton",))
    assert a.has_errors, labels(a)
    assert any(l.startswith(("MPL502@2:", "MPL303@2:")) for l in labels(a)), labels(a)
    value_col = 13 + len(stmt.split()[0]) + 1
    assert f"MPL502@2:{value_col}" in labels(a) or f"MPL303@2:{value_col}" in labels(a), labels(a)


@pytest.mark.parametrize(
    "stmt",
    ["temperature 2", "temperature 0", "num_predict 1", "num_ctx 1", "top_k 0", "repeat_penalty 2", "presence_penalty -2",
     "frequency_penalty 2", "seed -1", "repeat_last_n -1", "mirostat 2", "mirostat_tau 0", "mirostat_eta 1", "min_p 1", "top_p 0"],
)
def test_meton_range_edges_accepted(stmt: str) -> None:
    a = run(f'ollama "0.6"\nprofile p < {stmt} >', targets=("meton",))
    assert not [l for l in labels(a) if l.startswith(("MPL501", "MPL502"))], labels(a)


def test_meton_range_on_inherited_value_reported() -> None:
    a = run("profile a < temperature 2.5 >\nprofile b extends a < >", targets=("meton",))
    assert labels(a).count("MPL502@1:25") >= 1


def test_meton_range_in_when_variant_reported() -> None:
    a = run("tasks t\nprofile a < temperature 0.5; when task is t < temperature 2.5 > >", targets=("meton",))
    assert any(l.startswith("MPL502@2:") for l in labels(a)), labels(a)


def test_meton_models_settings_only_with_default(tmp_path: Path) -> None:
    doc = meton_doc("profile p < temperature 0.5 >", tmp_path)
    assert "models" not in doc or doc["models"] is None
    assert doc["parameter_profiles"]["p"]["description"] == ""


def test_meton_variant_only_when_different(tmp_path: Path) -> None:
    doc = meton_doc("tasks a, b\nprofile p < top_k 3; when task is a < top_k 3 >; when task is b < top_k 4 > >", tmp_path)
    assert set(doc["parameter_profiles"]) == {"p", "p-b"}
    assert subset(doc["parameter_profiles"]["p-b"]["settings"], {"top_k": 4}) == {"top_k": 4}


def test_meton_variant_of_child_with_parent_when(tmp_path: Path) -> None:
    doc = meton_doc("tasks a\nprofile p < top_k 3; when task is a < top_k 9 > >\nprofile c extends p < seed 1 >", tmp_path)
    assert subset(doc["parameter_profiles"]["c-a"]["settings"], {"top_k": 9, "seed": 1}) == {"top_k": 9, "seed": 1}


# -- options -----------------------------------------------------------------------------


def options_doc(text: str, tmp_path: Path) -> dict[str, t.Any]:
    (content,) = emit(text, "options", tmp_path).values()
    return json.loads(content)


def test_options_design_example(tmp_path: Path) -> None:
    (tmp_path / "adapters").mkdir()
    shutil.copy(EXAMPLES / "adapters" / "meton-lora.gguf", tmp_path / "adapters" / "meton-lora.gguf")
    doc = options_doc(DESIGN_EXAMPLE, tmp_path)
    assert doc["default"] == "precise"
    assert doc["profiles"]["debugging"]["options"] == {
        "num_ctx": 32768, "num_predict": 2048, "seed": -1, "temperature": 0.0, "top_k": 20, "min_p": 0.1,
        "repeat_penalty": 1.1, "mirostat": 2,
    }
    assert doc["profiles"]["base"]["description"] == "Shared defaults"
    assert set(doc["tasks"]) == {"general", "debug", "explain", "refactor", "review", "docs", "creative"}
    assert doc["tasks"]["docs"] == {"profile": "explanation", "options": {**doc["profiles"]["explanation"]["options"], "repeat_penalty": 1.15}}
    assert doc["tasks"]["creative"]["profile"] == "precise"
    assert doc["tasks"]["creative"]["options"] == doc["profiles"]["precise"]["options"]


def test_options_json_types(tmp_path: Path) -> None:
    doc = options_doc('profile p < temperature 0; top_p 1; top_k 40; seed -1; num_ctx 4096; use_mmap false; stop "x"; repeat_penalty 1 >', tmp_path)
    opts = doc["profiles"]["p"]["options"]
    assert type(opts["temperature"]) is float and type(opts["top_p"]) is float and type(opts["repeat_penalty"]) is float
    assert type(opts["top_k"]) is int and type(opts["seed"]) is int and type(opts["num_ctx"]) is int
    assert opts["use_mmap"] is False and opts["stop"] == ["x"]
    text = emit('profile p < temperature 0 >', "options", tmp_path)
    assert '"temperature": 0.0' in next(iter(text.values()))


def test_options_task_without_profile_and_no_default(tmp_path: Path) -> None:
    a = run("tasks a\nprofile p < >", targets=("options",))
    assert not a.has_errors
    doc = get_target("options").document(a.program)
    assert doc["tasks"]["a"] == {"profile": None, "options": None}


# -- CLI -----------------------------------------------------------------------------------


def invoke(*args: str):
    result = runner.invoke(app, list(args))
    assert "Traceback" not in result.output, result.output
    return result


@pytest.fixture
def design_file(tmp_path: Path) -> Path:
    (tmp_path / "adapters").mkdir()
    shutil.copy(EXAMPLES / "adapters" / "meton-lora.gguf", tmp_path / "adapters" / "meton-lora.gguf")
    path = tmp_path / "profiles.mprof"
    path.write_text(DESIGN_EXAMPLE)
    return path


def test_cli_check_exit_codes(design_file: Path, tmp_path: Path) -> None:
    assert invoke("check", str(design_file)).exit_code == 0
    assert invoke("check", "--strict", str(design_file)).exit_code == 1  # the mirostat warning
    bad = tmp_path / "bad.mprof"
    bad.write_text("profile p < top_p 1.5 >\n")
    assert invoke("check", str(bad)).exit_code == 1
    assert invoke("check", str(tmp_path / "missing.mprof")).exit_code == 2


def test_cli_check_json(design_file: Path) -> None:
    result = invoke("check", "--format", "json", str(design_file))
    doc = json.loads(result.stdout)
    diags = doc["diagnostics"] if isinstance(doc, dict) else doc
    assert any(d["code"] == "MPL401" for d in diags)


def test_cli_ollama_option(design_file: Path) -> None:
    result = invoke("check", "--ollama", "0.6", "--format", "json", str(design_file))
    doc = json.loads(result.stdout)
    assert not any(d["code"].startswith("MPL40") for d in doc["diagnostics"])


def test_cli_compile_writes_all_targets(design_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = invoke("compile", str(design_file), "-o", str(out))
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["meton-custom.Modelfile", "profiles.meton.yaml", "profiles.options.json"]
    assert not [p for p in out.iterdir() if p.name.startswith(".")]


def test_cli_compile_writes_nothing_on_error(tmp_path: Path) -> None:
    src = tmp_path / "p.mprof"
    src.write_text("profile p < temperature 0.5 >\nmodel m from \"x\" < system \"a\\u200db\" >\n")
    out = tmp_path / "out"
    out.mkdir()
    (out / "p.options.json").write_text("old")
    result = invoke("compile", str(src), "-o", str(out))
    assert result.exit_code == 1
    assert sorted(p.name for p in out.iterdir()) == ["p.options.json"]
    assert (out / "p.options.json").read_text() == "old"


def test_cli_compile_single_target_ignores_other_targets_errors(tmp_path: Path) -> None:
    src = tmp_path / "p.mprof"
    src.write_text('profile p < typical_p 0.9 >\n')  # Meton cannot hold typical_p
    out = tmp_path / "out"
    assert invoke("compile", str(src), "-o", str(out), "--target", "options").exit_code == 0
    assert (out / "p.options.json").exists()
    assert invoke("compile", str(src), "-o", str(tmp_path / "o2"), "--target", "meton").exit_code == 1
    assert not (tmp_path / "o2").exists() or not list((tmp_path / "o2").iterdir())


def test_cli_compile_replaces_atomically(design_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    assert invoke("compile", str(design_file), "-o", str(out)).exit_code == 0
    before = {p.name: p.read_text() for p in out.iterdir()}
    calls: list[tuple[str, str]] = []
    real = os.replace

    def spy(a, b):
        calls.append((str(a), str(b)))
        return real(a, b)

    monkeypatch.setattr(os, "replace", spy)
    design_file.write_text(DESIGN_EXAMPLE.replace("temperature 0.5", "temperature 0.6"))
    assert invoke("compile", str(design_file), "-o", str(out)).exit_code == 0
    assert {Path(b).name for _, b in calls} == set(before)
    assert all(Path(a).parent == out and Path(a).name.startswith(".") for a, _ in calls)
    assert json.loads((out / "profiles.options.json").read_text())["profiles"]["explanation"]["options"]["temperature"] == 0.6


def test_cli_binary_input_no_traceback(tmp_path: Path) -> None:
    src = tmp_path / "b.mprof"
    src.write_bytes(b"\x00\x01\x02profile")
    result = invoke("check", str(src))
    assert result.exit_code == 1

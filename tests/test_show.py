"""Provenance: `mpl show`, `mpl diff` and `mpl check --explain-defaults`."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from helpers import EXAMPLES
from mpl.cli import app

METON = str(EXAMPLES / "meton.mprof")


def invoke(*args: str):
    result = CliRunner().invoke(app, list(args))
    assert "Traceback" not in result.output
    return result


def show_json(*args: str) -> dict:
    result = invoke("show", METON, *args, "--format", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_every_parameter_of_debugging_names_where_it_came_from() -> None:
    payload = show_json("debugging", "--ollama", "0.6")
    params = {p["name"]: p for p in payload["parameters"]}
    assert payload["ollama"] == "0.6.0" and payload["subject"] == {"kind": "profile", "name": "debugging", "task": None}
    for name in ("temperature", "top_k", "min_p", "repeat_penalty", "mirostat", "num_ctx", "num_predict", "seed"):
        assert params[name]["source"] == "set" and params[name]["line"] and params[name]["profile"], name
    assert (params["top_k"]["line"], params["top_k"]["profile"]) == (46, "debugging")
    assert (params["temperature"]["line"], params["temperature"]["profile"]) == (23, "precise")
    assert params["top_k"]["inert"] and "overridden by `mirostat 2`" in params["top_k"]["notes"]
    assert params["min_p"]["inert"] and params["repeat_penalty"]["inert"]
    assert not params["temperature"]["inert"] and not params["num_ctx"]["inert"]
    assert params["top_p"]["source"] == "default" and params["top_p"]["value"] == 0.9


def test_mirostat_itself_is_flagged_ignored_on_the_newest_version() -> None:
    params = {p["name"]: p for p in show_json("debugging", "--ollama", "0.32.15")["parameters"]}
    assert params["mirostat"]["inert"] and "removed in Ollama 0.7.0" in params["mirostat"]["notes"][0]
    assert not any("mirostat" in n for n in params["top_k"]["notes"])
    assert "mirostat_tau" not in params  # the newest version has no such option, not even as a default


def test_text_table_is_plain_off_a_terminal() -> None:
    result = invoke("show", METON, "debugging", "--ollama", "0.6")
    lines = result.output.splitlines()
    assert lines[0] == "profile debugging at Ollama 0.6.0 (--ollama)"
    assert lines[1].split() == ["parameter", "value", "set", "by", "note"]
    (top_k,) = [line for line in lines if line.startswith("top_k ")]
    assert "meton.mprof:46 (profile debugging)" in top_k and "INERT" in top_k and "\x1b" not in result.output


def test_rich_table_on_a_terminal() -> None:
    from mpl.pipeline import analyze
    from mpl.provenance import find_subject
    from mpl.show import render_show

    program = analyze(EXAMPLES / "meton.mprof").program
    assert "top_k" in render_show(program, find_subject(program, "debugging"), rich=True)


def test_task_and_model_subjects() -> None:
    docs = {p["name"]: p for p in show_json("task:docs")["parameters"]}
    assert docs["repeat_penalty"]["value"] == 1.15 and "when task" in docs["repeat_penalty"]["origin"]
    assert show_json("explanation", "--task", "docs")["subject"]["task"] == "docs"
    model = show_json("meton-custom")
    params = {p["name"]: p for p in model["parameters"]}
    assert model["subject"]["kind"] == "model" and params["num_ctx"]["value"] == 16384
    assert params["temperature"]["profile"] == "precise" and params["stop"]["value"] == ["<|im_end|>"]


def test_unknown_names_exit_2_with_did_you_mean() -> None:
    result = invoke("show", METON, "debuging")
    assert result.exit_code == 2 and "did you mean `debugging`?" in result.output
    assert invoke("show", METON, "task:dcos").exit_code == 2
    assert invoke("diff", METON, "precise", "nope").exit_code == 2


def test_diff_shows_provenance_on_both_sides() -> None:
    result = invoke("diff", METON, "task:docs", "explanation", "--format", "json")
    payload = json.loads(result.output)
    (change,) = payload["differences"]
    assert change["name"] == "repeat_penalty"
    assert (change["a"]["value"], change["a"]["line"], change["b"]["value"], change["b"]["line"]) == (1.15, 54, 1.25, 52)
    text = invoke("diff", METON, "precise", "debugging", "--ollama", "0.6").output
    assert "mirostat" in text and "20 (inert)" in text
    assert "same parameters" in invoke("diff", METON, "precise", "precise").output


def test_explain_defaults_says_what_the_target_uses() -> None:
    text = invoke("check", METON, "--explain-defaults").output
    assert "Defaults Ollama 0.12.0 uses" in text
    (line,) = [l for l in text.splitlines() if l.strip().startswith("repeat_penalty") and "base" not in l][:1]
    assert "1.1" in line and "0.32.10" in line and "MPL730" in line
    payload = json.loads(invoke("check", METON, "--format", "json", "--explain-defaults").output)
    base = {r["parameter"]: r for r in payload["defaults"]["profiles"]["base"]}
    assert base["repeat_penalty"]["default"] == 1.1 and base["repeat_penalty"]["drifts"]
    assert "repeat_penalty" not in {r["parameter"] for r in payload["defaults"]["profiles"]["precise"]}


def test_show_on_a_broken_file_exits_1(tmp_path) -> None:
    src = tmp_path / "bad.mprof"
    src.write_text("profile p < min_pp 1 >\n")
    result = invoke("show", str(src), "p")
    assert result.exit_code == 1 and "MPL301" in result.output


def test_a_model_shows_its_modelfile_instructions_after_its_parameters() -> None:
    result = invoke("show", METON, "meton-custom")
    assert result.exit_code == 0, result.output
    head, _, section = result.output.partition("model meton-custom: Modelfile instructions\n")
    assert "num_ctx" in head and "FROM" not in head
    rows = [line.split()[0] for line in section.splitlines()[1:]]
    assert rows == ["FROM", "ADAPTER", "SYSTEM", "MESSAGE", "MESSAGE"]
    assert '"qwen2.5-coder:7b"' in section and 'user "Is Toronto in Canada?"' in section
    assert "examples/meton.mprof:58 (model meton-custom)" in section  # the adapter's line
    assert "Modelfile instructions" not in invoke("show", METON, "precise").output


def test_model_instructions_in_json() -> None:
    payload = show_json("meton-custom")
    found = [(i["instruction"], i["role"], i["value"], i["line"]) for i in payload["instructions"]]
    assert found[0] == ("FROM", None, "qwen2.5-coder:7b", 57)
    assert found[1][:3] == ("ADAPTER", None, "./adapters/meton-lora.gguf")
    assert found[2] == ("SYSTEM", None, "You are Meton, a local coding assistant.\n", 62)
    assert found[3:] == [("MESSAGE", "user", "Is Toronto in Canada?", 65), ("MESSAGE", "assistant", "yes", 66)]
    assert all(i["origin"] == "model meton-custom" for i in payload["instructions"])
    assert "instructions" not in show_json("precise")


def test_a_model_built_from_another_shows_what_it_inherits(tmp_path) -> None:
    src = tmp_path / "m.mprof"
    src.write_text(
        'model base from "llama3" <\n  system "be brief"\n  template "{{ .Prompt }}"\n  license "A"\n  message user "hi"\n>\n'
        'model child from base <\n  template "T {{ .Prompt }}"\n  license "B"\n  requires "0.6"\n>\n',
        encoding="utf-8",
    )
    result = invoke("show", str(src), "child", "--format", "json")
    assert result.exit_code == 0, result.output
    found = [(i["instruction"], i["value"], i["origin"]) for i in json.loads(result.output)["instructions"]]
    assert found == [
        ("FROM", "base", "model child"),
        ("SYSTEM", "be brief", "model base"),
        ("TEMPLATE", "T {{ .Prompt }}", "model child"),
        ("MESSAGE", "hi", "model base"),
        ("LICENSE", "A", "model base"),
        ("LICENSE", "B", "model child"),
        ("REQUIRES", "0.6", "model child"),
    ]


def test_long_texts_are_shortened_in_the_table_only(tmp_path) -> None:
    src = tmp_path / "m.mprof"
    src.write_text(f'model m from "llama3" < system "{"x" * 500}" >\n', encoding="utf-8")
    text = invoke("show", str(src), "m").output
    (system,) = [line for line in text.splitlines() if line.startswith("SYSTEM")]
    assert "…" in system and len(system) < 200
    payload = json.loads(invoke("show", str(src), "m", "--format", "json").output)
    assert payload["instructions"][1]["value"] == "x" * 500


def test_show_and_diff_read_an_unset_value_the_same_way(tmp_path) -> None:
    src = tmp_path / "p.mprof"
    src.write_text('ollama "0.32"\nprofile a < stop "x"; main_gpu 1; use_mmap false >\nprofile b < >\n', encoding="utf-8")
    shown = {line.split()[0]: line.split()[1] for line in invoke("show", str(src), "b").output.splitlines()[2:]}
    # a row of the diff: NAME VALUE_A FILE:LINE (profile a) VALUE_B Ollama X default
    diffed = {w[0]: w[w.index("Ollama") - 1] for w in map(str.split, invoke("diff", str(src), "a", "b").output.splitlines()[2:])}
    assert {name: diffed[name] for name in ("stop", "main_gpu", "use_mmap")} == {
        name: shown[name] for name in ("stop", "main_gpu", "use_mmap")
    }
    assert diffed["stop"] == "none" and "automatic" not in (diffed["stop"], diffed["use_mmap"])


def test_show_and_diff_take_the_configuration_options_and_name_where_the_version_came_from(tmp_path) -> None:
    src = tmp_path / "p.mprof"
    src.write_text("profile p < temperature 0.5; mirostat 2 >\nprofile q < temperature 0.7 >\n")
    (tmp_path / "mpl.toml").write_text('ollama = "0.6"\n')
    (tmp_path / "other.toml").write_text('ollama = "0.5"\n')

    def first(*args: str) -> str:
        return invoke("show", str(src), "p", *args).output.splitlines()[0]

    assert first().startswith("profile p at Ollama 0.6.0 (`ollama` in ") and first().endswith("mpl.toml:1)")
    assert first("--config", str(tmp_path / "other.toml")).startswith("profile p at Ollama 0.5.0 (`ollama` in ")
    assert first("--isolated").endswith("(newest known)")
    assert first("--ollama", "0.12") == "profile p at Ollama 0.12.0 (--ollama)"
    for args in (["--isolated"], ["--config", str(tmp_path / "other.toml")]):
        result = invoke("diff", str(src), "p", "q", *args)
        assert result.exit_code == 0, result.output
    assert "at Ollama 0.5.0" in invoke("diff", str(src), "p", "q", "--config", str(tmp_path / "other.toml")).output

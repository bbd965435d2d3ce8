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
    from mpl.compiler import analyze
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
    payload = json.loads(invoke("check", METON, "-f", "json", "--explain-defaults").output)
    base = {r["parameter"]: r for r in payload["defaults"]["profiles"]["base"]}
    assert base["repeat_penalty"]["default"] == 1.1 and base["repeat_penalty"]["drifts"]
    assert "repeat_penalty" not in {r["parameter"] for r in payload["defaults"]["profiles"]["precise"]}


def test_show_on_a_broken_file_exits_1(tmp_path) -> None:
    src = tmp_path / "bad.mprof"
    src.write_text("profile p < min_pp 1 >\n")
    result = invoke("show", str(src), "p")
    assert result.exit_code == 1 and "MPL301" in result.output

"""Semantic lints (parameters.md §6): each rule fires on a minimal profile and stays quiet on a near miss."""

from __future__ import annotations

from pathlib import Path

import gguf
import pytest

from helpers import EXAMPLES, labels, run
from mpl.pipeline import analyze

# (code, source that triggers it, a near miss that does not, ollama for the first, ollama for the second)
CASES = [
    ("MPL701", "profile p < temperature 0; top_k 40 >", "profile p < temperature 0; top_k 0 >", None, None),
    ("MPL701", "profile p < temperature 0; top_p 0.5 >", "profile p < temperature 0.1; top_p 0.5 >", None, None),
    ("MPL702", "profile p < temperature 0; seed 7 >", "profile p < temperature 0; seed -1 >", None, None),
    ("MPL702", "profile p < top_k 1; seed 7 >", "profile p < top_k 2; seed 7 >", None, None),
    ("MPL703", "profile p < top_p 0 >", "profile p < top_p 0.1 >", None, None),
    ("MPL704", "profile p < top_p 1 # filter the tail\n>", "profile p < top_p 1 >", None, None),
    ("MPL705", "profile p < min_p 0.5 >", "profile p < min_p 0.1 >", None, None),
    ("MPL706", "profile p < temperature 0; typical_p 0.9 >", "profile p < temperature 0.5; typical_p 0.9 >", None, None),
    ("MPL707", 'model m from "qwen3:8b" < repeat_penalty 1.1 >', 'model m from "qwen2.5-coder:7b" < repeat_penalty 1.1 >', "0.24", "0.24"),
    ("MPL707", 'model m from "gemma3:4b" < typical_p 0.9 >', 'model m from "gemma3:4b" < typical_p 0.9 >', "0.12", "0.30"),
    ("MPL707", 'model m from "gemma3:4b" < repeat_penalty 1.2 >', 'model m from "gemma3:4b" < repeat_penalty 1.2 >', "0.18", "0.17.5"),
    ("MPL708", "profile p < repeat_penalty 0.9 >", "profile p < repeat_penalty 1.0 >", None, None),
    ("MPL709", "profile p < repeat_penalty 1.6 >", "profile p < repeat_penalty 1.5 >", None, None),
    ("MPL710", "profile p < repeat_last_n 0; presence_penalty 0.5 >", "profile p < repeat_last_n 0; presence_penalty 0 >", None, None),
    ("MPL711", "profile p < repeat_last_n -1 >", "profile p < repeat_last_n -1 >", "0.12", "0.30"),
    ("MPL711", "profile p < repeat_last_n -1 >", "profile p < repeat_last_n -1; repeat_penalty 1 >", "0.12", "0.12"),
    ("MPL712", "profile p < draft_num_predict 4; repeat_penalty 1.1 >", "profile p < draft_num_predict 4; repeat_penalty 1 >", None, None),
    ("MPL713", "profile p < mirostat 2; top_k 20 >", "profile p < mirostat 0; top_k 20 >", "0.6", "0.6"),
    ("MPL713", "profile p < mirostat 2; repeat_penalty 1.1 >", "profile p < mirostat 2; repeat_penalty 1.1 >", "0.6", "0.5.4"),
    ("MPL714", "profile p < mirostat 1; temperature 0 >", "profile p < mirostat 1; temperature 0.7 >", "0.6", "0.6"),
    ("MPL715", "profile p < num_predict 0 >", "profile p < num_predict -1 >", None, None),
    ("MPL716", "profile p < num_predict -2 >", "profile p < num_predict -1 >", None, None),
    ("MPL717", "profile p < num_ctx 100; num_predict 1001 >", "profile p < num_ctx 100; num_predict 1000 >", None, None),
    ("MPL718", "profile p < num_ctx 0 >", "profile p < num_ctx 4 >", None, None),
    ("MPL721", "profile p < num_keep -2 >", "profile p < num_keep -1 >", None, None),
    ("MPL721", "profile p < num_ctx 512; num_keep 512 >", "profile p < num_ctx 512; num_keep 511 >", None, None),
    ("MPL722", "profile p < num_batch 512 >", "profile p < num_batch 512 >", "0.30", "0.24"),
    ("MPL723", "profile p < num_ctx 256; num_batch 512 >", "profile p < num_ctx 512; num_batch 512 >", None, None),
    ("MPL723", "profile p < num_batch 0 >", "profile p < num_batch 0 >", "0.30", "0.24"),
    ("MPL724", "profile p < main_gpu 0 >", "profile p < main_gpu 0 >", "0.30", "0.24"),
    ("MPL725", "profile p < use_mmap true >", "profile p < use_mmap false >", None, None),
    ("MPL725", "profile p < num_gpu -2 >", "profile p < num_gpu -1 >", None, None),
    ("MPL725", "profile p < num_thread -1 >", "profile p < num_thread 0 >", None, None),
    ("MPL726", 'profile p < stop ["", "x"] >', 'profile p < stop [" ", "x"] >', None, None),
    ("MPL727", 'profile p < stop ["x", "x"] >', 'profile p < stop ["x", "y"] >', None, None),
    ("MPL728", "profile p < seed 4294967296 >", "profile p < seed 4294967295 >", None, None),
    ("MPL729", 'model m from "llama3" < top_p 0.9 >', 'model m from "llama3" < top_k 40 >', None, None),
    ("MPL730", 'ollama "0.30"\nprofile p < temperature 0.5 >', 'ollama "0.30"\nprofile p < repeat_penalty 1; temperature 0.5 >', None, None),
    ("MPL730", 'ollama "0.12"\nprofile p < repeat_penalty 1 >', "profile p < repeat_penalty 1 >", None, None),
]


def codes(text: str, ollama: str | None = None) -> list[str]:
    return [label.split("@")[0] for label in labels(run(text, ollama=ollama, targets=()))]


@pytest.mark.parametrize(("code", "bad", "good", "bad_ollama", "good_ollama"), CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_rule_fires_and_near_miss_does_not(code: str, bad: str, good: str, bad_ollama: str | None, good_ollama: str | None) -> None:
    assert code in codes(bad, bad_ollama), codes(bad, bad_ollama)
    assert code not in codes(good, good_ollama)


def _model_file(tmp_path: Path, arch: str, context: int, **extra: int) -> Path:
    path = tmp_path / f"{arch}.gguf"
    writer = gguf.GGUFWriter(str(path), arch)
    writer.add_context_length(context)
    for key, value in extra.items():
        writer.add_uint32(key.replace("__", "."), value)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def test_trained_context_and_vision_come_from_a_local_gguf(tmp_path: Path) -> None:
    _model_file(tmp_path, "gemma3", 8192, gemma3__vision__block_count=2)
    text = 'model big from "./gemma3.gguf" < num_ctx 16384 >\nmodel small from "./gemma3.gguf" < num_ctx 1024 >'
    analysis = run(text, targets=(), base_dir=tmp_path)
    assert labels(analysis) == ["MPL719@1:34", "MPL720@2:36"]
    assert "lowered to 8192" in analysis.diagnostics[0].message


def test_engine_rule_uses_the_gguf_architecture_and_follows_model_chains(tmp_path: Path) -> None:
    _model_file(tmp_path, "qwen3", 4096)
    text = 'model base from "./qwen3.gguf"\nmodel child from base < repeat_last_n 128 >'
    assert [c for c in codes_in(text, tmp_path, "0.24") if c == "MPL707"] == ["MPL707"]
    assert "MPL707" not in codes_in(text, tmp_path, "0.12")  # before v0.24 only gemma3 is known to need the Go engine


def test_draft_without_mtp_is_inert_on_a_known_model(tmp_path: Path) -> None:
    _model_file(tmp_path, "llama", 4096)
    assert "MPL725" in codes_in('model m from "./llama.gguf" < draft_num_predict 4 >', tmp_path, None)
    _model_file(tmp_path, "glm4moe", 4096, glm4moe__nextn_predict_layers=1)
    assert "MPL725" not in codes_in('model m from "./glm4moe.gguf" < draft_num_predict 4 >', tmp_path, None)


def codes_in(text: str, base: Path, ollama: str | None) -> list[str]:
    return [label.split("@")[0] for label in labels(run(text, ollama=ollama, targets=(), base_dir=base))]


def test_inherited_value_points_at_the_inherited_line_and_names_the_heir() -> None:
    text = 'ollama "0.6"\nprofile precise <\n  temperature 0.0\n  min_p 0.1\n>\nprofile debugging extends precise < mirostat 2; top_k 20 >'
    analysis = run(text, targets=())
    mirostat = [d for d in analysis.diagnostics if d.code == "MPL713"]
    assert [labels_of(analysis, d) for d in mirostat] == ["MPL713@4:3", "MPL713@6:49"]
    assert mirostat[0].message.endswith("(inherited by `debugging` from `precise`)")
    assert not mirostat[1].message.endswith(")")
    assert "MPL714@6:37" in labels(analysis), labels(analysis)


def labels_of(analysis, diag) -> str:
    line, col = analysis.source.line_col(diag.span.start)
    return f"{diag.code}@{line}:{col}"


def test_findings_shared_by_parent_and_child_are_reported_once() -> None:
    text = "profile a < temperature 0; top_k 40 >\nprofile b extends a < seed 1 >\nprofile c extends b < seed 2 >"
    assert labels(run(text, targets=())).count("MPL701@1:28") == 1


def test_task_variants_are_linted() -> None:
    text = "tasks docs\nprofile p < repeat_penalty 1.1\n  when task is docs < repeat_penalty 0.9 >\n>"
    analysis = run(text, targets=())
    (diag,) = [d for d in analysis.diagnostics if d.code == "MPL708"]
    assert labels_of(analysis, diag) == "MPL708@3:23" and diag.message.endswith("(for task `docs`)")


def test_model_baked_values_name_the_model() -> None:
    text = 'ollama "0.24"\nprofile p < repeat_penalty 1.1 >\nmodel m from "gemma3:4b" < use p >'
    analysis = run(text, targets=())
    (diag,) = [d for d in analysis.diagnostics if d.code == "MPL707"]
    assert labels_of(analysis, diag) == "MPL707@2:13" and "baked into model `m` from `p`" in diag.message


def test_design_example() -> None:
    """DESIGN.md: rule 1 on `precise` as an info; under 0.6 rule 13 on `debugging`; examples stay clean."""
    meton = analyze(EXAMPLES / "meton.mprof")
    assert {d.severity.value for d in meton.diagnostics if d.code == "MPL701"} == {"note"}
    assert "MPL713" not in [d.code for d in meton.diagnostics]
    old = analyze(EXAMPLES / "meton.mprof", target=_v("0.6"))
    assert {labels_of(old, d) for d in old.diagnostics if d.code == "MPL713"} >= {"MPL713@25:3"}
    for name in ("meton", "finetune", "legacy-ollama"):
        assert not analyze(EXAMPLES / f"{name}.mprof").has_errors


def _v(text: str):
    from mpl.catalog import Version

    return Version.parse(text)


# -- allow comments ---------------------------------------------------------------------


def test_trailing_allow_silences_one_statement() -> None:
    text = "profile p <\n  temperature 0\n  top_k 40   # mpl: allow(MPL701)\n  min_p 0.1\n>"
    analysis = run(text, targets=())
    assert labels(analysis) == ["MPL701@4:3"]
    assert [labels_of(analysis, d) for d in analysis.suppressed] == ["MPL701@3:3"]


def test_allow_above_a_declaration_silences_it_including_inherited_lines() -> None:
    text = (
        'ollama "0.6"\nprofile precise < temperature 0.7; min_p 0.1 >\n'
        "# mpl: allow(mirostat-overrides)\nprofile debugging extends precise < mirostat 2; top_k 20 >"
    )
    analysis = run(text, targets=())
    assert "MPL713" not in [d.code for d in analysis.diagnostics]
    assert sorted(labels_of(analysis, d) for d in analysis.suppressed) == ["MPL713@2:36", "MPL713@4:49"]


def test_allow_for_one_heir_keeps_the_finding_for_another() -> None:
    text = (
        'ollama "0.6"\nprofile precise < min_p 0.1 >\n'
        "# mpl: allow(MPL713)\nprofile a extends precise < mirostat 2 >\nprofile b extends precise < mirostat 2 >"
    )
    (diag,) = [d for d in run(text, targets=()).diagnostics if d.code == "MPL713"]
    assert diag.message.endswith("(inherited by `b` from `precise`)")


def test_unused_and_unknown_allows_are_reported() -> None:
    text = "profile p <\n  temperature 0.5  # mpl: allow(MPL701, nonsense)\n>"
    assert labels(run(text, targets=())) == ["MPL731@2:20", "MPL731@2:20"]


def test_errors_cannot_be_silenced() -> None:
    analysis = run('profile p <\n  stop ""  # mpl: allow(MPL726)\n>', targets=())
    assert "MPL726@2:8" in labels(analysis) and analysis.has_errors


def test_suppressed_diagnostics_are_in_the_json(tmp_path: Path) -> None:
    import json

    from typer.testing import CliRunner

    from mpl.cli import app

    src = tmp_path / "p.mprof"
    src.write_text("profile p <\n  temperature 0\n  top_k 40  # mpl: allow(MPL701)\n>\n")
    payload = json.loads(CliRunner().invoke(app, ["check", "--format", "json", "-t", "options", str(src)]).output)
    assert payload["diagnostics"] == []
    assert [d["code"] for d in payload["suppressed"]] == ["MPL701"]


def test_default_drift_is_not_reported_on_a_declaration_in_error() -> None:
    """MPL730 adds nothing to a profile or model that already has an error: only the clean ones get it."""
    text = (
        'ollama "0.12"\n'
        "profile broken < temperature \"hot\" >\n"
        "profile fine < temperature 0.5 >\n"
        'model bad from "qwen2.5-coder:7b" < top_p 7 >\n'
        'model good from "qwen2.5-coder:7b" < top_p 0.5 >\n'
    )
    analysis = run(text)
    assert {d.code for d in analysis.diagnostics if d.is_error} == {"MPL302", "MPL303"}
    drift = [d for d in analysis.diagnostics if d.code == "MPL730"]
    assert drift and {d.message.split("`")[1] for d in drift} == {"fine", "good"}


def test_default_drift_of_a_model_built_from_a_model_of_the_file_is_reported_at_that_model() -> None:
    """A model `from` another model of the file gets that model's parameters on the server: MPL730 names the base only."""
    text = (
        'ollama "0.12"\n'
        'model base from "qwen2.5-coder:7b" < num_ctx 8192; repeat_penalty 1.0 >\n'
        'model tuned from base < "the base with an adapter" >\n'
        'model loose from "qwen2.5-coder:7b" < top_p 0.5 >\n'
        'model child from loose < top_p 0.4 >\n'
    )
    drift = [d for d in run(text).diagnostics if d.code == "MPL730"]
    assert drift and {d.message.split("`")[1] for d in drift} == {"loose"}

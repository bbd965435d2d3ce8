"""Resolve: inheritance, unset, `+=`, task routing, `when` blocks and models."""

from __future__ import annotations

from helpers import assert_diagnostics, labels, run
from mpl.compiler.program import Origin, plain

DESIGN = """
tasks general, debug, explain, docs
default precise
profile base < "Shared defaults"; num_ctx 32768; num_predict 2048; seed -1 >
profile precise extends base <
  "Deterministic output for precise coding"
  temperature 0.0
  top_k 40; min_p 0.1
  repeat_penalty 1.1
  stop ["a", "b"]
>
profile debugging extends precise for debug < mirostat 2; top_k 20; stop += "c" >
profile explanation extends base for explain, docs <
  temperature 0.5
  repeat_penalty 1.25
  when task is docs < repeat_penalty 1.15 >
  when task in [docs, explain] < unset num_predict >
  top_p 0.9
>
"""


def resolved(profile: str, task: str | None = None, text: str = DESIGN) -> dict:
    analysis = run(text, targets=("options",))
    assert not analysis.has_errors, analysis.diagnostics
    return plain(analysis.program.resolve(profile, task))


def test_child_values_replace_parent_values() -> None:
    assert resolved("debugging") == {
        "num_ctx": 32768, "num_predict": 2048, "seed": -1, "temperature": 0.0,
        "top_k": 20, "min_p": 0.1, "repeat_penalty": 1.1, "stop": ["a", "b", "c"], "mirostat": 2,
    }


def test_description_is_not_a_parameter() -> None:
    analysis = run(DESIGN, targets=("options",))
    assert analysis.program.profiles["precise"].description == "Deterministic output for precise coding"
    assert "description" not in resolved("precise")


def test_when_blocks_apply_after_the_body_in_order() -> None:
    assert resolved("explanation")["repeat_penalty"] == 1.25
    docs = resolved("explanation", "docs")
    assert docs["repeat_penalty"] == 1.15 and "num_predict" not in docs
    explain = resolved("explanation", "explain")
    assert explain["repeat_penalty"] == 1.25 and "num_predict" not in explain


def test_a_list_set_in_a_child_replaces_the_inherited_list() -> None:
    text = 'profile a < stop ["x", "y"] >\nprofile b extends a < stop "z" >\nprofile c extends a < stop += "z" >'
    assert resolved("b", text=text)["stop"] == ["z"]
    assert resolved("c", text=text)["stop"] == ["x", "y", "z"]


def test_unset_removes_an_inherited_value() -> None:
    text = "profile a < top_k 40; top_p 0.9 >\nprofile b extends a < unset top_k >"
    assert resolved("b", text=text) == {"top_p": 0.9}


def test_task_resolution_follows_the_parent_for_the_task() -> None:
    text = "tasks docs\nprofile a < temperature 0.5; when task is docs < temperature 0.1 > >\nprofile b extends a < top_k 3 >"
    assert resolved("b", "docs", text) == {"temperature": 0.1, "top_k": 3}
    assert resolved("b", None, text) == {"temperature": 0.5, "top_k": 3}


def test_routing_and_default() -> None:
    program = run(DESIGN, targets=("options",)).program
    assert program.profile_for_task("debug") == "debugging"
    assert program.profile_for_task("docs") == "explanation"
    assert program.profile_for_task("general") == "precise"


def test_inherited_setting_keeps_its_provenance() -> None:
    program = run(DESIGN, targets=("options",)).program
    setting = program.resolve("debugging")["temperature"]
    assert setting.profile == "precise" and str(setting.origin) == "profile precise"
    assert setting.origin == Origin(profile="precise")
    assert program.source.line_col(setting.span.start)[0] == 7


def test_model_bakes_a_profile_and_accumulates_stop() -> None:
    text = DESIGN + 'model m from "llama3" <\n  use debugging\n  num_ctx 16384\n  stop "<|im_end|>"\n  unset seed\n>'
    analysis = run(text, targets=("options",))
    model = analysis.program.model("m")
    assert plain(model.params)["stop"] == ["a", "b", "c", "<|im_end|>"]
    assert plain(model.params)["num_ctx"] == 16384 and "seed" not in model.params
    assert model.unsets == (("seed", model.unsets[0][1]),)


def test_direct_parameters_override_the_used_profile_wherever_they_stand() -> None:
    text = DESIGN + 'model m from "llama3" <\n  num_ctx 16384\n  unset seed\n  use debugging\n  use explanation\n>'
    model = run(text, targets=("options",)).program.model("m")
    params = plain(model.params)
    assert params["num_ctx"] == 16384 and "seed" not in params
    # a later `use` wins over an earlier one where both set a value
    assert params["temperature"] == 0.5 and params["repeat_penalty"] == 1.25
    assert [use.profile for use in model.uses] == ["debugging", "explanation"]


def test_use_for_a_task() -> None:
    text = DESIGN + 'model m from "llama3" < use explanation for docs >'
    assert run(text, targets=("options",)).program.model("m").params["repeat_penalty"].value == 1.15


def test_models_are_ordered_by_dependency() -> None:
    text = 'model top from middle\nmodel middle from "bottom:latest"\nmodel "bottom:latest" from "llama3"'
    program = run(text, targets=("options",)).program
    assert [m.name for m in program.models] == ["bottom:latest", "middle", "top"]
    assert program.model("top").source.kind == "model"
    assert program.model("bottom:latest").source.kind == "registry"


def test_model_source_kinds(tmp_path) -> None:
    (tmp_path / "base.gguf").write_bytes(b"GGUF")
    program = run('model a from "./base.gguf"\nmodel b from "llama3.1:8b"', targets=("options",), base_dir=tmp_path).program
    assert program.model("a").source.kind == "path"
    assert program.model("a").source.path == (tmp_path / "base.gguf").resolve()


def test_cycles_do_not_stop_other_checks() -> None:
    assert_diagnostics("profile a extends b < min_pp 1 >\nprofile b extends a < >", "MPL202@1:19", "MPL301@1:23")


def test_did_you_mean_for_profiles_and_tasks() -> None:
    analysis = run("tasks debug\nprofile precise < >\nprofile d extends precize for debgu < >")
    helps = {d.code: d.help for d in analysis.diagnostics}
    assert helps["MPL201"] == "did you mean `precise`?"
    assert helps["MPL205"] == "did you mean `debug`?"


def test_when_with_undeclared_task() -> None:
    assert_diagnostics("tasks docs\nprofile p < when task is doc < top_k 1 > >", "MPL205@2:26")


def test_nested_when_and_description_in_when() -> None:
    assert_diagnostics(
        "tasks a\nprofile p < when task is a < \"d\"; when task is a < top_k 1 > > >", "MPL208@2:30", "MPL208@2:35"
    )


def test_a_long_extends_chain_resolves_without_recursion() -> None:
    depth = 3000  # beyond Python's recursion limit
    lines = ["profile p0 < temperature 0.5 >"]
    lines += [f"profile p{i} extends p{i - 1} < top_k {i} >" for i in range(1, depth)]
    lines.append(f'model m from "llama3" < use p{depth - 1} >')
    analysis = run("\n".join(lines), targets=("options",))
    assert not analysis.has_errors, labels(analysis)[:5]
    assert plain(analysis.program.resolve(f"p{depth - 1}")) == {"temperature": 0.5, "top_k": depth - 1}
    assert plain(analysis.program.model("m").params)["top_k"] == depth - 1


def test_a_long_cycle_is_reported_once() -> None:
    size = 2000
    lines = [f"profile p{i} extends p{(i + 1) % size} < top_k {i + 1} >" for i in range(size)]
    analysis = run("\n".join(lines), targets=("options",))
    assert [label for label in labels(analysis) if label.startswith("MPL202")] == ["MPL202@1:20"]


def test_model_names_match_as_ollama_matches_them() -> None:
    # ollama-facts.md §4.8: default host and namespace, `:latest`, any case.
    text = 'model mario from "llama3"\nmodel "registry.ollama.ai/library/Mario:latest" from "llama3"\nmodel top from "library/mario"'
    analysis = run(text, targets=("options",))
    assert [label for label in labels(analysis) if label.startswith("MPL204")] == ["MPL204@2:7"]
    assert analysis.program.model("top").source.kind == "model"

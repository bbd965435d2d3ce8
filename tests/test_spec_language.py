"""An adversarial audit of the language against DESIGN.md and the facts files.

Each test is derived from a line of DESIGN.md ("The language, by example",
"Semantics to hold on to"), ollama-facts.md §1-§3, §4.8, §7-§8 or
parameters.md §2/§6, not from the implementation.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from helpers import EXAMPLES, labels, run
from mpl import api
from mpl.catalog import catalog

# DESIGN.md, "The language, by example", verbatim.
DESIGN_EXAMPLE = '''\
# Meton's sampling profiles
ollama "0.12"                 # check parameters against this Ollama version (default: newest known)

tasks general, debug, explain, refactor, review, docs, creative

default precise               # the profile used when no task matches; Meton's models.settings

profile base <
  "Shared defaults"           # the first bare string of a block is its description
  num_ctx 32768
  num_predict 2048
  seed -1
>

profile precise extends base <
  "Deterministic output for precise coding"
  temperature 0.0
  top_k 40; min_p 0.1         # ';' or newline separates statements
  repeat_penalty 1.1
>

profile debugging extends precise for debug < mirostat 2; top_k 20 >

profile explanation extends base for explain, docs <
  temperature 0.5
  top_p 0.9
  repeat_penalty 1.25
  presence_penalty 0.1
  when task is docs < repeat_penalty 1.15 >
>

model meton-custom from "qwen2.5-coder:7b" <
  adapter "./adapters/meton-lora.gguf"   # GGUF LoRA adapter, path relative to this file
  use precise                            # bake a profile's resolved parameters
  num_ctx 16384                          # a direct parameter overrides the profile
  stop "<|im_end|>"                      # list parameters accumulate, as in a Modelfile
  system """
You are Meton, a local coding assistant.
"""
  message user "Is Toronto in Canada?"
  message assistant "yes"
>
'''

VERSION_CODES = {"MPL401", "MPL402", "MPL403", "MPL404", "MPL405", "MPL406"}


@pytest.fixture
def design_dir(tmp_path: Path) -> Path:
    (tmp_path / "adapters").mkdir()
    shutil.copy(EXAMPLES / "adapters" / "meton-lora.gguf", tmp_path / "adapters" / "meton-lora.gguf")
    return tmp_path


def _without_version_line(text: str) -> str:
    return "\n".join(line for line in text.splitlines() if not line.startswith("ollama ")) + "\n"


def codes(text: str, **kw) -> list[str]:
    return [label.split("@")[0] for label in labels(run(text, **kw))]


def errors(text: str, **kw) -> list[str]:
    a = run(text, **kw)
    return [label for label, d in zip(labels(a), a.diagnostics) if d.severity.value == "error"]


def has(text: str, label: str, **kw) -> bool:
    return label in labels(run(text, **kw))


# -- DESIGN's example ------------------------------------------------------------------


def test_design_example_compiles_under_its_own_version(design_dir: Path) -> None:
    # `ollama "0.12"` is after 0.7.0, so `mirostat 2` is already ignored there.
    a = run(DESIGN_EXAMPLE, base_dir=design_dir)
    assert not a.has_errors, labels(a)
    assert [(d.code, d.severity.value) for d in a.diagnostics if d.code in VERSION_CODES] == [("MPL401", "warning")]


def test_design_example_mirostat_warns_on_newest(design_dir: Path) -> None:
    a = run(_without_version_line(DESIGN_EXAMPLE), base_dir=design_dir)
    assert not a.has_errors, labels(a)
    version = [d for d in a.diagnostics if d.code in VERSION_CODES]
    assert [d.code for d in version] == ["MPL401"], labels(a)
    d = version[0]
    assert d.severity.value == "warning"
    assert "mirostat" in d.message and "0.7.0" in (d.message + (d.help or ""))
    line, col = a.source.line_col(d.span.start)
    assert (line, col) == (21, 47)


def test_design_example_no_version_diagnostic_under_0_6(design_dir: Path) -> None:
    text = DESIGN_EXAMPLE.replace('ollama "0.12"', 'ollama "0.6"')
    a = run(text, base_dir=design_dir)
    assert not a.has_errors, labels(a)
    assert not {d.code for d in a.diagnostics} & VERSION_CODES, labels(a)
    # `debugging` only gets semantic lints under 0.6
    assert all(d.code.startswith("MPL7") for d in a.diagnostics if d.severity.value == "warning"), labels(a)


def test_design_example_api(design_dir: Path) -> None:
    path = design_dir / "profiles.mprof"
    path.write_text(DESIGN_EXAMPLE)
    ps = api.load(path)
    assert ps.default == "precise"
    assert ps.description("base") == "Shared defaults"
    assert ps.description("precise") == "Deterministic output for precise coding"
    assert ps.description("debugging") is None
    assert ps.options("precise") == {
        "num_ctx": 32768, "num_predict": 2048, "seed": -1,
        "temperature": 0.0, "top_k": 40, "min_p": 0.1, "repeat_penalty": 1.1,
    }
    debug = ps.for_task("debug")
    assert debug.name == "debugging" and debug["mirostat"] == 2 and debug["top_k"] == 20
    assert debug["temperature"] == 0.0 and debug["num_ctx"] == 32768
    docs = ps.for_task("docs")
    assert docs.name == "explanation" and docs["repeat_penalty"] == 1.15
    assert ps.for_task("explain")["repeat_penalty"] == 1.25
    assert ps.options("explanation")["repeat_penalty"] == 1.25
    # tasks no profile claims fall back to `default precise`
    for task in ("general", "refactor", "review", "creative"):
        assert ps.for_task(task).name == "precise"
    assert ps.for_task("review", temperature=0.7)["temperature"] == 0.7
    assert isinstance(ps.options("precise")["temperature"], float)
    assert isinstance(ps.options("precise")["top_k"], int)


def test_design_example_api_with_text_and_version_override(design_dir: Path) -> None:
    ps = api.loads(_without_version_line(DESIGN_EXAMPLE).replace("adapter \"./adapters/meton-lora.gguf\"", ""), ollama="0.6")
    assert not [d for d in ps.diagnostics if d.code in VERSION_CODES]


# -- inheritance -------------------------------------------------------------------------


def test_child_replaces_parent_value() -> None:
    ps = api.loads("profile a < temperature 0.2; top_k 3 >\nprofile b extends a < temperature 0.9 >")
    assert ps.options("b") == {"temperature": 0.9, "top_k": 3}


def test_unset_removes_inherited_value() -> None:
    ps = api.loads("profile a < temperature 0.2; top_k 3 >\nprofile b extends a < unset top_k >")
    assert ps.options("b") == {"temperature": 0.2}


def test_unset_several_names() -> None:
    ps = api.loads("profile a < temperature 0.2; top_k 3; seed 1 >\nprofile b extends a < unset top_k, seed >")
    assert ps.options("b") == {"temperature": 0.2}


def test_list_in_child_replaces_inherited_list() -> None:
    ps = api.loads('profile a < stop ["x", "y"] >\nprofile b extends a < stop "z" >')
    assert ps.options("b")["stop"] == ["z"]


def test_plus_equals_appends() -> None:
    ps = api.loads('profile a < stop ["x", "y"] >\nprofile b extends a < stop += "z" >\nprofile c extends b < stop += ["u", "v"] >')
    assert ps.options("b")["stop"] == ["x", "y", "z"]
    assert ps.options("c")["stop"] == ["x", "y", "z", "u", "v"]
    assert ps.options("a")["stop"] == ["x", "y"]


def test_plus_equals_with_nothing_inherited() -> None:
    ps = api.loads('profile a < stop += "z" >')
    assert ps.options("a")["stop"] == ["z"]


def test_plus_equals_on_scalar_is_error() -> None:
    assert has("profile a < temperature += 0.1 >", "MPL212@1:13")


def test_cycle_is_error_at_span() -> None:
    text = "profile a extends b < >\nprofile b extends a < >\n"
    a = run(text)
    assert a.has_errors
    got = [label for label in labels(a) if label.startswith("MPL202")]
    assert got and all(label in ("MPL202@1:19", "MPL202@2:19") for label in got), labels(a)


def test_self_cycle() -> None:
    assert any(label.startswith("MPL202@1:19") for label in labels(run("profile a extends a < >")))


def test_unknown_parent_with_suggestion() -> None:
    a = run("profile precise < >\nprofile b extends precis < >")
    d = next(d for d in a.diagnostics if d.code == "MPL201")
    assert a.source.line_col(d.span.start) == (2, 19)
    assert "precise" in (d.help or "")


def test_duplicate_profile_is_error() -> None:
    assert has("profile a < >\nprofile a < >", "MPL203@2:9")


def test_extends_forward_reference() -> None:
    ps = api.loads("profile b extends a < top_k 2 >\nprofile a < temperature 0.3 >")
    assert ps.options("b") == {"temperature": 0.3, "top_k": 2}


def test_grandparent_chain() -> None:
    ps = api.loads("profile c extends b < seed 3 >\nprofile b extends a < top_k 2 >\nprofile a < temperature 0.3 >")
    assert ps.options("c") == {"temperature": 0.3, "top_k": 2, "seed": 3}


# -- tasks -----------------------------------------------------------------------------


def test_undeclared_task_typo_with_suggestion() -> None:
    a = run("tasks debug, docs\nprofile p for debgu < >")
    d = next(d for d in a.diagnostics if d.code == "MPL205")
    assert d.severity.value == "error"
    assert a.source.line_col(d.span.start) == (2, 15)
    assert "debug" in (d.help or "")


def test_undeclared_task_in_when() -> None:
    a = run("tasks debug, docs\nprofile p < when task is dosc < top_k 1 > >")
    d = next(d for d in a.diagnostics if d.code == "MPL205")
    assert "docs" in (d.help or "")


def test_undeclared_task_in_when_in_list() -> None:
    assert any(l.startswith("MPL205") for l in labels(run("tasks debug, docs\nprofile p < when task in [debug, dcs] < top_k 1 > >")))


def test_undeclared_task_in_use_for() -> None:
    assert any(l.startswith("MPL205") for l in labels(run('tasks debug\nprofile p < >\nmodel m from "x" < use p for debgu >')))


def test_two_profiles_claim_one_task() -> None:
    a = run("tasks t\nprofile a for t < >\nprofile b for t < >")
    assert "MPL206@3:15" in labels(a) and a.has_errors


def test_when_task_in_list() -> None:
    ps = api.loads("tasks a, b, c\ndefault p\nprofile p < top_k 1; when task in [a, b] < top_k 2 > >")
    assert ps.options("p", "a")["top_k"] == 2
    assert ps.options("p", "b")["top_k"] == 2
    assert ps.options("p", "c")["top_k"] == 1
    assert ps.options("p")["top_k"] == 1


def test_when_blocks_apply_in_order_after_body() -> None:
    text = """tasks a
default p
profile p <
  when task is a < top_k 2 >
  when task in [a] < top_k 3 >
  top_k 1
>"""
    ps = api.loads(text)
    assert ps.options("p", "a")["top_k"] == 3
    assert ps.options("p")["top_k"] == 1


def test_when_unset_and_append() -> None:
    ps = api.loads('tasks a\ndefault p\nprofile p < stop "x"; seed 1; when task is a < unset seed; stop += "y" > >')
    assert ps.options("p", "a") == {"stop": ["x", "y"]}


def test_task_resolution_parent_for_task_then_body_then_when() -> None:
    text = """tasks t, u
default child
profile parent < top_k 1; seed 5; when task is t < top_k 10; temperature 0.1 > >
profile child extends parent < top_k 2; when task is t < seed 7 > >
"""
    ps = api.loads(text)
    # parent resolved for t: top_k 10, temperature 0.1, seed 5; then child body: top_k 2; then when: seed 7
    assert ps.options("child", "t") == {"top_k": 2, "seed": 7, "temperature": 0.1}
    assert ps.options("child", "u") == {"top_k": 2, "seed": 5}
    assert ps.for_task("t").options == {"top_k": 2, "seed": 7, "temperature": 0.1}


def test_default_used_when_no_profile_claims() -> None:
    ps = api.loads("tasks a, b\ndefault d\nprofile d < top_k 1; when task is b < top_k 9 > >\nprofile x for a < top_k 5 >")
    assert ps.for_task("a").name == "x"
    assert ps.for_task("b").name == "d" and ps.for_task("b")["top_k"] == 9


def test_routed_profile_resolved_for_its_task() -> None:
    ps = api.loads("tasks a, b\nprofile x for a, b < top_k 5; when task is b < top_k 6 > >")
    assert ps.for_task("a")["top_k"] == 5 and ps.for_task("b")["top_k"] == 6


def test_api_unknown_task_is_error() -> None:
    ps = api.loads("tasks a\ndefault p\nprofile p < >")
    with pytest.raises(api.MplError) as err:
        ps.for_task("b")
    assert err.value.diagnostics[0].code == "MPL205"


def test_default_unknown_profile() -> None:
    a = run("default precis\nprofile precise < >")
    d = next(d for d in a.diagnostics if d.code == "MPL207")
    assert "precise" in (d.help or "")


# -- models ----------------------------------------------------------------------------


def model(text: str, name: str = "m", **kw):
    a = run(text, **kw)
    assert a.program is not None
    return a, next(m for m in a.program.models if m.name == name)


def test_from_registry_name() -> None:
    a, m = model('model m from "qwen2.5-coder:7b"')
    assert not a.has_errors and m.source.kind == "registry" and m.source.value == "qwen2.5-coder:7b"


def test_from_bare_name() -> None:
    a, m = model("model m from llama3")
    assert not a.has_errors and m.source.kind == "registry"


def test_from_gguf_path(tmp_path: Path) -> None:
    shutil.copy(EXAMPLES / "adapters" / "meton-lora.gguf", tmp_path / "base.gguf")
    a, m = model('model m from "./base.gguf"', base_dir=tmp_path)
    assert m.source.kind == "path" and m.source.path == (tmp_path / "base.gguf").resolve()
    assert not any(l.startswith("MPL307") for l in labels(a))


def test_from_missing_gguf_is_error(tmp_path: Path) -> None:
    a, m = model('model m from "./missing.gguf"', base_dir=tmp_path)
    assert "MPL307@1:14" in labels(a) and a.has_errors


def test_from_other_model_build_order() -> None:
    a = run('model b from a < system "b" >\nmodel a from "llama3" < system "a" >')
    assert not a.has_errors, labels(a)
    assert [m.name for m in a.program.models] == ["a", "b"]
    assert a.program.models[1].source.kind == "model"


def test_model_cycle_is_error() -> None:
    a = run("model a from b\nmodel b from a")
    assert any(l.startswith("MPL215") for l in labels(a)) and a.has_errors


def test_at_most_one_adapter(tmp_path: Path) -> None:
    shutil.copy(EXAMPLES / "adapters" / "meton-lora.gguf", tmp_path / "a.gguf")
    a = run('model m from "x" <\n  adapter "a.gguf"\n  adapter "a.gguf"\n>', base_dir=tmp_path)
    assert "MPL213@3:3" in labels(a) and a.has_errors


def test_use_profile_for_task_and_direct_override() -> None:
    text = """tasks t
profile p < top_k 1; temperature 0.5; when task is t < top_k 7 > >
model m from "x" <
  num_ctx 4096
  use p for t
  temperature 0.9
>"""
    a, m = model(text)
    assert not a.has_errors, labels(a)
    assert {k: s.value for k, s in m.params.items()} == {"top_k": 7, "temperature": 0.9, "num_ctx": 4096}


def test_direct_parameter_before_use_still_overrides() -> None:
    a, m = model('profile p < temperature 0.5 >\nmodel m from "x" < temperature 0.9; use p >')
    assert m.params["temperature"].value == 0.9


def test_model_stop_accumulates() -> None:
    a, m = model('profile p < stop ["a"] >\nmodel m from "x" < use p; stop "b"; stop "c" >', targets=("options", "modelfile"))
    assert m.params["stop"].value == ("a", "b", "c")
    assert not a.has_errors


def test_model_unknown_use_profile() -> None:
    a = run('profile precise < >\nmodel m from "x" < use precis >')
    d = next(d for d in a.diagnostics if d.code == "MPL207")
    assert "precise" in (d.help or "")


def test_model_instructions() -> None:
    text = '''model m from "x" <
  system "s"
  template "{{ .Prompt }}"
  message system "be nice"
  message user "hi"
  message assistant "hello"
  license "MIT"
  license "Apache"
  requires "0.14.0"
>'''
    a, m = model(text)
    assert not a.has_errors, labels(a)
    assert m.system.value == "s" and m.template.value == "{{ .Prompt }}"
    assert [(x.role, x.content) for x in m.messages] == [("system", "be nice"), ("user", "hi"), ("assistant", "hello")]
    assert [x.value for x in m.licenses] == ["MIT", "Apache"]
    assert m.requires.value == "0.14.0"


def test_bad_message_role() -> None:
    a = run('model m from "x" < message User "hi" >')
    assert "MPL218@1:28" in labels(a) and a.has_errors


def test_model_description() -> None:
    a, m = model('model m from "x" < "A model"; system "s" >')
    assert not a.has_errors


@pytest.mark.parametrize(
    "name",
    [
        "m", "meton-custom", "qwen2.5-coder", "qwen2.5-coder:7b", "user/m", "user/m:tag",
        "registry.example.com/user/m:tag", "localhost:5000/user/m:v1", "_x", "9x", "a" * 80,
        "user/" + "a" * 80 + ":" + "t" * 80, "h" * 350 + "/n/m", "M:Latest", "m:1.0",
    ],
)
def test_valid_model_names(name: str) -> None:
    a = run(f'model "{name}" from "x"')
    assert not any(l.startswith("MPL214") for l in labels(a)), labels(a)


@pytest.mark.parametrize(
    "name",
    [
        "-x", ".x", "a b", "a" * 81, "user/" + "a" * 81, "m:" + "t" * 81, "h" * 351 + "/n/m",
        "us.er/m",  # `.` not allowed in the namespace
        "user:x/m",  # `:` only in the host (here the namespace) ...
        "m:t:u",  # ... and the tag
        "m:", "/m", "a/b/c/d", "m:-t", "é", "m@x", "user/-m",
    ],
)
def test_invalid_model_names(name: str) -> None:
    a = run(f'model "{name}" from "x"')
    assert any(l.startswith("MPL214") for l in labels(a)), (name, labels(a))
    assert a.has_errors


def test_duplicate_model_case_insensitive() -> None:
    assert any(l.startswith("MPL204") for l in labels(run('model Mario from "x"\nmodel "mario:latest" from "y"')))


def test_invalid_from_name() -> None:
    assert any(l.startswith("MPL214") for l in labels(run('model m from "not a name"')))


# -- values ---------------------------------------------------------------------------


def test_int_option_refuses_float() -> None:
    a = run("profile p < num_ctx 4096.0 >")
    assert "MPL302@1:21" in labels(a) and a.has_errors


def test_int_option_refuses_exponent() -> None:
    assert "MPL302@1:21" in labels(run("profile p < num_ctx 1e3 >"))


def test_float_option_takes_int_emitted_as_float() -> None:
    ps = api.loads("profile p < temperature 1 >")
    value = ps.options("p")["temperature"]
    assert value == 1.0 and isinstance(value, float)


@pytest.mark.parametrize(
    ("literal", "expected"),
    [
        (r'"a\\b"', "a\\b"),
        (r'"a\"b"', 'a"b'),
        (r'"a\nb"', "a\nb"),
        (r'"a\rb"', "a\rb"),
        (r'"a\tb"', "a\tb"),
        (r'"a\0b"', "a\0b"),
        (r'"\u00e9"', "é"),
        (r'"\u{1F600}"', "\U0001F600"),
        (r'"\u{41}"', "A"),
        ('"日本語 ok"', "日本語 ok"),
    ],
)
def test_string_escapes(literal: str, expected: str) -> None:
    ps = api.loads(f"profile p < stop {literal} >")
    assert ps.options("p")["stop"] == [expected]


@pytest.mark.parametrize("literal", [r'"\q"', r'"\u12"', r'"\u{D800}"', r'"\u{110000}"', r'"\x41"'])
def test_bad_escapes(literal: str) -> None:
    assert any(l.startswith("MPL104") for l in labels(run(f"profile p < stop {literal} >")))


def test_unterminated_string() -> None:
    a = run('profile p < stop "abc\n>')
    assert any(l.startswith("MPL103") for l in labels(a)) and a.has_errors


def test_triple_quoted_drops_first_newline() -> None:
    a, m = model('model m from "x" <\n  system """\nline1\n  line2\n"""\n>')
    assert m.system.value == "line1\n  line2\n"


def test_triple_quoted_without_leading_newline() -> None:
    a, m = model('model m from "x" < system """ab "quoted" ""x"" c""" >')
    assert m.system.value == 'ab "quoted" ""x"" c'


def test_triple_quoted_escapes_and_crlf() -> None:
    a, m = model('model m from "x" <\r\n  system """\r\nA\\tB\r\nC \\"""x\r\n"""\r\n>')
    assert not a.has_errors, labels(a)
    assert m.system.value == 'A\tB\nC """x\n'


def test_triple_quoted_only_one_newline_dropped() -> None:
    a, m = model('model m from "x" < system """\n\nx""" >')
    assert m.system.value == "\nx"


def test_use_mmap_bool() -> None:
    ps = api.loads("profile p < use_mmap false >\nprofile q < use_mmap true >")
    assert ps.options("p")["use_mmap"] is False and ps.options("q")["use_mmap"] is True


@pytest.mark.parametrize("value", ["1", '"false"', "0"])
def test_use_mmap_refuses_non_bool(value: str) -> None:
    assert any(l.startswith("MPL302") for l in labels(run(f"profile p < use_mmap {value} >")))


@pytest.mark.parametrize("stmt", ["temperature [0.1]", 'top_k ["a"]', "num_ctx [1, 2]", "use_mmap [true]"])
def test_lists_only_for_stop(stmt: str) -> None:
    assert any(l.startswith("MPL302") for l in labels(run(f"profile p < {stmt} >")))


@pytest.mark.parametrize("stmt", ["stop 1", "stop [1]", 'stop ["a", true]', "stop true"])
def test_stop_takes_strings(stmt: str) -> None:
    assert any(l.startswith("MPL302") for l in labels(run(f"profile p < {stmt} >")))


def test_list_trailing_comma_and_newlines() -> None:
    ps = api.loads('profile p < stop [\n  "a",\n  "b",\n] >')
    assert ps.options("p")["stop"] == ["a", "b"]


@pytest.mark.parametrize(("stmt", "value"), [("top_k +5", 5), ("temperature .5", 0.5), ("min_p 1e-3", 0.001), ("seed -1", -1)])
def test_number_forms(stmt: str, value) -> None:
    ps = api.loads(f"profile p < {stmt} >")
    got = next(iter(ps.options("p").values()))
    assert got == value and type(got) is type(value)


@pytest.mark.parametrize(
    "stmt",
    [
        "temperature 1", "temperature 0", "top_k 0", "min_p 0.0", "min_p 1", "repeat_last_n -1",
        "num_predict -1", "seed -1", "top_p 1", "typical_p 1", "presence_penalty -1.5",
    ],
)
def test_domain_edges_accepted(stmt: str) -> None:
    assert not run(f"profile p < {stmt} >", targets=("options",)).has_errors


# -- checker --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "stmt",
    ["top_p 1.5", "top_p -0.1", "min_p 1.5", "min_p -0.1", "repeat_last_n -2", "typical_p 0", "typical_p 1.5", "repeat_penalty 0", "mirostat 3"],
)
def test_hard_domain_errors(stmt: str) -> None:
    a = run(f"ollama \"0.6\"\nprofile p < {stmt} >")
    assert a.has_errors, (stmt, labels(a))
    assert any(l.startswith(("MPL303", "MPL7")) for l, d in zip(labels(a), a.diagnostics) if d.severity.value == "error")


def test_top_p_1_5_is_mpl303_at_value() -> None:
    assert "MPL303@1:19" in labels(run("profile p < top_p 1.5 >"))


@pytest.mark.parametrize(("wrong", "right"), [("min_pp", "min_p"), ("top-k", "top_k"), ("TEMPERATURE", "temperature"), ("max_tokens", "num_predict"), ("temprature", "temperature")])
def test_unknown_name_suggestions(wrong: str, right: str) -> None:
    a = run(f"profile p < {wrong} 1 >")
    d = next(d for d in a.diagnostics if d.code == "MPL301")
    assert d.severity.value == "error"
    assert a.source.line_col(d.span.start) == (1, 13)
    assert f"`{right}`" in (d.help or "")


def test_unknown_name_in_unset() -> None:
    assert "MPL301@1:19" in labels(run("profile p < unset min_pp >"))


def test_unknown_name_in_model() -> None:
    assert any(l.startswith("MPL301") for l in labels(run('model m from "x" < min_pp 0.1 >')))


def test_int_overflow() -> None:
    assert any(l.startswith("MPL306") for l in labels(run("profile p < seed 9223372036854775808 >")))


def test_float32_overflow() -> None:
    assert any(l.startswith("MPL306") for l in labels(run("profile p < temperature 1e39 >")))


def test_int64_max_fits() -> None:
    assert not any(l.startswith("MPL306") for l in labels(run("profile p < seed 9223372036854775807 >")))


@pytest.mark.parametrize("version", ["0.14.0", "v0.14.0", "0.14", "1", "0.14.0-rc1", "0.14.0+build", "v1", "1.2.3-alpha.1+b.2"])
def test_requires_valid(version: str) -> None:
    a = run(f'model m from "x" < requires "{version}" >')
    assert not any(l.startswith("MPL305") for l in labels(a)), labels(a)


@pytest.mark.parametrize("version", ["01.2.3", "0.14.0.1", "V0.14.0", "latest", "", "0.14-rc1", "1.02.3", " 0.14.0", "0.14.0-", "0.14.0-01"])
def test_requires_invalid(version: str) -> None:
    a = run(f'model m from "x" < requires "{version}" >')
    assert any(l.startswith("MPL305") for l in labels(a)), (version, labels(a))
    assert a.has_errors


def test_requires_twice() -> None:
    assert any(l.startswith("MPL209") for l in labels(run('model m from "x" < requires "0.14"; requires "0.15" >')))


# -- version awareness: every option of §3.1 -------------------------------------------------

# (name, a value of the right type, last version WITHOUT, first version WITH) for additions;
# (name, value, last version WITH, first version WITHOUT) for removals.
ADDED = [("min_p", "0.1", "0.3.0", "0.3.1"), ("draft_num_predict", "4", "0.29.9", "0.30.0")]
REMOVED = [
    ("tfs_z", "0.9", "0.5.1", "0.5.2"),
    ("penalize_newline", "true", "0.5.4", "0.5.5"),
    ("numa", "true", "0.3.3", "0.3.4"),
    ("num_gqa", "8", "0.1.34", "0.1.35"),
    ("rope_frequency_base", "10000.0", "0.1.34", "0.1.35"),
    ("rope_frequency_scale", "1.0", "0.1.34", "0.1.35"),
    ("embedding_only", "true", "0.1.27", "0.1.28"),
] + [
    (name, value, "0.6.8", "0.7.0")
    for name, value in [
        ("mirostat", "1"), ("mirostat_tau", "5.0"), ("mirostat_eta", "0.1"), ("low_vram", "true"),
        ("f16_kv", "true"), ("logits_all", "false"), ("vocab_only", "false"), ("use_mlock", "true"),
    ]
]
CURRENT = [
    ("num_keep", "4"), ("seed", "1"), ("num_predict", "128"), ("top_k", "40"), ("top_p", "0.9"),
    ("typical_p", "0.9"), ("repeat_last_n", "64"), ("temperature", "0.7"), ("repeat_penalty", "1.1"),
    ("presence_penalty", "0.1"), ("frequency_penalty", "0.1"), ("stop", '"x"'), ("num_ctx", "4096"),
    ("num_batch", "512"), ("num_gpu", "1"), ("main_gpu", "0"), ("use_mmap", "false"), ("num_thread", "8"),
]


def version_diags(stmt: str, version: str, *, in_model: bool) -> list[tuple[str, str]]:
    text = f'ollama "{version}"\n' + (f'model m from "x" < {stmt} >' if in_model else f"profile p < {stmt} >")
    a = run(text, targets=("options", "modelfile"))
    return [(d.code, d.severity.value) for d in a.diagnostics if d.code in VERSION_CODES]


def test_catalog_covers_every_key_of_3_1() -> None:
    names = {n for n, *_ in ADDED} | {n for n, *_ in REMOVED} | {n for n, _ in CURRENT}
    assert names == set(catalog().options)
    assert len(names) == 35


@pytest.mark.parametrize(("name", "value"), CURRENT)
@pytest.mark.parametrize("version", ["0.1.0", "0.1.34", "0.5.5", "0.7.0", "0.32.15"])
def test_current_options_known_everywhere(name: str, value: str, version: str) -> None:
    assert version_diags(f"{name} {value}", version, in_model=False) == []
    assert version_diags(f"{name} {value}", version, in_model=True) == []


@pytest.mark.parametrize(("name", "value", "without", "with_"), ADDED)
def test_added_option_boundaries(name: str, value: str, without: str, with_: str) -> None:
    assert version_diags(f"{name} {value}", with_, in_model=False) == []
    assert version_diags(f"{name} {value}", with_, in_model=True) == []
    assert version_diags(f"{name} {value}", without, in_model=False) == [("MPL401", "warning")]
    # before 0.5.5 there is no deprecated list and since then neither name is on it: rejected
    assert version_diags(f"{name} {value}", without, in_model=True) == [("MPL402", "error")]


@pytest.mark.parametrize(("name", "value", "with_", "without"), REMOVED)
def test_removed_option_boundaries(name: str, value: str, with_: str, without: str) -> None:
    assert version_diags(f"{name} {value}", with_, in_model=False) == []
    assert version_diags(f"{name} {value}", with_, in_model=True) == []
    runtime = version_diags(f"{name} {value}", without, in_model=False)
    assert runtime == [("MPL401", "error" if without == "0.1.28" else "warning")], runtime
    modelfile = version_diags(f"{name} {value}", without, in_model=True)
    # §2.2: v0.5.5-v0.6.8 only penalize_newline is dropped; v0.7.0+ the nine; before 0.5.5 nothing.
    dropped = name == "penalize_newline" and without == "0.5.5" or without == "0.7.0"
    assert modelfile == [("MPL403", "warning") if dropped else ("MPL402", "error")], modelfile


@pytest.mark.parametrize(("name", "value", "with_", "without"), REMOVED)
def test_removed_options_on_newest(name: str, value: str, with_: str, without: str) -> None:
    assert version_diags(f"{name} {value}", "0.32.15", in_model=False) == [("MPL401", "warning")]
    modelfile = version_diags(f"{name} {value}", "0.32.15", in_model=True)
    nine = {"penalize_newline", "low_vram", "f16_kv", "logits_all", "vocab_only", "use_mlock", "mirostat", "mirostat_tau", "mirostat_eta"}
    assert modelfile == [("MPL403", "warning") if name in nine else ("MPL402", "error")]


def test_penalize_newline_dropped_between_055_and_068() -> None:
    assert version_diags("penalize_newline true", "0.6.8", in_model=True) == [("MPL403", "warning")]
    assert version_diags("mirostat 1", "0.6.8", in_model=True) == []


def test_unknown_runtime_option_rejected_before_0_1_35() -> None:
    # 0.1.2-0.1.34 rejected unknown options: min_p (0.3.1+) under 0.1.20 is an error
    assert version_diags("min_p 0.1", "0.1.20", in_model=False) == [("MPL401", "error")]
    assert version_diags("min_p 0.1", "0.1.34", in_model=False) == [("MPL401", "error")]
    assert version_diags("min_p 0.1", "0.1.35", in_model=False) == [("MPL401", "warning")]


def test_version_message_names_boundary() -> None:
    a = run('ollama "0.3.0"\nprofile p < min_p 0.1 >')
    d = next(d for d in a.diagnostics if d.code == "MPL401")
    assert "0.3.1" in d.message


def test_model_params_from_use_are_version_checked() -> None:
    a = run('profile p < mirostat 2 >\nmodel m from "x" < use p >')
    assert any(d.code == "MPL403" for d in a.diagnostics)
    a = run('profile p < tfs_z 0.5 >\nmodel m from "x" < use p >')
    assert any(d.code == "MPL402" and d.severity.value == "error" for d in a.diagnostics)


def test_command_line_version_overrides_file() -> None:
    a = run('ollama "0.6"\nprofile p < mirostat 2 >', ollama="0.32")
    assert any(d.code == "MPL401" for d in a.diagnostics)


@pytest.mark.parametrize(("version", "ok"), [("0.1.20", False), ("0.1.21", True)])
def test_message_instruction_version(version: str, ok: bool) -> None:
    a = run(f'ollama "{version}"\nmodel m from "x" < message user "hi" >')
    assert (not any(d.code == "MPL404" for d in a.diagnostics)) == ok


@pytest.mark.parametrize(("version", "ok"), [("0.13.5", False), ("0.14.0", True)])
def test_requires_instruction_version(version: str, ok: bool) -> None:
    a = run(f'ollama "{version}"\nmodel m from "x" < requires "0.14.0" >')
    assert (not any(d.code == "MPL404" for d in a.diagnostics)) == ok


def test_adapter_reported_removed_in_0_34_1(tmp_path: Path) -> None:
    shutil.copy(EXAMPLES / "adapters" / "meton-lora.gguf", tmp_path / "a.gguf")
    a = run('ollama "0.34.1"\nmodel m from "x" < adapter "a.gguf" >', base_dir=tmp_path)
    d = next(d for d in a.diagnostics if d.code == "MPL405")
    assert d.severity.value == "warning"
    assert "0.34.1" in d.message and "may refuse" in d.message
    a = run('ollama "0.34.0"\nmodel m from "x" < adapter "a.gguf" >', base_dir=tmp_path)
    assert not any(d.code == "MPL405" for d in a.diagnostics)
    a = run('model m from "x" < adapter "a.gguf" >', base_dir=tmp_path)
    assert not any(d.code == "MPL405" for d in a.diagnostics)


def test_invalid_ollama_version() -> None:
    assert any(l.startswith("MPL304") for l in labels(run('ollama "latest"\nprofile p < >')))


@pytest.mark.parametrize("text", ["0.12", "0.12.0", "v0.12", "v0.12.3"])
def test_ollama_version_forms(text: str) -> None:
    a = run(f'ollama "{text}"\nprofile p < >')
    assert not a.has_errors, labels(a)
    assert str(a.program.target).startswith("0.12")


# -- structure ----------------------------------------------------------------------


def test_one_line_blocks_and_semicolons() -> None:
    ps = api.loads("profile p < temperature 0.2; top_k 20 >;profile q < seed 1 >")
    assert ps.options("p") == {"temperature": 0.2, "top_k": 20}


def test_comments_everywhere() -> None:
    ps = api.loads("# head\nprofile p < # c\n  \"desc\" # d\n  top_k 1 # e\n> # f\n")
    assert ps.description("p") == "desc" and ps.options("p") == {"top_k": 1}


def test_description_only_first_statement() -> None:
    a = run('profile p < top_k 1; "late" >')
    assert a.has_errors and any(l.startswith(("MPL208", "MPL219")) for l in labels(a))


def test_model_statement_in_profile_is_error() -> None:
    assert any(l.startswith("MPL208") for l in labels(run('profile p < system "x" >')))


def test_nested_when_is_error() -> None:
    assert any(l.startswith("MPL208") for l in labels(run("tasks a\nprofile p < when task is a < when task is a < > > >")))


def test_when_in_model_is_error() -> None:
    assert any(l.startswith("MPL208") for l in labels(run('tasks a\nmodel m from "x" < when task is a < top_k 1 > >')))


def test_syntax_error_recovers() -> None:
    a = run("profile p < top_k >\nprofile q < min_pp 1 >")
    assert any(l.startswith("MPL101") for l in labels(a))
    assert any(l.startswith("MPL301@2") for l in labels(a))


@pytest.mark.parametrize(
    "text",
    ["", "\x00\x01", "profile", "profile p <", '"""', "<<<>>>", "model", "tasks", "profile p < stop [ >", "\ufeff" * 3, "profile p < when task is >"],
)
def test_hostile_inputs_do_not_raise(text: str) -> None:
    run(text)


# -- found by this audit -----------------------------------------------------------------


@pytest.mark.parametrize("stmt", ["temperature [0.1]", "num_ctx [1, 2]", "seed 1e400", "num_ctx 1e400", "top_k true"])
@pytest.mark.parametrize("where", ["profile p < {} >", 'model m from "x" < {} >', "tasks a\nprofile p < when task is a < {} > >"])
def test_wrong_types_are_diagnostics_not_crashes(stmt: str, where: str) -> None:
    a = run(where.format(stmt))
    assert a.has_errors and any(l.startswith(("MPL302", "MPL306")) for l in labels(a))


@pytest.mark.parametrize("override", [{"top_k": True}, {"temperature": False}, {"use_mmap": "yes"}])
def test_api_overrides_refuse_wrong_types(override) -> None:
    ps = api.loads("profile p < >")
    with pytest.raises(api.MplError) as err:
        ps.options("p", **override)
    assert [d.code for d in err.value.diagnostics] == ["MPL302"]


def test_api_overrides_from_strings_and_removal() -> None:
    ps = api.loads("profile p < top_p 0.5; seed 1 >")
    assert ps.options("p", top_k="20", use_mmap="false", stop="###", seed=None) == {
        "top_p": 0.5, "top_k": 20, "use_mmap": False, "stop": ["###"],
    }
    with pytest.raises(api.MplError) as err:
        ps.options("p", min_pp=0.1)
    assert "min_p" in (err.value.diagnostics[0].help or "")
    with pytest.raises(api.MplError) as err:
        ps.options("p", top_p=1.5)
    assert err.value.diagnostics[0].code == "MPL303"


def test_for_task_without_route_or_default() -> None:
    ps = api.loads("tasks a\nprofile p < >")
    with pytest.raises(api.MplError) as err:
        ps.for_task("a")
    assert err.value.diagnostics[0].code == "MPL217"


@pytest.mark.parametrize(
    ("text", "quoted"),
    [
        ("model m from qwen2.5-coder:7b", '"qwen2.5-coder:7b"'),
        ("model m from ./base.gguf", '"./base.gguf"'),
        ("model team/m from x", '"team/m"'),
        ("model m:7b from x", '"m:7b"'),
        ('profile p < >\nmodel m from qwen2.5 < system "s" >', '"qwen2.5"'),
        ("tasks a\r\nmodel m from ~/x.gguf", '"~/x.gguf"'),
    ],
)
def test_unquoted_model_names_get_a_quoting_hint(text: str, quoted: str) -> None:
    a = run(text)
    d = next(d for d in a.diagnostics if d.code == "MPL101")
    assert quoted in (d.help or "")


@pytest.mark.parametrize(
    ("version", "severity"), [("0.1.20", "warning"), ("0.1.33", "warning"), ("0.1.34", "error"), ("0.13.5", "error")]
)
def test_missing_instruction_severity_follows_the_parser(version: str, severity: str) -> None:
    # §1.1: the old line scanner (before 0.1.34) warned about unknown instructions and skipped them;
    # the state machine since 0.1.34 rejects them (`command must be one of ...`).
    a = run(f'ollama "{version}"\nmodel m from "x" < requires "0.14.0" >')
    assert [(d.code, d.severity.value) for d in a.diagnostics if d.code == "MPL404"] == [("MPL404", severity)]

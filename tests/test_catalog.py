"""Tests for `mpl.catalog`: option keys, defaults and instructions per Ollama release."""

from __future__ import annotations

import ast
import subprocess
import sys

import pydantic
import pytest

from mpl.catalog import (
    NEWEST,
    OLDEST,
    Catalog,
    Domain,
    ModelfileBehaviour,
    OptionSpec,
    ValueType,
    Version,
    catalog,
    catalog_input,
    validate_catalog,
)

V = Version.parse
ACCEPT, DROP_WARN, REJECT = ModelfileBehaviour.ACCEPT, ModelfileBehaviour.DROP_WARN, ModelfileBehaviour.REJECT

# ollama-facts.md §3.1 "The set at v0.32.15 has 20 keys".
CURRENT_OPTIONS = set(
    "num_keep seed num_predict top_k top_p min_p typical_p repeat_last_n temperature "
    "repeat_penalty presence_penalty frequency_penalty stop".split()
)
CURRENT_RUNNER = set("num_ctx num_batch num_gpu main_gpu use_mmap num_thread draft_num_predict".split())
# ollama-facts.md §3.1 table: every key in any release (35 rows).
ALL_KEYS = CURRENT_OPTIONS | CURRENT_RUNNER | set(
    "tfs_z mirostat mirostat_tau mirostat_eta penalize_newline numa low_vram f16_kv "
    "logits_all vocab_only use_mlock embedding_only num_gqa rope_frequency_base "
    "rope_frequency_scale".split()
)
NINE_DEPRECATED = set(
    "penalize_newline low_vram f16_kv logits_all vocab_only use_mlock mirostat "
    "mirostat_tau mirostat_eta".split()
)


@pytest.fixture(scope="module")
def c() -> Catalog:
    return catalog()


# --- the data validates and is what the facts list ------------------------------


def test_constructed_catalog_equals_validated_one(c: Catalog) -> None:
    validated = validate_catalog(catalog_input())
    assert validated == c
    assert isinstance(validated.options["seed"].first, Version)


def test_every_key_is_catalogued(c: Catalog) -> None:
    assert set(c.options) == ALL_KEYS
    assert len(c.options) == 35


def test_current_key_set_is_the_twenty_of_v0_32_15(c: Catalog) -> None:
    assert c.names_in(NEWEST) == CURRENT_OPTIONS | CURRENT_RUNNER
    assert len(c.names_in(NEWEST)) == 20
    assert {n for n in c.names_in(NEWEST) if c.options[n].struct == "runner"} == CURRENT_RUNNER


def test_v0_0_3_had_26_keys(c: Catalog) -> None:
    # ollama-facts.md §3.2: "v0.0.3 | 26 keys"
    assert len(c.names_in(OLDEST)) == 26


@pytest.mark.parametrize(
    ("name", "value_type", "nullable"),
    [
        ("temperature", ValueType.FLOAT, False),
        ("top_k", ValueType.INT, False),
        ("stop", ValueType.STRING_LIST, False),
        ("main_gpu", ValueType.INT, True),
        ("use_mmap", ValueType.BOOL, True),
        ("penalize_newline", ValueType.BOOL, False),
        ("rope_frequency_base", ValueType.FLOAT, False),
    ],
)
def test_types(c: Catalog, name: str, value_type: ValueType, nullable: bool) -> None:
    assert c.options[name].type is value_type
    assert c.options[name].nullable is nullable


@pytest.mark.parametrize(
    ("name", "version", "nullable"),
    [("main_gpu", "0.29.0", False), ("main_gpu", "0.30.0", True),
     ("use_mmap", "0.1.44", False), ("use_mmap", "0.1.45", True), ("temperature", "0.32.15", False)],
)
def test_nullable_by_version(c: Catalog, name: str, version: str, nullable: bool) -> None:
    assert c.options[name].nullable_in(V(version)) is nullable


@pytest.mark.parametrize(
    ("version", "kind"), [("0.1.44", ValueType.BOOL), ("0.1.45", ValueType.INT), ("0.1.46", ValueType.BOOL)]
)
def test_use_mmap_modelfile_type_by_version(c: Catalog, version: str, kind: ValueType) -> None:
    assert c.options["use_mmap"].modelfile_type_in(V(version)) is kind


def test_no_default_note_says_not_recorded(c: Catalog) -> None:
    notes = [d.note for spec in c.options.values() for d in spec.defaults]
    assert not any("not recorded" in note for note in notes)


def test_every_spec_is_complete(c: Catalog) -> None:
    for spec in c.options.values():
        assert spec.description and "\n" not in spec.description
        assert spec.defaults[0].since == spec.first
        assert spec.added_in == spec.first
        assert (spec.removed_in is None) == (spec.last is None)
        if spec.removed_in is not None:
            assert spec.known_in(spec.last) and not spec.known_in(spec.removed_in)


def test_history_checks_reject_bad_data() -> None:
    data = catalog_input()
    data["options"]["seed"]["defaults"] = [{"since": "0.1.0", "value": -1}]
    with pytest.raises(pydantic.ValidationError, match="must start at 0.0.3"):
        validate_catalog(data)
    data = catalog_input()
    data["options"]["seed"]["name"] = "Seed"
    with pytest.raises(pydantic.ValidationError, match="named 'Seed'"):
        validate_catalog(data)


def test_models_are_frozen(c: Catalog) -> None:
    """Assigning to a spec's field fails, and the spec keeps its value."""
    seed = c.options["seed"]
    for spec, name in [(seed, "description"), (c, "options"), (seed.defaults[0], "value"),
                       (c.options["top_p"].domain, "minimum"), (c.instructions["FROM"], "note")]:
        before = getattr(spec, name)
        with pytest.raises(AttributeError):
            setattr(spec, name, "x")
        assert getattr(spec, name) == before


def test_pydantic_fills_defaults_reads_specs_and_writes_them_back(c: Catalog) -> None:
    """A field with a default may be left out; a spec stands for its fields; a dump validates to the same catalog."""
    data = catalog_input()
    for name in ("special", "modelfile_types", "nullable_since"):
        del data["options"]["seed"][name]
    for name in ("reference", "note", "reported_from"):
        del data["instructions"]["SYSTEM"][name]
    validated = validate_catalog(data)
    assert validated.options["seed"].special == {} and validated.options["seed"].modelfile_types == []
    assert validated.instructions["SYSTEM"].note == "" and validated.options["top_k"] == c.options["top_k"]
    adapter = pydantic.TypeAdapter(Catalog)
    assert adapter.validate_python(c) == c
    dumped = adapter.dump_python(c, mode="json")
    assert dumped["options"]["seed"]["first"] == "0.0.3" and adapter.validate_python(dumped) == c
    assert adapter.validate_json(adapter.dump_json(c)) == c
    schema = adapter.json_schema()
    assert {"Domain", "DefaultChange", "TypeChange", "OptionSpec", "InstructionSpec"} <= set(schema["$defs"])
    assert schema["$defs"]["Domain"]["properties"]["min_exclusive"]["default"] is False
    assert schema["$defs"]["OptionSpec"]["additionalProperties"] is False


def test_validation_rejects_wrong_types_and_unknown_fields() -> None:
    data = catalog_input()
    data["options"]["seed"]["type"] = "integer"
    with pytest.raises(pydantic.ValidationError, match="for Catalog\noptions.seed.type"):
        validate_catalog(data)
    data = catalog_input()
    data["options"]["seed"]["typo"] = 1
    with pytest.raises(pydantic.ValidationError, match="typo"):
        validate_catalog(data)
    data = catalog_input()
    data["options"]["seed"]["first"] = "latest"
    with pytest.raises(pydantic.ValidationError, match="invalid Ollama version"):
        validate_catalog(data)


# --- key lifetimes ----------------------------------------------------------------


def test_mirostat_lifetime(c: Catalog) -> None:
    mirostat = c.option("mirostat")
    assert mirostat is not None
    assert mirostat.known_in(V("0.6.8"))
    assert not mirostat.known_in(V("0.7.0"))
    assert mirostat.removed_in == V("0.7.0")
    assert mirostat.added_in == V("0.0.3")


@pytest.mark.parametrize(
    ("name", "removed_in"),
    [
        ("embedding_only", "0.1.28"),
        ("num_gqa", "0.1.35"),
        ("rope_frequency_scale", "0.1.35"),
        ("numa", "0.3.4"),
        ("tfs_z", "0.5.2"),
        ("penalize_newline", "0.5.5"),
        ("use_mlock", "0.7.0"),
        ("temperature", None),
    ],
)
def test_removed_in(c: Catalog, name: str, removed_in: str | None) -> None:
    assert c.options[name].removed_in == (removed_in and V(removed_in))


def test_min_p_and_draft_num_predict_arrive_late(c: Catalog) -> None:
    min_p = c.options["min_p"]
    assert not min_p.known_in(V("0.3.0")) and min_p.known_in(V("0.3.1"))
    assert "min_p" not in c.names_in(V("0.2.8"))
    draft = c.options["draft_num_predict"]
    assert draft.added_in == V("0.30.0")
    assert not draft.known_in(V("0.24.0")) and draft.known_in(V("0.30.0"))


def test_option_lookup_is_case_sensitive(c: Catalog) -> None:
    assert c.option("TEMPERATURE") is None
    assert isinstance(c.option("temperature"), OptionSpec)


# --- Modelfile PARAMETER behaviour (ollama-facts.md §2.2) -----------------------------


@pytest.mark.parametrize(
    ("name", "version", "expected"),
    [
        ("mirostat", "0.32.15", DROP_WARN),
        ("mirostat", "0.6.0", ACCEPT),
        ("mirostat", "0.6.8", ACCEPT),
        ("mirostat", "0.7.0", DROP_WARN),
        ("tfs_z", "0.32.15", REJECT),
        ("tfs_z", "0.5.1", ACCEPT),
        ("numa", "0.32.15", REJECT),
        ("num_gqa", "0.32.15", REJECT),
        ("penalize_newline", "0.5.0", ACCEPT),
        ("penalize_newline", "0.5.4", ACCEPT),
        ("penalize_newline", "0.5.5", DROP_WARN),
        ("penalize_newline", "0.6.0", DROP_WARN),
        ("penalize_newline", "0.32.15", DROP_WARN),
        ("temperature", "0.32.15", ACCEPT),
        ("TEMPERATURE", "0.32.15", REJECT),
        ("temprature", "0.32.15", REJECT),
        ("min_p", "0.3.0", REJECT),
        ("draft_num_predict", "0.24.0", REJECT),
        ("draft_num_predict", "0.30.0", ACCEPT),
    ],
)
def test_modelfile_behaviour(c: Catalog, name: str, version: str, expected: ModelfileBehaviour) -> None:
    assert c.modelfile_behaviour(name, V(version)) is expected


def test_deprecated_lists(c: Catalog) -> None:
    assert c.deprecated_in(V("0.5.4")) == frozenset()
    assert c.deprecated_in(V("0.6.8")) == {"penalize_newline"}
    assert c.deprecated_in(NEWEST) == NINE_DEPRECATED


@pytest.mark.parametrize(
    ("version", "ignored"),
    [("0.0.13", True), ("0.1.1", True), ("0.1.2", False), ("0.1.20", False),
     ("0.1.34", False), ("0.1.35", True), ("0.32.15", True)],
)
def test_runtime_ignores_unknown(c: Catalog, version: str, ignored: bool) -> None:
    assert c.runtime_ignores_unknown(V(version)) is ignored


# --- defaults (ollama-facts.md §3.3) --------------------------------------------------


@pytest.mark.parametrize(
    ("name", "version", "default"),
    [
        ("repeat_penalty", "0.0.3", 1.1),
        ("repeat_penalty", "0.17.4", 1.1),
        ("repeat_penalty", "0.17.5", 1.0),
        ("repeat_penalty", "0.18.0", 1.1),
        ("repeat_penalty", "0.32.9", 1.1),
        ("repeat_penalty", "0.32.10", 1.0),
        ("num_ctx", "0.0.3", 512),
        ("num_ctx", "0.0.6", 2048),
        ("num_ctx", "0.6.6", 2048),
        ("num_ctx", "0.6.7", 4096),
        ("num_ctx", "0.15.4", 4096),
        ("num_ctx", "0.15.5", None),
        ("repeat_last_n", "0.0.12", 512),
        ("repeat_last_n", "0.0.13", 64),
        ("num_keep", "0.0.14", -1),
        ("num_keep", "0.1.8", 0),
        ("num_keep", "0.1.33", 4),
        ("num_gpu", "0.0.19", 1),
        ("num_gpu", "0.0.20", -1),
        ("num_thread", "0.0.17", None),
        ("num_thread", "0.0.18", 0),
        ("use_mmap", "0.1.44", True),
        ("use_mmap", "0.1.45", None),
        ("seed", "0.32.15", -1),
        ("temperature", "0.32.15", 0.8),
        ("min_p", "0.32.15", 0.0),
        ("draft_num_predict", "0.32.15", 4),
        ("penalize_newline", "0.5.4", True),
        ("mirostat_tau", "0.6.8", 5.0),
        ("tfs_z", "0.32.15", None),  # not known there
        # DefaultOptions() at each tag (api/types.go), where it differs from the zero value
        ("embedding_only", "0.0.13", False),
        ("embedding_only", "0.0.14", True),
        ("embedding_only", "0.1.27", True),
        ("num_gqa", "0.0.13", 1),
        ("num_gqa", "0.1.34", 1),
        ("rope_frequency_base", "0.0.14", 10000.0),
        ("rope_frequency_base", "0.1.31", 10000.0),
        ("rope_frequency_base", "0.1.32", 0.0),
        ("rope_frequency_scale", "0.1.31", 1.0),
        ("rope_frequency_scale", "0.1.32", 0.0),
        ("num_keep", "0.0.13", 0),
        ("num_predict", "0.0.18", 0),
        ("num_predict", "0.1.0", 0),
        ("num_predict", "0.1.1", -1),
    ],
)
def test_default_in(c: Catalog, name: str, version: str, default: object) -> None:
    got = c.options[name].default_in(V(version))
    assert got == default and type(got) is type(default)


# --- hard domains (parameters.md §2, §5) ----------------------------------------------


@pytest.mark.parametrize(
    ("name", "described"),
    [
        ("top_p", "[0, 1]"),
        ("min_p", "[0, 1]"),
        ("typical_p", "(0, 1]"),
        ("repeat_penalty", "> 0"),
        ("repeat_last_n", ">= -1"),
        ("mirostat", "[0, 2]"),
        ("mirostat_tau", "> 0"),
        ("mirostat_eta", "(0, 1]"),
        ("tfs_z", "(0, 1]"),
    ],
)
def test_domains(c: Catalog, name: str, described: str) -> None:
    domain = c.options[name].domain
    assert domain is not None and domain.describe() == described


@pytest.mark.parametrize("name", ["temperature", "seed"])
def test_values_ollama_accepts_and_reinterprets_have_no_hard_domain(c: Catalog, name: str) -> None:
    # parameters.md §6 rules 3 and 21: a negative temperature acts as 0 and seed -2 is a
    # fixed seed on llama.cpp; both are lint warnings (MPL732, MPL728), not type errors.
    assert c.options[name].domain is None


@pytest.mark.parametrize(
    "name", ["top_k", "num_predict", "num_ctx", "num_keep", "presence_penalty", "stop", "use_mmap"]
)
def test_no_hard_domain(c: Catalog, name: str) -> None:
    assert c.options[name].domain is None


def test_domain_contains() -> None:
    d = Domain(minimum=0, maximum=1, min_exclusive=True)
    assert not d.contains(0) and d.contains(1e-9) and d.contains(1) and not d.contains(1.01)
    assert not d.contains(float("nan"))
    assert Domain(minimum=-1).contains(4294967296) and not Domain(minimum=-1).contains(-2)
    assert Domain(maximum=2, max_exclusive=True).describe() == "< 2"
    assert Domain().describe() == "any value" and Domain().contains(float("inf"))
    assert Domain(minimum=0.5).describe() == ">= 0.5"


def test_special_values(c: Catalog) -> None:
    assert c.options["seed"].special == {"-1": "random seed"}
    assert "0" in c.options["top_k"].special
    assert set(c.options["mirostat"].special) == {"0", "1", "2"}


# --- suggestions ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "suggested"),
    [
        ("top-k", "top_k"),
        ("TEMPERATURE", "temperature"),
        ("Top_P", "top_p"),
        ("min_pp", "min_p"),
        ("temprature", "temperature"),
        ("num-ctx", "num_ctx"),
        ("max_tokens", "num_predict"),
        ("temp", "temperature"),
        ("temperature", None),
        ("zzzz", None),
        ("", None),
    ],
)
def test_suggest(c: Catalog, typed: str, suggested: str | None) -> None:
    assert c.suggest(typed) == suggested


def test_suggest_prefers_names_of_the_version(c: Catalog) -> None:
    assert c.suggest("mirostat_ta") == "mirostat_tau"
    assert c.suggest("num_gpux", version=NEWEST) == "num_gpu"


# --- instructions (ollama-facts.md §1.2, §8) ------------------------------------------


def test_instruction_keywords(c: Catalog) -> None:
    assert list(c.instructions) == [
        "FROM", "PARAMETER", "TEMPLATE", "SYSTEM", "ADAPTER", "LICENSE",
        "MESSAGE", "RENDERER", "PARSER", "REQUIRES", "DRAFT",
    ]


@pytest.mark.parametrize(
    ("keyword", "version", "works"),
    [
        # first releases read from parser/parser.go at each tag
        ("FROM", "0.0.5", False),
        ("FROM", "0.0.6", True),
        ("PARAMETER", "0.0.6", True),
        ("LICENSE", "0.0.7", False),
        ("LICENSE", "0.0.8", True),
        ("TEMPLATE", "0.0.8", False),
        ("TEMPLATE", "0.0.9", True),
        ("SYSTEM", "0.0.9", True),
        ("ADAPTER", "0.0.14", False),
        ("ADAPTER", "0.0.15", True),
        ("FROM", "0.32.15", True),
        ("MESSAGE", "0.1.20", False),
        ("MESSAGE", "0.1.21", True),
        ("RENDERER", "0.11.9", False),
        ("PARSER", "0.12.0", True),
        ("REQUIRES", "0.13.9", False),
        ("REQUIRES", "0.14.0", True),
        ("DRAFT", "0.24.0", False),
        ("DRAFT", "0.30.0", True),
        ("ADAPTER", "0.32.15", True),
        ("ADAPTER", "0.34.0", True),
        ("ADAPTER", "0.34.1", True),  # reported refused, not confirmed: unknown, so kept
    ],
)
def test_instruction_works_in(c: Catalog, keyword: str, version: str, works: bool) -> None:
    assert c.instructions[keyword].works_in(V(version)) is works


def test_adapter_limit_is_reported_not_confirmed(c: Catalog) -> None:
    adapter = c.instructions["ADAPTER"]
    assert adapter.reported_from == V("0.34.1") and adapter.last is None and adapter.removed_in is None
    assert "mellea#1651" in adapter.reference and "ollama/ollama#14969" in adapter.reference
    assert "still accepts GGUF" in adapter.note
    assert not any(i.reported_from for k, i in c.instructions.items() if k != "ADAPTER")
    assert "experimental" in c.instructions["DRAFT"].note


# --- versions -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0.12", Version(0, 12, 0)),
        ("0.12.3", Version(0, 12, 3)),
        ("v0.6.8", Version(0, 6, 8)),
        ("1.0", Version(1, 0, 0)),
        ("0.0.0", Version(0, 0, 0)),
        ("10.20.30", Version(10, 20, 30)),
    ],
)
def test_version_parse(text: str, expected: Version) -> None:
    assert Version.parse(text) == expected


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        ("0.12.x", "MAJOR.MINOR"),
        ("latest", "MAJOR.MINOR"),
        ("1.2.3.4", "too many parts"),
        ("", "empty"),
        ("01.2", "leading zeros"),
        ("0.012", "leading zeros"),
        ("1", "at least MAJOR.MINOR"),
        ("V0.12", "lowercase 'v'"),
        (" 0.12", "spaces"),
        ("0.14.0-rc1", "pre-release"),
        ("0.1２", "MAJOR.MINOR"),  # non-ASCII digit
        ("vv0.1", "MAJOR.MINOR"),
    ],
)
def test_version_parse_errors(text: str, hint: str) -> None:
    with pytest.raises(ValueError, match="invalid Ollama version") as excinfo:
        Version.parse(text)
    assert hint in str(excinfo.value)


def test_version_order_and_text() -> None:
    assert str(Version(0, 12, 0)) == "0.12.0"
    assert V("0.9.9") < V("0.10.0") < V("0.10.1") < V("1.0")
    assert OLDEST == Version(0, 0, 3) and NEWEST == Version(0, 32, 15)
    assert sorted([V("0.2"), V("0.1.35"), V("0.1.4")]) == [V("0.1.4"), V("0.1.35"), V("0.2")]
    assert len({V("0.12"), V("0.12.0")}) == 1


def test_version_as_pydantic_field() -> None:
    class Pin(pydantic.BaseModel):
        ollama: Version

    assert Pin(ollama="0.12").ollama == Version(0, 12, 0)
    assert Pin(ollama=Version(0, 6, 8)).model_dump_json() == '{"ollama":"0.6.8"}'
    with pytest.raises(pydantic.ValidationError, match="invalid Ollama version"):
        Pin(ollama="latest")
    with pytest.raises(pydantic.ValidationError):
        Pin(ollama=12)


# --- start-up cost ------------------------------------------------------------------


def test_building_the_catalog_loads_nothing_heavy() -> None:
    code = (
        "import sys; from mpl.catalog import catalog; catalog().suggest('x'); "
        "bad = {'importlib.metadata', 'json', 'difflib', 'jinja2', 'lark', 'yaml', 'pydantic'} & set(sys.modules); "
        "print(sorted(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    # `suggest('x')` on the error path may import difflib; everything else must stay out.
    assert set(ast.literal_eval(out.stdout)) <= {"difflib"}

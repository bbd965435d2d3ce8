"""The Meton target means in Meton what it means in mpl, and `--into` changes nothing else.

`MetonModel` below is a model of Meton's configuration, written from reading its
`core/config.py` and `core/models.py`: the fourteen `ModelSettings` fields with
Meton's own defaults and ranges, the way a config.yaml's `models.settings` is
loaded (a missing key takes Meton's default), the way `/pprofile apply` changes
the live settings (each listed key converted and range-checked, the others left
as they were), and the options Meton then sends to Ollama (all fourteen, with
`max_tokens` as `num_predict`).

By default a preset lists the keys where its profile differs from the `default`
profile (models.settings), so it means its profile when applied to the start-up
settings, and after another preset only MPL509's keys can differ; with
`complete` every preset lists all fourteen and means its profile after any other.
"""

from __future__ import annotations

import shutil
import typing as t
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
import yaml
from typer.testing import CliRunner

from helpers import FIXTURES, labels
from mpl.catalog import Version, catalog
from mpl.cli import app
from mpl.pipeline import analyze
from mpl.provenance import find_subject, rows
from mpl.targets.base import typed
from mpl.targets.meton import MetonTarget, yaml_number, yaml_str
from mpl.targets.meton_into import IntoError, merge_into

HERE = FIXTURES / "meton"
CONFIG = HERE / "config.yaml"
SOURCE = HERE / "profiles.mprof"

# -- a model of Meton -----------------------------------------------------------------

# field: (type, Meton's default, min, max); None = unbounded
METON_FIELDS: dict[str, tuple[type, t.Any, float | None, float | None]] = {
    "temperature": (float, 0.7, 0.0, 2.0),
    "max_tokens": (int, 2048, 1, None),
    "top_p": (float, 0.9, 0.0, 1.0),
    "num_ctx": (int, 4096, 1, None),
    "top_k": (int, 40, 0, None),
    "min_p": (float, 0.1, 0.0, 1.0),
    "repeat_penalty": (float, 1.1, 0.0, 2.0),
    "repeat_last_n": (int, 64, -1, None),
    "presence_penalty": (float, 0.0, -2.0, 2.0),
    "frequency_penalty": (float, 0.0, -2.0, 2.0),
    "mirostat": (int, 0, 0, 2),
    "mirostat_tau": (float, 5.0, 0.0, None),
    "mirostat_eta": (float, 0.1, 0.0, 1.0),
    "seed": (int, -1, -1, None),
}
SENT_AS = {"max_tokens": "num_predict"}


class MetonModel:
    """Meton's live parameter settings, loaded from a config.yaml and changed by profiles."""

    def __init__(self, config: dict[str, t.Any]) -> None:
        models = config.get("models") or {}
        given = models.get("settings") or {}
        assert set(given) <= set(METON_FIELDS), "ModelSettings has no such field"
        self.settings = {key: self._checked(key, given.get(key, default)) for key, (_, default, _, _) in METON_FIELDS.items()}
        self.profiles: dict[str, dict[str, t.Any]] = {}
        for name, profile in (config.get("parameter_profiles") or {}).items():
            assert isinstance(name, str) and set(profile) == {"name", "description", "settings"}
            assert isinstance(profile["name"], str) and isinstance(profile["description"], str)
            assert set(profile["settings"]) <= set(METON_FIELDS), "ParameterProfile rejects the key"
            self.profiles[name] = profile

    @staticmethod
    def _checked(key: str, value: t.Any) -> t.Any:
        kind, _, low, high = METON_FIELDS[key]
        assert not isinstance(value, bool) and isinstance(value, (int, float)), (key, value)
        value = kind(value)
        assert (low is None or value >= low) and (high is None or value <= high), f"Meton refuses {key} {value}"
        return value

    def apply_profile(self, name: str) -> None:
        for key, value in self.profiles[name]["settings"].items():
            self.settings[key] = self._checked(key, value)

    def options(self) -> dict[str, t.Any]:
        """What Meton sends to Ollama: every field, in Ollama's names."""
        return {SENT_AS.get(key, key): value for key, value in self.settings.items()}


def ollama_uses(name: str, value: t.Any, options: dict[str, t.Any], target: Version) -> t.Any:
    """What Ollama `target` makes of an option's value (None: it ignores the option)."""
    spec = catalog().options[name]
    if not spec.known_in(target):
        return None
    if name == "num_predict" and target >= Version(0, 30, 0) and isinstance(options.get("num_ctx"), int):
        cap = 10 * options["num_ctx"]
        return cap if value < 0 or value > cap else value
    return value


def mpl_reports(program: t.Any, subject: str) -> dict[str, t.Any]:
    """The fourteen options as `mpl show` reports them for a profile (or PROFILE@TASK)."""
    names = [SENT_AS.get(key, key) for key in METON_FIELDS]
    return {row.name: typed(row.name, row.value) for row in rows(program, find_subject(program, subject))
            if row.name in names}


def compiled(text_or_path: str | Path, ollama: str | None = None, primary: str | None = None,
             complete: bool = False) -> tuple[t.Any, dict[str, t.Any], str]:
    analysis = analyze(text_or_path, target=Version.parse(ollama) if ollama else None, targets=("meton",))
    assert not analysis.has_errors, labels(analysis)
    target = MetonTarget(primary=primary, complete=complete)
    (out,) = target.emit(analysis.program, Path("."))
    return analysis.program, yaml.safe_load(out.content), out.content


def subject_of(program: t.Any, entry: str) -> str:
    """`PROFILE-TASK` variants are `PROFILE@TASK` subjects."""
    if entry in program.profiles:
        return entry
    profile, _, task = entry.rpartition("-")
    return f"{profile}@{task}"


def unexpressible(program: t.Any, subject: str) -> set[str]:
    """The options MPL507 says Meton cannot leave to Ollama for this profile."""
    profile, _, task = subject.partition("@")
    options = program.resolve(profile, task or None)
    found = set()
    if "num_ctx" not in options and catalog().options["num_ctx"].default_in(program.target) is None:
        found.add("num_ctx")
    if "num_predict" not in options and program.target < Version(0, 30, 0):
        found.add("num_predict")
    return found


def sends_what_mpl_reports(program: t.Any, meton: MetonModel, subject: str, skip: t.Collection[str] = ()) -> list[str]:
    """The options Meton sends that differ from what `mpl show` reports for `subject` (none but `skip`)."""
    target = program.target
    sent = meton.options()
    expected = mpl_reports(program, subject)
    differ = []
    for name, value in sent.items():
        uses = ollama_uses(name, value, sent, target)
        if name in unexpressible(program, subject) or name in skip:
            continue  # what MPL507 reports: Meton cannot say "leave it to Ollama"
        if name in expected:
            if uses != ollama_uses(name, expected[name], sent, target):
                differ.append(name)
        else:  # an option this Ollama does not know: ignored, and written at its old default
            assert uses is None and name in ("mirostat", "mirostat_tau", "mirostat_eta", "min_p"), (subject, name)
    return differ


@pytest.mark.parametrize("ollama", ["0.5.4", "0.6", "0.12", "0.32.9", "0.32.15"])
def test_every_complete_profile_applied_in_turn_sends_what_mpl_show_reports(ollama: str) -> None:
    program, doc, _ = compiled(SOURCE, ollama, complete=True)
    target = program.target
    reported = [d for d in analyze(SOURCE, target=target, targets=("meton",)).diagnostics if d.code == "MPL507"]
    assert bool(reported) == any(unexpressible(program, subject_of(program, n)) for n in doc["parameter_profiles"])
    meton = MetonModel(doc)
    names = list(meton.profiles)
    assert set(names) >= set(program.profiles) and "creative-docs" in names and "explanation-docs" in names
    assert not sends_what_mpl_reports(program, meton, program.default)
    # every profile after every other (so no profile leans on what the one before left behind)
    order = [name for first in names for name in (first, *[n for n in names if n != first])]
    for applied in order:
        meton.apply_profile(applied)
        assert not sends_what_mpl_reports(program, meton, subject_of(program, applied)), (ollama, applied)
        for name, value in meton.options().items():
            spec = catalog().options[name]
            if not spec.known_in(target) and name not in program.resolve(*subject_of(program, applied).split("@")):
                assert value == typed(name, spec.defaults[-1].value if spec.last and target > spec.last else spec.defaults[0].value)


@pytest.mark.parametrize("ollama", ["0.6", "0.12", "0.32.15"])
def test_a_preset_means_its_profile_over_models_settings_and_mpl509_names_what_another_leaves(ollama: str) -> None:
    program, doc, _ = compiled(SOURCE, ollama)
    names = list(MetonModel(doc).profiles)
    (note,) = [d for d in analyze(SOURCE, target=program.target, targets=("meton",)).diagnostics if d.code == "MPL509"]
    named = {SENT_AS.get(k, k) for k in dict(note.args)["keys"].split(",")}
    seen: set[str] = set()
    for first in names:
        start = MetonModel(doc)
        start.apply_profile(first)
        assert not sends_what_mpl_reports(program, start, subject_of(program, first)), (ollama, first)
        for then in names:
            meton = MetonModel(doc)
            meton.apply_profile(first)
            meton.apply_profile(then)
            differ = sends_what_mpl_reports(program, meton, subject_of(program, then))
            assert set(differ) <= named, (first, then, differ)
            seen.update(differ)
    assert seen == named  # every key the note names does depend on the preset before


def test_debugging_then_creative_leaves_no_mirostat_behind_with_complete_presets() -> None:
    # Meton's own behaviour: a profile that lists fewer keys would keep debugging's top_k 20 and mirostat 2.
    _, doc, _ = compiled(SOURCE, "0.6", complete=True)
    meton = MetonModel(doc)
    meton.apply_profile("debugging")
    assert meton.settings["mirostat"] == 2 and meton.settings["top_k"] == 20
    meton.apply_profile("creative")
    assert meton.settings["mirostat"] == 0 and meton.settings["top_k"] == 40 and meton.settings["mirostat_tau"] == 5.0


def test_debugging_then_creative_keeps_mirostat_as_meton_does_and_the_note_says_so() -> None:
    program, doc, text = compiled(SOURCE, "0.6")
    meton = MetonModel(doc)
    meton.apply_profile("debugging")
    meton.apply_profile("creative")
    assert meton.settings["mirostat"] == 2 and meton.settings["mirostat_tau"] == 4.0
    assert list(doc["parameter_profiles"]["debugging"]["settings"]) == ["temperature", "top_k", "repeat_penalty",
                                                                      "mirostat", "mirostat_tau"]
    notes = [d for d in analyze(SOURCE, target=program.target, targets=("meton",)).diagnostics if d.code == "MPL509"]
    assert len(notes) == 1 and {"mirostat", "mirostat_tau"} <= set(dict(notes[0].args)["keys"].split(","))
    assert "so what a preset gives" in notes[0].message and "--meton-complete-presets" in (notes[0].help or "")
    complete = [d for d in analyze(SOURCE, target=program.target, targets=()).diagnostics if d.code == "MPL509"]
    assert not complete and "lists where it differs from models.settings" in text


def test_without_a_default_every_preset_lists_all_fourteen_keys() -> None:
    # mpl writes no models.settings then, and cannot know what a preset applies over.
    _, doc, _ = compiled("profile a < temperature 0.2; num_ctx 4096 >\nprofile b < top_k 3; num_ctx 4096 >", "0.12")
    assert all(list(p["settings"]) == list(METON_FIELDS) for p in doc["parameter_profiles"].values())
    assert "MPL509" not in [d.code for d in analyze("profile a < top_k 3 >\nprofile b < num_ctx 4096 >", targets=("meton",)).diagnostics]


def test_every_key_is_written_and_unset_ones_say_so() -> None:
    _, doc, text = compiled(SOURCE, "0.12", complete=True)
    for profile in doc["parameter_profiles"].values():
        assert list(profile["settings"]) == list(METON_FIELDS)
    assert list(doc["models"]["settings"]) == list(METON_FIELDS)
    assert list(compiled(SOURCE, "0.12")[1]["models"]["settings"]) == list(METON_FIELDS)
    assert "    top_p: 0.9              # unset: Ollama 0.12.0's default\n" in text
    assert "# unset; ignored by Ollama 0.12.0 (removed in 0.7.0): its old default" in text
    assert "      mirostat: 2             # ignored by Ollama 0.12.0 (removed in 0.7.0)\n" in text


def test_repeat_penalty_default_follows_the_target_version() -> None:
    for ollama, expected in (("0.32.9", 1.1), ("0.32.10", 1.0)):
        _, doc, _ = compiled("profile p < num_ctx 8192 >", ollama)
        assert doc["parameter_profiles"]["p"]["settings"]["repeat_penalty"] == expected


def test_num_predict_unlimited_is_ten_times_num_ctx_since_0_30() -> None:
    _, doc, text = compiled("profile p < num_ctx 8192 >\nprofile q < num_ctx 1024; num_predict -1 >", "0.32.15")
    assert doc["parameter_profiles"]["p"]["settings"]["max_tokens"] == 81920
    assert doc["parameter_profiles"]["q"]["settings"]["max_tokens"] == 10240
    assert "max_tokens: 81920" in text and "caps it at 10 x num_ctx" in text


def test_a_statement_meton_cannot_hold_is_reported_once_however_many_profiles_inherit_it() -> None:
    text = ("tasks docs, chat\nprofile base < temperature 2.5; stop \"x\"; when task is docs < top_k 3 > >\n"
            "profile child extends base < top_k 4; when task is chat < stop += \"y\"; top_k 5 > >\n"
            "profile other extends base < temperature 2.5 >")
    found = [l for l in labels(analyze(text, targets=("meton",))) if l.startswith(("MPL501", "MPL502"))]
    assert found == ["MPL502@2:28", "MPL501@2:33", "MPL501@3:59", "MPL502@4:42"]


# -- MPL507 -------------------------------------------------------------------------


def test_automatic_num_ctx_is_reported_at_the_topmost_profile_and_written_as_4096() -> None:
    text = "profile base < temperature 0.2 >\nprofile child extends base < top_k 3 >\nprofile own < num_ctx 8192 >"
    a = analyze(text, targets=("meton",))
    assert [l for l in labels(a) if l.startswith("MPL507")] == ["MPL507@1:9"]
    (d,) = [d for d in a.diagnostics if d.code == "MPL507"]
    assert "`child`" in d.message and "num_ctx 4096" in (d.help or "")
    _, doc, out = compiled(text)
    assert doc["parameter_profiles"]["child"]["settings"]["num_ctx"] == 4096
    assert "which Meton cannot express (MPL507)" in out


def test_no_mpl507_where_ollama_has_a_number() -> None:
    a = analyze('ollama "0.12"\nprofile p < temperature 0.2; num_predict 100 >', targets=("meton",))
    assert not [l for l in labels(a) if l.startswith("MPL507")]
    _, doc, _ = compiled('ollama "0.12"\nprofile p < temperature 0.2; num_predict 100 >')
    assert doc["parameter_profiles"]["p"]["settings"]["num_ctx"] == 4096  # Ollama 0.12's default


def test_unlimited_num_predict_before_0_30_is_reported() -> None:
    a = analyze('ollama "0.6"\nprofile p < num_ctx 2048 >', targets=("meton",))
    (d,) = [d for d in a.diagnostics if d.code == "MPL507"]
    assert dict(d.args).get("parameter") == "num_predict"
    assert "num_predict 20480" in (d.help or "")


# -- YAML-special names ---------------------------------------------------------------


def test_yaml_special_names_read_back_as_the_same_strings() -> None:
    from ruamel.yaml import YAML

    names = ["yes", "null", "on", "off", "No", "True", "y"]
    descriptions = ["~", "1e3", "null", "yes", "0x10", "1_000", "12:30"]
    text = "default yes\n" + "\n".join(
        f'profile {n} < "{d}"\n  num_ctx 4096 >' for n, d in zip(names, descriptions)) + '\nmodel "1e3" from "x"'
    _, _, out = compiled(text, primary="1e3")
    for loaded in (yaml.safe_load(out), YAML(typ="safe").load(out)):
        assert list(loaded["parameter_profiles"]) == names
        for n, d in zip(names, descriptions):
            assert loaded["parameter_profiles"][n] == {**loaded["parameter_profiles"][n], "name": n, "description": d}
        assert loaded["models"]["primary"] == "1e3"


# -- --into -----------------------------------------------------------------------------


def outside_replaced(text: str) -> str:
    """The text without models.primary, models.settings and parameter_profiles (as laid out here)."""
    kept: list[str] = []
    skipping: int | None = None
    section = None
    for line in text.splitlines(keepends=True):
        indent = len(line) - len(line.lstrip(" "))
        if skipping is not None:
            if line.strip() and indent > skipping:
                continue
            skipping = None
        if indent == 0 and line.strip() and not line.startswith("#"):
            section = line.split(":")[0]
        if (section == "models" and line.startswith(("  settings:", "  primary:"))) or line.startswith("parameter_profiles:"):
            skipping = indent
            kept.append(f"<{line.strip().split(':')[0]}>\n")
            continue
        kept.append(line)
    return "".join(kept)


def invoke(*args: str) -> t.Any:
    return CliRunner().invoke(app, list(args))


def test_into_changes_nothing_outside_the_replaced_sections(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    shutil.copy(CONFIG, config)
    result = invoke("compile", str(SOURCE), "--target", "meton", "--into", str(config), "--meton-primary", "meton-coder")
    assert result.exit_code == 0, result.output
    before, after = CONFIG.read_text(), config.read_text()
    assert before != after
    assert outside_replaced(after) == outside_replaced(before)
    assert outside_replaced(before).count("<") >= 3  # the three sections were found and cut
    assert (tmp_path / "config.yaml.bak").read_bytes() == CONFIG.read_bytes()
    doc = yaml.safe_load(after)
    assert doc["models"]["primary"] == "meton-coder" and doc["models"]["fallback"] == "qwen2.5-instruct-q5_K_M"
    assert "  primary: meton-coder        # the main model\n" in after  # the comment keeps its column
    program, compiled_doc, _ = compiled(SOURCE, primary="meton-coder")
    # The presets the file has are changed in place, the others added; the default is models.settings.
    assert set(doc["parameter_profiles"]) == set(compiled_doc["parameter_profiles"]) - {"precise"}
    assert "      mirostat: 2  # hand-written\n" in after and "creative_coding" not in after
    assert "preset `creative_coding` is removed: the source has no profile of that name" in result.output
    meton = MetonModel(doc)
    assert not sends_what_mpl_reports(program, meton, "precise")
    for name in doc["parameter_profiles"]:
        applied = MetonModel(doc)
        applied.apply_profile(name)
        assert not sends_what_mpl_reports(program, applied, subject_of(program, name)), name
    assert after.endswith("\n# end of file: this comment stays\n")
    assert "\n# -- agent ---" in after and "\n# Parameter profiles (replaced by mpl).\nparameter_profiles:\n" in after
    old = yaml.safe_load(before)
    assert {k: v for k, v in doc.items() if k not in ("models", "parameter_profiles")} == {
        k: v for k, v in old.items() if k not in ("models", "parameter_profiles")}
    MetonModel(doc)


def test_into_twice_is_idempotent(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    shutil.copy(CONFIG, config)
    assert invoke("compile", str(SOURCE), "--into", str(config), "--no-backup").exit_code == 0
    assert not (tmp_path / "config.yaml.bak").exists()
    once = config.read_bytes()
    second = invoke("compile", str(SOURCE), "--into", str(config))
    assert second.exit_code == 0 and "already up to date" in second.output
    assert config.read_bytes() == once and not (tmp_path / "config.yaml.bak").exists()


def test_into_keeps_crlf_and_adds_missing_sections(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_bytes(b"# mine\r\nagent:\r\n  verbose: true\r\n")
    assert invoke("compile", str(SOURCE), "--into", str(config), "--no-backup").exit_code == 0
    data = config.read_bytes()
    assert data.startswith(b"# mine\r\nagent:\r\n  verbose: true\r\nmodels:\r\n  settings:\r\n")
    assert b"\n" not in data.replace(b"\r\n", b"")
    doc = yaml.safe_load(data)
    assert doc["agent"] == {"verbose": True} and set(doc) == {"agent", "models", "parameter_profiles"}


@pytest.mark.parametrize(
    "content",
    ["agent: [1, 2\n", "- a\n- b\n", "just a string\n", "", "a: 1\n---\nb: 2\n", "{agent: {verbose: true}}\n"],
    ids=["invalid", "list", "scalar", "empty", "two-documents", "flow"],
)
def test_into_a_file_that_is_no_meton_config_is_an_error_and_left_alone(tmp_path: Path, content: str) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(content)
    result = invoke("compile", str(SOURCE), "--into", str(config))
    assert result.exit_code == 2, result.output
    assert "mpl: error:" in result.output and "left unchanged" in result.output and "Traceback" not in result.output
    assert config.read_text() == content and not (tmp_path / "config.yaml.bak").exists()


def test_merge_into_names_the_position_of_a_yaml_error() -> None:
    program, _, _ = compiled(SOURCE)
    with pytest.raises(IntoError, match=r"not valid YAML at line 3, column 1: expected the node content"):
        merge_into(MetonTarget(), program, "a: 1\nb: [\n")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--target", "options", "--into", "x.yaml"], "--into writes only the meton target"),
        (["--no-backup"], "--no-backup only applies with --into"),
        (["--target", "options", "--meton-primary", "m"], "--meton-primary needs the meton target"),
        (["--target", "options", "--meton-complete-presets"], "--meton-complete-presets needs the meton target"),
        (["--target", "meton", "--meton-primary", "meton-codr"], "did you mean `meton-coder`?"),
    ],
)
def test_compile_usage_errors(tmp_path: Path, args: list[str], message: str) -> None:
    result = invoke("compile", str(SOURCE), "-o", str(tmp_path / "out"), *args)
    assert result.exit_code == 2 and message in result.output, result.output
    assert not (tmp_path / "out").exists()


def test_into_a_missing_file_is_an_io_error(tmp_path: Path) -> None:
    result = invoke("compile", str(SOURCE), "--into", str(tmp_path / "nope.yaml"))
    assert result.exit_code == 2 and "cannot write into" in result.output


@given(st.text(max_size=40))
@settings(max_examples=400)
def test_any_string_reads_back_the_same_in_yaml_1_1_and_1_2(text: str) -> None:
    """The Meton writer's scalars, read by PyYAML (YAML 1.1, as Meton does) and ruamel (1.2)."""
    from ruamel.yaml import YAML

    line = f"key: {yaml_str(text)}\n"
    assert yaml.safe_load(line) == {"key": text}
    assert YAML(typ="safe", pure=True).load(line) == {"key": text}


@given(st.one_of(st.integers(-(2**63), 2**63 - 1), st.floats(allow_nan=False, allow_infinity=False)))
def test_numbers_read_back_as_the_same_type_and_value(value: int | float) -> None:
    read = yaml.safe_load(f"key: {yaml_number(value)}")["key"]
    assert type(read) is type(value) and read == value


@pytest.mark.parametrize(("fixture", "presets"), [
    ("shipped-config.yaml", ("precise_coding", "debugging", "explanation", "creative_coding")),
    ("five-presets.yaml", ("precise", "creative", "balanced", "debugging", "explanation")),
])
def test_import_factor_into_round_trip_of_metons_presets(tmp_path: Path, fixture: str, presets: tuple[str, ...]) -> None:
    """Meton's presets: import --factor, compile --into a copy, read it back as Meton does."""
    shipped = FIXTURES / "meton" / fixture
    config = tmp_path / "config.yaml"
    shutil.copy(shipped, config)
    source = tmp_path / "meton.mprof"
    result = CliRunner().invoke(app, ["import", str(config), "--factor", "-o", str(source)])
    assert result.exit_code == 0, result.output
    text = source.read_text()
    assert all(f"profile {p} extends default <" in text for p in presets)  # the shared base: what Meton starts from
    if fixture == "shipped-config.yaml":
        assert "profile precise_coding extends default <\n  \"Precise and deterministic coding with mirostat\"\n  mirostat 2\n>" in text
    else:
        assert "profile precise extends default <\n  \"Deterministic output for precise coding tasks\"\n  temperature 0.0\n>" in text

    result = CliRunner().invoke(app, ["compile", str(source), "--target", "meton", "--into", str(config)])
    assert result.exit_code == 0, result.output
    before, after = shipped.read_text(), config.read_text()
    # Outside the replaced sections, every key, comment and byte is as it was.
    assert set(yaml.safe_load(before)) - {"models"} == set(yaml.safe_load(after)) - {"models"}
    old, new = yaml.safe_load(before), yaml.safe_load(after)
    assert {k: v for k, v in old.items() if k not in ("models", "parameter_profiles")} == {
        k: v for k, v in new.items() if k not in ("models", "parameter_profiles")}
    if "models" in old:
        assert {k: v for k, v in old["models"].items() if k != "settings"} == {k: v for k, v in new["models"].items() if k != "settings"}
        assert "  max_iterations: 15  # raised for queries with several search/read steps\n" in after
        assert after.endswith("# trailing comment kept\n") and after.startswith(before.split("models:")[0])
    else:
        assert after.startswith(before.split("parameter_profiles:")[0])

    # Meton loads it, and every preset applied to the start-up settings gives what it gave before.
    meton_before, meton_after = MetonModel(old), MetonModel(new)
    assert meton_after.settings == meton_before.settings
    for preset in presets:
        a, b = MetonModel(old), MetonModel(new)
        a.apply_profile(preset)
        b.apply_profile(preset)
        assert a.options() == b.options(), preset


def test_a_negative_zero_is_written_with_its_sign_beside_a_positive_one(tmp_path: Path) -> None:
    # 0.0 and -0.0 are equal keys of a dict: the lines memo must not give one the other's text.
    analysis = analyze("profile a < presence_penalty 0.0 >\nprofile b < presence_penalty -0.0 >\n"
                       "profile c < presence_penalty 0.0 >\n")
    assert analysis.program is not None
    (out,) = MetonTarget().emit(analysis.program, tmp_path)
    profiles = yaml.safe_load(out.content)["parameter_profiles"]
    shown = {name: repr(p["settings"]["presence_penalty"]) for name, p in profiles.items()}
    assert shown == {"a": "0.0", "b": "-0.0", "c": "0.0"}

"""Hostile config.yaml: `mpl import` and `mpl compile --into` read it as Meton does, within bounds.

Both read the file through `mpl.yamlread.read_yaml` (PyYAML's `safe_load`, as Meton
does): alias bombs and deep nesting are refused (MPL011) rather than expanded, a key
given twice counts as PyYAML counts it, merge keys are applied, and a file Meton cannot
load is an error (MPL010) that never replaces an existing output.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import typing as t
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from helpers import FIXTURES, ROOT
from mpl.cli import app
from mpl.importer import run_import
from mpl.yamlread import ALIAS_FLOOR, MAX_DEPTH, Refused, read_yaml

SOURCE = FIXTURES / "meton" / "profiles.mprof"
SHIPPED = FIXTURES / "meton" / "shipped-config.yaml"


def bomb(levels: int, indent: str = "  ") -> str:
    """`lol0: &a0 [lol ×9]`, `lolN: &aN [*aN-1 ×9]`: 9**levels values in a few hundred bytes."""
    lines = [f"{indent}lol0: &a0 [" + ", ".join(["lol"] * 9) + "]"]
    lines += [f"{indent}lol{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, levels + 1)]
    return "\n".join(lines) + "\n"


def mpl(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """`mpl` in a process of its own, which a hang cannot hold past the timeout."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1"}
    result = subprocess.run([sys.executable, "-m", "mpl", *args], capture_output=True, text=True, timeout=60, env=env, cwd=cwd)
    assert "Traceback" not in result.stdout + result.stderr, result.stderr
    return result


def imported(tmp_path: Path, text: str) -> tuple[t.Any, list[str], str | None]:
    """Import `text` as a config.yaml: (the import, its diagnostics as CODE@LINE:COL, the .mprof text or None)."""
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    out, imp, _ = run_import([path], output=None, profile=None, name=None, do_factor=False)
    [(source, sink)] = imp.reports
    labels = []
    for d in sink.sorted():
        labels.append(d.code if d.span is None else "{}@{}:{}".format(d.code, *source.line_col(d.span.start)))
    return imp, labels, out


def into(tmp_path: Path, text: str) -> tuple[t.Any, str]:
    """`mpl compile profiles.mprof --into config.yaml` of `text`: (the result, the file afterwards)."""
    config = tmp_path / "config.yaml"
    config.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(app, ["compile", str(SOURCE), "--target", "meton", "--into", str(config), "--no-backup"])
    assert "Traceback" not in result.output and result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result, config.read_text(encoding="utf-8")


def refused_line(result: t.Any) -> str:
    """The one `mpl: error:` line of a refused --into."""
    errors = [line for line in result.output.splitlines() if line.startswith("mpl: error:")]
    assert result.exit_code == 2 and len(errors) == 1, result.output
    assert errors[0].endswith("it was left unchanged"), errors[0]
    return errors[0]


# -- 7: YAML that attacks ------------------------------------------------------------


def test_an_alias_bomb_in_a_profiles_stop_is_refused_by_import_at_the_alias(tmp_path: Path) -> None:
    text = "anchors:\n" + bomb(8) + "parameter_profiles:\n  p:\n    settings:\n      stop: *a8\n"
    (tmp_path / "config.yaml").write_text(text)
    (tmp_path / "keep.mprof").write_text("keep\n")
    result = mpl("import", "config.yaml", "-o", "keep.mprof", cwd=tmp_path)  # it never finished before
    assert result.returncode == 1, result.stderr
    assert "config.yaml:5:24: error[MPL011]: aliases expand to more than 10,000 nodes" in result.stderr
    assert "= help: write the values out" in result.stderr
    assert (tmp_path / "keep.mprof").read_text() == "keep\n"


def test_a_small_bomb_does_not_blow_up_the_output(tmp_path: Path) -> None:
    # 370 bytes, five levels: 458 KB of `.mprof` before
    text = "anchors:\n" + bomb(5) + "parameter_profiles:\n  p:\n    settings:\n      stop: *a5\n"
    _, labels, out = imported(tmp_path, text)
    assert labels == ["MPL011@5:24"] and out is None


def test_an_alias_bomb_in_an_unrelated_section_is_refused_by_into(tmp_path: Path) -> None:
    text = SHIPPED.read_text() + "extra:\n" + bomb(9)
    (tmp_path / "config.yaml").write_text(text)
    result = mpl("compile", str(SOURCE), "--target", "meton", "--into", "config.yaml", cwd=tmp_path)  # 98 s before
    assert result.returncode == 2
    [line] = [x for x in result.stderr.splitlines() if x.startswith("mpl: error:")]
    at = text.count("\n", 0, text.index("lol3:")) + 1  # `lol` counts its characters too: the budget runs out a level earlier
    assert f"config.yaml is refused at line {at}, column 24: aliases expand to more than" in line and "(MPL011;" in line
    assert (tmp_path / "config.yaml").read_text() == text and not (tmp_path / "config.yaml.bak").exists()


def test_the_alias_budget_grows_with_the_document() -> None:
    small = "a: &a [" + ", ".join(["x"] * 101) + "]\nb: [" + ", ".join(["*a"] * 100) + "]\n"  # 10,200 nodes by aliases
    with pytest.raises(Refused) as caught:
        read_yaml(small)
    assert caught.value.code == "MPL011"
    padded = small + "# " + "pad " * (ALIAS_FLOOR // 2) + "\n"
    assert read_yaml(padded).data["b"][99] == ["x"] * 101  # a larger file may alias more


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 300, 1000])
def test_deep_nesting_is_refused_by_import_and_into(tmp_path: Path, depth: int) -> None:
    settings = "models:\n  settings:\n    stop: " + "[" * depth + "]" * depth + "\n"
    _, labels, out = imported(tmp_path, settings)
    assert labels == [f"MPL011@3:{11 + MAX_DEPTH - 3}"] and out is None  # the bracket past the bound
    result, after = into(tmp_path, settings)
    assert "the values nest more than 100 levels deep (MPL011;" in refused_line(result).replace(" here", "")
    assert after == settings


def test_nesting_through_aliases_counts_too(tmp_path: Path) -> None:
    chain = "a0: &a0 [x]\n" + "".join(f"a{i}: &a{i} [*a{i - 1}]\n" for i in range(1, 150))
    _, labels, out = imported(tmp_path, chain + "models:\n  settings:\n    stop: *a149\n")
    # `aK: [*aK-1]` under the top-level mapping reaches K + 3 levels: a98 (line 99) is the first past 100
    assert MAX_DEPTH == 100 and labels == ["MPL011@99:12"] and out is None


def test_an_alias_inside_the_node_it_names_is_refused(tmp_path: Path) -> None:
    text = "models:\n  settings:\n    stop: &s [a, *s]\n"
    _, labels, out = imported(tmp_path, text)
    assert labels == ["MPL011@3:18"] and out is None
    assert "lies inside the node it names: its value never ends (MPL011;" in refused_line(into(tmp_path, text)[0])


def test_a_few_anchors_and_merge_keys_are_read_as_meton_reads_them(tmp_path: Path) -> None:
    text = ("base: &base {temperature: 0.3, top_k: 20}\nmodels:\n  settings:\n    <<: *base\n    top_k: 30\n"
            "parameter_profiles:\n  quick:\n    name: quick\n    description: d\n    settings: {<<: *base, seed: 1}\n")
    imp, labels, out = imported(tmp_path, text)
    assert labels == [] and out is not None
    params = {p.name: p.params() for p in imp.profiles}
    assert yaml.safe_load(text)["models"]["settings"] == {"temperature": 0.3, "top_k": 30}
    assert params["default"]["temperature"] == 0.3 and params["default"]["top_k"] == 30
    assert params["quick"] == {"temperature": 0.3, "top_k": 20, "seed": 1}
    assert "<<" not in out


# -- 8: YAML read as Meton reads it ---------------------------------------------------


def test_two_models_sections_import_the_last_and_warn_at_the_first(tmp_path: Path) -> None:
    text = "models:\n  settings:\n    temperature: 0.1\nagent: {}\nmodels:\n  settings:\n    temperature: 0.9\n"
    assert yaml.safe_load(text)["models"]["settings"]["temperature"] == 0.9  # what Meton reads
    imp, labels, out = imported(tmp_path, text)
    assert labels == ["MPL540@1:1"] and out is not None
    assert imp.profiles[0].params()["temperature"] == 0.9
    [(source, sink)] = imp.reports
    [d] = sink.diagnostics
    assert d.message == "`models` is given again on line 5: Meton keeps the last, so this one is not imported"


def test_a_key_given_twice_in_settings_keeps_the_last(tmp_path: Path) -> None:
    text = "models:\n  settings:\n    seed: 1\n    top_k: 5\n    seed: 2\n"
    imp, labels, _ = imported(tmp_path, text)
    assert labels == ["MPL540@3:5"] and imp.profiles[0].params()["seed"] == 2


@pytest.mark.parametrize("text", [
    "models:\n  primary: a\nagent: {}\nmodels:\n  primary: b\n",
    "models:\n  settings: {seed: 1}\n  settings: {seed: 2}\n",
    "agent:\n  verbose: true\n  verbose: false\n",
], ids=["top-level", "in-models", "elsewhere"])
def test_into_a_file_with_a_key_given_twice_is_refused(tmp_path: Path, text: str) -> None:
    result, after = into(tmp_path, text)
    assert "twice in one mapping" in refused_line(result) and "Meton reads only the last" in result.output
    assert after == text


@pytest.mark.parametrize(("text", "message"), [
    ("d: &d {primary: x}\nmodels:\n  <<: *d\n  settings: {seed: 1}\n", "merges keys into `models` with `<<`"),
    ("d: &d {settings: {seed: 1}}\nmodels: *d\n", "gives `models` as an alias (line 2)"),
    ("models:\n  settings: &s {seed: 1}\nother: *s\n", "would not read back after the change"),
])
def test_into_refuses_sections_it_cannot_place(tmp_path: Path, text: str, message: str) -> None:
    result, after = into(tmp_path, text)
    assert message in refused_line(result)
    assert after == text


def test_into_replaces_settings_written_with_a_merge_key(tmp_path: Path) -> None:
    text = "base: &base {temperature: 0.3}\nmodels:\n  settings:\n    <<: *base\n    top_k: 30\n"
    result, after = into(tmp_path, text)
    assert result.exit_code == 0, result.output
    doc = yaml.safe_load(after)
    assert doc["base"] == {"temperature": 0.3} and "<<" not in after and len(doc["models"]["settings"]) == 14
    assert "`models.settings` is written anew in block style" in result.output  # the command says so


def test_into_a_file_whose_first_nested_mapping_starts_with_a_merge_key(tmp_path: Path) -> None:
    # found by the fuzzer: the indentation guess read the place of a key the merge brought (none): a TypeError
    text = "base: &b {settings: {seed: 1}}\nagent:\n  <<: [*b, {primary: x}]\nparameter_profiles: {t: {<<: *b}}\n"
    result, after = into(tmp_path, text)
    assert result.exit_code == 0, result.output
    doc = yaml.safe_load(after)
    assert doc["agent"] == {"settings": {"seed": 1}, "primary": "x"} and "t" not in doc["parameter_profiles"]


# -- 9: invalid YAML is an error, and an output is never emptied ---------------------


@pytest.mark.parametrize(("text", "label", "message"), [
    ("models:\n\tsettings: {}\n", "MPL010@2:1", "not valid YAML: found character '\\t' that cannot start any token"),
    ("", "MPL010", "is empty"),
    ("- a\n- b\n", "MPL010@1:1", "holds a sequence at its top level"),
    ("models:\n  settings: {seed: 1}\n---\nother: 1\n", "MPL010@3:1", "expected a single document in the stream"),
    ("agent: {verbose: true}\n", "MPL010", "has neither `models.settings` nor `parameter_profiles`"),
    ("parameter_profiles: [a, b]\n", "MPL010@1:21", "`parameter_profiles` is not a mapping"),
    ("models:\n  settings: {seed: " + "9" * 5000 + "}\n", "MPL010@2:20", "cannot read the value"),
    ("models:\n  settings: {seed: 1}\nx: \x07\n", "MPL010@3:4", "the character U+0007 is not allowed"),
    ("models:\n  settings: {seed: !!int }\n", "MPL010@2:20", "cannot read the value ''"),  # found by the fuzzer
], ids=["tab", "empty", "list", "two-documents", "no-sections", "profiles-list", "huge-int", "control", "empty-int"])
def test_a_file_meton_cannot_load_is_an_error_and_keeps_the_output(tmp_path: Path, text: str, label: str, message: str) -> None:
    imp, labels, out = imported(tmp_path, text)
    assert labels == [label] and out is None
    [(_, sink)] = imp.reports
    assert message in sink.diagnostics[0].message
    keep = tmp_path / "keep.mprof"
    keep.write_text("profile keep < seed 1 >\n")
    result = CliRunner().invoke(app, ["import", str(tmp_path / "config.yaml"), "-o", str(keep)])
    assert result.exit_code == 1 and "nothing written" in result.output and "Traceback" not in result.output
    assert keep.read_text() == "profile keep < seed 1 >\n"


def test_values_a_profile_cannot_hold_are_reported_not_crashed_on(tmp_path: Path) -> None:
    text = ("models:\n  settings:\n    stop: [[a, [b]], {x: 1}]\n    temperature: 2001-01-01\n    seed: null\n    top_k: 7\n"
            "    top_p: .inf\n    min_p: " + "9" * 400 + ".0\n")  # the last two found by the fuzzer: the writer failed on inf
    imp, labels, out = imported(tmp_path, text)
    assert labels == ["MPL540@3:11", "MPL540@4:18", "MPL540@5:11", "MPL540@7:12", "MPL540@8:12"] and out is not None
    assert imp.profiles[0].params()["top_k"] == 7 and "stop" not in imp.profiles[0].params()


def test_profile_names_a_mprof_cannot_declare_are_reported(tmp_path: Path) -> None:
    text = "parameter_profiles:\n  two words:\n    settings: {seed: 1}\n  1:\n    settings: {seed: 2}\n  ok-name:\n    settings: {seed: 3}\n"
    imp, labels, out = imported(tmp_path, text)  # the writer failed on them before
    assert labels == ["MPL540@2:3", "MPL540@4:3"] and out is not None
    assert [p.name for p in imp.profiles] == ["default", "ok-name"]


# -- the codes' fixtures ----------------------------------------------------------------

YAML_FIXTURES = sorted((FIXTURES / "diagnostics").glob("MPL*.yaml"))


@pytest.mark.parametrize("path", YAML_FIXTURES, ids=lambda p: p.stem)
def test_yaml_fixture_reports_its_code_through_import_and_into(tmp_path: Path, path: Path) -> None:
    from mpl.diagnostics import CODES

    code, _, name = path.stem.partition("-")
    assert CODES[code].name == name
    text = path.read_text(encoding="utf-8")
    expected = re.findall(r"^# expect: (\S+)\s*$", text, re.M)
    _, labels, out = imported(tmp_path, text)
    assert [g for g in labels if g.split("@")[0] == code] == expected and out is None
    line, col = expected[0].split("@")[1].split(":")
    assert f"at line {line}, column {col}" in refused_line(into(tmp_path, text)[0])


def test_the_yaml_codes_have_fixtures() -> None:
    assert sorted(p.stem.split("-")[0] for p in YAML_FIXTURES) == ["MPL010", "MPL011"]


def test_one_long_string_aliased_many_times_is_a_bomb_too(tmp_path):
    """The budget counts a string's characters: 100,000 x aliased 9,000 times is 900 MB, not 9,000 nodes."""
    text = (f'big: &s "{"x" * 100_000}"\nmodels:\n  settings:\n    temperature: 0.1\nparameter_profiles:\n'
            "  p:\n    settings:\n      stop: [" + ", ".join(["*s"] * 9000) + "]\n")
    _, labels, out = imported(tmp_path, text)
    assert labels == ["MPL011@8:18"] and out is None
    (tmp_path / "keep.mprof").write_text("keep\n")
    result = mpl("import", "config.yaml", "-o", "keep.mprof", cwd=tmp_path)
    assert result.returncode == 1 and "a string counts its characters" in result.stderr
    assert (tmp_path / "keep.mprof").read_text() == "keep\n"


@pytest.mark.parametrize("digits", ["0x" + "f" * 4000, "0b" + "1" * 15_000, ":".join(["59"] * 3000)])
def test_integers_of_thousands_of_digits_in_other_bases_are_reported(tmp_path, digits):
    _, labels, out = imported(tmp_path, f"models:\n  settings:\n    seed: {digits}\n    temperature: 0.2\n")
    assert labels == ["MPL540@3:11"] and out is not None and "temperature 0.2" in out and "ffff" not in out and "1111" not in out

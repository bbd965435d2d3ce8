"""Meton's own config.yaml survives `mpl import`, an edit, `mpl compile --into` and `mpl import` again.

`tests/data/meton-config.yaml` is the config.yaml Meton ships (github.com/Senchy071/Meton,
commit 0ebce50, January 2026), unchanged. Each test runs the commands a user runs, on a
copy: import it, edit the `.mprof`, write it back with `--into`, import the result.
"""

from __future__ import annotations

import difflib
import json
import shutil
import typing as t
from pathlib import Path

import pytest
import yaml
from helpers import ROOT
from test_meton import MetonModel
from typer.testing import CliRunner

from mpl.cli import app

SHIPPED = ROOT / "tests" / "data" / "meton-config.yaml"
PRESETS = ("precise_coding", "debugging", "explanation", "creative_coding")


def run(*args: str | Path) -> t.Any:
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert "Traceback" not in result.output, result.output
    return result


def imported(config: Path, out: Path) -> str:
    """`mpl import CONFIG -o OUT`: the `.mprof` text."""
    result = run("import", config, "-o", out)
    assert result.exit_code == 0, result.output
    return out.read_text()


def write_back(source: Path, config: Path, *flags: str) -> t.Any:
    result = run("compile", "--target", "meton", "--into", config, source, *flags)
    assert result.exit_code == 0, result.output
    return result


def shown(source: Path, profile: str) -> list[tuple[str, t.Any]]:
    """What `mpl show` reports for a profile: every parameter and its value."""
    result = run("show", "--format", "json", source, profile)
    assert result.exit_code == 0, result.output
    return [(p["name"], p["value"]) for p in json.loads(result.output)["parameters"]]


def changed_lines(before: str, after: str) -> list[str]:
    return [line for line in difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0)
            if line[:1] in "+-" and not line.startswith(("+++", "---"))]


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "config.yaml"
    shutil.copy(SHIPPED, path)
    return path


def test_an_unedited_import_written_back_leaves_the_file_byte_for_byte(config: Path, tmp_path: Path) -> None:
    source = tmp_path / "meton.mprof"
    imported(config, source)
    result = write_back(source, config)
    assert "already up to date" in result.output
    assert config.read_bytes() == SHIPPED.read_bytes() and not (tmp_path / "config.yaml.bak").exists()


def test_one_edited_value_changes_one_line(config: Path, tmp_path: Path) -> None:
    source = tmp_path / "meton.mprof"
    text = imported(config, source)
    edited = text.replace('"Methodical debugging with consistent output"\n  temperature 0.2\n',
                          '"Methodical debugging with consistent output"\n  temperature 0.3\n')
    assert edited != text
    source.write_text(edited)
    write_back(source, config)
    after = config.read_text()
    assert changed_lines(SHIPPED.read_text(), after) == ["-      temperature: 0.2", "+      temperature: 0.3"]
    assert yaml.safe_load(after)["parameter_profiles"]["debugging"]["settings"]["temperature"] == 0.3
    assert (tmp_path / "config.yaml.bak").read_bytes() == SHIPPED.read_bytes()


def test_a_comment_inside_parameter_profiles_survives_an_edit_of_its_value(config: Path, tmp_path: Path) -> None:
    text = SHIPPED.read_text()
    commented = text.replace("    settings:\n      temperature: 0.0\n      top_p: 0.9\n",
                             "    settings:\n      temperature: 0.0  # keep deterministic for code\n      top_p: 0.9\n")
    commented = commented.replace("  debugging:\n", "  # for /pprofile apply debugging\n  debugging:\n")
    assert commented.count("# keep deterministic for code") == 1 and commented != text
    config.write_text(commented)
    source = tmp_path / "meton.mprof"
    mprof = imported(config, source)
    source.write_text(mprof.replace('coding with mirostat"\n  temperature 0.0\n', 'coding with mirostat"\n  temperature 0.1\n')
                      .replace("  temperature 0.7\n  top_p 0.95\n", "  temperature 0.8\n  top_p 0.95\n"))
    write_back(source, config)
    after = config.read_text()
    assert changed_lines(commented, after) == [
        "-      temperature: 0.0  # keep deterministic for code", "+      temperature: 0.1  # keep deterministic for code",
        "-      temperature: 0.7", "+      temperature: 0.8",
    ]
    assert "  # for /pprofile apply debugging\n  debugging:\n" in after


def test_the_written_file_imports_again_and_every_profile_shows_the_same(config: Path, tmp_path: Path) -> None:
    source = tmp_path / "meton.mprof"
    text = imported(config, source)
    source.write_text(text.replace("  top_k 20\n", "  top_k 30\n").replace("  presence_penalty 0.1\n", "  presence_penalty 0.2\n"))
    write_back(source, config)
    again = tmp_path / "again.mprof"
    imported(config, again)  # it failed before: "two sources give a profile named `default`"
    for profile in ("default", *PRESETS):
        assert shown(again, profile) == shown(source, profile), profile
    # And Meton, applying each preset to its start-up settings, sends what it sent before the edit but the edit.
    old, new = yaml.safe_load(SHIPPED.read_text()), yaml.safe_load(config.read_text())
    assert MetonModel(new).settings == MetonModel(old).settings
    for preset in PRESETS:
        a, b = MetonModel(old), MetonModel(new)
        a.apply_profile(preset)
        b.apply_profile(preset)
        assert {k for k in a.settings if a.settings[k] != b.settings[k]} == (
            {"top_k"} if preset == "debugging" else {"presence_penalty"} if preset == "explanation" else set())


def test_models_settings_goes_back_to_models_settings_not_to_a_preset(config: Path, tmp_path: Path) -> None:
    source = tmp_path / "meton.mprof"
    source.write_text(imported(config, source).replace("  num_ctx 32768\n", "  num_ctx 16384\n", 1))
    write_back(source, config)
    after = config.read_text()
    assert changed_lines(SHIPPED.read_text(), after) == ["-    num_ctx: 32768", "+    num_ctx: 16384"]
    assert set(yaml.safe_load(after)["parameter_profiles"]) == set(PRESETS)


def test_a_config_written_with_a_default_preset_imports_with_models_settings_apart(tmp_path: Path) -> None:
    # What the earlier write-back left: a preset named `default` beside models.settings.
    config = tmp_path / "config.yaml"
    config.write_text(SHIPPED.read_text() + "  default:\n    name: default\n    description: the old copy\n"
                      "    settings:\n      temperature: 0.0\n")
    source = tmp_path / "meton.mprof"
    text = imported(config, source)
    assert "default settings\n" in text and "profile default extends settings <" in text
    result = write_back(source, config)
    assert "already up to date" in result.output


def test_an_edit_names_no_version_the_user_did_not_choose(config: Path, tmp_path: Path) -> None:
    source = tmp_path / "meton.mprof"
    text = imported(config, source)
    source.write_text(text.replace("  mirostat 2\n  mirostat_tau 4.0\n", "  mirostat 1\n  mirostat_tau 4.0\n"))
    write_back(source, config)
    assert changed_lines(SHIPPED.read_text(), config.read_text()) == ["-      mirostat: 2", "+      mirostat: 1"]
    # With a version chosen, the changed line (and only it) says what that version does with it.
    shutil.copy(SHIPPED, config)
    source.write_text('ollama "0.12"\n' + text.replace("  mirostat 2\n  mirostat_tau 4.0\n", "  mirostat 1\n  mirostat_tau 4.0\n"))
    write_back(source, config)
    assert changed_lines(SHIPPED.read_text(), config.read_text()) == [
        "-      mirostat: 2", "+      mirostat: 1  # ignored by Ollama 0.12.0 (removed in 0.7.0)"]


def test_check_says_once_which_keys_depend_on_the_preset_before(config: Path, tmp_path: Path) -> None:
    source = tmp_path / "meton.mprof"
    imported(config, source)
    result = run("check", "--target", "meton", "--format", "json", source)
    notes = [d for d in json.loads(result.output)["diagnostics"] if d["code"] == "MPL509"]
    assert len(notes) == 1
    message = notes[0]["message"]
    assert "gives `top_p`, `top_k`, `min_p`, `presence_penalty` depends on the preset applied before it" in message
    assert "`creative_coding` then `debugging` keeps `top_p 0.95` rather than 0.9" in message
    # Ollama 0.6 reads mirostat: then its keys depend on the order too.
    result = run("check", "--target", "meton", "--ollama", "0.6", "--format", "json", source)
    [note] = [d for d in json.loads(result.output)["diagnostics"] if d["code"] == "MPL509"]
    assert "`mirostat`, `mirostat_tau`" in note["message"]


def test_complete_presets_are_a_choice_on_the_command_line_or_in_mpl_toml(config: Path, tmp_path: Path) -> None:
    source = tmp_path / "meton.mprof"
    imported(config, source)
    write_back(source, config, "--meton-complete-presets")
    doc = yaml.safe_load(config.read_text())
    assert all(len(p["settings"]) == 14 for p in doc["parameter_profiles"].values())
    assert "default" not in doc["parameter_profiles"]
    # Each preset now means its profile whatever was applied before it.
    for first in PRESETS:
        for then in PRESETS:
            meton, alone = MetonModel(doc), MetonModel(doc)
            meton.apply_profile(first)
            meton.apply_profile(then)
            alone.apply_profile(then)
            assert meton.settings == alone.settings
    (tmp_path / "mpl.toml").write_text("[targets.meton]\ncomplete-presets = true\n")
    shutil.copy(SHIPPED, config)
    write_back(source, config)
    assert yaml.safe_load(config.read_text()) == doc
    result = run("check", "--target", "meton", "--format", "json", source)
    assert "MPL509" not in [d["code"] for d in json.loads(result.output)["diagnostics"]]
    shown_config = run("check", "--show-config", source).output
    assert "targets.meton.complete-presets = true" in shown_config

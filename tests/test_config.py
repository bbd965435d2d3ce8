"""Project configuration: discovery, validation as positioned MPL006 diagnostics, flags over the file."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from helpers import EXAMPLES, FIXTURES, ROOT
from mpl.cli import app
from mpl.config import Config, ConfigError, find_config, key_span, load_config, show_config

runner = CliRunner()

TFS_Z = "profile p <\n  temperature 0.7\n  tfs_z 0.95\n>\n"


def invoke(*args: str, input: str | None = None):
    result = runner.invoke(app, list(args), input=input)
    assert "Traceback" not in result.output, result.output
    return result


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


# -- discovery ---------------------------------------------------------------------


def test_discovery_walks_up_from_nested_folders(tmp_path: Path) -> None:
    config = write(tmp_path / "mpl.toml", 'targets = ["options"]\n')
    deep = tmp_path / "a" / "b" / "c"
    deep.mkdir(parents=True)
    assert find_config(deep) == config
    assert load_config([deep / "p.mprof"]).targets == ("options",)


def test_the_nearest_file_wins_and_mpl_toml_before_pyproject(tmp_path: Path) -> None:
    write(tmp_path / "mpl.toml", 'targets = ["options"]\n')
    inner = write(tmp_path / "sub" / "mpl.toml", 'targets = ["modelfile"]\n')
    write(tmp_path / "sub" / "pyproject.toml", '[tool.mpl]\ntargets = ["meton"]\n')
    assert find_config(tmp_path / "sub") == inner


def test_pyproject_without_a_tool_mpl_table_is_passed_over(tmp_path: Path) -> None:
    outer = write(tmp_path / "pyproject.toml", '[tool.mpl]\nollama = "0.6"\n')
    write(tmp_path / "pkg" / "pyproject.toml", '[project]\nname = "pkg"\n\n[tool.ruff]\nline-length = 100\n')
    assert find_config(tmp_path / "pkg") == outer
    assert load_config([tmp_path / "pkg" / "p.mprof"]).ollama == "0.6"


def test_no_configuration_anywhere(tmp_path: Path) -> None:
    write(tmp_path / "pyproject.toml", '[project]\nname = "x"\n')
    found = find_config(tmp_path)
    assert found is None or tmp_path not in found.parents  # nothing in this tree (a file above /tmp is not ours)


def test_pyproject_keys_are_under_tool_mpl(tmp_path: Path) -> None:
    write(tmp_path / "pyproject.toml", '[project]\nname = "x"\n\n[tool.mpl.targets.options]\npath = "o/opts.json"\n')
    config = load_config([tmp_path / "p.mprof"])
    assert config.targets == ("options",) and config.setting("options", "path") == "o/opts.json"
    assert config.origin("targets", "options", "path").endswith("pyproject.toml:5")


def test_meton_settings_are_parsed_and_exposed(tmp_path: Path) -> None:
    write(tmp_path / "mpl.toml", '[targets.meton]\ninto = "../meton/config.yaml"\nprimary = "coder"\n')
    config = load_config([tmp_path / "p.mprof"])
    assert config.targets == ("meton",)
    assert config.resolve(config.setting("meton", "into")) == tmp_path / "../meton/config.yaml" and config.setting("meton", "primary") == "coder"


def test_the_validated_form_is_cached_and_reused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MPL_CACHE_DIR", str(tmp_path / "cache"))
    write(tmp_path / "mpl.toml", 'ollama = "0.6"\n[lint]\nignore = ["MPL401"]\n')
    first = load_config([tmp_path / "p.mprof"])
    assert list((tmp_path / "cache" / "config").glob("*.json"))
    import mpl.config

    monkeypatch.setattr(mpl.config, "_validate", lambda *a: pytest.fail("validated again"))
    assert load_config([tmp_path / "p.mprof"]) == first


def test_check_without_configuration_imports_no_pydantic_or_tomllib(tmp_path: Path) -> None:
    write(tmp_path / "p.mprof", "profile p < temperature 0.5 >\n")
    code = (
        "import sys\nfrom mpl.cli import main\n"
        f"sys.argv = ['mpl', 'check', {str(tmp_path / 'p.mprof')!r}]\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pydantic', 'tomllib')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert out.stdout.strip().splitlines()[-1] == "[]", out.stdout + out.stderr


# -- invalid configuration: positioned diagnostics -------------------------------------


def diagnostics_of(path: Path) -> list[tuple[str, str, str | None]]:
    with pytest.raises(ConfigError) as caught:
        load_config(explicit=path)
    error = caught.value
    return [(f"{d.code}@{':'.join(map(str, error.source.line_col(d.span.start)))}", d.message, d.help) for d in error.diagnostics]


def test_the_fixture_reports_each_expected_diagnostic() -> None:
    path = FIXTURES / "diagnostics" / "MPL006-invalid-config" / "mpl.toml"
    expected = re.findall(r"^# expect: (\S+)$", path.read_text(), re.M)
    assert [label for label, _, _ in diagnostics_of(path)] == expected


def test_unknown_key_has_did_you_mean_at_its_line(tmp_path: Path) -> None:
    path = write(tmp_path / "pyproject.toml", '[project]\nname = "x"\n\n[tool.mpl]\nsources = ["p.mprof"]\ntargest = ["options"]\n')
    ((label, message, help),) = diagnostics_of(path)
    assert label == "MPL006@6:1" and message == "unknown key `tool.mpl.targest`" and help == "did you mean `targets`?"


def test_wrong_type_points_at_the_value(tmp_path: Path) -> None:
    path = write(tmp_path / "mpl.toml", 'sources = "p.mprof"\noutput = "out"\nollama = 0.6\n')
    got = diagnostics_of(path)
    assert [label for label, _, _ in got] == ["MPL006@1:11", "MPL006@3:10"]
    assert got[0][1] == "`sources`: input should be a valid list"
    assert "quotes" in got[1][2]


def test_union_keys_report_the_member_the_value_meant(tmp_path: Path) -> None:
    path = write(tmp_path / "mpl.toml", 'targets = ["options", "metn"]\nhost = ["http://a:1", "b:2"]\n')
    got = diagnostics_of(path)
    assert [label for label, _, _ in got] == ["MPL006@1:23", "MPL006@2:23"]
    assert "'options', 'meton' or 'modelfile'" in got[0][1] and "`b:2` is not an http(s) address" in got[1][1]
    (one,) = diagnostics_of(write(tmp_path / "mpl.toml", 'targets = "options"\n'))
    assert one[0] == "MPL006@1:11" and "a str is not accepted" in one[1]


def test_bad_toml_and_bad_versions(tmp_path: Path) -> None:
    ((label, message, _),) = diagnostics_of(write(tmp_path / "mpl.toml", 'ollama = "0.6"\ntargets = [options]\n'))
    assert label.startswith("MPL006@2:") and message.startswith("invalid TOML:")
    ((label, message, _),) = diagnostics_of(write(tmp_path / "mpl.toml", 'ollama = "latest"\n'))
    assert label == "MPL006@1:10" and "invalid Ollama version" in message


def test_lint_selectors_are_checked_by_code_prefix_and_name(tmp_path: Path) -> None:
    path = write(tmp_path / "mpl.toml", '[lint]\nselect = ["MPL7", "greedy-ignores-filter", "ALL"]\nignore = ["mpl401"]\n')
    got = diagnostics_of(path)
    assert [label for label, _, _ in got] == ["MPL006@2:19", "MPL006@3:11"]
    assert got[0][2] == "did you mean `greedy-ignores-filters`?" and "upper case" in got[1][1]


def test_cli_reports_an_invalid_configuration_and_runs_nothing(tmp_path: Path) -> None:
    write(tmp_path / "mpl.toml", 'targts = ["options"]\n')
    src = write(tmp_path / "p.mprof", "profile p < temperature 0.5 >\n")
    for command in ("check", "compile"):
        result = invoke(command, str(src), "-o", str(tmp_path / "out")) if command == "compile" else invoke(command, str(src))
        assert result.exit_code == 2
        assert "mpl.toml:1:1: error[MPL006]: unknown key `targts`" in result.output
        assert "did you mean `targets`?" in result.output
    assert not (tmp_path / "out").exists()


# -- the configuration in the commands ---------------------------------------------------


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The done-when folder: pyproject.toml's [tool.mpl] names a file, two targets, an output folder and 0.6."""
    write(tmp_path / "pyproject.toml", (
        '[project]\nname = "demo"\n\n[tool.mpl]\nsources = ["profiles.mprof"]\n'
        'targets = ["options", "modelfile"]\noutput = "generated"\nollama = "0.6"\n'
    ))
    write(tmp_path / "profiles.mprof", 'profile p < temperature 0.5; mirostat 2 >\nmodel m from "llama3" < use p >\n')
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_bare_compile_writes_the_configured_targets_there(project: Path) -> None:
    result = invoke("compile")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (project / "generated").iterdir()) == ["m.Modelfile", "profiles.options.json"]
    assert sorted(p.name for p in project.iterdir()) == ["generated", "profiles.mprof", "pyproject.toml"]


def test_bare_check_applies_the_configured_ollama_version(project: Path) -> None:
    result = invoke("check")
    assert result.exit_code == 0 and "MPL401" not in result.output  # mirostat still exists in 0.6
    assert "removed in Ollama 0.7.0" in invoke("check", "--ollama", "0.12").output  # the flag overrides the file


def test_flags_override_the_configuration(project: Path) -> None:
    result = invoke("compile", "-t", "options", "-o", "elsewhere")
    assert result.exit_code == 0, result.output
    assert [p.name for p in (project / "elsewhere").iterdir()] == ["profiles.options.json"]
    assert not (project / "generated").exists()
    shown = invoke("check", "--show-config", "--ollama", "0.12", "-t", "meton").output
    assert re.search(r'^ollama = "0.12"\s+# command line$', shown, re.M)
    assert re.search(r'^targets = \["meton"\]\s+# command line$', shown, re.M)
    assert re.search(r'^output = "generated"\s+# pyproject.toml:7$', shown, re.M)
    assert re.search(r'^sources = \["profiles.mprof"\]\s+# pyproject.toml:5$', shown, re.M)


def test_isolated_ignores_the_configuration(project: Path) -> None:
    assert "removed in Ollama 0.7.0" in invoke("check", "--isolated", "profiles.mprof").output
    assert invoke("check", "--isolated").exit_code == 2  # no files and no `sources`


def test_show_config_without_a_file_prints_the_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    shown = invoke("check", "--show-config", "--isolated").output
    assert shown.startswith("# configuration: none found (defaults)")
    assert re.search(r'^targets = \["options", "modelfile"\]\s+# default$', shown, re.M)
    assert re.search(r'^output = "mpl-out"\s+# default$', shown, re.M)
    assert show_config(Config()) == shown


def test_per_target_places(tmp_path: Path) -> None:
    write(tmp_path / "mpl.toml", '[targets.options]\npath = "app/sampling.json"\n[targets.modelfile]\ndir = "models"\n')
    src = write(tmp_path / "profiles.mprof", 'profile p < temperature 0.5 >\nmodel m from "llama3" < use p >\n')
    result = invoke("compile", str(src))
    assert result.exit_code == 0, result.output
    assert (tmp_path / "app" / "sampling.json").is_file() and (tmp_path / "models" / "m.Modelfile").is_file()
    assert json.loads((tmp_path / "app" / "sampling.json").read_text())["profiles"]["p"]["options"]["temperature"] == 0.5


def test_sources_globs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path / "mpl.toml", 'sources = ["profiles/**/*.mprof"]\n')
    write(tmp_path / "profiles" / "a.mprof", "profile a < temperature 0.5 >\n")
    write(tmp_path / "profiles" / "x" / "b.mprof", "profile b < min_pp 0.5 >\n")
    monkeypatch.chdir(tmp_path / "profiles" / "x")  # discovery from a nested folder
    result = invoke("check")
    assert result.exit_code == 1 and "b.mprof:1:13: error[MPL301]" in result.output
    write(tmp_path / "mpl.toml", 'sources = ["nothing/*.mprof"]\n')
    assert invoke("check").exit_code == 2


# -- which targets are checked --------------------------------------------------------------


def test_tfs_z_is_fine_without_meton_configured(tmp_path: Path) -> None:
    src = write(tmp_path / "p.mprof", TFS_Z)
    result = invoke("check", str(src))
    assert result.exit_code == 0, result.output
    assert "MPL5" not in result.output


def test_tfs_z_is_an_error_once_meton_is_configured(tmp_path: Path) -> None:
    src = write(tmp_path / "p.mprof", TFS_Z)
    assert invoke("check", "--target", "meton", str(src)).exit_code == 1
    write(tmp_path / "mpl.toml", 'targets = ["options", "meton", "modelfile"]\n')
    result = invoke("check", str(src))
    assert result.exit_code == 1 and "error[MPL5" in result.output


def test_compile_without_configuration_writes_options_and_modelfile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    src = write(tmp_path / "p.mprof", 'ollama "0.5"\n' + TFS_Z + 'model m from "llama3" < use p >\n')
    result = invoke("compile", str(src))
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "mpl-out").iterdir()) == ["m.Modelfile", "p.options.json"]


def test_the_readme_command_writes_all_three_files(tmp_path: Path) -> None:
    """Run from the repository root: the file's folder, examples/, holds the configuration."""
    out = tmp_path / "out"
    done = subprocess.run(
        [sys.executable, "-m", "mpl", "compile", "examples/meton.mprof", "-o", str(out)],
        cwd=ROOT, capture_output=True, text=True, env={**os.environ, "NO_COLOR": "1"},
    )
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in out.iterdir()) == ["meton-custom.Modelfile", "meton.options.json", "meton.yaml"]
    assert "examples/mpl.toml" in invoke("check", "--show-config", str(EXAMPLES / "meton.mprof")).output


# -- lint selection --------------------------------------------------------------------------


def test_ignore_select_and_per_file_ignores_apply_to_non_errors(tmp_path: Path) -> None:
    src = write(tmp_path / "legacy" / "old.mprof", 'ollama "0.12"\nprofile p < mirostat 2; min_pp 1; temperature 0.0; top_k 40 >\n')
    base = invoke("check", "--notes", str(src)).output
    assert "warning[MPL401]" in base and "note[MPL701]" in base and "error[MPL301]" in base
    write(tmp_path / "mpl.toml", '[lint]\nignore = ["MPL401", "MPL301"]\n')
    out = invoke("check", "--notes", str(src)).output
    assert "MPL401" not in out and "note[MPL701]" in out and "error[MPL301]" in out  # errors stay
    write(tmp_path / "mpl.toml", '[lint]\nselect = ["MPL4"]\n')
    out = invoke("check", "--notes", str(src)).output
    assert "warning[MPL401]" in out and "MPL701" not in out and "error[MPL301]" in out
    write(tmp_path / "mpl.toml", '[lint]\nselect = ["MPL7"]\nignore = ["MPL7"]\n[lint.per-file-ignores]\n"legacy/*.mprof" = ["greedy-ignores-filters"]\n')
    out = invoke("check", "--notes", str(src)).output
    assert "MPL701" not in out and "MPL401" not in out
    write(tmp_path / "mpl.toml", '[lint]\nselect = ["MPL7"]\nignore = ["MPL7"]\n[lint.per-file-ignores]\n"other/*.mprof" = ["MPL401"]\n')
    assert "MPL701" not in invoke("check", "--notes", str(src)).output  # the same specificity: ignore wins


def test_a_more_specific_select_beats_a_broader_ignore(tmp_path: Path) -> None:
    src = write(tmp_path / "p.mprof", 'ollama "0.12"\nprofile p < mirostat 2; temperature 0.0; top_k 40 >\n')
    write(tmp_path / "mpl.toml", '[lint]\nignore = ["MPL7"]\nselect = ["ALL", "MPL701"]\n')
    assert "note[MPL701]" in invoke("check", "--notes", str(src)).output


# -- links: only what is configured ------------------------------------------------------------

ALLOWED = {"http://127.0.0.1:11434", "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"}


def _urls(text: str) -> set[str]:
    return {u.rstrip(".,;)`'\"") for u in re.findall(r"[a-z][a-z0-9+.-]*://[^\s\"'<>]+", text) if not u.startswith("file:")}


def test_no_output_holds_an_address_the_project_does_not_configure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    bad = write(tmp_path / "bad.mprof", 'profile p < min_pp 1; temperature 0.0; top_k 3 >\nmodel m from "x" < use q >\n')
    runs = [
        ["check", str(bad)], ["check", "--format", "json", str(bad)], ["check", "--format", "sarif", str(bad)],
        ["check", "--show-config"], ["compile", str(bad)], ["explain", "MPL301"], ["explain", "--list"],
        ["compile", str(EXAMPLES / "meton.mprof"), "-o", str(tmp_path / "out")], ["--help"], ["--version"],
        ["show", str(EXAMPLES / "meton.mprof"), "precise"], ["diff", str(EXAMPLES / "meton.mprof"), "precise", "creative"],
        ["init", str(tmp_path / "new")],
    ]
    runs += [[info.name or info.callback.__name__, "--help"] for info in app.registered_commands]
    for args in runs:
        output = invoke(*args).output
        assert _urls(output) <= ALLOWED, (args, _urls(output) - ALLOWED)
    written = "".join(p.read_text() for p in (tmp_path / "out").iterdir()) + "".join(p.read_text() for p in (tmp_path / "new").iterdir())
    assert _urls(written) <= ALLOWED
    write(tmp_path / "mpl.toml", 'docs-url = "https://docs.example.org/mpl/diagnostics.html"\n')
    prefix = "https://docs.example.org/mpl/diagnostics.html#mpl"
    for fmt in ("text", "json", "sarif"):
        urls = _urls(invoke("check", "--format", fmt, str(bad)).output)
        assert prefix + "301" in urls and all(u in ALLOWED or u.startswith(prefix[:-4]) for u in urls), urls


def test_source_tree_holds_no_made_up_project_address() -> None:
    for folder in ("mpl", "docs"):
        for path in (ROOT / folder).rglob("*"):
            if path.is_file() and path.suffix in (".py", ".md", ".j2", ".lark", ".json"):
                assert "mpl-profiles" not in path.read_text(encoding="utf-8", errors="replace"), path


def test_key_span_finds_dotted_keys_and_inline_tables() -> None:
    text = '[tool.mpl]\nlint.select = ["MPL7"]\n[tool.mpl.lint]\nper-file-ignores = { "a/*" = ["MPL401"] }\n'
    s = key_span(text, ("tool", "mpl", "lint", "select"))
    assert text[s[0]:s[1]] == '["MPL7"]'
    s = key_span(text, ("tool", "mpl", "lint", "per-file-ignores", "a/*"))
    assert text[s[0]:s[1]].startswith("{ ")


# -- the Meton target driven by the configuration -------------------------------------------


def test_meton_into_and_primary_come_from_the_configuration(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    import yaml

    meton = FIXTURES / "meton"
    shutil.copy(meton / "profiles.mprof", tmp_path / "profiles.mprof")
    (tmp_path / "meton").mkdir()
    shutil.copy(meton / "config.yaml", tmp_path / "meton" / "config.yaml")
    write(tmp_path / "mpl.toml", (
        'sources = ["profiles.mprof"]\n[targets.options]\n'
        '[targets.meton]\ninto = "meton/config.yaml"\nprimary = "meton-coder"\n'
    ))
    monkeypatch.chdir(tmp_path)
    result = invoke("compile")
    assert result.exit_code == 0, result.output
    assert yaml.safe_load((tmp_path / "meton" / "config.yaml").read_text())["models"]["primary"] == "meton-coder"
    assert (tmp_path / "meton" / "config.yaml.bak").is_file()
    assert [p.name for p in (tmp_path / "mpl-out").iterdir()] == ["profiles.options.json"]
    write(tmp_path / "mpl.toml", '[targets.meton]\nprimary = "meton-codr"\n')
    result = invoke("compile", "profiles.mprof")
    assert result.exit_code == 2 and "`targets.meton.primary`" in result.output and "did you mean `meton-coder`?" in result.output


def test_utf16_is_named_with_how_to_save_as_utf8(tmp_path: Path) -> None:
    for encoding in ("utf-16", "utf-16-le", "utf-16-be"):
        src = tmp_path / "p.mprof"
        src.write_bytes("profile p < temperature 0.5 >\n".encode(encoding))
        result = invoke("check", str(src))
        assert result.exit_code == 1 and "error[MPL002]" in result.output, result.output
        assert "is UTF-16" in result.output and "UTF-8" in result.output.split("help:")[1]
        assert "binary" not in result.output and "MPL004" not in result.output


def test_check_reads_standard_input_and_folders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = invoke("check", "-", input="profile p < min_pp 1 >\n")
    assert result.exit_code == 1 and "<stdin>:1:13: error[MPL301]" in result.output
    write(tmp_path / "d" / "a.mprof", "profile a < temperature 0.5 >\n")
    write(tmp_path / "d" / "e" / "b.mprof", "profile b < min_pp 1 >\n")
    result = invoke("check", str(tmp_path / "d"))
    assert result.exit_code == 1 and "b.mprof:1:13: error[MPL301]" in result.output


def test_a_cache_entry_of_another_file_is_not_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Entries are named by a CRC: one that holds another file's text (a CRC collision) means validating again."""
    monkeypatch.setenv("MPL_CACHE_DIR", str(tmp_path / "cache"))
    write(tmp_path / "mpl.toml", 'ollama = "0.6"\n')
    first = load_config([tmp_path / "p.mprof"])
    (entry,) = (tmp_path / "cache" / "config").glob("*.json")
    entry.write_text(entry.read_text().replace("0.6", "0.5"))  # the entry of `ollama = "0.5"`, under this name
    import mpl.config

    validated: list[object] = []
    real = mpl.config._validate
    monkeypatch.setattr(mpl.config, "_validate", lambda *a: validated.append(a) or real(*a))
    assert load_config([tmp_path / "p.mprof"]) == first and validated

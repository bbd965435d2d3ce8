"""SARIF 2.1.0 output validates against the schema; docs/diagnostics.md documents every code."""

from __future__ import annotations

import json
import os
from pathlib import Path

import jsonschema
import pytest
from typer.testing import CliRunner

import mpl
from helpers import EXAMPLES, ROOT
from mpl.cli import app
from mpl.diagnostics import CODES, Sink
from mpl.diagnostics.docs import DOC_PATH, generate
from mpl.diagnostics.sarif import sarif_log
from mpl.source import SourceFile, Span

SCHEMA = json.loads((Path(__file__).parent / "data" / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))
FIXTURES = sorted((Path(__file__).parent / "fixtures" / "diagnostics").glob("MPL*.mprof"))


def validate(log: dict) -> None:
    jsonschema.Draft4Validator(SCHEMA, format_checker=jsonschema.FormatChecker()).validate(log)


def sarif(*args: str) -> dict:
    result = CliRunner().invoke(app, ["check", "--format", "sarif", *args])
    assert "Traceback" not in result.output
    return json.loads(result.output)


def test_examples_and_every_fixture_validate() -> None:
    every_target = ["-t", "options", "-t", "meton", "-t", "modelfile"]  # one configuration per run: name them
    log = sarif(*every_target, *(str(p) for p in [*EXAMPLES.glob("*.mprof"), *FIXTURES]))
    validate(log)
    run = log["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == list(CODES)
    for result in run["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
    assert {r["ruleId"] for r in run["results"]} >= {p.stem.split("-")[0] for p in FIXTURES}


def test_driver_rules_carry_docs_and_levels() -> None:
    rule = sarif(str(EXAMPLES / "meton.mprof"))["runs"][0]["tool"]["driver"]["rules"][list(CODES).index("MPL701")]
    assert rule["name"] == "greedy-ignores-filters" and rule["defaultConfiguration"] == {"level": "note"}
    assert "helpUri" not in rule and rule["help"]["markdown"]  # no address unless `docs-url` is configured


def test_rules_link_under_a_configured_docs_url(tmp_path: Path) -> None:
    (tmp_path / "mpl.toml").write_text('docs-url = "https://docs.example.org/mpl/diagnostics.html"\n')
    (tmp_path / "p.mprof").write_text("profile p < min_pp 1 >\n")
    log = sarif(str(tmp_path / "p.mprof"))
    validate(log)
    driver = log["runs"][0]["tool"]["driver"]
    assert driver["rules"][list(CODES).index("MPL301")]["helpUri"] == "https://docs.example.org/mpl/diagnostics.html#mpl301"
    assert driver["informationUri"] == "https://docs.example.org/mpl/diagnostics.html"


def test_locations_are_relative_to_srcroot_with_utf16_columns(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "p é.mprof").write_text('profile p < "😀😀" \n  min_pp 1 >\nprofile q < system "😀" ; tempx 1 >\n', encoding="utf-8")
    log = sarif("sub/p é.mprof")
    validate(log)
    results = log["runs"][0]["results"]
    loc = results[0]["locations"][0]["physicalLocation"]
    assert loc["artifactLocation"] == {"uri": "sub/p%20%C3%A9.mprof", "uriBaseId": "%SRCROOT%"}
    assert loc["region"] == {"startLine": 2, "startColumn": 3, "endLine": 2, "endColumn": 9}
    (last,) = [r for r in results if "tempx" in r["message"]["text"]]
    # `tempx` follows one astral character: its character column is 26, its UTF-16 column 27.
    assert last["locations"][0]["physicalLocation"]["region"]["startColumn"] == 27
    assert log["runs"][0]["originalUriBaseIds"]["%SRCROOT%"]["uri"].endswith("/")


def test_suppressed_results_are_marked_in_source(tmp_path: Path) -> None:
    src = tmp_path / "p.mprof"
    src.write_text("profile p <\n  temperature 0\n  top_k 40  # mpl: allow(MPL701)\n>\n")
    log = sarif("-t", "options", str(src))
    validate(log)
    (result,) = log["runs"][0]["results"]
    assert result["suppressions"][0]["kind"] == "inSource"
    assert result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].startswith("file://")


def test_diagnostic_without_span_and_related_locations() -> None:
    src = SourceFile("x.mprof", "profile a < >\nprofile a < >")
    sink = Sink(src)
    sink.report("MPL004", None, "nothing")
    from mpl.diagnostics import Related

    sink.report("MPL203", Span(22, 23), "profile `a` is defined twice", related=[Related(Span(8, 9), "first defined here")])
    log = sarif_log([(src, sink.diagnostics, [])], version=mpl.__version__, root=Path.cwd())
    validate(log)
    first, second = log["runs"][0]["results"]
    assert "region" not in first["locations"][0]["physicalLocation"]
    assert second["relatedLocations"][0]["physicalLocation"]["region"]["startLine"] == 1


def test_the_vendored_schema_rejects_bad_logs() -> None:
    with pytest.raises(jsonschema.ValidationError):
        validate({"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "x"}}, "results": [{"level": "info", "message": {"text": "t"}}]}]})


# -- docs/diagnostics.md ----------------------------------------------------------------


def test_diagnostics_page_is_generated_from_the_registry() -> None:
    """Adding a code without `python -m mpl.diagnostics.docs` fails here."""
    assert DOC_PATH == ROOT / "docs" / "diagnostics.md"
    assert DOC_PATH.read_text(encoding="utf-8") == generate(), "run `python -m mpl.diagnostics.docs`"


def test_every_code_has_a_section_that_the_links_reach() -> None:
    text = DOC_PATH.read_text(encoding="utf-8")
    for code, spec in CODES.items():
        assert f"\n### {code}\n\n**{spec.name}** · {spec.severity}\n" in text, code
    for n in range(1, 24):
        assert f"\n| {n} | " in text, f"parameters.md §6 rule {n} is not mapped"


def test_text_output_points_to_mpl_explain(tmp_path: Path) -> None:
    src = tmp_path / "p.mprof"
    src.write_text("profile p < min_pp 1 >\n")
    output = CliRunner().invoke(app, ["check", str(src)]).output
    assert "= see: mpl explain MPL301" in output and "://" not in output
    assert "\x1b" not in output and os.environ.get("NO_COLOR")
    (tmp_path / "mpl.toml").write_text('docs-url = "https://docs.example.org/{code}.html"\n')
    output = CliRunner().invoke(app, ["check", str(src)]).output
    assert "= see: https://docs.example.org/mpl301.html" in output


def test_colour_output_uses_osc8_links() -> None:
    from mpl.diagnostics.render import render_text

    src = SourceFile("a.mprof", "profile p < min_pp 1 >")
    sink = Sink(src)
    sink.report("MPL301", Span(12, 18), "unknown parameter `min_pp`")
    coloured = render_text(src, sink.diagnostics, colour=True)
    assert "\x1b]8;;" not in coloured and "= see: mpl explain MPL301" in coloured  # no address to link to
    linked = render_text(src, sink.diagnostics, colour=True, docs_url="https://docs.example.org/d.html")
    assert "\x1b]8;;https://docs.example.org/d.html#mpl301" in linked

"""Every diagnostic code has a test: one fixture per code, named after it, with `# expect:` headers."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from helpers import FIXTURES, labels
from mpl.cli import app
from mpl.pipeline import analyze
from mpl.targets import FILE_TARGETS as ALL_TARGETS
from mpl.diagnostics import CODES

FIXTURE_DIR = FIXTURES / "diagnostics"
FIXTURE_FILES = sorted(FIXTURE_DIR.glob("MPL*.mprof"))
_EXPECT = re.compile(r"^# expect: (\S+)\s*$", re.M)


def expectations(path: Path) -> list[str]:
    return _EXPECT.findall(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("path", FIXTURE_FILES, ids=lambda p: p.stem)
def test_fixture_reports_its_code_at_its_position(path: Path) -> None:
    code = path.stem.split("-")[0]
    expected = expectations(path)
    assert expected and all(e.split("@")[0] == code for e in expected), "fixture must expect its own code"
    got = labels(analyze(path, targets=ALL_TARGETS))  # the fixtures cover Meton too (their mpl.toml)
    assert [g for g in got if g.split("@")[0] == code] == expected, got


@pytest.mark.parametrize("path", FIXTURE_FILES, ids=lambda p: p.stem)
def test_fixture_through_the_cli(path: Path) -> None:
    code = path.stem.split("-")[0]
    result = CliRunner().invoke(app, ["check", "--notes", str(path)])
    assert "Traceback" not in result.output
    assert f"[{code}]" in result.output
    is_error = CODES[code].severity == "error"
    assert result.exit_code == (1 if is_error else 0), result.output


def test_fixture_names_match_the_registry() -> None:
    for path in FIXTURE_FILES:
        code, _, name = path.stem.partition("-")
        assert code in CODES, path.name
        assert CODES[code].name == name, f"{path.name}: registry name is {CODES[code].name}"


def test_every_code_is_tested() -> None:
    """Every code is expected by a fixture's `# expect:` header, or asserted by a test.

    A test asserts a code when it names it in a string (`"MPL601"`, `'MPL301@2:3'`)
    outside a comment: a code named only in a comment or docstring prose is untested.
    """
    expected = set()
    for path in FIXTURE_FILES:
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("# expect:"):
                expected.update(re.findall(r"MPL\d{3}", line))
    asserted = set()
    for path in Path(__file__).parent.glob("test_*.py"):
        for line in path.read_text(encoding="utf-8").splitlines():
            code_part = line.split("  #", 1)[0] if not line.lstrip().startswith("#") else ""
            for match in re.finditer(r"MPL\d{3}(?![0-9])", code_part):
                before = code_part[: match.start()]
                if (before.count('"') + before.count("'")) % 2:  # inside a string literal
                    asserted.add(match.group())
    untested = [code for code in CODES if code not in expected and code not in asserted]
    assert not untested, f"codes no test expects: {untested}"


def test_codes_are_banded_and_documented() -> None:
    for code, spec in CODES.items():
        assert re.fullmatch(r"MPL\d{3}", code) and spec.code == code
        assert spec.severity in ("error", "warning", "note")
        assert spec.summary and spec.why and spec.fix


@pytest.mark.parametrize(
    ("text", "kept", "dropped"),
    [
        ('profile p < top_p 1.5 >', "MPL303", "MPL502"),  # out of domain, not also outside Meton's range
        ('profile p < stop 5 >', "MPL302", "MPL501"),  # a type error, not also a parameter Meton cannot hold
        ('ollama "0.12"\nprofile p < mirostat 2 >\nmodel m from "x" < use p >', "MPL403", "MPL401"),
    ],
)
def test_one_mistake_one_diagnostic(text: str, kept: str, dropped: str) -> None:
    from mpl.pipeline import analyze
    from mpl.targets import FILE_TARGETS as ALL_TARGETS

    codes = [d.code for d in analyze(text, targets=ALL_TARGETS).diagnostics]
    assert kept in codes and dropped not in codes, codes


def test_a_general_code_stays_where_nothing_more_specific_is_said() -> None:
    from mpl.pipeline import analyze
    from mpl.targets import FILE_TARGETS as ALL_TARGETS

    codes = [d.code for d in analyze('profile p < temperature 2.5 >', targets=ALL_TARGETS).diagnostics]
    assert "MPL502" in codes and "MPL303" not in codes  # 2.5 is a fine temperature for Ollama, not for Meton
    codes = [d.code for d in analyze('ollama "0.12"\nprofile p < mirostat 2 >', targets=ALL_TARGETS).diagnostics]
    assert "MPL401" in codes

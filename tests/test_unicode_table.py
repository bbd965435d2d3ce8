"""The shipped Unicode 15.0.0 table, not the running Python's `unicodedata`, decides
which characters Ollama's Modelfile parser drops (writer, checker, reader, test port)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from helpers import labels, run
from mpl.compiler.modelfile import read_modelfile
from mpl.catalog import _printable
from mpl.catalog.characters import dropped_characters, printable
from mpl.targets.modelfile_text import Refusal, encode_value
from tests.modelfile_reader import go_is_print, parse_modelfile

ROOT = Path(__file__).resolve().parent.parent

# Assigned in Unicode 15.0.0 (Python 3.11's tables, Unicode 14.0, call them unassigned).
KEPT_15_0 = ["\U0001f6dc", "\u0cf3", "\U0001fa75", "\U00031350"]
# Assigned only in Unicode 15.1 (Python 3.13's tables call them letters and symbols).
NEW_IN_15_1 = ["\U0002ebf0", "\u2ffc", "\u31ef"]


def test_header_names_the_unicode_version() -> None:
    head = (ROOT / "mpl" / "catalog" / "_printable.py").read_text(encoding="utf-8")[:400]
    assert "Unicode 15.0.0" in head
    assert "scripts/gen_unicode_table.py" in head
    assert _printable.UNICODE_VERSION == "15.0.0"
    assert len(_printable.BOUNDARIES) == 2 * _printable.RUNS
    assert list(_printable.BOUNDARIES) == sorted(set(_printable.BOUNDARIES))


@pytest.mark.parametrize("ch", KEPT_15_0)
def test_unicode_15_0_characters_are_kept_on_any_python(ch: str) -> None:
    assert printable(ch) and go_is_print(ch)
    assert dropped_characters(f"a{ch}b") == []
    assert encode_value(f"a{ch}b") == f"a{ch}b"
    (_, system) = parse_modelfile(f"FROM base\nSYSTEM a{ch}b\n")
    assert system.args == f"a{ch}b"
    (cmd,) = read_modelfile(f"SYSTEM a{ch}b\n").get("SYSTEM")
    assert cmd.value == f"a{ch}b"


@pytest.mark.parametrize("ch", NEW_IN_15_1)
def test_unicode_15_1_characters_are_dropped_on_any_python(ch: str) -> None:
    assert not printable(ch) and not go_is_print(ch)
    assert dropped_characters(f"a{ch}b") == [1]
    refusal = encode_value(f"a{ch}b")
    assert isinstance(refusal, Refusal)
    assert refusal.offset == 1
    assert "unassigned in Unicode 15.0.0" in refusal.reason
    (_, system) = parse_modelfile(f"FROM base\nSYSTEM a{ch}b\n")
    assert system.args == "ab"
    (cmd,) = read_modelfile(f"SYSTEM a{ch}b\n").get("SYSTEM")
    assert cmd.value == "ab"


def test_checker_diagnoses_characters_unassigned_in_unicode_15_0() -> None:
    text = 'model m from "llama3" <\n  system "CJK Ext I: \\u{2EBF0}; IDC: \\u2FFC end"\n>\n'
    analysis = run(text, targets=("modelfile",))
    assert "MPL503@2:10" in labels(analysis)
    (d,) = [d for d in analysis.diagnostics if d.code == "MPL503"]
    assert "U+2EBF0 (unassigned in Unicode 15.0.0" in d.message


def test_checker_keeps_characters_assigned_in_unicode_15_0() -> None:
    text = 'model m from "llama3" <\n  system "wheel \\u{1F6DC} kannada \\u0CF3 end"\n>\n'
    analysis = run(text, targets=("modelfile",))
    assert "MPL503" not in [d.code for d in analysis.diagnostics]


def test_table_matches_unicodedata2_15_0() -> None:
    """The shipped table is Go's IsPrint over UnicodeData 15.0.0, code point by code point."""
    unicodedata2 = pytest.importorskip("unicodedata2")
    assert unicodedata2.unidata_version == "15.0.0"
    for cp in range(0x110000):
        ch = chr(cp)
        expected = cp == 0x20 or unicodedata2.category(ch)[0] in "LMNPS"
        assert printable(ch) == expected, f"U+{cp:04X}"


def test_generator_reproduces_the_shipped_table() -> None:
    pytest.importorskip("unicodedata2")
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_unicode_table.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr

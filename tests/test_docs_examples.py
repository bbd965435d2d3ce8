"""Examples in the docs do what the text around them says, when run."""

from __future__ import annotations

import re
from collections import Counter

from helpers import ROOT, run


def _block_after(doc: str, heading: str) -> str:
    text = (ROOT / "docs" / doc).read_text(encoding="utf-8")
    section = text[text.index(heading):]
    match = re.search(r"```\n(.*?)```", section, re.S)
    assert match, f"no code block after {heading!r} in {doc}"
    return match.group(1)


def test_the_silencing_example_in_lints_md_silences_what_it_says() -> None:
    analysis = run(_block_after("lints.md", "## Silencing"))
    assert [d.code for d in analysis.diagnostics] == ["MPL730", "MPL730"]
    assert {d.message.split("`")[3] for d in analysis.diagnostics} == {"repeat_penalty", "num_ctx"}
    assert Counter(d.code for d in analysis.suppressed) == {"MPL701": 3, "MPL713": 2, "MPL714": 1}


def test_the_silencing_example_needs_its_version_pin() -> None:
    unpinned = _block_after("lints.md", "## Silencing").replace('ollama "0.6"\n', "")
    codes = [d.code for d in run(unpinned).diagnostics]
    assert "MPL401" in codes and codes.count("MPL731") == 2


def test_the_readme_check_sample_is_what_mpl_check_prints(monkeypatch) -> None:
    from typer.testing import CliRunner

    from mpl.cli import app

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    sample = re.search(r"```\n\$ mpl check examples/meton\.mprof\n(.*?)```", readme, re.DOTALL)
    assert sample, "no `$ mpl check examples/meton.mprof` sample in README.md"
    monkeypatch.chdir(ROOT)
    result = CliRunner().invoke(app, ["check", "examples/meton.mprof"])
    assert result.exit_code == 0
    assert result.stdout == sample.group(1)

"""The wheel's package list names every package of the source tree, with its data files."""

from __future__ import annotations

import tomllib

from helpers import ROOT

CONFIG = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]


def _source_packages() -> set[str]:
    found = {"mpl.grammar"}  # grammar/ is mapped to mpl.grammar
    for folder in (ROOT / "mpl").rglob("*"):
        if folder.is_dir() and folder.name != "__pycache__" and any(folder.glob("*.py")) | any(folder.glob("*.j2")):
            found.add(".".join(folder.relative_to(ROOT).parts))
    return found | {"mpl"}


def test_every_package_is_listed() -> None:
    assert set(CONFIG["packages"]) == _source_packages()


def test_data_files_are_shipped() -> None:
    data = CONFIG["package-data"]
    assert data["mpl.grammar"] == ["*.lark"] and (ROOT / "grammar" / "profile.lark").is_file()
    templates = ROOT / "mpl" / "targets" / "templates"
    assert data["mpl.targets.templates"] == ["*.j2"] and list(templates.glob("*.j2"))
    assert CONFIG["package-dir"] == {"mpl.grammar": "grammar"}
    assert (ROOT / "grammar" / "__init__.py").is_file()

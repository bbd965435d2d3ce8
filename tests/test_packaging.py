"""The wheel's package list names every package of the source tree, with its data files;
the source tree itself runs without being installed."""

from __future__ import annotations

import os
import re
import subprocess
import sys
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
    assert data["mpl.eval.templates"] == ["*.j2"] and (ROOT / "mpl" / "eval" / "templates" / "report.html.j2").is_file()
    assert CONFIG["package-dir"] == {"mpl.grammar": "grammar"}
    assert (ROOT / "grammar" / "__init__.py").is_file()


# Run from the repository root after a non-editable `pip install .`, Python finds the
# source folder `mpl/` first, and the installed `mpl.grammar` (the wheel's copy of
# `grammar/`) is out of reach. This prelude makes any interpreter behave so: it drops
# setuptools' editable-install finders, so only the source tree on `sys.path` is seen.
_SOURCE_TREE_ONLY = """
import importlib.util, sys
def editable(obj):
    module = obj.__module__ if isinstance(obj, type) else getattr(obj, "__module__", None) or type(obj).__module__
    return module.startswith("__editable__")
sys.meta_path[:] = [f for f in sys.meta_path if not editable(f)]
sys.path_hooks[:] = [h for h in sys.path_hooks if not editable(h)]
sys.path_importer_cache.clear()
sys.path.insert(0, ".")
import mpl
assert mpl.__file__.startswith(sys.argv[1]), mpl.__file__
assert importlib.util.find_spec("mpl.grammar") is None
"""


def _from_source_tree(body: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {"NO_COLOR": "1"}
    code = _SOURCE_TREE_ONLY + body
    return subprocess.run(
        [sys.executable, "-c", code, str(ROOT / "mpl")], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_the_source_tree_loads_profiles_without_an_installed_grammar_package() -> None:
    done = _from_source_tree('print(mpl.load("examples/meton.mprof").profiles)')
    assert done.returncode == 0, done.stderr
    assert "'precise'" in done.stdout


def test_the_source_tree_runs_mpl_check() -> None:
    body = 'import runpy; sys.argv = ["mpl", "check", "examples/meton.mprof"]; runpy.run_module("mpl", run_name="__main__")'
    done = _from_source_tree(body)
    assert done.returncode == 0, done.stderr
    assert "examples/meton.mprof: 0 errors" in done.stdout + done.stderr


PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def test_the_license_the_metadata_names_is_shipped() -> None:
    assert PROJECT["license"] == "MIT" and PROJECT["license-files"] == ["LICENSE"]
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("MIT License\n") and "Copyright (c) 2026 the mpl authors" in text
    assert (ROOT / "CHANGELOG.md").read_text(encoding="utf-8").count(f"({PROJECT['version']})") == 1


def test_no_made_up_addresses_or_unshipped_sources() -> None:
    for url in PROJECT.get("urls", {}).values():
        assert "<" not in url and "mpl-profiles" not in url, url
    cited = re.compile(r"parameters\.md|ollama-facts|\bthe facts\b")
    files = [ROOT / "README.md", ROOT / ".pre-commit-hooks.yaml", *(ROOT / "docs").glob("*.md"), *(ROOT / "mpl").rglob("*.py")]
    found = [f"{f.relative_to(ROOT)}:{n}" for f in files for n, line in enumerate(f.read_text(encoding="utf-8").splitlines(), 1)
             if cited.search(line) or "<owner>" in line]
    assert found == []


def test_catalog_notes_do_not_cite_the_facts() -> None:
    from mpl.catalog import catalog

    notes = [d.note for spec in catalog().options.values() for d in spec.defaults if getattr(d, "note", None)]
    assert notes and not [n for n in notes if "facts" in n]


def test_gguf_is_a_test_dependency_only() -> None:
    """mpl reads GGUF itself (mpl.compiler.modelinfo); the gguf package (and numpy) only writes test files."""
    import ast

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert not any(re.match(r"gguf\b", dep) for dep in project["dependencies"])
    assert any(re.match(r"gguf\b", dep) for dep in project["optional-dependencies"]["test"])
    for path in (ROOT / "mpl").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            assert not any(name.split(".")[0] == "gguf" for name in names), path

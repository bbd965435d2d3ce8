"""The VS Code extension in editors/vscode: its TextMate grammar and its manifest.

The scopes themselves are tested in node (editors/vscode/test/tokenize.test.js,
with the tokenizer VS Code uses); this module runs that suite and checks the
wiring that needs no node.
"""

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
EXTENSION = REPO / "editors" / "vscode"
GRAMMAR = EXTENSION / "syntaxes" / "mprof.tmLanguage.json"
LARK = REPO / "grammar" / "profile.lark"


def test_npm_test_passes() -> None:
    """`npm test` in editors/vscode: snapshots of every example and snippet, plus direct scope checks."""
    npm = shutil.which("npm")
    if shutil.which("node") is None or npm is None:
        pytest.skip("node/npm not installed: the TextMate grammar tests need Node.js")
    if not (EXTENSION / "node_modules").is_dir():
        pytest.skip("editors/vscode/node_modules is missing: run `npm ci` in editors/vscode first")
    env = dict(os.environ)
    env.pop("UPDATE_SNAPSHOTS", None)  # pytest only checks; rewriting snapshots is a deliberate `npm test` run
    proc = subprocess.run(
        [npm, "test"],
        cwd=EXTENSION,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, (
        f"`npm test` in editors/vscode exited {proc.returncode}\n"
        f"--- stdout ---\n{proc.stdout}\n--- stderr ---\n{proc.stderr}"
    )


def test_manifest_points_at_existing_files() -> None:
    manifest = json.loads((EXTENSION / "package.json").read_text(encoding="utf-8"))
    (language,) = [lang for lang in manifest["contributes"]["languages"] if lang["id"] == "mprof"]
    (grammar,) = manifest["contributes"]["grammars"]
    assert language["id"] == grammar["language"] == "mprof"
    assert (EXTENSION / language["configuration"]).is_file()
    assert (EXTENSION / grammar["path"]).resolve() == GRAMMAR
    assert (EXTENSION / manifest["main"]).is_file()
    assert json.loads(GRAMMAR.read_text(encoding="utf-8"))["scopeName"] == grammar["scopeName"]
    json.loads((EXTENSION / language["configuration"]).read_text(encoding="utf-8"))


def _rules(node: object):
    """Every rule object in a grammar, depth first."""
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _rules(value)
    elif isinstance(node, list):
        for value in node:
            yield from _rules(value)


def test_grammar_includes_resolve() -> None:
    grammar = json.loads(GRAMMAR.read_text(encoding="utf-8"))
    repository = grammar["repository"]
    missing = sorted(
        rule["include"]
        for rule in _rules(grammar)
        if isinstance(rule.get("include"), str)
        and rule["include"].startswith("#")
        and rule["include"][1:] not in repository
    )
    assert missing == []


def test_every_language_keyword_has_a_keyword_rule() -> None:
    """A keyword added to grammar/profile.lark must be added to the TextMate grammar too."""
    lark = re.sub(r"//.*", "", LARK.read_text(encoding="utf-8"))
    keywords = set(re.findall(r'"([A-Za-z_][A-Za-z0-9_-]*)"', lark))
    assert len(keywords) >= 20
    repository = json.loads(GRAMMAR.read_text(encoding="utf-8"))["repository"]
    rules = [repository[r["include"][1:]] if "include" in r else r for r in repository["keyword"]["patterns"]]
    # These patterns use only syntax that Python's `re` shares with oniguruma.
    patterns = [re.compile(rule["match"]) for rule in rules]
    unmatched = sorted(word for word in keywords if not any(p.fullmatch(word) for p in patterns))
    assert unmatched == [], f"keywords without a scope in {GRAMMAR.relative_to(REPO)}"


def test_language_configuration() -> None:
    """Comments, brackets and auto-closing pairs match the language."""
    config = json.loads((EXTENSION / "language-configuration.json").read_text(encoding="utf-8"))
    assert config["comments"] == {"lineComment": "#"}
    assert ["<", ">"] in config["brackets"] and ["[", "]"] in config["brackets"]
    pairs = {(pair["open"], pair["close"]) for pair in config["autoClosingPairs"]}
    assert {("<", ">"), ("[", "]"), ('"', '"'), ('"""', '"""')} <= pairs
    for pair in config["autoClosingPairs"]:
        assert set(pair.get("notIn", [])) == {"string", "comment"}


def test_client_starts_mpl_lsp_and_formats() -> None:
    """The client runs `<mpl.path> lsp`, and the extension is the default formatter for `mprof`."""
    manifest = json.loads((EXTENSION / "package.json").read_text(encoding="utf-8"))
    assert manifest["dependencies"].get("vscode-languageclient")
    assert manifest["contributes"]["configuration"]["properties"]["mpl.path"]["default"] == "mpl"
    defaults = manifest["contributes"]["configurationDefaults"]["[mprof]"]
    assert defaults["editor.defaultFormatter"] == f"{manifest['publisher']}.{manifest['name']}"
    assert defaults["editor.tabSize"] == 2 and defaults["editor.insertSpaces"] is True  # the indentation `mpl fmt` writes
    source = (EXTENSION / "extension.js").read_text(encoding="utf-8")
    assert "args: ['lsp']" in source
    assert "getConfiguration('mpl')" in source and "get('path')" in source
    assert "onLanguage:mprof" in manifest["activationEvents"]


def test_modelfile_language_is_registered() -> None:
    """Modelfiles (`Modelfile`, `*.Modelfile`, `*.modelfile`) are a language the client sends to `mpl lsp`."""
    manifest = json.loads((EXTENSION / "package.json").read_text(encoding="utf-8"))
    (language,) = [lang for lang in manifest["contributes"]["languages"] if lang["id"] == "modelfile"]
    assert language["filenames"] == ["Modelfile"] and set(language["extensions"]) == {".Modelfile", ".modelfile"}
    # every name holding "modelfile" in any case, as mpl.source.source_language reads names
    assert language["filenamePatterns"] == ["*[mM][oO][dD][eE][lL][fF][iI][lL][eE]*"]
    config = json.loads((EXTENSION / language["configuration"]).read_text(encoding="utf-8"))
    assert config["comments"] == {"lineComment": "#"}
    assert "onLanguage:modelfile" in manifest["activationEvents"]
    source = (EXTENSION / "extension.js").read_text(encoding="utf-8")
    assert "language: 'modelfile'" in source


def test_node_modules_is_ignored() -> None:
    """`npm ci` in editors/vscode must not leave files for git to pick up."""
    ignored = (REPO / ".gitignore").read_text(encoding="utf-8").split()
    assert "node_modules/" in ignored or "node_modules" in ignored


def test_npm_run_package_builds_a_vsix(tmp_path: Path) -> None:
    """`npm run package` (`@vscode/vsce`) writes an installable .vsix with the extension and its LICENSE."""
    import zipfile

    npm = shutil.which("npm")
    if shutil.which("node") is None or npm is None:
        pytest.skip("node/npm not installed: packaging the extension needs Node.js")
    if not (EXTENSION / "node_modules" / "@vscode" / "vsce").is_dir():
        pytest.skip("@vscode/vsce is not installed: run `npm ci` in editors/vscode first")
    out = tmp_path / "mpl-profiles.vsix"
    proc = subprocess.run(
        [npm, "run", "package", "--", "--out", str(out)],
        cwd=EXTENSION, capture_output=True, text=True, timeout=600, check=False, stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 0, f"--- stdout ---\n{proc.stdout}\n--- stderr ---\n{proc.stderr}"
    names = set(zipfile.ZipFile(out).namelist())
    manifest = json.loads(zipfile.ZipFile(out).read("extension/package.json"))
    assert manifest["name"] == "mpl-profiles" and manifest["license"] == "MIT"
    for shipped in ("extension.js", "LICENSE.txt", "readme.md", "syntaxes/mprof.tmLanguage.json", "language-configuration.json"):
        assert f"extension/{shipped}" in names
    assert "extension/node_modules/vscode-languageclient/package.json" in names  # the runtime dependency
    assert not any(n.startswith(("extension/test/", "extension/node_modules/@vscode/vsce/")) for n in names)


def test_extension_ships_the_license_and_names_no_made_up_address() -> None:
    manifest = json.loads((EXTENSION / "package.json").read_text(encoding="utf-8"))
    assert "@vscode/vsce" in manifest["devDependencies"] and "vsce package" in manifest["scripts"]["package"]
    assert (EXTENSION / "LICENSE").read_text(encoding="utf-8") == (REPO / "LICENSE").read_text(encoding="utf-8")
    assert "repository" not in manifest and "homepage" not in manifest  # mpl has no public address yet

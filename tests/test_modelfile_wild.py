"""Modelfiles as they are named and written in the wild: detection, PARAMETER aliases, paths, folders, lints.

Each test uses small files of its own that show what real Modelfiles do; Ollama's own behaviour
(parser/parser.go, server/create.go) is the judge, as the comments say.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from helpers import ROOT
from typer.testing import CliRunner

from mpl.cli import app
from mpl.source import CHECKED_NAMES, source_language

WILD_NAMES = (
    "modelfile", "Modelfile.txt", "ModelFile", "Modelfile.qwen", "Modelfile.mistral", "Modelfile2",
    "Modelfile_llama3", "Qwen3_4B_ModelFile", "llama_Modelfile", "fakenews.modelfile",
)
# Read as a `.mprof`, every line of this is MPL101 (`unexpected FROM`); as a Modelfile it is clean.
MODELFILE = "# a model\nFROM llama3\nPARAMETER temperature 0.5\nSYSTEM You are terse.\n"


def _check_json(*args: str) -> tuple[int, list[dict]]:
    result = CliRunner().invoke(app, ["check", "--format", "json", *args])
    assert "Traceback" not in result.output, result.output
    payload = json.loads(result.output)
    return result.exit_code, payload if isinstance(payload, list) else [payload]


def _errors(report: dict) -> list[tuple[str, int]]:
    return sorted((d["code"], d["range"]["start"]["line"]) for d in report["diagnostics"] if d["severity"] == "error")


def _codes(report: dict) -> list[str]:
    return [d["code"] for d in report["diagnostics"]]


# -- A.1: one rule decides what a file is -----------------------------------------------


def test_a_folder_of_modelfiles_named_as_in_the_wild_is_checked_without_lang(tmp_path: Path) -> None:
    folder = tmp_path / "models"
    folder.mkdir()
    for name in WILD_NAMES:
        (folder / name).write_text(MODELFILE)
    (folder / "notes.txt").write_text("not a model\n")  # a folder's other files are not taken
    code, reports = _check_json(str(folder))
    assert sorted(Path(r["file"]).name for r in reports) == sorted(WILD_NAMES)
    for report in reports:
        assert not [c for c in _codes(report) if c.startswith("MPL1") or c == "MPL215"], report
    assert code == 0


def test_a_file_whose_name_says_nothing_is_a_modelfile_when_its_first_instruction_is_one(tmp_path: Path) -> None:
    sniffed = tmp_path / "llama.txt"
    sniffed.write_text("\n# comments first\n\nfrom llama3\nparameter top_k 20\n")  # any case, as Ollama reads it
    profile = tmp_path / "profile.txt"
    profile.write_text("profile p < temperature 0.5 >\n")
    code, reports = _check_json(str(sniffed), str(profile))
    assert code == 0 and [_codes(r) for r in reports] == [[], []]
    code, [report] = _check_json("--lang", "mprof", str(sniffed))  # --lang still overrides
    assert code == 1 and "MPL101" in _codes(report)


@pytest.mark.parametrize("name", [*WILD_NAMES, "dir/Modelfile", "llama3.Modelfile"])
def test_names_holding_modelfile_are_modelfiles_and_mprof_names_are_sources(name: str) -> None:
    assert source_language(name, "profile p < >") == "modelfile"
    assert source_language(name + ".mprof", "FROM x") == "mprof"


def test_pre_commit_checks_the_files_the_rule_names(tmp_path: Path) -> None:
    hooks = {h["id"]: h for h in yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())}
    assert hooks["mpl-check"]["files"] == CHECKED_NAMES
    pattern = re.compile(hooks["mpl-check"]["files"])  # pre-commit matches with re.search on the staged path
    for name in (*WILD_NAMES, "sub/dir/a.mprof", "b.MPROF"):
        assert pattern.search(name), name
    for name in ("README.md", "modelfiles/README.md", "a.mprof.bak"):
        assert not pattern.search(name), name
    assert all(hooks[h]["files"] == r"\.mprof$" for h in ("mpl-fmt", "mpl-fmt-check"))  # fmt formats sources only


def test_fmt_leaves_a_modelfile_as_it_is(tmp_path: Path) -> None:
    path = tmp_path / "Modelfile.txt"
    path.write_text(MODELFILE)
    result = CliRunner().invoke(app, ["fmt", str(path)])
    assert result.exit_code == 0 and "is a Modelfile, left as it is" in result.output
    assert path.read_text() == MODELFILE


def test_import_reads_modelfiles_by_the_same_rule(tmp_path: Path) -> None:
    from mpl.importer import ImportError_, run_import

    wild = tmp_path / "Qwen3_4B_ModelFile"
    wild.write_text(MODELFILE)
    text, _, _ = run_import([wild], output=None, profile=None, name=None, do_factor=False)
    assert text is not None and text.startswith("# a model\nmodel Qwen3_4B from \"llama3\" <")
    named_as_base = tmp_path / "Modelfile_llama3"  # its name is its base's: not a model built from itself
    named_as_base.write_text(MODELFILE)
    text, _, _ = run_import([named_as_base], output=None, profile=None, name=None, do_factor=False)
    assert text is not None and 'model llama3-custom from "llama3"' in text
    source = tmp_path / "p.mprof"
    source.write_text("profile p < >\n")
    with pytest.raises(ImportError_, match="is a .mprof source already"):
        run_import([source], output=None, profile=None, name=None, do_factor=False)
    notes = tmp_path / "notes.txt"
    notes.write_text("profile p < >\n")
    with pytest.raises(ImportError_, match="starts with `profile`, not with a Modelfile instruction"):
        run_import([notes], output=None, profile=None, name=None, do_factor=False)


def test_the_language_server_reads_a_document_by_the_same_rule() -> None:
    from mpl.lsp.document import analyze_document

    assert analyze_document("file:///w/Modelfile.txt", MODELFILE, language="plaintext").kind == "modelfile"
    assert analyze_document("untitled:Untitled-1", MODELFILE).kind == "modelfile"
    assert analyze_document("file:///w/Qwen3_4B_ModelFile", MODELFILE).kind == "modelfile"
    assert analyze_document("file:///w/Modelfile.txt", MODELFILE, language="mprof").kind == "mprof"  # the editor's word wins
    assert analyze_document("file:///w/a.mprof", "profile p < >").kind == "mprof"


# -- A.2: `PARAMETER system …` is the SYSTEM instruction to Ollama ----------------------

ALIASES = (
    "PARAMETER model llama3\n"  # the parser stores FROM under `model`: this is a FROM (and counts as one)
    "PARAMETER system You are terse.\n"
    'PARAMETER template "{{ .System }} {{ .Prompt }}"\n'
    "PARAMETER license MIT\n"
    "PARAMETER message user: hello\n"
    "PARAMETER temperature 0.5\n"
)


def test_a_parameter_named_after_an_instruction_is_read_as_that_instruction_by_check_and_import(tmp_path: Path) -> None:
    import modelfile_reader as ref

    from mpl.importer import run_import

    path = tmp_path / "Modelfile"
    path.write_text(ALIASES)
    code, [report] = _check_json(str(path))
    assert code == 0 and not [c for c in _codes(report) if c in ("MPL301", "MPL125")], report
    text, _, _ = run_import([path], output=None, profile=None, name=None, do_factor=False)
    assert text is not None
    for line in ('system "You are terse."', 'template "{{ .System }} {{ .Prompt }}"', 'license "MIT"', 'message user "hello"'):
        assert line in text, text
    expected = ref.create_request(ref.parse_modelfile(ALIASES), tmp_path)  # Ollama's CreateRequest, ported
    assert (expected["from"], expected["system"], expected["license"], expected["messages"]) == (
        "llama3", "You are terse.", ["MIT"], [{"role": "user", "content": "hello"}])


def test_only_the_exact_lower_case_names_are_instructions(tmp_path: Path) -> None:
    path = tmp_path / "Modelfile"
    path.write_text("FROM llama3\nPARAMETER System x\nPARAMETER from y\nPARAMETER message hello\n")
    _, [report] = _check_json(str(path))
    assert _errors(report) == [("MPL218", 4), ("MPL301", 2), ("MPL301", 3)]


# -- A.3: a Windows path stays a path; only a blob of the server's store is replaced -----

SHOW_HEADER = (
    '# Modelfile generated by "ollama show"\n'
    "# To build a new Modelfile based on this, replace FROM with:\n"
    "# FROM hf.co/bartowski/Llama-3.2-3B-Instruct-GGUF:latest\n\n"
)


def _import(path: Path) -> tuple[str | None, list[tuple[str, str]]]:
    from mpl.importer import run_import

    text, imported, _ = run_import([path], output=path.parent / "out.mprof", profile=None, name=None, do_factor=False)
    return text, [(d.code, d.message) for _, sink in imported.reports for d in sink.diagnostics]


@pytest.mark.parametrize("source", [r"C:\Backup\QA\Llama-3.2-3B-Instruct-f16.gguf", "c:/Users/me/models/llama"])
def test_a_windows_path_is_a_path_to_check_and_import(tmp_path: Path, source: str) -> None:
    path = tmp_path / "Modelfile"
    path.write_text(f"{SHOW_HEADER}FROM {source}\nPARAMETER temperature 0.5\n")
    _, [report] = _check_json(str(path))
    assert _errors(report) == [("MPL307", 5)], report  # missing here, as any path: not MPL214
    assert "a Windows path" in report["diagnostics"][[d["code"] for d in report["diagnostics"]].index("MPL307")]["help"]
    text, diagnostics = _import(path)
    assert text is not None and f'from "{source}"'.replace("\\", "\\\\") in text, text
    assert "hf.co/bartowski" not in text and not diagnostics


def test_a_blob_of_the_servers_store_is_replaced_by_the_shown_name_and_said(tmp_path: Path) -> None:
    path = tmp_path / "Modelfile"
    blob = r"C:\Users\me\.ollama\models\blobs\sha256-" + "a" * 64
    path.write_text(f"{SHOW_HEADER}FROM {blob}\n")
    text, diagnostics = _import(path)
    assert text is not None and 'from "hf.co/bartowski/Llama-3.2-3B-Instruct-GGUF:latest"' in text
    assert [code for code, _ in diagnostics] == ["MPL540"] and "blob of the server's model store" in diagnostics[0][1]


# -- A.4: an address is what Ollama sends: a model name ----------------------------------

URL = "https://huggingface.co/bartowski/Llama-3.2-1B-Instruct-GGUF/resolve/main/Llama-3.2-1B-Instruct-Q4_K_M.gguf"


def test_an_address_in_from_is_imported_as_written_and_checked_as_the_name_ollama_sends(tmp_path: Path) -> None:
    path = tmp_path / "Modelfile"
    path.write_text(f"FROM {URL}\n")
    text, _ = _import(path)
    assert text is not None and f'from "{URL}"' in text, text  # not `./https:/huggingface.co/…`
    _, [report] = _check_json(str(path))
    [error] = [d for d in report["diagnostics"] if d["severity"] == "error"]
    assert error["code"] == "MPL214" and "invalid model name" in error["help"]  # the server's answer: not a missing file
    named = tmp_path / "named.Modelfile"
    named.write_text("FROM https://hf.co/bartowski/Llama-3.2-1B-Instruct-GGUF:Q4_K_M\n")  # a name to Ollama (scheme, host, namespace, model)
    code, [report] = _check_json(str(named))
    assert code == 0 and not _errors(report)


# -- A.6: which FROM Ollama builds from -------------------------------------------------


@pytest.mark.parametrize(
    ("froms", "kept", "said"),
    [
        (["llama3", "./base.gguf"], "llama3", "this FROM file is not used: the FROM on line 1 names a model"),
        (["./base.gguf", "llama3"], "llama3", "this FROM file is not used: the FROM on line 2 names a model"),
        (["llama3", "qwen3"], "qwen3", "this FROM is replaced by the one on line 2: of several model names, Ollama sends the last"),
        (["./base.gguf", "./proj.gguf"], "./base.gguf", "this FROM file is added to the one on line 1"),
    ],
    ids=["name-then-file", "file-then-name", "name-then-name", "file-then-file"],
)
def test_mpl128_says_which_from_ollama_builds_from(tmp_path: Path, froms: list[str], kept: str, said: str) -> None:
    from gguf_files import write_model

    from mpl.pipeline import analyze_modelfile
    from mpl.importer import run_import

    for name in ("base.gguf", "proj.gguf"):
        write_model(tmp_path / name)
    path = tmp_path / "Modelfile"
    path.write_text("".join(f"FROM {value}\n" for value in froms))
    analysis = analyze_modelfile(path)
    [model] = analysis.program.models
    assert model.source.value == kept
    [replaced] = [d for d in analysis.diagnostics if d.code == "MPL128"]
    assert said in replaced.message, replaced.message
    text, _, _ = run_import([path], output=tmp_path / "out.mprof", profile=None, name=None, do_factor=False)
    assert text is not None and f'from "{kept}"' in text  # import keeps the same FROM


# -- A.7: a template that drops the prompt, a blank system prompt ------------------------


def test_a_template_without_actions_and_a_blank_system_are_warned_in_a_modelfile(tmp_path: Path) -> None:
    path = tmp_path / "Modelfile"
    path.write_text('FROM llama3\nTEMPLATE """You are a pirate."""\nPARAMETER system "  \t "\n')
    code, [report] = _check_json(str(path))
    found = sorted((d["code"], d["range"]["start"]["line"]) for d in report["diagnostics"] if d["code"] in ("MPL734", "MPL735"))
    assert code == 0 and found == [("MPL734", 2), ("MPL735", 3)]
    path.write_text('FROM llama3\nTEMPLATE "{{ .Prompt }}"\nSYSTEM ""\nSYSTEM "Be brief."\n')  # empty: MPL505's, not MPL735's
    _, [report] = _check_json(str(path))
    assert not {"MPL734", "MPL735"} & set(_codes(report))


# -- A.5: an adapter folder is judged as Ollama judges it --------------------------------


def _adapter_check(tmp_path: Path, architecture: str = "qwen2") -> list[tuple[str, str]]:
    from gguf_files import write_model

    from mpl.pipeline import analyze_modelfile

    write_model(tmp_path / f"{architecture}.gguf", architecture=architecture)  # one name per architecture: headers are cached by path
    path = tmp_path / "Modelfile"
    path.write_text(f"FROM ./{architecture}.gguf\nADAPTER ./lora/\n")
    return [(d.code, d.message) for d in analyze_modelfile(path).diagnostics if d.code in ("MPL605", "MPL606", "MPL607")]


def test_an_adapter_folder_holding_one_gguf_is_that_adapter(tmp_path: Path) -> None:
    from gguf_files import write_adapter

    write_adapter(tmp_path / "lora" / "adapter.gguf", architecture="qwen2")
    assert _adapter_check(tmp_path) == []
    write_adapter(tmp_path / "lora" / "adapter.gguf", architecture="llama")  # the GGUF inside is checked as a file is
    [(code, message)] = _adapter_check(tmp_path)
    assert code == "MPL607" and "`./lora/` is for architecture \"llama\"" in message


def test_an_adapter_folder_ollama_refuses_gets_the_reason_ollama_gives(tmp_path: Path) -> None:
    from gguf_files import write_adapter

    lora = tmp_path / "lora"
    lora.mkdir()
    (lora / "adapter_model.safetensors").write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{}      ")  # a PEFT adapter
    (lora / "adapter_config.json").write_text("{}")
    [(code, message)] = _adapter_check(tmp_path)
    assert code == "MPL605" and "`no Modelfile or safetensors files found`" in message
    (lora / "adapter_model.safetensors").unlink()
    write_adapter(lora / "adapter.gguf")  # a GGUF and a .json: the CLI sends both, the server takes one adapter file
    [(code, message)] = _adapter_check(tmp_path)
    assert code == "MPL605" and "`only one adapter is currently supported`" in message and "adapter.gguf" in message


def test_a_safetensors_adapter_folder_needs_a_base_ollama_converts_for(tmp_path: Path) -> None:
    lora = tmp_path / "lora"
    lora.mkdir()
    (lora / "model.safetensors").write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{}      ")
    [(code, message)] = _adapter_check(tmp_path, architecture="llama")
    assert code == "MPL605" and "`open adapter_config.json: no such file or directory`" in message
    (lora / "adapter_config.json").write_text('{"r": 8, "lora_alpha": 16}')
    assert _adapter_check(tmp_path, architecture="llama") == []  # converted by the server
    [(code, message)] = _adapter_check(tmp_path, architecture="qwen2")
    assert code == "MPL605" and "`unsupported architecture`" in message


def test_build_sends_the_gguf_an_adapter_folder_holds(tmp_path: Path) -> None:
    from gguf_files import write_adapter, write_model

    from mpl.pipeline import analyze
    from mpl.targets.ollama import create_request, local_files

    write_model(tmp_path / "base.gguf")
    write_adapter(tmp_path / "lora" / "adapter.gguf")
    source = tmp_path / "m.mprof"
    source.write_text('model m from "./base.gguf" < adapter "./lora" >\n')
    analysis = analyze(source)
    assert not analysis.has_errors
    [model] = analysis.program.models
    assert local_files(model)[-1] == tmp_path / "lora" / "adapter.gguf"
    assert create_request(analysis.program, model)["adapters"] == {"adapter.gguf": "sha256:<adapter.gguf>"}

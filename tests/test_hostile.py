"""Hostile input: injection strings, paths outside the project, symbolic links, FIFOs, devices.

Every hostile value is either written so that Ollama's parser (the test reference
reader, `modelfile_reader`) reads back exactly the source value and nothing more,
or refused with a diagnostic. No input hangs or reads without bound.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gguf_files import write_adapter, write_model, write_not_gguf
from helpers import ROOT, labels
from modelfile_reader import create_request, parse_modelfile
from mpl.pipeline import analyze
from mpl.compiler.modelinfo import NotGGUF, read_gguf_metadata, read_header
from mpl.compiler.parse import quote_string
from mpl.source import SourceFile
from mpl.targets import get_target

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX paths, FIFOs and devices")

INJECTIONS = [
    "ok\nPARAMETER temperature 2",
    "ok\r\nPARAMETER temperature 2",
    "ok\rPARAMETER temperature 2",
    'end """\nPARAMETER temperature 2\n"""',
    '"""',
    '""""',
    '"',
    "# not a comment\nFROM evil",
    "tail #\n# comment-looking line",
    "line\u2028PARAMETER temperature 2",
    "line\u2029SYSTEM evil",
    "line\u0085PARAMETER temperature 2",
    "bell\x07 escape\x1b[31m nul-free",
    "del\x7f and C1 \x9b",
    "tab\tvtab\x0bformfeed\x0c",
    "\ufeffleading BOM",
    "trailing spaces   ",
    "   leading spaces",
    "",
    " ",
    "\n",
    "\\\n\\",
    "MESSAGE user hi",
    "a\u200db\u00a0c",
]


def _compile(text: str, tmp_path: Path) -> tuple[list[str], dict[str, str]]:
    analysis = analyze(SourceFile(str(tmp_path / "h.mprof"), text), base_dir=tmp_path, targets=("modelfile",))
    codes = [d.code for d in analysis.diagnostics if d.severity.value == "error"]
    if codes:
        return codes, {}
    outputs = get_target("modelfile").emit(analysis.program, tmp_path / "out")
    return [], {o.path: o.content for o in outputs}


@pytest.mark.parametrize("value", INJECTIONS, ids=range(len(INJECTIONS)))
@pytest.mark.parametrize("keyword", ["system", "template", "license"])
def test_injected_text_reads_back_exactly_or_is_refused(value, keyword, tmp_path):
    text = f"model m from \"qwen3:8b\" <\n  {keyword} {quote_string(value)}\n  temperature 0.5\n>\n"
    errors, files = _compile(text, tmp_path)
    if errors:
        assert set(errors) <= {"MPL503", "MPL505"}, errors
        return
    commands = parse_modelfile(files["m.Modelfile"])
    names = [c.name for c in commands]
    assert names.count("temperature") == 1 and names.count("model") == 1, commands
    (got,) = [c.args for c in commands if c.name == keyword]
    assert got == value
    assert [c.args for c in commands if c.name == "temperature"] == ["0.5"]


@pytest.mark.parametrize("value", INJECTIONS, ids=range(len(INJECTIONS)))
def test_injected_message_and_stop_read_back_exactly_or_are_refused(value, tmp_path):
    text = f"model m from \"qwen3:8b\" <\n  message user {quote_string(value)}\n  stop [{quote_string(value)}]\n>\n"
    errors, files = _compile(text, tmp_path)
    if errors:
        assert set(errors) <= {"MPL503", "MPL505", "MPL726"}, errors
        return
    commands = parse_modelfile(files["m.Modelfile"])
    assert [c.args for c in commands if c.name == "message"] == [f"user: {value}"]
    request = create_request(commands, tmp_path / "out")
    assert request["parameters"].get("stop", [value]) == [value]
    assert set(request["parameters"]) <= {"stop"}


@pytest.mark.parametrize("name", ["a\nPARAMETER temperature 2", "x # y", 'q"""'])
def test_injected_model_name_is_refused(name, tmp_path):
    errors, _ = _compile(f"model {quote_string(name)} from \"qwen3:8b\" < temperature 0.5 >\n", tmp_path)
    assert errors, name


# -- paths: outside the project, symbolic links, FIFOs, devices ---------------------


@pytest.fixture
def project(tmp_path, monkeypatch):
    """tmp/proj with base.gguf and `adapters/a b.gguf`; tmp/elsewhere/deep/out; cwd = proj."""
    proj = tmp_path / "proj"
    write_model(proj / "base.gguf", architecture="qwen2")
    write_adapter(proj / "adapters" / "a b.gguf", architecture="qwen2")
    (tmp_path / "elsewhere" / "deep" / "out").mkdir(parents=True)
    (proj / "p.mprof").write_text('model m from "./base.gguf" <\n  adapter "./adapters/a b.gguf"\n>\n', encoding="utf-8")
    monkeypatch.chdir(proj)
    return proj


def _modelfile_request(project: Path, out: str) -> dict:
    analysis = analyze(project / "p.mprof", targets=("modelfile",))
    assert not analysis.has_errors, labels(analysis)
    (output,) = get_target("modelfile").emit(analysis.program, Path(out))
    folder = Path(out)
    folder.mkdir(exist_ok=True)
    (folder / output.path).write_text(output.content, encoding="utf-8")
    # `ollama create -f OUT/m.Modelfile` run from the project: the folder as given.
    return create_request(parse_modelfile(output.content), folder)


def test_paths_through_a_symlinked_output_folder_resolve_as_ollama_resolves_them(project):
    os.symlink("../elsewhere/deep/out", project / "linkout")
    request = _modelfile_request(project, "linkout")
    # Both files found (a missing FROM file would become a registry name in `from`).
    assert "from" not in request and list(request["files"]) == ["base.gguf"]
    assert list(request["adapters"]) == ["a b.gguf"]
    # And the same Modelfile read from its physical folder (a service, `cd` without $PWD).
    physical = create_request(parse_modelfile((project / "linkout" / "m.Modelfile").read_text()), project.parent / "elsewhere/deep/out")
    assert physical["files"] == request["files"] and physical["adapters"] == request["adapters"]


def test_paths_from_a_plain_output_folder_stay_relative(project):
    request = _modelfile_request(project, "out")
    text = (project / "out" / "m.Modelfile").read_text()
    assert "FROM ../base.gguf" in text and "ADAPTER ../adapters/a b.gguf" in text
    assert list(request["files"]) == ["base.gguf"] and list(request["adapters"]) == ["a b.gguf"]


def test_a_symlink_that_dotdot_would_cross_gives_absolute_paths(project):
    (project / "real").mkdir()
    os.symlink("real", project / "link")
    (project / "link" / "sub").mkdir()
    request = _modelfile_request(project, "link/sub")
    text = (project / "link" / "sub" / "m.Modelfile").read_text()
    # `..` from link/sub cancels `sub` (a real folder) then `link` (a symlink): absolute paths.
    assert f"FROM {project / 'base.gguf'}" in text
    assert list(request["files"]) == ["base.gguf"] and list(request["adapters"]) == ["a b.gguf"]


def test_symlinked_adapter_is_read_through_the_link(project, tmp_path):
    os.symlink(project / "adapters" / "a b.gguf", project / "lora-link.gguf")
    analysis = analyze(SourceFile(str(project / "q.mprof"), 'model m from "./base.gguf" < adapter "./lora-link.gguf" >\n'),
                       base_dir=project, targets=("modelfile",))
    assert not analysis.has_errors, labels(analysis)


def test_adapter_outside_the_project_is_found(project, tmp_path):
    write_adapter(tmp_path / "shared" / "lora.gguf", architecture="qwen2")
    text = f'model m from "./base.gguf" < adapter "{tmp_path / "shared" / "lora.gguf"}" >\n'
    analysis = analyze(SourceFile(str(project / "q.mprof"), text), base_dir=project, targets=("modelfile",))
    assert not analysis.has_errors, labels(analysis)
    (output,) = get_target("modelfile").emit(analysis.program, Path("out"))
    request = create_request(parse_modelfile(output.content), Path("out"))
    assert list(request["adapters"]) == ["lora.gguf"]


def _check_subprocess(tmp_path: Path, text: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "x.mprof").write_text(text, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    start = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "mpl", "check", str(tmp_path / "x.mprof")],
                            capture_output=True, text=True, timeout=30, env=env)
    assert time.monotonic() - start < 30
    assert "Traceback" not in result.stderr + result.stdout
    return result


def test_fifo_as_source_and_adapter_gets_a_diagnostic_not_a_hang(tmp_path):
    os.mkfifo(tmp_path / "pipe.gguf")
    os.mkfifo(tmp_path / "lora.gguf")
    result = _check_subprocess(tmp_path, 'model m from "./pipe.gguf" <\n  adapter "./lora.gguf"\n>\n')
    assert result.returncode == 1
    assert "1:14: error[MPL605]" in result.stdout and "2:11: error[MPL605]" in result.stdout
    assert "not a regular file" in result.stdout


def test_dev_zero_as_source_and_adapter_gets_a_diagnostic(tmp_path):
    result = _check_subprocess(tmp_path, 'model m from "/dev/zero" <\n  adapter "/dev/zero"\n>\n')
    assert result.returncode == 1 and result.stdout.count("error[MPL605]") == 2


def test_folder_as_adapter_is_not_gguf(tmp_path):
    (tmp_path / "lora").mkdir()
    analysis = analyze(SourceFile(str(tmp_path / "x.mprof"), 'model m from "qwen3:8b" < adapter "./lora" >\n'), base_dir=tmp_path)
    assert labels(analysis, severity="error") == ["MPL605@1:35"]
    assert "folder" in analysis.diagnostics[0].message


# -- adapter headers at check time (one reader: mpl.compiler.modelinfo) ---------------


def _check(tmp_path: Path, text: str) -> list[str]:
    analysis = analyze(SourceFile(str(tmp_path / "x.mprof"), text), base_dir=tmp_path, targets=("modelfile",))
    return labels(analysis, severity="error")


def test_text_file_as_adapter_is_refused_by_check(tmp_path):
    (tmp_path / "notes.txt").write_text("just notes\n")
    assert _check(tmp_path, 'model m from "qwen3:8b" < adapter "notes.txt" >\n') == ["MPL605@1:35"]


def test_model_gguf_as_adapter_is_refused_by_check(tmp_path):
    write_model(tmp_path / "lora.gguf")
    assert _check(tmp_path, 'model m from "qwen3:8b" < adapter "./lora.gguf" >\n') == ["MPL606@1:35"]


def test_adapter_of_another_architecture_than_a_local_base(tmp_path):
    write_model(tmp_path / "base.gguf", architecture="llama")
    write_adapter(tmp_path / "lora.gguf", architecture="qwen2")
    text = 'model b from "./base.gguf" < temperature 0.5 >\nmodel m from "b" < adapter "./lora.gguf" >\n'
    assert _check(tmp_path, text) == ["MPL607@2:28"]
    assert _check(tmp_path, 'model m from "./base.gguf" < adapter "./lora.gguf" >\n') == ["MPL607@1:38"]


def test_matching_adapter_passes_check(tmp_path):
    write_model(tmp_path / "base.gguf", architecture="qwen2")
    write_adapter(tmp_path / "lora.gguf", architecture="qwen2")
    assert _check(tmp_path, 'model m from "./base.gguf" < adapter "./lora.gguf" >\n') == []


def test_not_gguf_from_file_is_refused_by_check(tmp_path):
    write_not_gguf(tmp_path / "base.gguf")
    assert _check(tmp_path, 'model m from "./base.gguf" < temperature 0.5 >\n') == ["MPL605@1:14"]


def test_compile_refuses_a_non_gguf_adapter(tmp_path):
    (tmp_path / "notes.txt").write_text("just notes\n")
    (tmp_path / "x.mprof").write_text('model m from "qwen3:8b" < adapter "notes.txt" >\n')
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-m", "mpl", "compile", str(tmp_path / "x.mprof"), "-o", str(tmp_path / "out")],
                            capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode == 1 and "error[MPL605]" in result.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("cut", "reason"),
    [(0, "empty file"), (3, "GGUF magic"), (30, "header cannot be read"), (100, "header cannot be read")],
)
def test_truncated_headers_are_refused(tmp_path, cut, reason):
    full = write_adapter(tmp_path / "full.gguf").read_bytes()
    (tmp_path / "cut.gguf").write_bytes(full[:cut])
    with pytest.raises(NotGGUF, match=reason):
        read_header(tmp_path / "cut.gguf")


def test_garbage_lengths_in_a_header_are_bounded(tmp_path):
    import struct

    huge_key = b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + struct.pack("<Q", 1 << 62)
    (tmp_path / "a.gguf").write_bytes(huge_key)
    many_items = b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + struct.pack("<Q", 1) + b"k" + struct.pack("<IIQ", 9, 8, (1 << 28) - 1)
    (tmp_path / "b.gguf").write_bytes(many_items + b"\0" * 64)
    start = time.monotonic()
    for name in ("a.gguf", "b.gguf"):
        with pytest.raises(NotGGUF, match="header cannot be read"):
            read_gguf_metadata(tmp_path / name)
    assert time.monotonic() - start < 1


def test_the_one_reader_reads_what_gguf_wrote(tmp_path):
    header = read_header(write_adapter(tmp_path / "a.gguf", architecture="llama", adapter_type="ia3"))
    assert (header.architecture, header.general_type, header.adapter_type) == ("llama", "adapter", "ia3")
    header = read_header(write_model(tmp_path / "m.gguf", architecture="gemma2"))
    assert (header.architecture, header.general_type, header.adapter_type) == ("gemma2", "model", None)


def test_mpl_check_does_not_import_numpy_or_gguf(tmp_path):
    write_adapter(tmp_path / "lora.gguf")
    (tmp_path / "x.mprof").write_text('model m from "qwen3:8b" < adapter "./lora.gguf" >\n')
    # `mpl.cli.main`, not the script's `mpl.__main__.main`: that one ends a check with `os._exit`.
    code = ("import sys; from mpl.cli import main; sys.argv = ['mpl', 'check', sys.argv[1]]\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "print('heavy:', sorted(m for m in ('numpy', 'gguf') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code, str(tmp_path / "x.mprof")], capture_output=True, text=True, timeout=60,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert "heavy: []" in result.stdout, result.stdout + result.stderr

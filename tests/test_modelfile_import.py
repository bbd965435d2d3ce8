"""The Modelfile reader, `mpl check` of Modelfiles and `mpl import`, judged by the test-side reader.

Every Modelfile of the corpus (tests/fixtures/modelfiles) is imported (snapshot), compiled
back with the modelfile target, and both Modelfiles are turned into the create request the
Ollama CLI would send (`modelfile_reader.create_request`, an independent port): they must
be the same data.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

import modelfile_reader as ref
from gguf_files import write_adapter
from helpers import FIXTURES
from mpl.cli import app
from mpl.pipeline import analyze
from mpl.compiler.modelfile import decode_modelfile, read_modelfile
from mpl.pipeline import analyze_modelfile
from mpl.importer import run_import
from mpl.targets.modelfile import ModelfileTarget

CORPUS = FIXTURES / "modelfiles"
CORPUS_FILES = sorted(CORPUS.glob("*.Modelfile"))
# Modelfiles whose own create request fails: Ollama rejects them, and so does mpl.
REJECTED = {"unknown"}


def reference_text(path: Path) -> str:
    source, _, _ = decode_modelfile(path.read_bytes(), str(path))
    return source.text


def reference_request(text: str, folder: Path) -> dict:
    return ref.create_request(ref.parse_modelfile(text), folder)


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "corpus"
    shutil.copytree(CORPUS, folder)
    write_adapter(folder / "lora.gguf")
    return folder


def import_one(path: Path, out: Path) -> str:
    text, imported, io_error = run_import([path], output=out, profile=None, name=None, do_factor=False)
    assert not io_error
    assert text is not None, [d.message for _, sink in imported.reports for d in sink.diagnostics]
    return text


def compile_back(mprof: Path, out_dir: Path) -> str:
    analysis = analyze(mprof, targets=["modelfile"])
    assert not analysis.has_errors, [f"{d.code} {d.message}" for d in analysis.diagnostics]
    [output] = ModelfileTarget().emit(analysis.program, out_dir)
    return output.content if hasattr(output, "content") else output.text


@pytest.mark.parametrize("path", CORPUS_FILES, ids=lambda p: p.stem)
def test_import_snapshot(path: Path, corpus: Path, snapshot) -> None:
    assert import_one(corpus / path.name, corpus / "out" / "imported.mprof") == snapshot


@pytest.mark.parametrize("path", [p for p in CORPUS_FILES if p.stem not in REJECTED], ids=lambda p: p.stem)
def test_import_then_compile_gives_the_same_create_request(path: Path, corpus: Path) -> None:
    source = corpus / path.name
    out = corpus / "out"
    out.mkdir()
    mprof = out / "imported.mprof"
    mprof.write_text(import_one(source, mprof), encoding="utf-8")
    compiled = compile_back(mprof, out)
    original_text = reference_text(source)
    if path.stem == "show":
        # `ollama show` output: FROM a blob, as the header says to replace, and numbers
        # that Ollama prints in a form its own parser refuses (`1e+06` for an int).
        with pytest.raises(ref.ModelfileError, match=r"invalid int value \[1e\+06\]"):
            reference_request(original_text, corpus)
        original_text = (
            original_text.replace("FROM /root/.ollama/models/blobs/sha256-60e05f2100071479f596b964f89f510f057ce397ea22f2833a0cfe029bfc2463", "FROM qwen2.5-coder:7b")
            .replace("1e+06", "1000000").replace("1.234567e+06", "1234567")
        )
    expected = reference_request(original_text, corpus)
    got = reference_request(compiled, out)
    assert got == expected, compiled


def test_rejected_modelfile_is_rejected_by_both(corpus: Path) -> None:
    source = corpus / "unknown.Modelfile"
    with pytest.raises(ref.ModelfileError, match="unknown parameter"):
        reference_request(reference_text(source), corpus)
    analysis = analyze_modelfile(source)
    assert [d.code for d in analysis.diagnostics if d.is_error] == ["MPL402", "MPL301"] or {
        d.code for d in analysis.diagnostics if d.is_error
    } >= {"MPL301"}


def test_reader_agrees_with_the_reference_on_every_corpus_file() -> None:
    for path in CORPUS_FILES:
        text = reference_text(path)
        mine = read_modelfile(text)
        theirs = ref.parse_modelfile(text)
        names = {"FROM": "model", "MESSAGE": "message"}
        got = [
            (c.name if c.keyword == "PARAMETER" else names.get(c.keyword, c.keyword.lower()),
             f"{c.name}: {c.value}" if c.keyword == "MESSAGE" else c.value)
            for c in mine.commands
        ]
        assert got == [(c.name, c.args) for c in theirs], path.name


def test_done_when_check_of_a_modelfile(tmp_path: Path) -> None:
    path = tmp_path / "Modelfile"
    path.write_text("FROM llama3\nPARAMETER top_p 1.5\nPARAMETER mirostat 2\nPARAMETER num_ctxx 4096\n")
    result = CliRunner().invoke(app, ["check", str(path)])
    assert result.exit_code == 1, result.output
    assert f"{path}:2:17: error[MPL303]" in result.output
    assert f"{path}:3:11: warning[MPL403]" in result.output and "Ollama 0.7.0" in result.output
    assert f"{path}:4:11: error[MPL301]" in result.output and "did you mean `num_ctx`?" in result.output
    as_json = CliRunner().invoke(app, ["check", "--format", "json", str(path)])
    payload = json.loads(as_json.stdout)
    assert {d["code"] for d in payload["diagnostics"]} >= {"MPL303", "MPL403", "MPL301"}
    sarif = CliRunner().invoke(app, ["check", "--format", "sarif", str(path)])
    assert sarif.exit_code == 1 and "MPL301" in sarif.stdout


def test_lang_option_and_version_awareness(tmp_path: Path) -> None:
    path = tmp_path / "model.txt"
    path.write_text("FROM llama3\nPARAMETER mirostat 2\n")
    assert "MPL403" in CliRunner().invoke(app, ["check", "--lang", "modelfile", str(path)]).output
    older = CliRunner().invoke(app, ["check", "--lang", "modelfile", "--ollama", "0.6", str(path)])
    assert "MPL403" not in older.output and older.exit_code == 0
    path.write_text("FROM llama3\nREQUIRES 0.6.0\nPARAMETER mirostat 2\n")
    assert "MPL403" not in CliRunner().invoke(app, ["check", "--lang", "modelfile", str(path)]).output


def test_crlf_positions_are_the_files_own(tmp_path: Path) -> None:
    path = tmp_path / "x.modelfile"
    path.write_bytes(b"FROM llama3\r\n\r\nPARAMETER TEMPERATURE 1\r\n")
    result = CliRunner().invoke(app, ["check", str(path)])
    assert f"{path}:3:11: error[MPL301]" in result.output and "did you mean `temperature`?" in result.output


def test_import_profile_and_name(corpus: Path) -> None:
    text, _, _ = run_import([corpus / "basic.Modelfile"], output=None, profile="chat", name="mine", do_factor=False)
    assert text is not None
    assert "profile chat <" in text and "model mine from" in text and "use chat" in text
    analysis = analyze(text, targets=["modelfile"])
    assert analysis.program.model("mine").params["temperature"].value == 0.7


def test_import_cli_writes_a_file(corpus: Path) -> None:
    out = corpus / "new" / "x.mprof"
    result = CliRunner().invoke(app, ["import", str(corpus / "basic.Modelfile"), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_text().startswith("# A plain chat model\nmodel basic from")


def test_import_of_a_broken_modelfile_writes_nothing(tmp_path: Path) -> None:
    src = tmp_path / "bad.Modelfile"
    src.write_text("FROM llama3\nSYSTEM \"never closed\n")
    out = tmp_path / "out.mprof"
    result = CliRunner().invoke(app, ["import", str(src), "-o", str(out)])
    assert result.exit_code == 1 and "MPL124" in result.output and not out.exists()


def test_import_reports_what_mpl_cannot_hold(tmp_path: Path) -> None:
    src = tmp_path / "r.Modelfile"
    src.write_text("FROM qwen3\nRENDERER qwen3\nPARSER qwen3\n")
    result = CliRunner().invoke(app, ["import", str(src)])
    assert result.exit_code == 0
    assert "r.Modelfile:2:1: warning[MPL540]" in result.output and "r.Modelfile:3:1: warning[MPL540]" in result.output
    assert "# RENDERER qwen3" in result.stdout


def test_import_from_server(fake_ollama) -> None:
    fake_ollama.add_model(
        "coder:latest", parameters={"temperature": 0.2, "num_ctx": 1000000, "stop": ["<|im_end|>", "<|x|>"]},
        system="Be brief.", template="{{ .Prompt }}", license=["MIT"],
        messages=[{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}],
    )
    result = CliRunner().invoke(app, ["import", "--from-server", "coder", "--host", fake_ollama.url])
    assert result.exit_code == 0, result.output
    analysis = analyze(result.stdout, targets=["modelfile"])
    assert not analysis.has_errors, analysis.diagnostics
    model = analysis.program.model("coder-custom")
    assert {k: s.value for k, s in model.params.items()} == {
        "num_ctx": 1000000, "stop": ("<|im_end|>", "<|x|>"), "temperature": 0.2,
    }
    assert model.system.value == "Be brief." and [m.content for m in model.messages] == ["hi", "hello"]
    assert [lic.value for lic in model.licenses] == ["MIT"]
    missing = CliRunner().invoke(app, ["import", "--from-server", "nope", "--host", fake_ollama.url])
    assert missing.exit_code == 2 and "not found" in missing.output



@pytest.mark.parametrize("name, expected", [
    ("qwen2.5-coder:7b", "qwen2.5-coder-custom:7b"), ("llama3", "llama3-custom"), ("user/model:q4", "user/model-custom:q4"),
])
def test_a_base_model_imported_from_the_server_checks_clean(fake_ollama, tmp_path: Path, name: str, expected: str) -> None:
    """A model with no parent is not written as built from itself (MPL215): it gets a name of its own, said in a comment."""
    fake_ollama.add_model(name, parameters={"temperature": 0.3})
    out = tmp_path / "m.mprof"
    result = CliRunner().invoke(app, ["import", "--from-server", name, "--host", fake_ollama.url, "-o", str(out)])
    assert result.exit_code == 0, result.output
    text = out.read_text()
    assert f'from "{name}"' in text and f"is `{expected}` here" in text
    check = CliRunner().invoke(app, ["check", str(out)])
    assert check.exit_code == 0 and "MPL215" not in check.output, check.output
    program = analyze(out).program
    assert [(m.name, m.source.value) for m in program.models] == [(expected, name)]
    named = CliRunner().invoke(app, ["import", "--from-server", name, "--host", fake_ollama.url, "--name", "mine"])
    assert named.exit_code == 0 and 'model mine from' in named.stdout
    itself = CliRunner().invoke(app, ["import", "--from-server", name, "--host", fake_ollama.url, "--name", name])
    assert itself.exit_code == 2 and "built from itself" in itself.output


def test_a_modelfile_named_after_its_from_imports_as_a_model_of_its_own_name(tmp_path: Path) -> None:
    src = tmp_path / "llama3.Modelfile"
    src.write_text("FROM llama3\nPARAMETER temperature 0.3\n")
    out = tmp_path / "m.mprof"
    assert CliRunner().invoke(app, ["import", str(src), "-o", str(out)]).exit_code == 0
    program = analyze(out).program
    assert not analyze(out).has_errors and [(m.name, m.source.value) for m in program.models] == [("llama3-custom", "llama3")]

METON = """\
project:
  name: Meton  # the assistant
models:
  primary: qwen2.5-coder:32b
  settings:
    temperature: 0.0
    max_tokens: 2048
    top_p: 0.9
    seed: -1
    mirostat: 0
parameter_profiles:
  precise:
    name: precise
    description: Deterministic output
    settings: {temperature: 0.0, top_k: 40, mirostat: 0, seed: -1}
  creative:
    name: creative
    description: More exploratory
    settings: {temperature: 0.7, top_p: 0.95, mirostat: 0, seed: -1}
  debugging:
    name: debugging
    description: Methodical
    settings: {temperature: 0.2, top_k: 20, mirostat: 2, seed: -1, bogus: 1}
"""


def test_import_meton_with_factor(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(METON)
    plain, _, _ = run_import([config], output=None, profile=None, name=None, do_factor=False)
    factored, imported, _ = run_import([config], output=None, profile=None, name=None, do_factor=True)
    assert plain is not None and factored is not None
    assert "num_predict 2048" in plain and "max_tokens" not in plain and "default default" in plain
    # Meton applies a preset over models.settings: the presets extend `default`, their shared base,
    # and once factored they hold only what differs from it.
    assert "profile precise extends default <" in plain and "profile precise extends default <" in factored
    [(_, sink)] = imported.reports
    assert [(d.code, sink.source.line_col(d.span.start)[0]) for d in sink.diagnostics] == [("MPL540", 23)]
    a, b = analyze(plain, targets=[]), analyze(factored, targets=[])
    def values(an, name):
        return {k: s.value for k, s in an.program.resolve(name).items()}

    for name in ("default", "precise", "creative", "debugging"):
        assert values(a, name) == values(b, name), name
    inherited = b.program.resolve("default")
    for name in ("precise", "creative", "debugging"):
        own = [s for s in b.program.resolve(name).values() if s.profile == name]
        assert all(inherited.get(s.name) is None or inherited[s.name].value != s.value for s in own), name


# -- one fixture per Modelfile diagnostic code ---------------------------------------

DIAG_FIXTURES = sorted((FIXTURES / "diagnostics").glob("MPL*.Modelfile"))
IMPORT_CODES = {"MPL540"}  # reported by `mpl import`, not by `mpl check`


def _labels(diagnostics, source) -> list[str]:
    out = []
    for d in diagnostics:
        if d.span is None:
            out.append(d.code)
        else:
            line, col = source.line_col(d.span.start)
            out.append(f"{d.code}@{line}:{col}")
    return out


@pytest.mark.parametrize("path", DIAG_FIXTURES, ids=lambda p: p.stem)
def test_modelfile_fixture_reports_its_code(path: Path) -> None:
    from mpl.diagnostics import CODES

    code, _, name = path.stem.partition("-")
    assert CODES[code].name == name
    expected = re.findall(r"^# expect: (\S+)\s*$", path.read_text(encoding="utf-8"), re.M)
    if code in IMPORT_CODES:
        _, imported, _ = run_import([path], output=None, profile=None, name=None, do_factor=False)
        [(source, sink)] = imported.reports
        got = _labels(sink.sorted(), source)
    else:
        analysis = analyze_modelfile(path)
        got = _labels(analysis.diagnostics, analysis.source)
        result = CliRunner().invoke(app, ["check", str(path)])
        assert f"[{code}]" in result.output and "Traceback" not in result.output
        assert result.exit_code == (1 if CODES[code].severity == "error" else 0), result.output
    assert [g for g in got if g.split("@")[0] == code] == expected, got


MODELFILE_CODES = ("MPL121", "MPL122", "MPL123", "MPL124", "MPL125", "MPL126", "MPL127", "MPL128", "MPL540")


def test_every_modelfile_code_has_a_fixture() -> None:
    assert sorted(p.stem.split("-")[0] for p in DIAG_FIXTURES) == sorted(MODELFILE_CODES)

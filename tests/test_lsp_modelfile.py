"""The language server's Modelfile support: diagnostics, completion and hover (unit level)."""

from __future__ import annotations

from mpl.lsp import modelfile as features
from mpl.lsp.document import analyze_document

TEXT = "FROM llama3\nPARAMETER num_ctxx 4096\nPARAMETER temperature 0.5\nMESSAGE \n"


def labels(result) -> list[str]:
    return [item.label for item in result.items]


def test_modelfile_documents_are_analysed_as_modelfiles() -> None:
    doc = analyze_document("untitled:Modelfile", TEXT)
    assert doc.kind == "modelfile"
    [unknown] = [d for d in doc.diagnostics if d.code == "MPL301"]
    assert doc.source.line_col(unknown.span.start) == (2, 11) and unknown.help == "did you mean `num_ctx`?"
    by_language = analyze_document("untitled:Untitled-1", TEXT, language="modelfile")
    assert by_language.kind == "modelfile"
    assert analyze_document("untitled:a.mprof", "profile p < top_k 1 >").kind == "mprof"


def test_reader_errors_are_published() -> None:
    doc = analyze_document("untitled:bad.modelfile", "FROM llama3\nFOO bar\n")
    assert [(d.code, doc.source.line_col(d.span.start)) for d in doc.diagnostics] == [("MPL121", (2, 1))]


def test_completion_of_instructions_parameters_values_and_roles() -> None:
    doc = analyze_document("untitled:Modelfile", TEXT)
    at_start = features.completion(doc, TEXT.index("PARAMETER num_ctxx") + 3)
    assert "PARAMETER" in labels(at_start) and "FROM" in labels(at_start)
    after_parameter = features.completion(doc, TEXT.index("num_ctxx") + 3)
    assert "num_ctx" in labels(after_parameter) and "temperature" in labels(after_parameter)
    roles = features.completion(doc, TEXT.index("MESSAGE ") + len("MESSAGE "))
    assert labels(roles) == ["system", "user", "assistant"]
    text = "FROM x\nPARAMETER use_mmap \n"
    values = features.completion(analyze_document("untitled:Modelfile", text), text.index("use_mmap ") + len("use_mmap "))
    assert labels(values) == ["true", "false"]
    comment = "# PARA"
    assert labels(features.completion(analyze_document("untitled:Modelfile", "FROM x\n" + comment), len("FROM x\n" + comment))) == []


def test_hover_on_instructions_and_parameters() -> None:
    doc = analyze_document("untitled:Modelfile", TEXT)
    on_from = features.hover(doc, 1)
    assert on_from is not None and "Modelfile instruction" in on_from.contents.value
    on_param = features.hover(doc, TEXT.index("temperature") + 2)
    assert on_param is not None and "temperature" in on_param.contents.value
    old = analyze_document("untitled:Modelfile", "FROM x\nREQUIRES 0.6.0\nRENDERER r\n")
    on_renderer = features.hover(old, old.text.index("RENDERER") + 1)
    assert "Not in Ollama 0.6.0" in on_renderer.contents.value
    assert any(d.code == "MPL404" for d in old.diagnostics)

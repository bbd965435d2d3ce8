"""Properties of the Modelfile reader, judged by the test-side port of Ollama's parser.

On any text, `mpl.compiler.modelfile.read_modelfile` reports an error exactly
when `modelfile_reader.parse_modelfile` raises one, and otherwise reads the
same commands; no text makes `mpl check` of a Modelfile or `mpl import` raise.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import modelfile_reader as ref
from mpl.compiler.modelfile import read_modelfile
from mpl.pipeline import analyze_modelfile
from mpl.importer import Imported, import_modelfile, render
from mpl.diagnostics import Sink
from mpl.source import SourceFile
from pathlib import Path

PIECES = st.sampled_from([
    "FROM ", "from ", "PARAMETER ", "parameter ", "SYSTEM ", "TEMPLATE ", "MESSAGE ", "LICENSE ",
    "ADAPTER ", "REQUIRES ", "RENDERER ", "FOO ", "user ", "User ", "tool ", "stop ", "top_k ", "top-k",
    "temperature ", '"', '""', '"""', "\n", "\r", "\r\n", "\t", " ", "  ", "#", "# c\n", "x", "0.5", "1e+06",
    "\u00a0", "\u200d", "\x01", "😀", "{{ .Prompt }}", "llama3", "a b",
])
TEXTS = st.lists(PIECES, max_size=24).map("".join)


def _ours(text: str):
    mf = read_modelfile(text)
    if not mf.ok:
        return None
    names = {"FROM": "model", "MESSAGE": "message"}
    return [
        (c.name if c.keyword == "PARAMETER" else names.get(c.keyword, c.keyword.lower()),
         f"{c.name}: {c.value}" if c.keyword == "MESSAGE" else c.value)
        for c in mf.commands
    ]


def _theirs(text: str):
    try:
        return [(c.name, c.args) for c in ref.parse_modelfile(text)]
    except ref.ModelfileError:
        return None


@given(TEXTS)
@settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow])
def test_reader_reads_what_ollama_reads(text: str) -> None:
    assert _ours(text) == _theirs(text)


@given(TEXTS)
@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow], deadline=None)
def test_check_and_import_never_raise(text: str) -> None:
    source = SourceFile("x.Modelfile", "FROM llama3\n" + text)
    analyze_modelfile(source)
    sink = Sink(source)
    mf = read_modelfile(source, sink)
    if mf.ok:
        out = Imported()
        import_modelfile(mf, sink, out, name=None, profile=None, modelfile_dir=Path.cwd(), out_dir=Path.cwd())
        render(out)


LINES = st.sampled_from([
    "PARAMETER temperature 0.5", "PARAMETER top_k 40", "PARAMETER num_ctx 1e+06", "parameter stop x",
    'PARAMETER stop "<|im_end|>"', 'PARAMETER stop """  """', "PARAMETER seed -1", "PARAMETER mirostat 2",
    "PARAMETER use_mmap false", "SYSTEM a   b", 'SYSTEM "  hi  "', 'SYSTEM say "hi" now',
    'TEMPLATE """{{ .System }}\n{{ .Prompt }}"""', 'TEMPLATE """a\r\nb"""', "MESSAGE user hi",
    'MESSAGE assistant """multi\nline"""', "MESSAGE system be brief", "LICENSE MIT", 'LICENSE """A\n\nB"""',
    "REQUIRES 0.14.0", "# a comment", "", "   ", "SYSTEM one\u00a0two", "system \U0001F600",
])
MODELFILES = st.lists(LINES, max_size=10).map(lambda lines: "FROM llama3\n" + "\n".join(lines) + "\n")


@given(MODELFILES)
@settings(max_examples=120, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture], deadline=None)
def test_import_then_compile_round_trips(text: str) -> None:
    import tempfile

    from mpl.pipeline import analyze
    from mpl.targets.modelfile import ModelfileTarget

    try:
        expected = ref.create_request(ref.parse_modelfile(text), Path.cwd())
    except ref.ModelfileError:
        return
    source = SourceFile("m.Modelfile", text)
    sink = Sink(source)
    mf = read_modelfile(source, sink)
    out = Imported()
    with tempfile.TemporaryDirectory() as tmp:
        import_modelfile(mf, sink, out, name=None, profile=None, modelfile_dir=Path(tmp), out_dir=Path(tmp))
        analysis = analyze(render(out), targets=["modelfile"], base_dir=Path(tmp))
        assert not analysis.has_errors, [d.message for d in analysis.diagnostics]
        [output] = ModelfileTarget().emit(analysis.program, Path(tmp))
        assert ref.create_request(ref.parse_modelfile(output.content), Path(tmp)) == expected, output.content

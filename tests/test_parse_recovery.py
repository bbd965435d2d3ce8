"""One parser, three uses: whole files, one declaration at a time, and recovery after errors.

The whole-file parse and the declaration-by-declaration parse (the language
server's `ChunkParser`) build the same nodes, spans and diagnostics, on clean
files and on files with errors; and recovery parses each declaration once.
"""

from __future__ import annotations

import importlib
import importlib.util
import random
import typing as t
from pathlib import Path

import fuzz
import pytest
from helpers import EXAMPLES
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mpl.compiler import analyze, nodes
from mpl.compiler.chunks import ChunkParser, chunk_starts
from mpl.compiler.parse import parse
from mpl.diagnostics import Sink
from mpl.source import SourceFile

ROOT = Path(__file__).resolve().parent.parent
parse_module = importlib.import_module("mpl.compiler.parse")  # the module (`mpl.compiler.parse` is also the function)


def _alike(text: str) -> None:
    """The whole-file parse and the declaration-by-declaration parse agree."""
    source = SourceFile("f.mprof", text)
    sink = Sink(source)
    whole = parse(source, sink)
    chunked, diagnostics = ChunkParser().parse(source)
    try:
        assert chunked == whole
    except RecursionError:  # nested too deep for `==`, which recurses (the checker reports MPL007)
        return
    assert [(d.code, d.span, d.message, d.help) for d in diagnostics] == [
        (d.code, d.span, d.message, d.help) for d in sink.diagnostics
    ]


def _generator() -> t.Callable[..., str]:
    spec = importlib.util.spec_from_file_location("generate", ROOT / "benchmarks" / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return t.cast("t.Callable[..., str]", module.generate)


def test_every_example_and_fixture_parses_alike() -> None:
    paths = sorted(EXAMPLES.rglob("*.mprof")) + sorted((ROOT / "tests").rglob("*.mprof"))
    # MPL007's fixture nests too deep for comparing trees (`==` recurses); the checker reports it.
    paths = [p for p in paths if not p.name.startswith("MPL007")]
    assert paths
    for path in paths:
        _alike(path.read_text(encoding="utf-8", errors="replace"))


@given(st.integers(1, 200), st.integers(0, 10_000))
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_generated_programs_parse_alike(count: int, seed: int) -> None:
    _alike(_generator()(count, seed))


@given(fuzz.programs())
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_fuzz_programs_parse_alike(text: str) -> None:
    _alike(text)


STATEMENTS = st.sampled_from(
    [
        "temperature 0.5", "stop [\"a\", \"b\"]", "stop += \"c\"", "unset top_k, seed", "use base",
        "system \"\"\"hi\nthere\"\"\"", "message user \"x\\n\"", "adapter \"./a.gguf\"", "num_ctx 4096",
        "when task is code < top_k 20 >", "when task in [code, docs] < seed -1 >", "flag true", "flag false",
        "x 1e3", "# comment", "template \"{{ .Prompt }}\"", "license \"MIT\"", "requires \"0.5.0\"",
        "temperature = 0.7", "top_k: 40", "\"\\q\"", "<", ">", "[", "]",
    ]
)
HEADERS = st.sampled_from(
    ["profile p", "profile q extends p", "profile r for code, docs", "model m from \"llama3\"", "profile p {"]
)


@st.composite
def soup(draw: st.DrawFn) -> str:
    parts = ['ollama "0.5.0"\ntasks code, docs\ndefault p\n']
    for _ in range(draw(st.integers(0, 6))):
        body = "\n  ".join(draw(st.lists(STATEMENTS, max_size=6)))
        parts.append(f"{draw(HEADERS)} <\n  {body}\n>\n")
    return "\n".join(parts)


@given(soup())
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_statement_soup_parses_alike(text: str) -> None:
    _alike(text)


EXAMPLE = (EXAMPLES / "meton.mprof").read_text()


@given(st.integers(0, len(EXAMPLE)), st.integers(0, 40), st.text(max_size=5))
@settings(max_examples=150, deadline=None)
def test_edited_example_parses_alike(at: int, cut: int, insert: str) -> None:
    _alike(EXAMPLE[:at] + insert + EXAMPLE[at + cut :])


def test_mutated_sources_parse_alike() -> None:
    rng = random.Random(20)
    for data, _ in zip(fuzz.mutants(rng, fuzz.seeds()), range(150)):
        _alike(data.decode("utf-8", errors="replace").replace("\0", " "))


class _Counting:
    """Lark's parser, counting the texts it is given."""

    def __init__(self, real: t.Any) -> None:
        self.real, self.texts = real, []  # type: ignore[var-annotated]

    def parse(self, text: str) -> t.Any:
        self.texts.append(text)
        return self.real.parse(text)


def _profiles(count: int) -> str:
    return "".join(f"profile p{i} <\n  temperature 0.5\n  top_k {i + 1}\n>\n" for i in range(count))


@pytest.mark.parametrize("broken", [0, 9, 19])
@pytest.mark.parametrize("entry", ["parse", "analyze"])
def test_recovery_parses_each_declaration_once(monkeypatch: pytest.MonkeyPatch, broken: int, entry: str) -> None:
    """One parse of the whole file up to the error; then each declaration from the broken one on, once,
    and the broken one again after its line is blanked. The declarations before it are not parsed again,
    and `mpl check`'s analysis does not parse the file again."""
    text = _profiles(20).replace(f"top_k {broken + 1}\n", f"top_k = {broken + 1}\n")
    counting = _Counting(parse_module.parser())
    monkeypatch.setattr(parse_module, "parser", lambda: counting)
    source = SourceFile("f.mprof", text)
    if entry == "parse":
        sink = Sink(source)
        file = parse(source, sink)
    else:
        analysis = analyze(source)
        sink, file = analysis.sink, t.cast("nodes.File", analysis.tree)
    assert [d.code for d in sink.diagnostics if d.code.startswith("MPL1")] == ["MPL101"]
    assert [d.name.value for d in file.decls] == [f"p{i}" for i in range(20)]  # nothing lost
    chunks = len(chunk_starts(text))  # one a profile
    assert chunks == 20
    assert len(counting.texts) == 1 + (chunks - broken) + 1
    assert counting.texts[0] == text


def test_a_clean_file_is_parsed_once(monkeypatch: pytest.MonkeyPatch) -> None:
    counting = _Counting(parse_module.parser())
    monkeypatch.setattr(parse_module, "parser", lambda: counting)
    file = parse(SourceFile("f.mprof", _profiles(20)))
    assert file.syntax_ok and len(file.decls) == 20
    assert len(counting.texts) == 1

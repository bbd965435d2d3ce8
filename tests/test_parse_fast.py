"""The fast parser builds what lark's own parse of `profile.lark` builds, or hands over to it."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers import EXAMPLES
from mpl.compiler.parse import parse
from mpl.diagnostics import Sink
from mpl.source import SourceFile

ROOT = Path(__file__).resolve().parent.parent


def _both(text: str) -> None:
    source = SourceFile("f.mprof", text)
    fast_sink, lark_sink = Sink(source), Sink(source)
    fast = parse(source, fast_sink, fast=True)
    lark = parse(source, lark_sink, fast=False)
    assert fast == lark
    assert [(d.code, d.span, d.message) for d in fast_sink.diagnostics] == [
        (d.code, d.span, d.message) for d in lark_sink.diagnostics
    ]


def _generator():
    spec = importlib.util.spec_from_file_location("generate", ROOT / "benchmarks" / "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.generate


def test_every_example_and_fixture_parses_alike() -> None:
    paths = sorted(EXAMPLES.rglob("*.mprof")) + sorted((ROOT / "tests").rglob("*.mprof"))
    # MPL007's fixture nests past lark's recursive tree transformer; the fast parser reads it (the checker then says MPL007).
    paths = [p for p in paths if not p.name.startswith("MPL007")]
    assert paths
    for path in paths:
        _both(path.read_text())


@given(st.integers(1, 200), st.integers(0, 10_000))
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_generated_programs_parse_alike(count: int, seed: int) -> None:
    _both(_generator()(count, seed))


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
def programs(draw: st.DrawFn) -> str:
    parts = ['ollama "0.5.0"\ntasks code, docs\ndefault p\n']
    for _ in range(draw(st.integers(0, 6))):
        body = "\n  ".join(draw(st.lists(STATEMENTS, max_size=6)))
        parts.append(f"{draw(HEADERS)} <\n  {body}\n>\n")
    return "\n".join(parts)


@given(programs())
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_statement_soup_parses_alike(text: str) -> None:
    _both(text)


EXAMPLE = (EXAMPLES / "meton.mprof").read_text()


@given(st.integers(0, len(EXAMPLE)), st.integers(0, 40), st.text(max_size=5))
@settings(max_examples=200, deadline=None)
def test_edited_example_parses_alike(at: int, cut: int, insert: str) -> None:
    _both(EXAMPLE[:at] + insert + EXAMPLE[at + cut :])


def test_tables_built_without_a_cache_parse_alike(tmp_path: Path) -> None:
    """Lark names rules with its own string type when it builds its tables rather than loading them."""
    import os
    import subprocess
    import sys

    script = (
        "from mpl.compiler.parse import parse\nfrom mpl.source import SourceFile\nimport pathlib\n"
        f"text = pathlib.Path({str(EXAMPLES / 'meton.mprof')!r}).read_text()\n"
        "assert parse(SourceFile('a', text), fast=True) == parse(SourceFile('a', text), fast=False)\n"
    )
    env = {**os.environ, "MPL_CACHE_DIR": ""}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr

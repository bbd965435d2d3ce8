"""One value printer, `mpl.compiler.parse.value_literal`: what fmt, show, diff, hover and
the session print reads back through the parser as the same value."""

from __future__ import annotations

import math
import typing as t

from hypothesis import example, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import mpl
from mpl.cli import app
from mpl.compiler import nodes
from mpl.compiler.parse import parse, value_literal
from mpl.diagnostics import Sink
from mpl.fmt import format_text
from mpl.lsp.hover import _show
from mpl.session import _source_literal
from mpl.show import format_value
from mpl.source import SourceFile

# Every character a printer could get wrong: quotes, backslashes, every escape the
# parser knows, controls, separators, format characters and an astral character.
HARD = '"\\\n\r\t\0\a\b\f\v\x1b\x7f\x85\xa0\xad\u2028\u2029\u200d\ufeff\ufffd\U0001f468'
text_values = st.text(st.sampled_from(HARD) | st.characters(exclude_categories=("Cs",)), max_size=20)
floats = st.floats(allow_nan=False, allow_infinity=False)
ints = st.integers(min_value=-(10**30), max_value=10**30)
scalars = st.booleans() | ints | floats | text_values
values = scalars | st.lists(text_values, max_size=4) | st.lists(floats | ints, max_size=4)


def python_value(node: nodes.Value) -> t.Any:
    if isinstance(node, nodes.List):
        return [python_value(item) for item in node.items]
    return node.value


def read_back(literal: str) -> t.Any:
    source = SourceFile("v.mprof", f"profile p < x {literal} >\n")
    sink = Sink(source)
    file = parse(source, sink)
    assert not sink.diagnostics, (literal, [d.message for d in sink.diagnostics])
    (stmt,) = file.decls[0].block.stmts
    return python_value(stmt.value)


def same(a: t.Any, b: t.Any) -> bool:
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(map(same, a, b))
    if isinstance(a, float):
        return isinstance(b, float) and a == b and math.copysign(1, a) == math.copysign(1, b)
    return type(a) is type(b) and a == b


@settings(max_examples=400, deadline=None)
@given(value=values)
@example(value="a\bb\f")
@example(value='x\\"""\n"')
@example(value=-0.0)
@example(value=1e-46)
@example(value=3.4028235e38)
@example(value=10**400)
def test_printing_then_parsing_gives_the_value_back(value: t.Any) -> None:
    literal = value_literal(value)
    assert "\n" not in literal and "\r" not in literal
    assert same(read_back(literal), value)


@settings(max_examples=200, deadline=None)
@given(value=text_values)
def test_triple_quoted_strings_read_back_too(value: str) -> None:
    assert read_back(value_literal(value, triple=True)) == value


def test_show_hover_and_session_print_what_the_parser_reads() -> None:
    for show in (format_value, _show):
        literal = show(["a\bb\f", "tab\there"])
        assert literal == '["a\\u0008b\\u000c", "tab\\there"]'
        assert read_back(literal) == ["a\bb\f", "tab\there"]


def test_mpl_show_prints_a_parsable_stop_list(tmp_path) -> None:
    src = tmp_path / "p.mprof"
    src.write_text('profile p < stop ["a\\u0008b\\u000c"] >\n', encoding="utf-8")
    out = CliRunner().invoke(app, ["show", str(src), "p"]).output
    (row,) = [line for line in out.splitlines() if line.split()[:1] == ["stop"]]
    assert '["a\\u0008b\\u000c"]' in row
    assert '"a\\bb\\f"' not in row


def test_fmt_writes_strings_with_the_printer() -> None:
    formatted = format_text('profile p<stop ["a\\u{8}b\\u000C", "q\\"x"]>\n')
    assert formatted == 'profile p < stop ["a\\u0008b\\u000c", "q\\"x"] >\n'


def test_session_table_and_saved_file_use_the_printer(tmp_path) -> None:
    src = tmp_path / "p.mprof"
    src.write_text("profile p < temperature 0.5 >\n", encoding="utf-8")
    session = mpl.load(src).session("p")
    session.set("stop", ["a\bb", "tab\there"])
    assert '["a\\u0008b", "tab\\there"]' in session.render(rich=False)
    assert _source_literal(["a\bb", "tab\there"]) == '["a\\u0008b", "tab\\there"]'  # what save writes

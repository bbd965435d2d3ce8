"""Publishing: diagnostics converted for the editor once, re-used while they show the same."""

from __future__ import annotations

import pytest

from mpl.compiler.chunks import ChunkParser
from mpl.lsp import features
from mpl.lsp.document import analyze_document
from mpl.lsp.positions import PositionMap
from mpl.source import SourceFile

TEXT = "profile a < min_pp 0.1 >\nprofile b < top_kk 1 >\nprofile c extends a < temperature 0.5 >\n"


def test_converted_diagnostics_equal_a_fresh_conversion_and_reuse_unmoved_ones():
    parser, converted = ChunkParser(), features.ConvertedDiagnostics()
    first = analyze_document("untitled:a", TEXT, parser=parser)
    before = converted.convert(first)
    assert before == features.lsp_diagnostics(first) and len(before) >= 2
    # typing on the first line moves the second line's offsets, not its line and column
    edited = analyze_document("untitled:a", TEXT.replace("0.1", "0.15"), parser=parser)
    after = converted.convert(edited)
    assert after == features.lsp_diagnostics(edited)
    second_line = [d for d in after if d.range.start.line == 1]
    assert second_line and all(any(d is b for b in before) for d in second_line)
    # a new line above moves it: converted anew, at its new line
    moved = analyze_document("untitled:a", "\n" + TEXT, parser=parser)
    again = converted.convert(moved)
    assert again == features.lsp_diagnostics(moved)
    assert not any(d is b for d in again for b in after)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16", "utf-32"])
def test_ascii_and_other_texts_give_the_same_positions(encoding):
    text = "ab\ncd é😀x\r\nef"
    plain = PositionMap(SourceFile("a", text.replace("é😀", "zz")), encoding)
    other = PositionMap(SourceFile("a", text), encoding)
    assert [plain.line_character(o) for o in range(6)] == [other.line_character(o) for o in range(6)]
    assert plain.line_character(len(text) + 5) == (2, 2)
    assert other.line_character(text.index("x")) == (1, {"utf-8": 9, "utf-16": 6, "utf-32": 5}[encoding])

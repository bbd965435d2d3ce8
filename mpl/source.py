"""Source text and spans: character offsets in, line and column out.

A `Span` is a pair of character offsets into one `SourceFile`; lines and
columns are computed on demand for people (1-based), for the LSP (0-based,
UTF-16 code units) and for the caret renderer. CR, LF and CRLF each end a line.
"""

from __future__ import annotations

import bisect
import re
import typing as t
from dataclasses import dataclass, field

import msgspec

_LINE_BREAK = re.compile(r"\r\n|\r|\n")


class Span(msgspec.Struct, frozen=True, gc=False):
    """A half-open range ``[start, end)`` of character offsets.

    A frozen `msgspec.Struct`, like the syntax nodes (see `mpl.compiler.nodes`),
    and like them untracked by the cyclic garbage collector (two ints: no cycle).

    >>> Span(3, 7).cover(Span(10, 12))
    Span(start=3, end=12)
    """

    start: int
    end: int

    def cover(self, other: Span) -> Span:
        """Return the smallest span holding both spans."""
        return Span(min(self.start, other.start), max(self.end, other.end))

    def __contains__(self, offset: object) -> bool:
        return isinstance(offset, int) and self.start <= offset <= self.end


@dataclass(frozen=True, slots=True)
class SourceFile:
    """The text of one `.mprof` file and the name to show for it.

    >>> src = SourceFile("a.mprof", "one\\r\\ntwo\\nthree")
    >>> src.line_col(src.text.index("two"))
    (2, 1)
    >>> src.line_text(3)
    'three'
    """

    path: str
    text: str
    _line_starts: tuple[int, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        starts = [0, *(match.end() for match in _LINE_BREAK.finditer(self.text))]
        object.__setattr__(self, "_line_starts", tuple(starts))

    @property
    def line_count(self) -> int:
        return len(self._line_starts)

    def line_col(self, offset: int) -> tuple[int, int]:
        """1-based line and column (in characters) of an offset."""
        offset = max(0, min(offset, len(self.text)))
        line = bisect.bisect_right(self._line_starts, offset) - 1
        return line + 1, offset - self._line_starts[line] + 1

    def line_start(self, line: int) -> int:
        """Offset of the first character of a 1-based line."""
        return self._line_starts[line - 1]

    def line_text(self, line: int) -> str:
        """The text of a 1-based line without its line break."""
        start = self._line_starts[line - 1]
        end = self._line_starts[line] if line < len(self._line_starts) else len(self.text)
        return self.text[start:end].rstrip("\r\n")

    def offset_at(self, line: int, col: int) -> int:
        """Offset of a 1-based line and column (clamped to the text)."""
        line = max(1, min(line, len(self._line_starts)))
        return min(self._line_starts[line - 1] + max(col, 1) - 1, len(self.text))

    def lsp_position(self, offset: int) -> tuple[int, int]:
        """0-based line and UTF-16 column of an offset, as the LSP counts."""
        line, col = self.line_col(offset)
        start = self._line_starts[line - 1]
        prefix = self.text[start : start + col - 1]
        units = sum(2 if ord(ch) > 0xFFFF else 1 for ch in prefix)
        return line - 1, units

    def offset_from_lsp(self, line: int, character: int) -> int:
        """Offset of a 0-based line and UTF-16 column."""
        if line >= len(self._line_starts):
            return len(self.text)
        start = self._line_starts[line]
        end = self._line_starts[line + 1] if line + 1 < len(self._line_starts) else len(self.text)
        units = 0
        pos = start
        while pos < end and units < character:
            if self.text[pos] in "\r\n":
                break
            units += 2 if ord(self.text[pos]) > 0xFFFF else 1
            pos += 1
        return pos

    def slice(self, span: Span) -> str:
        return self.text[span.start : span.end]

    def iter_lines(self) -> t.Iterator[tuple[int, str]]:
        for number in range(1, len(self._line_starts) + 1):
            yield number, self.line_text(number)

"""Positions: character offsets (the compiler's spans) ↔ LSP positions.

An LSP position is a 0-based line and a column counted in the code units of
the negotiated encoding: UTF-16 unless the client offers UTF-8 or UTF-32.
Lines end at CR, LF or CRLF, as the LSP and `mpl.source.SourceFile` both say.
pygls's own converters split lines with `str.splitlines`, which also breaks at
form feeds, `\\x1c`-`\\x1e`, NEL and U+2028/9, and cost a pass over the whole
document per call; the compiler's line table gives the same answer as the
client in O(log n).
"""

from __future__ import annotations

from lsprotocol import types

from mpl.source import UTF8, UTF16, UTF32, SourceFile, Span


class PositionMap:
    """Converts between offsets into one `SourceFile` and LSP positions.

    >>> pm = PositionMap(SourceFile("a", "é😀x\\r\\nnext"))
    >>> [str(pm.position(offset)) for offset in (2, 3, 5)]  # line:character
    ['0:3', '0:4', '1:0']
    >>> pm.offset(types.Position(line=0, character=3)), pm.offset(types.Position(line=0, character=99))
    (2, 3)
    """

    def __init__(self, source: SourceFile, encoding: str = UTF16) -> None:
        self.source = source
        self.encoding = encoding if encoding in (UTF8, UTF16, UTF32) else UTF16
        # In an ASCII text (or in UTF-32) a column is a count of characters: no slicing to count units.
        self._in_characters = self.encoding == UTF32 or source.text.isascii()

    def line_character(self, offset: int) -> tuple[int, int]:
        """The 0-based line and the column in code units of a character offset (clamped to the text)."""
        if self._in_characters:
            line, col = self.source.line_col(offset)
            return line - 1, col - 1
        return self.source.lsp_position(offset, self.encoding)

    def position(self, offset: int) -> types.Position:
        """The LSP position of a character offset (clamped to the text)."""
        line, character = self.line_character(offset)
        return types.Position(line=line, character=character)

    def range(self, span: Span | None) -> types.Range:
        """The LSP range of a span; no span (a file-level problem) is the start of the file."""
        if span is None:
            start = types.Position(line=0, character=0)
            return types.Range(start=start, end=start)
        return types.Range(start=self.position(span.start), end=self.position(span.end))

    def offset(self, position: types.Position) -> int:
        """The character offset of an LSP position; columns past the line end clamp to it."""
        return self.source.offset_from_lsp(position.line, position.character, self.encoding)

    def full_range(self) -> types.Range:
        """The range of the whole document."""
        return types.Range(start=types.Position(line=0, character=0), end=self.position(len(self.source.text)))

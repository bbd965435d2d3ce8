"""Incremental parsing: the syntax tree of a document, re-parsing only the declarations an edit touched.

Consumes the text of an open document; produces the same `nodes.File` as
`mpl.compiler.parse.parse` plus its syntax diagnostics, re-using the parse of
every top-level chunk whose text did not change.

Chunks are those of `mpl.compiler.parse.chunk_starts`, parsed by
`parse_chunk`, the very function the whole-file parse recovers with; so the
tree and diagnostics are those of `parse` (tests/test_parse_recovery.py checks
this). A chunk's end-of-file error is reported as the whole-file parse reports
it: at the next declaration's keyword. What this module adds is the cache of
clean chunks, and `shift`, which moves a cached chunk's spans when text before
it grew or shrank.
"""

from __future__ import annotations

import typing as t

import msgspec.structs

from mpl.compiler import nodes
from mpl.compiler.parse import (
    chunk_starts,
    parse,
    parse_chunk,
    parse_chunks,
    scan_comments,
)
from mpl.diagnostics import Diagnostic, Related, Sink
from mpl.source import SourceFile, Span

__all__ = ["ChunkParser", "chunk_starts", "shift"]


class ChunkParser:
    """Parses successive versions of one document, caching clean chunks by their text.

    >>> cp = ChunkParser()
    >>> file, diags = cp.parse(SourceFile("a.mprof", "profile a < top_k 1 >\\nprofile b <"))
    >>> [d.name.value for d in file.decls], [d.code for d in diags]
    (['a', 'b'], ['MPL102'])
    """

    def __init__(self) -> None:
        # chunk text -> the offset its declarations were placed at, and those declarations
        self._clean: dict[str, tuple[int, tuple[nodes.Decl, ...]]] = {}
        self.reparsed = 0  # chunks parsed by the last call (for tests and the benchmark)

    def parse(self, source: SourceFile) -> tuple[nodes.File, list[Diagnostic]]:
        """The syntax tree of a source and its syntax diagnostics."""
        text = source.text
        clean: dict[str, tuple[int, tuple[nodes.Decl, ...]]] = {}
        self.reparsed = 0

        def parse_one(source: SourceFile, start: int, end: int) -> tuple[tuple[nodes.Decl, ...], list[Diagnostic], bool]:
            chunk = text[start:end]
            cached = self._clean.get(chunk)
            if cached is not None:
                at, found = cached
                if at != start:
                    found = shift(found, start - at)
                clean[chunk] = (start, found)
                return found, [], True
            self.reparsed += 1
            sink = Sink(source)
            found, ok = parse_chunk(source, sink, start, end)
            if ok and not sink.diagnostics:  # chunks with diagnostics are parsed again: their messages name lines
                clean[chunk] = (start, found)
            return found, list(sink.diagnostics), ok

        parsed = parse_chunks(source, chunk_starts(text), 0, parse_one)
        if parsed is None:
            return self._whole(source)
        decls, diags, syntax_ok = parsed
        self._clean = clean
        file = nodes.File(
            span=Span(0, len(text)), source=source, decls=tuple(decls), comments=scan_comments(text), syntax_ok=syntax_ok
        )
        return file, diags

    def _whole(self, source: SourceFile) -> tuple[nodes.File, list[Diagnostic]]:
        self._clean = {}
        sink = Sink(source)
        file = parse(source, sink)
        return file, list(sink.diagnostics)


# -- moving a parsed chunk to its offset -------------------------------------------------

# Field annotations (text: `nodes` postpones them) that hold no span: copied as they are.
_PLAIN = frozenset({"str", "bool", "int", "int | float", "SourceFile"})


def shift(value: t.Any, delta: int) -> t.Any:
    """A copy of a node (or span, tuple, related span) with every span moved by `delta`.

    >>> shift(nodes.Name(span=Span(1, 3), value="a"), 10)
    Name(value='a', span=Span(start=11, end=13))
    """
    if isinstance(value, tuple):
        return tuple([shift(item, delta) for item in value])
    if isinstance(value, Span):
        return Span(value.start + delta, value.end + delta)
    fields = _SPAN_FIELDS.get(type(value))
    if fields is None:  # None, or a value that holds no span
        return value
    return msgspec.structs.replace(value, **{name: shift(getattr(value, name), delta) for name in fields})


def _annotations(cls: type) -> dict[str, str]:
    """Each field's annotation as written (`nodes` postpones them), base classes first."""
    out: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        out.update(vars(klass).get("__annotations__", {}))
    return out


def _span_fields(cls: type) -> tuple[str, ...]:
    """The fields of a node class that can hold a span: all but text, numbers, flags and the source."""
    annotations = _annotations(cls)
    return tuple(
        name for name in cls.__struct_fields__  # type: ignore[attr-defined]
        if str(annotations[name]) not in _PLAIN and not str(annotations[name]).startswith("t.Literal")
    )


_SPAN_FIELDS: dict[type, tuple[str, ...]] = {
    cls: _span_fields(cls)
    for cls in (*vars(nodes).values(), Related)
    if isinstance(cls, type) and (cls is Related or issubclass(cls, nodes.Node))
}

"""Incremental parsing: the syntax tree of a document, re-parsing only the declarations an edit touched.

Consumes the text of an open document; produces the same `nodes.File` as
`mpl.compiler.parse.parse` plus its syntax diagnostics, re-using the parse of
every top-level chunk whose text did not change.

A chunk starts at a line beginning (column 0) with a declaration keyword
(`profile`, `model`, `tasks`, `default`, `ollama`) outside strings and
comments. When every chunk parses cleanly, each boundary lay between two
declarations, so the tree is exactly the whole-file tree (a test checks this).
A chunk with syntax errors is parsed on its own, in place, with the
compiler's recovery: an unclosed `<` then costs that declaration only, and the
declarations after it keep their semantic diagnostics (the whole-file parse
would read them as part of the open block). Its end-of-file error is reported
as the whole-file parse reports it: at the next declaration's keyword.
"""

from __future__ import annotations

import bisect
import re
import typing as t
from dataclasses import dataclass

import msgspec.structs

from mpl.compiler import lexicon, nodes
from mpl.compiler.parse import MAX_SYNTAX_ERRORS, parse, scan_comments
from mpl.diagnostics import Diagnostic, Related, Sink
from mpl.source import SourceFile, Span

DECL_KEYWORDS = lexicon.DECL_KEYWORDS

# Only a triple-quoted string can hide a line start (single-line strings and
# comments end with their line); finding strings also finds where they start.
_STRINGS = re.compile(lexicon.STRINGS_AND_COMMENTS)
_DECL = re.compile(r"(?:\A|(?<=[\r\n]))(" + "|".join(DECL_KEYWORDS) + r")(?![A-Za-z0-9_\-])")
_DECL_LF = re.compile(r"^(" + "|".join(DECL_KEYWORDS) + r")(?![A-Za-z0-9_\-])", re.M)


def chunk_starts(text: str) -> list[tuple[int, str]]:
    """Offsets where top-level chunks start, with the keyword found there (`""` for the head).

    >>> chunk_starts('# head\\nprofile a < >\\nmodel m from x <\\n  profile\\n  system \"\"\"\\nprofile\"\"\"\\n>')
    [(0, ''), (7, 'profile'), (21, 'model')]
    """
    hidden: list[tuple[int, int]] = []
    if '"""' in text:
        hidden = [m.span() for m in _STRINGS.finditer(text) if m.group().startswith('"""')]
    lone_cr = "\r" in text and text.count("\r") != text.count("\r\n")
    starts: list[tuple[int, str]] = [(0, "")]
    for match in (_DECL if lone_cr else _DECL_LF).finditer(text):
        offset = match.start()
        if hidden:
            index = bisect.bisect_right(hidden, (offset, len(text) + 1)) - 1
            if index >= 0 and hidden[index][0] < offset < hidden[index][1]:
                continue
        if offset == 0:
            starts[0] = (0, match.group(1))
        else:
            starts.append((offset, match.group(1)))
    return starts


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
        starts = chunk_starts(text)
        clean: dict[str, tuple[int, tuple[nodes.Decl, ...]]] = {}
        decls: list[nodes.Decl] = []
        diags: list[Diagnostic] = []
        syntax_ok = True
        self.reparsed = 0
        for index, (start, _) in enumerate(starts):
            end = starts[index + 1][0] if index + 1 < len(starts) else len(text)
            chunk = text[start:end]
            cached = self._clean.get(chunk)
            if cached is not None:
                at, found = cached
                if at != start:
                    found = shift(found, start - at)
                clean[chunk] = (start, found)
                decls.extend(found)
                continue
            found, chunk_diags, chunk_ok = self._parse_chunk(source, start, chunk)
            decls.extend(found)
            if chunk_ok and not chunk_diags:
                clean[chunk] = (start, found)
                continue
            # Chunks with diagnostics are parsed again next time: their messages name lines.
            syntax_ok = syntax_ok and chunk_ok
            if index + 1 < len(starts):
                chunk_diags = [_at_next_keyword(d, end, starts[index + 1][1]) for d in chunk_diags]
            diags.extend(chunk_diags)
            if sum(1 for d in diags if d.code.startswith("MPL1")) > MAX_SYNTAX_ERRORS:
                return self._whole(source)
        self._clean = clean
        file = nodes.File(
            span=Span(0, len(text)), source=source, decls=tuple(decls), comments=scan_comments(text), syntax_ok=syntax_ok
        )
        return file, diags

    def _parse_chunk(
        self, source: SourceFile, start: int, chunk: str
    ) -> tuple[tuple[nodes.Decl, ...], list[Diagnostic], bool]:
        """Parse one chunk alone, its messages ("opened at 3:14") naming its real lines.

        The chunk is parsed as a source of its own whose line numbers start at
        the chunk's line (a chunk starts a line, so columns are right too);
        its spans then move by the chunk's offset. Returns the declarations,
        the diagnostics and whether the syntax was correct.
        """
        self.reparsed += 1
        sink = Sink(_ChunkSource(source.path, chunk, source.line_col(start)[0]))
        file = parse(sink.source, sink)
        if not start:
            return file.decls, list(sink.diagnostics), file.syntax_ok
        diags = [
            msgspec.structs.replace(d, span=shift(d.span, start), related=shift(d.related, start)) for d in sink.diagnostics
        ]
        return shift(file.decls, start), diags, file.syntax_ok

    def _whole(self, source: SourceFile) -> tuple[nodes.File, list[Diagnostic]]:
        self._clean = {}
        sink = Sink(source)
        file = parse(source, sink)
        return file, list(sink.diagnostics)


@dataclass(frozen=True, slots=True)
class _ChunkSource(SourceFile):
    """The text of one chunk, whose line numbers are those of the document it was cut from.

    >>> _ChunkSource("a", "profile p <\\n  top_k 1", first_line=7).line_col(14)
    (8, 3)
    """

    first_line: int = 1

    def line_col(self, offset: int) -> tuple[int, int]:
        line, col = SourceFile.line_col(self, offset)
        return line + self.first_line - 1, col


def _at_next_keyword(diag: Diagnostic, end: int, keyword: str) -> Diagnostic:
    """An end-of-chunk error, said as the whole-file parse says it: at the next declaration."""
    if diag.code != "MPL102" or diag.span is None or diag.span.start != end:
        return diag
    prefix = "unexpected end of file: "
    note = diag.message[len(prefix) :] if diag.message.startswith(prefix) else None
    return msgspec.structs.replace(
        diag,
        code="MPL101",
        message=f"unexpected `{keyword}`",
        span=Span(end, end + len(keyword)),
        help=note or diag.help,
        args=(("token", keyword),),
    )


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
    shifter = _SHIFTERS.get(type(value))
    return value if shifter is None else shifter(value, delta)


def _annotations(cls: type) -> dict[str, str]:
    """Each field's annotation as written (`nodes` postpones them), base classes first."""
    out: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        out.update(vars(klass).get("__annotations__", {}))
    return out


def _make_shifter(cls: type, known: t.Collection[str]) -> str:
    """The source of a function that copies one class with its spans moved, from its annotations.

    Shifting is the hot loop of the incremental parse (every chunk after an
    edit moves with each keystroke), so the copy is one `msgspec.structs.replace`
    of only the fields that hold spans: spans inline, a child of one known
    class (named in `known`) through that class's shifter directly, others by
    their type.
    """
    annotations = _annotations(cls)
    changes = []
    for name in cls.__struct_fields__:
        annotation, field = str(annotations[name]), f"node.{name}"
        if annotation in _PLAIN or annotation.startswith("t.Literal"):
            continue  # holds no span: the copy keeps it
        if annotation == "Span":
            value = f"Span({field}.start + delta, {field}.end + delta)"
        elif annotation.startswith("tuple["):
            item = annotation[len("tuple[") : -len(", ...]")]
            call = f"S_{item}(item, delta)" if item in known else "SHIFTERS[type(item)](item, delta)"
            value = f"({field} and tuple([{call} for item in {field}]))"
        else:  # a child node, maybe None
            child = annotation.removesuffix(" | None")
            call = f"S_{child}({field}, delta)" if child in known else f"SHIFTERS[type({field})]({field}, delta)"
            value = call if child == annotation else f"(None if {field} is None else {call})"
        changes.append(f"{name}={value}")
    return f"def S_{cls.__name__}(node, delta):\n    return replace(node, {', '.join(changes)})\n"


_SHIFTED = [cls for cls in (*vars(nodes).values(), Related)
            if isinstance(cls, type) and (cls is Related or issubclass(cls, nodes.Node))]
_SHIFTERS: dict[type, t.Callable[[t.Any, int], t.Any]] = {}
_SCOPE: dict[str, t.Any] = {"replace": msgspec.structs.replace, "Span": Span, "SHIFTERS": _SHIFTERS}
_KNOWN = {cls.__name__ for cls in _SHIFTED}
exec("".join(_make_shifter(cls, _KNOWN) for cls in _SHIFTED), _SCOPE)  # noqa: S102 - the code is built from field names only
_SHIFTERS.update((cls, _SCOPE[f"S_{cls.__name__}"]) for cls in _SHIFTED)

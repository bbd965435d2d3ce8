"""One open document, analysed: its text, tree, program, diagnostics and index of names.

Consumes the text and version the editor sent plus the server's settings;
produces a `Document` that every feature of `mpl.lsp.features` reads. The
analysis is the pipeline's (`mpl.pipeline.analyze`, every target's checks, as
`mpl check` runs it) over a tree from the incremental `ChunkParser`.
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse
from urllib.request import url2pathname

from mpl.catalog import Version
from mpl.compiler import MAX_BYTES, Analysis, nodes
from mpl.pipeline import analyze
from mpl.diagnostics import Diagnostic, Sink
from mpl.compiler.chunks import ChunkParser
from mpl.lsp.positions import UTF16, PositionMap
from mpl.lsp.symbols import Index
from mpl.source import SourceFile, source_language

#: The largest document the server analyses (UTF-8 bytes). Larger ones get one MPL005 diagnostic and no analysis:
#: an analysis takes about a second a MiB (several for a MiB of errors) on every change, and `mpl check` reads up
#: to `mpl.compiler.MAX_BYTES`.
MAX_DOCUMENT_BYTES = 1024 * 1024
#: The most the server analyses of all open documents together (UTF-8 bytes). An analysis keeps some 60 bytes a
#: byte of text (a syntax node, a span, the program's settings for each few characters), so without a bound every
#: document opened kept its tens of MiB until closed; a document that would take the total over this one gets one
#: MPL005 diagnostic and waits until closing (or the growth past `MAX_DOCUMENT_BYTES` of) another makes room.
MAX_OPEN_BYTES = 8 * 1024 * 1024


def uri_to_path(uri: str) -> Path | None:
    """The file a `file:` URI names; None for other schemes (`untitled:` buffers).

    >>> str(uri_to_path("file:///home/me/my%20profiles.mprof")), uri_to_path("untitled:Untitled-1")
    ('/home/me/my profiles.mprof', None)
    """
    parsed = urlparse(uri)
    if parsed.scheme != "file":
        return None
    path = url2pathname(unquote(parsed.path)) if parsed.netloc in ("", "localhost") else f"//{parsed.netloc}{unquote(parsed.path)}"
    return Path(path)


@dataclass(slots=True)
class Document:
    """An analysed version of one open document."""

    uri: str
    version: int | None
    source: SourceFile
    analysis: Analysis
    diagnostics: list[Diagnostic]  # syntax and semantic, in source order
    positions: PositionMap
    _index: Index | None = None
    kind: str = "mprof"  # or "modelfile"
    modelfile: t.Any = None  # the read `mpl.compiler.modelfile.Modelfile` of a Modelfile
    refused: str | None = None  # the text too large to analyse (the analysis is then of an empty document)

    @property
    def index(self) -> Index:
        """The names of the document, built on the first request (publishing needs none)."""
        if self._index is None:
            self._index = Index(self.file)
        return self._index

    @property
    def text(self) -> str:
        return self.source.text

    @property
    def received(self) -> str:
        """The text the editor sent: the analysed text, or the one refused as too large."""
        return self.source.text if self.refused is None else self.refused

    @property
    def file(self) -> nodes.File:
        assert self.analysis.tree is not None
        return self.analysis.tree

    @property
    def target(self) -> Version:
        """The Ollama version this document is checked against."""
        assert self.analysis.program is not None
        return self.analysis.program.target


def analyze_document(
    uri: str,
    text: str,
    version: int | None = None,
    *,
    parser: ChunkParser | None = None,
    ollama: Version | None = None,
    encoding: str = UTF16,
    root: Path | None = None,
    language: str | None = None,
) -> Document:
    """Analyse one version of a document.

    `ollama` (the client's setting) applies only when the file has no `ollama`
    line of its own. Relative paths (adapters, GGUF files) resolve against the
    document's folder, else `root` (the workspace), else the current directory.

    >>> doc = analyze_document("untitled:a", "profile p < min_pp 0.1 >")
    >>> [(d.code, d.help) for d in doc.diagnostics]
    [('MPL301', 'did you mean `min_p`?')]
    """
    path = uri_to_path(uri)
    size = document_size(text)
    if size > MAX_DOCUMENT_BYTES:
        return refused_document(uri, size, version, text=text, encoding=encoding)
    source = SourceFile(str(path) if path else uri, text)
    if language == "modelfile" or (language != "mprof" and source_language(path or urlparse(uri).path, text) == "modelfile"):
        return _analyze_modelfile(uri, source, version, ollama=ollama, encoding=encoding,
                                  base_dir=path.parent if path is not None else (root or Path.cwd()))
    file, syntax = (parser or ChunkParser()).parse(source)
    declares_version = any(isinstance(d, nodes.OllamaDecl) for d in file.decls)
    base_dir = path.parent if path is not None else (root or Path.cwd())
    analysis = analyze(file, target=None if declares_version else ollama, base_dir=base_dir)
    diagnostics = sorted(
        syntax + analysis.diagnostics,
        key=lambda d: (d.span.start if d.span else -1, d.severity.rank, d.code),
    )
    return Document(
        uri=uri,
        version=version,
        source=source,
        analysis=analysis,
        diagnostics=diagnostics,
        positions=PositionMap(source, encoding),
    )


def document_size(text: str) -> int:
    """The UTF-8 size of a text, measured only when its length leaves it in doubt.

    Never less than `len(text)`, so an answer over `MAX_DOCUMENT_BYTES` is always
    over the limit, and exact whenever it is within it.

    >>> document_size("abc"), document_size("é" * 3)
    (3, 6)
    """
    if len(text) > MAX_DOCUMENT_BYTES or text.isascii():
        return len(text)
    return len(text.encode("utf-8", "surrogatepass"))


def refused_document(
    uri: str, size: int, version: int | None, *, text: str = "", encoding: str = UTF16, why: str | None = None,
    help: str | None = None,
) -> Document:
    """A document not analysed: one MPL005 diagnostic at its start (`why`, or its size), and nothing else to read.

    >>> doc = refused_document("untitled:a", 20_000_000, 3)
    >>> [(d.code, d.span, d.message) for d in doc.diagnostics]  # doctest: +NORMALIZE_WHITESPACE
    [('MPL005', None, 'the document is 20000000 bytes; the language server analyses documents up to 1048576 bytes')]
    """
    path = uri_to_path(uri)
    source = SourceFile(str(path) if path else uri, "")
    sink = Sink(source)
    sink.report(
        "MPL005", None,
        why or f"the document is {size} bytes; the language server analyses documents up to {MAX_DOCUMENT_BYTES} bytes",
        help=help or f"`mpl check` reads files up to {MAX_BYTES} bytes",
    )
    analysis = Analysis(source=source, sink=sink)
    return Document(
        uri=uri, version=version, source=source, analysis=analysis, diagnostics=analysis.diagnostics,
        positions=PositionMap(source, encoding), kind="refused", refused=text,
    )


def over_budget(size: int, others: int) -> str | None:
    """Why a document of `size` bytes is not analysed while `others` bytes of open documents are, or None if it fits.

    >>> over_budget(1_000_000, 7_000_000) is None
    True
    >>> over_budget(1_000_000, 8_000_000)  # doctest: +ELLIPSIS
    'the language server analyses at most 8 MiB of open documents at a time; ...'
    """
    if others + size <= MAX_OPEN_BYTES:
        return None
    return (
        f"the language server analyses at most {_amount(MAX_OPEN_BYTES)} of open documents at a time; "
        f"the others analysed come to {others} bytes and this one is {size} bytes"
    )


#: The help line of a document `over_budget`.
CLOSE_SOME = "close some documents: this one is analysed as soon as there is room"


def _amount(size: int) -> str:
    return f"{size // (1024 * 1024)} MiB" if size % (1024 * 1024) == 0 else f"{size} bytes"


def _analyze_modelfile(
    uri: str, source: SourceFile, version: int | None, *, ollama: Version | None, encoding: str, base_dir: Path
) -> Document:
    """Analyse a Modelfile as `mpl check` does: the reader, then the passes of a `.mprof` model.

    >>> doc = analyze_document("untitled:Modelfile", "FROM llama3\\nPARAMETER num_ctxx 4096\\n")
    >>> [(d.code, d.help) for d in doc.diagnostics]
    [('MPL301', 'did you mean `num_ctx`?')]
    """
    from mpl.compiler.modelfile import read_modelfile
    from mpl.pipeline import analyze_modelfile
    from mpl.diagnostics import Sink

    analysis = analyze_modelfile(source, target=ollama, base_dir=base_dir)
    if analysis.tree is None or analysis.program is None:
        # no FROM, or nothing a program can be made of: keep what the reader said
        from mpl.pipeline import analyze as analyze_mprof
        from mpl.compiler.modelfile import to_file

        sink = Sink(source)
        mf = read_modelfile(source, sink)
        empty = analyze_mprof(to_file(mf, Sink(source)), target=ollama, base_dir=base_dir, targets=())
        empty.sink.diagnostics.clear()
        empty.sink.extend(analysis.diagnostics)
        analysis = empty
    modelfile = read_modelfile(source, Sink(source))
    return Document(
        uri=uri, version=version, source=source, analysis=analysis, diagnostics=analysis.diagnostics,
        positions=PositionMap(source, encoding), kind="modelfile", modelfile=modelfile,
    )


def parse_version(text: t.Any) -> Version | None:
    """A version setting as clients send it: `"0.6"`; empty or absent means none.

    Raises ValueError for text that is not a version.

    >>> parse_version("0.6"), parse_version(""), parse_version(None)
    (Version(major=0, minor=6, patch=0), None, None)
    """
    if text is None or (isinstance(text, str) and not text.strip()):
        return None
    if not isinstance(text, str):
        raise ValueError(f"the Ollama version must be a string like \"0.12\", not {text!r}")
    return Version.parse(text.strip())

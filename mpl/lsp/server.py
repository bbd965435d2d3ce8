"""The pygls 2 adapter: LSP messages in, `mpl.lsp.features` out. Imported only by `mpl lsp`.

Diagnostics are published on open at once, and on change after a short
debounce per document (each change cancels the pending analysis and starts
the delay again), with the version they were computed for; closing a document
clears them. Requests (hover, definition, …) first bring a document whose
analysis is pending up to date, so their positions always match the text.

What is kept is bounded: at most `MAX_OPEN_BYTES` of open documents are
analysed at once (`analysed`); a document that would take the total over it
gets one MPL005 diagnostic and waits (`waiting`) until a close, or a document
growing past the one-document limit, makes room. A document over that limit
keeps neither its analysis nor its text, only its size.

Settings: `initializationOptions` `{"ollamaVersion": "0.12", "debounceMs": 50}`
(as the VS Code client in `editors/vscode` sends them), and
`workspace/didChangeConfiguration` with `{"mpl": {"ollamaVersion": …}}` or,
when that carries no settings, a `workspace/configuration` pull of section
`mpl`. A file's own `ollama "X.Y"` line always wins.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import re
import sys
import typing as t
from threading import Event
from urllib.parse import unquote

import cattrs
from lsprotocol import types
from pygls.exceptions import (
    JsonRpcException, JsonRpcInternalError, JsonRpcInvalidParams, JsonRpcInvalidRequest, JsonRpcParseError,
)
from pygls.io_ import StdoutWriter
from pygls.lsp.server import LanguageServer
from pygls.workspace import TextDocument

from mpl import __version__
from mpl.catalog import Version
from mpl.lsp import completion as completion_feature
from mpl.lsp import features, hover
from mpl.lsp import modelfile as modelfile_feature
from mpl.compiler.chunks import ChunkParser
from mpl.lsp.document import (
    CLOSE_SOME, MAX_DOCUMENT_BYTES, Document, analyze_document, document_size, over_budget, parse_version,
    refused_document, uri_to_path,
)
from mpl.lsp.positions import UTF16, PositionMap
from mpl.lsp.transport import MAX_MESSAGE_BYTES, Frame, Framer, Malformed, Oversized
from mpl.source import SourceFile

DEBOUNCE_MS = 50
READ_CHUNK = 64 * 1024  # the most read from stdin at a time
logger = logging.getLogger(__name__)


class MplLanguageServer(LanguageServer):
    """The server's state: the last analysis of every open document and the settings."""

    def __init__(self) -> None:
        # Full sync: pygls applies incremental edits with `str.splitlines`, which
        # breaks lines where LSP clients do not (form feed, U+2028, …).
        super().__init__("mpl", __version__, text_document_sync_kind=types.TextDocumentSyncKind.Full)
        self.documents: dict[str, Document] = {}
        self.analysed: dict[str, int] = {}  # the size of each document whose analysis is kept (`MAX_OPEN_BYTES`)
        self.waiting: dict[str, None] = {}  # documents not analysed for want of room, in the order they came
        self.parsers: dict[str, ChunkParser] = {}
        self.converted: dict[str, features.ConvertedDiagnostics] = {}  # diagnostics last published
        self.pending: dict[str, asyncio.TimerHandle] = {}
        self.ollama: Version | None = None
        self.debounce = DEBOUNCE_MS / 1000

    # -- transport -------------------------------------------------------------------
    def start_io(self, stdin: t.BinaryIO | None = None, stdout: t.BinaryIO | None = None) -> None:
        """Serve over stdin and stdout until the client says exit (or closes stdin).

        pygls's own loop reads a body of whatever length a header announces,
        loses its place for good after a wrong `Content-Length`, and answers
        nothing to a request whose parameters do not fit its type; this one
        reads through `transport.Framer` and answers every request (`receive`).
        """
        self._stop_event = Event()
        self.protocol.set_writer(StdoutWriter(stdout or sys.stdout.buffer))
        code: t.Any = 0
        try:
            asyncio.run(self._serve(stdin or sys.stdin.buffer))
        except BrokenPipeError:
            logger.error("the client closed its end; the server stops")
        except KeyboardInterrupt:
            pass
        except SystemExit as exc:  # `exit`: 0 after `shutdown`, else 1 (as LSP asks)
            code = exc.code
        finally:
            self.shutdown()
        if code:
            raise SystemExit(code)

    async def _serve(self, stream: t.BinaryIO) -> None:
        loop = asyncio.get_running_loop()
        read = getattr(stream, "read1", stream.read)  # what has come, up to a chunk, without waiting for more
        framer = Framer()
        assert self._stop_event is not None
        while not self._stop_event.is_set():
            data = await loop.run_in_executor(self.thread_pool, read, READ_CHUNK)
            if not data:
                break
            for frame in framer.feed(data):
                self.receive(frame)
                await asyncio.sleep(0)  # let what the message started (a debounce, a reply) run

    def receive(self, frame: Frame) -> None:
        """Handle one frame: every request gets a result or an error, whatever it holds."""
        if isinstance(frame, Malformed):
            logger.warning("malformed message: %s", frame.reason)
            self.reply_error(frame.id, JsonRpcParseError.CODE, frame.reason)
        elif isinstance(frame, Oversized):
            reason = f"a message of {frame.length} bytes; the server reads messages up to {MAX_MESSAGE_BYTES} bytes"
            logger.warning("%s (%s)", reason, frame.method or "no method")
            if frame.uri is not None and frame.method in (types.TEXT_DOCUMENT_DID_OPEN, types.TEXT_DOCUMENT_DID_CHANGE):
                self.refuse_document(frame.uri, frame.length, frame.version, frame.language_id)
            elif frame.method is not None or frame.id is None:
                self.reply_error(frame.id, JsonRpcInvalidRequest.CODE, reason)
        else:
            try:
                self.dispatch(frame.content)
            except (KeyboardInterrupt, SystemExit):
                raise
            except Exception:  # a bug of the server's must not end the session
                logger.exception("handling a message failed")
                content = frame.content
                if isinstance(content, dict) and "method" in content and _valid_id(content.get("id")):
                    self.reply_error(content["id"], JsonRpcInternalError.CODE, "the server failed to handle the request")

    def dispatch(self, content: t.Any) -> None:
        """Check a message's envelope, then hand it to pygls; a request that does not fit gets its error."""
        if not isinstance(content, dict):
            return self.reply_error(None, JsonRpcInvalidRequest.CODE, "a message must be a JSON object")
        ident, method = content.get("id"), content.get("method")
        request = "id" in content and "method" in content
        if content.get("jsonrpc") != "2.0" or ("method" in content and not isinstance(method, str)) or (
            "id" in content and not _valid_id(ident)
        ) or ("method" not in content and "id" not in content):
            return self.reply_error(
                ident if _valid_id(ident) else None, JsonRpcInvalidRequest.CODE,
                'not a JSON-RPC 2.0 message: it needs "jsonrpc": "2.0", a "method" string, an integer or string "id"',
            )
        if request and self.protocol._shutdown and method != types.EXIT:
            return self.reply_error(ident, JsonRpcInvalidRequest.CODE, "the server is shut down")
        try:
            message = self.protocol.structure_message(content)
        except Exception as exc:
            why = _invalid_params(exc)
            if request:
                return self.reply_error(ident, JsonRpcInvalidParams.CODE, f"invalid parameters for `{method}`: {why}")
            logger.warning("ignoring %s: %s", method or f"the response to {ident!r}", why)
            return None
        self.protocol.handle_message(message)
        return None

    def reply_error(self, ident: int | str | None, code: int, message: str) -> None:
        """A JSON-RPC error response (with a null id when the request's is unknown, as JSON-RPC 2.0 has it)."""
        self.protocol._send_data({"jsonrpc": "2.0", "id": ident, "error": {"code": code, "message": message}})

    # -- settings ------------------------------------------------------------------
    def apply_settings(self, settings: t.Any, origin: str) -> None:
        """Take `ollamaVersion` (and `debounceMs`) from a settings object; bad values are reported."""
        if not isinstance(settings, dict):
            return
        if isinstance(settings.get("mpl"), dict):
            settings = settings["mpl"]
        if "ollamaVersion" in settings:
            try:
                self.ollama = parse_version(settings["ollamaVersion"])
            except ValueError as exc:
                self.ollama = None
                self.window_show_message(
                    types.ShowMessageParams(type=types.MessageType.Warning, message=f"mpl: {origin} `ollamaVersion`: {exc}")
                )
        debounce = settings.get("debounceMs")
        if isinstance(debounce, (int, float)) and not isinstance(debounce, bool) and 0 <= debounce <= 5000:
            self.debounce = debounce / 1000

    @property
    def encoding(self) -> str:
        encoding = self.workspace.position_encoding or UTF16
        return str(getattr(encoding, "value", encoding))

    # -- analysis --------------------------------------------------------------------
    def analyze_now(self, uri: str) -> Document | None:
        """Analyse the document's current text and publish its diagnostics."""
        handle = self.pending.pop(uri, None)
        if handle is not None:
            handle.cancel()
        text_document = self.text_document(uri)
        if text_document is None:
            return None
        last = self.documents.get(uri)
        text = text_document.source
        if last is not None and last.refused is not None and last.received == text and uri not in self.waiting:
            return last  # refused as too large, and unchanged since
        size = document_size(text)
        if size > MAX_DOCUMENT_BYTES:  # not analysed, and its text not kept: only its size is said
            self.waiting.pop(uri, None)
            self.blank(uri, text_document.version, text_document.language_id)
            self.publish(refused_document(uri, size, text_document.version, encoding=self.encoding))
            return self.documents[uri]
        why = over_budget(size, sum(n for other, n in self.analysed.items() if other != uri))
        if why is not None:
            if last is not None and uri in self.waiting and last.received == text:
                return last  # still waiting for room
            self.waiting[uri] = None
            self.publish(refused_document(uri, size, text_document.version, text=text, encoding=self.encoding,
                                          why=why, help=CLOSE_SOME))
            return self.documents[uri]
        self.waiting.pop(uri, None)
        root = uri_to_path(self.workspace.root_uri) if self.workspace.root_uri else None
        try:
            doc = analyze_document(
                uri,
                text_document.source,
                text_document.version,
                parser=self.parsers.setdefault(uri, ChunkParser()),
                ollama=self.ollama,
                encoding=self.encoding,
                root=root,
                language=getattr(text_document, "language_id", None),
            )
        except Exception:  # a compiler bug must not take the editor's server down
            logger.exception("analysing %s failed", uri)
            self.parsers.pop(uri, None)
            return self.documents.get(uri)
        self.publish(doc, size)
        return doc

    def publish(self, doc: Document, size: int = 0) -> None:
        """Keep an analysis (of `size` bytes, none if refused) as the document's current one and publish its diagnostics."""
        uri = doc.uri
        self.documents[uri] = doc
        freed = self.analysed.pop(uri, 0)
        if doc.refused is not None:
            self.parsers.pop(uri, None)
        else:
            self.analysed[uri] = size
        self.text_document_publish_diagnostics(
            types.PublishDiagnosticsParams(
                uri=uri,
                version=doc.version,
                diagnostics=self.converted.setdefault(uri, features.ConvertedDiagnostics()).convert(doc),
            )
        )
        if freed and doc.refused is not None:
            self.admit()

    def admit(self) -> None:
        """Analyse the documents waiting for room that fit now, in the order they came."""
        for uri in list(self.waiting):
            if uri in self.waiting:
                self.analyze_now(uri)

    def text_document(self, uri: str) -> TextDocument | None:
        """The open document's text as the workspace keeps it (by its URI percent-decoded, as pygls keys it)."""
        return self.workspace.text_documents.get(unquote(uri))

    def refuse_document(self, uri: str, size: int, version: int | None, language_id: str | None) -> None:
        """A document whose text came in a message too large to read: it is kept empty, with one MPL005 diagnostic."""
        handle = self.pending.pop(uri, None)
        if handle is not None:
            handle.cancel()
        self.waiting.pop(uri, None)
        self.blank(uri, version, language_id)
        why = (
            f"the document came in a message of {size} bytes; the language server reads messages up to "
            f"{MAX_MESSAGE_BYTES} bytes and analyses documents up to {MAX_DOCUMENT_BYTES} bytes"
        )
        self.publish(refused_document(uri, size, version, encoding=self.encoding, why=why))

    def blank(self, uri: str, version: int | None, language_id: str | None) -> None:
        """Keep a document that is not analysed as empty: its text is not read again until the next change replaces it."""
        known = self.text_document(uri)
        language = language_id or (known.language_id if known is not None else None) or ""
        self.workspace.put_text_document(types.TextDocumentItem(uri=uri, language_id=language, version=version or 0, text=""))

    def schedule(self, uri: str) -> None:
        """Analyse after the debounce delay, unless another change comes first."""
        handle = self.pending.pop(uri, None)
        if handle is not None:
            handle.cancel()
        loop = asyncio.get_running_loop()
        self.pending[uri] = loop.call_later(self.debounce, self.analyze_now, uri)

    def current(self, uri: str) -> Document | None:
        """The analysis of the text as it is now (analysing first if a change is pending)."""
        doc = self.documents.get(uri)
        text_document = self.text_document(uri)
        if text_document is not None and (doc is None or uri in self.pending or doc.received != text_document.source):
            doc = self.analyze_now(uri)
        return None if doc is None or doc.refused is not None else doc

    def close(self, uri: str) -> None:
        handle = self.pending.pop(uri, None)
        if handle is not None:
            handle.cancel()
        self.documents.pop(uri, None)
        self.parsers.pop(uri, None)
        self.converted.pop(uri, None)
        self.waiting.pop(uri, None)
        freed = self.analysed.pop(uri, None)
        self.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=uri, diagnostics=[]))
        if freed:
            self.admit()

    def reanalyse_all(self) -> None:
        for uri in list(self.documents):  # the URIs as the client wrote them (the workspace's are decoded)
            self.analyze_now(uri)


def warm_up() -> None:
    """Build what every analysis needs (the parser, the catalog) before the first document, then
    freeze them with the rest of the start-up heap (`mpl.__main__` says why)."""
    analyze_document("untitled:warm-up.mprof", 'tasks t\nprofile p for t < temperature 0.5 >\nmodel m from "x" < use p >\n')
    gc.collect()
    gc.freeze()


def _valid_id(ident: t.Any) -> bool:
    """A JSON-RPC request id: an integer or a string."""
    return isinstance(ident, (int, str)) and not isinstance(ident, bool)


def _invalid_params(exc: Exception) -> str:
    """What is wrong with a message's parameters, in cattrs's words (the first few problems)."""
    cause = exc.__cause__ or exc
    if isinstance(cause, cattrs.BaseValidationError):
        # cattrs names the Python fields (`text_document`); the client wrote `textDocument`
        problems = [re.sub(r"_([a-z])", lambda m: m.group(1).upper(), p) for p in cattrs.transform_error(cause)]
        return "; ".join(problems[:3]) + (f" (and {len(problems) - 3} more)" if len(problems) > 3 else "")
    return str(cause) or type(cause).__name__


def _offset(doc: Document, position: types.Position) -> int:
    return doc.positions.offset(position)


def _request_failed(message: str) -> JsonRpcException:
    return JsonRpcException(message=message, code=types.LSPErrorCodes.RequestFailed)


def build_server() -> MplLanguageServer:
    """The language server with every feature registered."""
    server = MplLanguageServer()

    @server.feature(types.INITIALIZE)
    def initialize(ls: MplLanguageServer, params: types.InitializeParams) -> None:
        ls.apply_settings(params.initialization_options, "initializationOptions")

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: MplLanguageServer, params: types.DidOpenTextDocumentParams) -> None:
        ls.parsers.pop(params.text_document.uri, None)
        ls.analyze_now(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: MplLanguageServer, params: types.DidChangeTextDocumentParams) -> None:
        ls.schedule(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: MplLanguageServer, params: types.DidCloseTextDocumentParams) -> None:
        ls.close(params.text_document.uri)

    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    async def did_change_configuration(ls: MplLanguageServer, params: types.DidChangeConfigurationParams) -> None:
        settings = params.settings
        if not (isinstance(settings, dict) and isinstance(settings.get("mpl"), dict)):
            capabilities = ls.client_capabilities.workspace
            if capabilities is None or not capabilities.configuration:
                return
            pulled = await ls.workspace_configuration_async(
                types.ConfigurationParams(items=[types.ConfigurationItem(section="mpl")])
            )
            settings = pulled[0] if pulled else None
        ls.apply_settings(settings, "workspace/configuration")
        ls.reanalyse_all()

    @server.feature(types.TEXT_DOCUMENT_HOVER)
    def on_hover(ls: MplLanguageServer, params: types.HoverParams) -> types.Hover | None:
        doc = ls.current(params.text_document.uri)
        if doc is not None and doc.kind == "modelfile":
            return modelfile_feature.hover(doc, _offset(doc, params.position))
        return hover.hover(doc, _offset(doc, params.position)) if doc else None

    @server.feature(
        types.TEXT_DOCUMENT_COMPLETION, types.CompletionOptions(trigger_characters=[" ", ",", "["])
    )
    def on_completion(ls: MplLanguageServer, params: types.CompletionParams) -> types.CompletionList | None:
        uri = params.text_document.uri
        text_document = ls.text_document(uri)
        doc = ls.documents.get(uri) or ls.current(uri)
        if doc is None or text_document is None or doc.refused is not None:
            return None
        # Completion must keep up with typing: names come from the last analysis,
        # the context from the text as it is now.
        text = text_document.source
        if document_size(text) > MAX_DOCUMENT_BYTES:
            return None
        current = doc.positions if doc.text == text else PositionMap(SourceFile(doc.source.path, text), ls.encoding)
        if doc.kind == "modelfile":
            return modelfile_feature.completion(doc, current.offset(params.position), current)
        return completion_feature.completion(doc, current.offset(params.position), current)

    @server.feature(types.TEXT_DOCUMENT_DEFINITION)
    def on_definition(ls: MplLanguageServer, params: types.DefinitionParams) -> list[types.Location] | None:
        doc = ls.current(params.text_document.uri)
        return features.definition(doc, _offset(doc, params.position)) if doc else None

    @server.feature(types.TEXT_DOCUMENT_REFERENCES)
    def on_references(ls: MplLanguageServer, params: types.ReferenceParams) -> list[types.Location] | None:
        doc = ls.current(params.text_document.uri)
        if doc is None:
            return None
        return features.references(doc, _offset(doc, params.position), params.context.include_declaration)

    @server.feature(types.TEXT_DOCUMENT_DOCUMENT_HIGHLIGHT)
    def on_highlight(ls: MplLanguageServer, params: types.DocumentHighlightParams) -> list[types.DocumentHighlight] | None:
        doc = ls.current(params.text_document.uri)
        return features.highlights(doc, _offset(doc, params.position)) if doc else None

    @server.feature(types.TEXT_DOCUMENT_DOCUMENT_SYMBOL)
    def on_symbols(ls: MplLanguageServer, params: types.DocumentSymbolParams) -> list[types.DocumentSymbol] | None:
        doc = ls.current(params.text_document.uri)
        return features.document_symbols(doc) if doc else None

    @server.feature(types.TEXT_DOCUMENT_PREPARE_RENAME)
    def on_prepare_rename(ls: MplLanguageServer, params: types.PrepareRenameParams) -> types.PrepareRenamePlaceholder | None:
        doc = ls.current(params.text_document.uri)
        if doc is None:
            return None
        if doc.kind == "modelfile":
            return None
        try:
            return features.prepare_rename(doc, _offset(doc, params.position))
        except features.FeatureError as exc:
            raise _request_failed(str(exc)) from None

    @server.feature(types.TEXT_DOCUMENT_RENAME, types.RenameOptions(prepare_provider=True))
    def on_rename(ls: MplLanguageServer, params: types.RenameParams) -> types.WorkspaceEdit | None:
        doc = ls.current(params.text_document.uri)
        if doc is None:
            return None
        if doc.kind == "modelfile":
            raise _request_failed("a Modelfile has no names to rename")
        try:
            return features.rename(doc, _offset(doc, params.position), params.new_name)
        except features.FeatureError as exc:
            raise _request_failed(str(exc)) from None

    @server.feature(types.TEXT_DOCUMENT_FORMATTING)
    def on_formatting(ls: MplLanguageServer, params: types.DocumentFormattingParams) -> list[types.TextEdit] | None:
        doc = ls.current(params.text_document.uri)
        if doc is None:
            return None
        if doc.kind == "modelfile":
            return []  # `mpl fmt` formats .mprof sources only
        try:
            return features.formatting(doc)
        except Exception:  # a formatter bug (FormatError) leaves the text alone
            logger.exception("formatting %s failed", params.text_document.uri)
            return []

    return server

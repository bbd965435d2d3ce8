"""`mpl lsp` end to end: a real LSP client (pytest-lsp) talks to the server over stdio.

Every wait is on a message from the server (`wait_for_notification` or a
request's answer); nothing sleeps. One server serves the module, each test
opens its own document.
"""

from __future__ import annotations

import asyncio
import itertools
import sys
import time

import pytest
import pytest_asyncio
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

from helpers import EXAMPLES

pytestmark = pytest.mark.asyncio(loop_scope="module")

SERVER = ClientServerConfig(server_command=[sys.executable, "-m", "mpl", "lsp"])
METON = (EXAMPLES / "meton.mprof").read_text(encoding="utf-8")
_uris = itertools.count(1)


@pytest_lsp.fixture(scope="module", config=SERVER)
async def client(lsp_client: LanguageClient):
    await lsp_client.initialize_session(
        types.InitializeParams(
            capabilities=client_capabilities("visual-studio-code"),
            initialization_options={"ollamaVersion": ""},  # as editors/vscode sends it when unset
        )
    )
    yield
    await lsp_client.shutdown_session()


@pytest_lsp.fixture(loop_scope="module", config=SERVER)
async def neovim(lsp_client: LanguageClient):
    """A second server, for a client that prefers UTF-8 positions and sets an Ollama version."""
    lsp_client.initialized_with = await lsp_client.initialize_session(
        types.InitializeParams(capabilities=client_capabilities("neovim@v0.11"), initialization_options={"ollamaVersion": "0.6"})
    )
    yield
    await lsp_client.shutdown_session()


_open: list[tuple[LanguageClient, str]] = []


@pytest_asyncio.fixture(autouse=True, loop_scope="module")
async def close_documents(client: LanguageClient):
    """Close what a test opened, waiting for each clearing, so that the next test starts quiet."""
    yield
    while _open:
        owner, uri = _open.pop()
        if owner.stopped:  # a test's own server, already shut down
            continue
        owner.text_document_did_close(types.DidCloseTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri)))
        assert list((await published(owner, uri)).diagnostics) == []


def new_uri() -> str:
    """A document of its own beside the examples (never written), so `./adapters/…` resolves."""
    return (EXAMPLES / f"lsp-test-{next(_uris)}.mprof").as_uri()


async def published(client: LanguageClient, uri: str) -> types.PublishDiagnosticsParams:
    """The next diagnostics the server publishes for `uri` (tests keep one document open at a time)."""
    while True:
        params = await asyncio.wait_for(client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS), 10)
        if params.uri == uri:
            return params


async def open_doc(client: LanguageClient, text: str, uri: str | None = None) -> tuple[str, list[types.Diagnostic]]:
    uri = uri or new_uri()
    _open.append((client, uri))
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(text_document=types.TextDocumentItem(uri=uri, language_id="mprof", version=1, text=text))
    )
    params = await published(client, uri)
    assert params.version == 1
    return uri, list(params.diagnostics)


def change(client: LanguageClient, uri: str, version: int, text: str) -> None:
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)],
        )
    )


def pos(text: str, needle: str, skip: int = 0) -> types.Position:
    """The LSP position of `needle` (ASCII text) plus `skip` characters."""
    offset = text.index(needle) + skip
    return types.Position(line=text.count("\n", 0, offset), character=offset - text.rfind("\n", 0, offset) - 1)


def doc_id(uri: str) -> types.TextDocumentIdentifier:
    return types.TextDocumentIdentifier(uri=uri)


# -- diagnostics -----------------------------------------------------------------------------


async def test_the_meton_example_has_no_errors(client: LanguageClient):
    uri = (EXAMPLES / "meton.mprof").as_uri()
    _, diags = await open_doc(client, METON, uri)
    assert [d for d in diags if d.severity == types.DiagnosticSeverity.Error] == []
    removed = next(d for d in diags if d.code == "MPL401")  # `mirostat 2` on Ollama 0.12
    assert removed.range.start == pos(METON, "mirostat 2") and removed.source == "mpl"
    assert removed.code_description is None  # no `docs-url` configured: no address made up


async def test_typing_an_error_and_fixing_it(client: LanguageClient):
    uri, diags = await open_doc(client, METON)
    typed = METON.replace("  top_p 0.95\n", "  top_p 0.95\n  min_pp 0.1\n")
    start = time.perf_counter()
    change(client, uri, 2, typed)
    params = await published(client, uri)
    elapsed = time.perf_counter() - start
    assert params.version == 2
    (error,) = [d for d in params.diagnostics if d.severity == types.DiagnosticSeverity.Error]
    assert error.code == "MPL301" and error.message.endswith("help: did you mean `min_p`?")
    assert error.range == types.Range(start=pos(typed, "min_pp"), end=pos(typed, "min_pp", 6))
    assert elapsed < 2.0, f"diagnostics took {elapsed * 1000:.0f} ms"
    change(client, uri, 3, typed.replace("min_pp", "min_p"))
    params = await published(client, uri)
    assert params.version == 3
    assert [d for d in params.diagnostics if d.severity == types.DiagnosticSeverity.Error] == []


async def test_changes_in_a_burst_are_analysed_once(client: LanguageClient):
    uri, _ = await open_doc(client, "profile p < >\n")
    for version, value in enumerate(["0", "0.", "0.5", "0.55"], start=2):
        change(client, uri, version, f"profile p < temperature {value} >\n")
    params = await published(client, uri)
    assert params.version == 5  # the intermediate versions were never published
    assert list(params.diagnostics) == []


async def test_a_syntax_error_keeps_the_rest_checked(client: LanguageClient):
    text = "tasks a\nprofile p for a <\n  top_k\n  temperature 0.5\n>\nprofile q extends p < min_pp 1 >\n"
    _, diags = await open_doc(client, text)
    assert [(d.code, d.range.start) for d in diags] == [("MPL101", pos(text, "\n  temp")), ("MPL301", pos(text, "min_pp"))]


async def test_positions_count_utf16_code_units(client: LanguageClient):
    text = 'profile p < "😀 é" ; min_pp 1 >\n'
    _, diags = await open_doc(client, text)
    assert diags[0].range.start == types.Position(line=0, character=21)  # the emoji is two units


async def test_the_configured_version_applies_to_files_without_an_ollama_line(client: LanguageClient):
    def warnings(diags) -> list[str]:
        return [d.code for d in diags if d.severity <= types.DiagnosticSeverity.Warning]

    uri, diags = await open_doc(client, "profile p < mirostat 2 >\n")
    assert warnings(diags) == ["MPL401"]
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings={"mpl": {"ollamaVersion": "0.6"}}))
    assert warnings((await published(client, uri)).diagnostics) == []
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings={"mpl": {"ollamaVersion": ""}}))
    assert warnings((await published(client, uri)).diagnostics) == ["MPL401"]
    # A notification without settings makes the server ask for section `mpl` (workspace/configuration).
    client.set_configuration({"ollamaVersion": "0.6"}, section="mpl")
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=None))
    assert warnings((await published(client, uri)).diagnostics) == []
    client.set_configuration({"ollamaVersion": ""}, section="mpl")
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=None))
    assert warnings((await published(client, uri)).diagnostics) == ["MPL401"]


async def test_initialization_options_and_utf8_positions(neovim: LanguageClient):
    assert neovim.initialized_with.capabilities.position_encoding == types.PositionEncodingKind.Utf8
    text = 'profile p < "é" ; min_pp 1; mirostat 2 >\n'
    _, diags = await open_doc(neovim, text)
    assert [d.code for d in diags if d.severity <= types.DiagnosticSeverity.Warning] == ["MPL301"]  # 0.6 knows mirostat
    (unknown,) = [d for d in diags if d.code == "MPL301"]
    assert unknown.range.start == types.Position(line=0, character=19)  # `é` is two bytes


# -- hover, completion, navigation ------------------------------------------------------------------


async def test_hover(client: LanguageClient):
    uri, _ = await open_doc(client, METON)
    removed = await client.text_document_hover_async(types.HoverParams(text_document=doc_id(uri), position=pos(METON, "mirostat 2", 3)))
    assert "removed in Ollama 0.7.0" in removed.contents.value
    assert removed.range == types.Range(start=pos(METON, "mirostat 2"), end=pos(METON, "mirostat 2", 8))
    profile = await client.text_document_hover_async(types.HoverParams(text_document=doc_id(uri), position=pos(METON, "default precise", 9)))
    assert "| `num_ctx` | `32768` | profile base, line 16 |" in profile.contents.value
    nothing = await client.text_document_hover_async(types.HoverParams(text_document=doc_id(uri), position=pos(METON, "0.0\n")))
    assert nothing is None


async def test_completion(client: LanguageClient):
    text = METON + "\nprofile extra extends base for \n"
    uri, _ = await open_doc(client, text)

    async def labels(position: types.Position) -> list[str]:
        result = await client.text_document_completion_async(types.CompletionParams(text_document=doc_id(uri), position=position))
        return [item.label for item in result.items]

    assert set(await labels(pos(text, "extra extends base for ", 23))) == {"general", "debug", "explain", "refactor", "review", "docs", "creative"}
    profiles = await labels(pos(text, "extra extends base", 14))
    assert profiles[:2] == ["base", "precise"]  # source order
    result = await client.text_document_completion_async(
        types.CompletionParams(text_document=doc_id(uri), position=pos(text, "  temperature 0.5"))
    )
    items = {item.label: item for item in result.items}
    assert items["temperature"].kind == types.CompletionItemKind.Property and items["temperature"].detail.startswith("float")
    assert "when" in items and "unset" in items
    assert set(await labels(pos(text, 'message user', 8))) == {"system", "user", "assistant", "tool"}


async def test_definition_and_references(client: LanguageClient):
    uri, _ = await open_doc(client, METON)
    where = pos(METON, "use precise", 6)
    (definition,) = await client.text_document_definition_async(types.DefinitionParams(text_document=doc_id(uri), position=where))
    assert definition.uri == uri and definition.range.start == pos(METON, "profile precise", 8)
    refs = await client.text_document_references_async(
        types.ReferenceParams(text_document=doc_id(uri), position=where, context=types.ReferenceContext(include_declaration=False))
    )
    assert [r.range.start for r in refs] == [pos(METON, "default precise", 8), pos(METON, "extends precise", 8), pos(METON, "use precise", 4)]
    task_refs = await client.text_document_references_async(
        types.ReferenceParams(text_document=doc_id(uri), position=pos(METON, "is docs", 4), context=types.ReferenceContext(include_declaration=True))
    )
    assert [r.range.start for r in task_refs] == [pos(METON, "docs, creative"), pos(METON, "docs <\n"), pos(METON, "is docs", 3)]


async def test_rename(client: LanguageClient):
    uri, _ = await open_doc(client, METON)
    where = pos(METON, "extends base", 9)
    prepared = await client.text_document_prepare_rename_async(types.PrepareRenameParams(text_document=doc_id(uri), position=where))
    assert prepared.placeholder == "base"
    edit = await client.text_document_rename_async(types.RenameParams(text_document=doc_id(uri), position=where, new_name="common"))
    edits = edit.changes[uri]
    assert len(edits) == 5 and {e.new_text for e in edits} == {"common"}
    with pytest.raises(Exception, match="already exists"):
        await client.text_document_rename_async(types.RenameParams(text_document=doc_id(uri), position=where, new_name="precise"))
    with pytest.raises(Exception, match="not a valid profile name"):
        await client.text_document_rename_async(types.RenameParams(text_document=doc_id(uri), position=where, new_name="a b"))


async def test_document_symbols(client: LanguageClient):
    uri, _ = await open_doc(client, METON)
    symbols = await client.text_document_document_symbol_async(types.DocumentSymbolParams(text_document=doc_id(uri)))
    names = [s.name for s in symbols]
    assert names == ["ollama", "tasks", "default", "base", "precise", "creative", "balanced", "debugging", "explanation", "meton-custom"]
    model = symbols[-1]
    assert model.kind == types.SymbolKind.Module and model.detail == "from qwen2.5-coder:7b"
    assert [c.name for c in model.children][:3] == ["adapter", "use precise", "num_ctx"]


async def test_formatting(client: LanguageClient):
    from mpl.fmt import format_text

    messy = "profile p<temperature 0.5;top_k 40>\n"
    uri, _ = await open_doc(client, messy)
    options = types.FormattingOptions(tab_size=2, insert_spaces=True)
    (edit,) = await client.text_document_formatting_async(types.DocumentFormattingParams(text_document=doc_id(uri), options=options))
    assert edit.new_text == format_text(messy)
    assert edit.range == types.Range(start=types.Position(line=0, character=0), end=types.Position(line=1, character=0))
    change(client, uri, 2, edit.new_text)
    await published(client, uri)
    assert await client.text_document_formatting_async(types.DocumentFormattingParams(text_document=doc_id(uri), options=options)) in ([], (), None)

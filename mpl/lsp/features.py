"""LSP features over an analysed document: diagnostics, navigation, rename, symbols, formatting.

Consumes a `Document` (and offsets the server has already mapped); produces
lsprotocol values. This is the LSP renderer of `mpl.diagnostics`: positions
come from the spans, severities and codes from the diagnostics, unchanged.
Hover and completion live in `mpl.lsp.hover` and `mpl.lsp.completion`.
"""

from __future__ import annotations

import functools
import re

from lsprotocol import types

from mpl.compiler import lexicon, nodes
from mpl.diagnostics import Diagnostic, Severity
from mpl.lsp.document import Document
from mpl.lsp.symbols import Occurrence

SOURCE = "mpl"
_SEVERITIES = {
    Severity.ERROR: types.DiagnosticSeverity.Error,
    Severity.WARNING: types.DiagnosticSeverity.Warning,
    Severity.INFO: types.DiagnosticSeverity.Hint,  # notes: shown in the editor, kept out of the problems list
}
# Codes whose span marks something without effect (shown faded) or removed from Ollama (struck through).
_UNNECESSARY = frozenset({"MPL211"})
_DEPRECATED = frozenset({"MPL401", "MPL403", "MPL405"})
NAME = re.compile(lexicon.NAME)


class FeatureError(Exception):
    """A request that cannot be served, with a message for the user (a rename to a taken name)."""


# -- diagnostics --------------------------------------------------------------------


def lsp_diagnostics(doc: Document, docs_url: str | None = None) -> list[types.Diagnostic]:
    """The document's diagnostics for `textDocument/publishDiagnostics`."""
    return [lsp_diagnostic(doc, diag, docs_url) for diag in doc.diagnostics]


class ConvertedDiagnostics:
    """The LSP form of the diagnostics last published for one document, re-used while unchanged.

    An edit moves the spans of every diagnostic after it, but most keep their
    line and column (typing within a line moves no line). A diagnostic's LSP
    form depends only on its code, severity, message, help, docs address and
    positions (its own and its related spans'), so those are the key; an
    unchanged diagnostic costs its positions and a look-up instead of a dozen
    lsprotocol objects. Only the last round's forms are kept.
    """

    def __init__(self) -> None:
        self._last: dict[tuple, types.Diagnostic] = {}

    def convert(self, doc: Document, docs_url: str | None = None) -> list[types.Diagnostic]:
        """What `lsp_diagnostics` returns, re-using the forms of the previous call's equal diagnostics."""
        last, now = self._last, dict[tuple, types.Diagnostic]()
        out = []
        where = doc.positions.line_character
        for diag in doc.diagnostics:
            span = diag.span
            key = (
                diag.code, diag.severity, diag.message, diag.help, docs_url,
                (where(span.start), where(span.end)) if span is not None else None,
                tuple((rel.message, where(rel.span.start), where(rel.span.end)) for rel in diag.related),
            )
            converted = last.get(key) or now.get(key)
            if converted is None:
                converted = lsp_diagnostic(doc, diag, docs_url)
            now[key] = converted
            out.append(converted)
        self._last = now
        return out


def lsp_diagnostic(doc: Document, diag: Diagnostic, docs_url: str | None = None) -> types.Diagnostic:
    """One diagnostic: the help line follows the message; related spans become related information.

    `codeDescription` links the code's documentation only under a configured `docs-url`.
    """
    from mpl.diagnostics.render import help_uri

    message = diag.message if not diag.help else f"{diag.message}\nhelp: {diag.help}"
    tags = []
    if diag.code in _UNNECESSARY:
        tags.append(types.DiagnosticTag.Unnecessary)
    if diag.code in _DEPRECATED:
        tags.append(types.DiagnosticTag.Deprecated)
    related = [
        types.DiagnosticRelatedInformation(
            location=types.Location(uri=doc.uri, range=doc.positions.range(rel.span)), message=rel.message
        )
        for rel in diag.related
    ]
    return types.Diagnostic(
        range=doc.positions.range(diag.span),
        message=message,
        severity=_SEVERITIES[diag.severity],
        code=diag.code,
        code_description=types.CodeDescription(href=uri) if (uri := help_uri(diag.code, docs_url)) else None,
        source=SOURCE,
        tags=tags or None,
        related_information=related or None,
    )


# -- navigation ----------------------------------------------------------------------


def _location(doc: Document, occurrence: Occurrence) -> types.Location:
    return types.Location(uri=doc.uri, range=doc.positions.range(occurrence.span))


def definition(doc: Document, offset: int) -> list[types.Location]:
    """Where the profile, task or model under the cursor is declared."""
    occurrence = doc.index.at(offset)
    if occurrence is None:
        return []
    return [_location(doc, o) for o in doc.index.declarations(occurrence.kind, occurrence.name)]


def references(doc: Document, offset: int, include_declaration: bool) -> list[types.Location]:
    """Every place the profile, task or model under the cursor is written."""
    occurrence = doc.index.at(offset)
    if occurrence is None:
        return []
    found = doc.index.find(occurrence.kind, occurrence.name)
    return [_location(doc, o) for o in found if include_declaration or not o.is_declaration]


def highlights(doc: Document, offset: int) -> list[types.DocumentHighlight]:
    """The occurrences of the symbol under the cursor: declarations as writes, the rest as reads."""
    occurrence = doc.index.at(offset)
    if occurrence is None:
        return []
    return [
        types.DocumentHighlight(
            range=doc.positions.range(o.span),
            kind=types.DocumentHighlightKind.Write if o.is_declaration else types.DocumentHighlightKind.Read,
        )
        for o in doc.index.find(occurrence.kind, occurrence.name)
    ]


# -- rename ---------------------------------------------------------------------------


@functools.cache
def reserved_words() -> frozenset[str]:
    """The grammar's keywords, which cannot name a profile or task."""
    return lexicon.KEYWORDS


def prepare_rename(doc: Document, offset: int) -> types.PrepareRenamePlaceholder | None:
    """The name a rename at the cursor would change; only profiles and tasks can be renamed."""
    occurrence = doc.index.at(offset)
    if occurrence is None:
        return None
    if occurrence.kind == "model":
        raise FeatureError("mpl renames profiles and tasks; a model's name is also its name in Ollama")
    return types.PrepareRenamePlaceholder(range=doc.positions.range(occurrence.span), placeholder=occurrence.name)


def rename(doc: Document, offset: int, new_name: str) -> types.WorkspaceEdit | None:
    """Rename the profile or task under the cursor everywhere in the file.

    Raises `FeatureError` for a new name that is not an identifier, is a
    keyword, or already names a profile (or task) of the file.
    """
    occurrence = doc.index.at(offset)
    if occurrence is None:
        return None
    prepare_rename(doc, offset)
    kind = occurrence.kind
    if not NAME.fullmatch(new_name):
        raise FeatureError(f"`{new_name}` is not a valid {kind} name: use letters, digits, `_` and `-`, not starting with a digit or `-`")
    if new_name in reserved_words():
        raise FeatureError(f"`{new_name}` is a keyword of the language and cannot name a {kind}")
    if new_name != occurrence.name and doc.index.declarations(kind, new_name):
        raise FeatureError(f"a {kind} named `{new_name}` already exists in this file")
    edits = [
        types.TextEdit(range=doc.positions.range(o.span), new_text=new_name)
        for o in doc.index.find(kind, occurrence.name)
    ]
    return types.WorkspaceEdit(changes={doc.uri: edits})


# -- document symbols -------------------------------------------------------------------


def document_symbols(doc: Document) -> list[types.DocumentSymbol]:
    """The outline: declarations, with the parameters and blocks inside them."""
    symbols = []
    for decl in doc.file.decls:
        match decl:
            case nodes.OllamaDecl(version=version):
                symbols.append(_symbol(doc, "ollama", types.SymbolKind.Constant, decl, version, version.value))
            case nodes.TasksDecl(names=names):
                children = [_symbol(doc, n.value, types.SymbolKind.EnumMember, n, n) for n in names]
                symbols.append(_symbol(doc, "tasks", types.SymbolKind.Enum, decl, decl, children=children))
            case nodes.DefaultDecl(name=name):
                symbols.append(_symbol(doc, "default", types.SymbolKind.Constant, decl, name, name.value))
            case nodes.ProfileDecl():
                detail = " ".join(
                    part for part in (
                        f"extends {decl.parent.value}" if decl.parent else "",
                        "for " + ", ".join(n.value for n in decl.tasks) if decl.tasks else "",
                    ) if part
                )
                children = _block_symbols(doc, decl.block)
                symbols.append(_symbol(doc, decl.name.value, types.SymbolKind.Class, decl, decl.name, detail, children))
            case nodes.ModelDecl():
                children = _block_symbols(doc, decl.block) if decl.block else []
                detail = f"from {decl.source.value}"
                symbols.append(_symbol(doc, decl.name.value, types.SymbolKind.Module, decl, decl.name, detail, children))
    return symbols


def _block_symbols(doc: Document, block: nodes.Block) -> list[types.DocumentSymbol]:
    out = []
    for stmt in block.stmts:
        match stmt:
            case nodes.Param(name=name, value=value):
                shown = doc.source.slice(value.span)
                shown = shown if len(shown) <= 40 else shown[:39] + "…"
                out.append(_symbol(doc, name.value, types.SymbolKind.Property, stmt, name, shown.replace("\n", " ")))
            case nodes.When(tasks=tasks, form=form, block=inner):
                listed = tasks[0].value if form == "is" else "[" + ", ".join(n.value for n in tasks) + "]"
                label = f"when task {form} {listed}"
                out.append(_symbol(doc, label, types.SymbolKind.Namespace, stmt, stmt, None, _block_symbols(doc, inner)))
            case nodes.UseStmt(profile=profile, task=task):
                label = f"use {profile.value}" + (f" for {task.value}" if task else "")
                out.append(_symbol(doc, label, types.SymbolKind.Interface, stmt, profile))
            case nodes.AdapterStmt(path=adapter):
                out.append(_symbol(doc, "adapter", types.SymbolKind.File, stmt, adapter, adapter.value))
            case nodes.TextStmt(keyword=keyword, text=text):
                first = text.value.strip().splitlines()[0] if text.value.strip() else ""
                out.append(_symbol(doc, keyword, types.SymbolKind.String, stmt, stmt, first[:40]))
            case nodes.MessageStmt(role=role):
                out.append(_symbol(doc, f"message {role.value}", types.SymbolKind.String, stmt, role))
    return out


def _symbol(
    doc: Document,
    name: str,
    kind: types.SymbolKind,
    whole: nodes.Node,
    selection: nodes.Node,
    detail: str | None = None,
    children: list[types.DocumentSymbol] | None = None,
) -> types.DocumentSymbol:
    return types.DocumentSymbol(
        name=name or "?",
        kind=kind,
        range=doc.positions.range(whole.span),
        selection_range=doc.positions.range(selection.span),
        detail=detail or None,
        children=children or None,
    )


# -- formatting ----------------------------------------------------------------------


def formatting(doc: Document) -> list[types.TextEdit]:
    """`mpl fmt` as one edit of the whole document; none when unchanged or on a syntax error."""
    try:
        from mpl.fmt import format_text
    except ImportError:  # pragma: no cover - the formatter ships with mpl
        return []
    formatted = format_text(doc.text, doc.source.path)
    if formatted is None or formatted == doc.text:
        return []
    return [types.TextEdit(range=doc.positions.full_range(), new_text=formatted)]

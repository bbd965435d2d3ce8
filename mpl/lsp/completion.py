"""Completion: parameter names, profile, task and model names, roles, keywords and values.

Consumes the document text (possibly half-typed) and the last good analysis;
produces `CompletionItem`s for what `mpl.lsp.context` says the cursor wants.
Names come from the tree of the last analysis, so they stay available while
the current line does not parse.
"""

from __future__ import annotations

from lsprotocol import types

from mpl.catalog import MESSAGE_ROLES, ValueType, Version, catalog
from mpl.lsp.context import CompletionContext, completion_context
from mpl.lsp.document import Document
from mpl.lsp.hover import parameter_markdown, versions_line
from mpl.lsp.positions import PositionMap

_KEYWORD_DOCS = {
    "ollama": 'The Ollama version to check against: `ollama "0.12"`',
    "tasks": "Declare the task vocabulary: `tasks general, debug`",
    "default": "The profile used when no task matches: `default NAME`",
    "profile": "A named set of parameters: `profile NAME [extends P] [for TASKS] < … >`",
    "model": 'A Modelfile: `model NAME from "base" < … >`',
    "extends": "Inherit another profile's values",
    "for": "Route tasks to this profile",
    "from": "The base: a registry name, a GGUF path, or another model of this file",
    "unset": "Remove inherited values: `unset name, …`",
    "when": "Values for some tasks: `when task is T < … >` or `when task in [A, B] < … >`",
    "task": "`when task is T` or `when task in [A, B]`",
    "is": "One task: `when task is T < … >`",
    "in": "Several tasks: `when task in [A, B] < … >`",
    "adapter": 'A GGUF LoRA adapter: `adapter "./lora.gguf"`',
    "use": "Bake a profile's resolved parameters: `use PROFILE [for TASK]`",
    "system": 'The system prompt: `system """…"""`',
    "template": "The prompt template (Go template syntax)",
    "message": 'A message of the conversation history: `message user "…"`',
    "license": "License text of the model",
    "requires": 'The minimum Ollama version the model needs: `requires "0.6.0"`',
}


def completion(doc: Document, offset: int, current: PositionMap | None = None) -> types.CompletionList:
    """Completion items at an offset of the current text.

    `current` maps the text as the editor has it now, when the last analysis
    (`doc`, whose names are offered) lags behind it.
    """
    current = current or doc.positions
    ctx = completion_context(current.source.text, offset)
    items: list[types.CompletionItem] = []
    if ctx.empty:
        return types.CompletionList(is_incomplete=False, items=items)
    target = doc.target if doc.analysis.program is not None else None
    for category in ctx.names:
        if category == "parameter":
            items.extend(_parameters(target))
        elif category == "role":
            items.extend(_simple(role, types.CompletionItemKind.EnumMember, doc) for role, doc in MESSAGE_ROLES.items())
        else:
            items.extend(_names(doc, ctx, category))
    items.extend(_simple(word, types.CompletionItemKind.Keyword, _KEYWORD_DOCS.get(word, "")) for word in ctx.keywords)
    if ctx.value_of is not None:
        items.extend(_values(ctx.value_of, target))
    # Replace the word typed so far: names may hold `-`, which editors do not count as part of a word.
    typed = types.Range(start=current.position(ctx.start), end=current.position(offset))
    for item in items:
        item.text_edit = types.TextEdit(range=typed, new_text=item.label)
    return types.CompletionList(is_incomplete=False, items=items)


def _parameters(target: Version | None) -> list[types.CompletionItem]:
    items = []
    for spec in catalog().options.values():
        known = target is None or spec.known_in(target)
        detail = spec.type.value + ("" if spec.domain is None else f" {spec.domain.describe()}")
        if not known:
            detail += f" · {versions_line(spec)}"
        items.append(
            types.CompletionItem(
                label=spec.name,
                kind=types.CompletionItemKind.Property,
                detail=detail,
                documentation=types.MarkupContent(
                    kind=types.MarkupKind.Markdown, value=parameter_markdown(spec, target) if target else spec.description
                ),
                tags=None if known else [types.CompletionItemTag.Deprecated],
                sort_text=("0" if known else "1") + spec.name,
            )
        )
    return items


def _names(doc: Document, ctx: CompletionContext, category: str) -> list[types.CompletionItem]:
    program = doc.analysis.program
    items = []
    for name in doc.index.names(category):  # type: ignore[arg-type]
        if name in ctx.exclude:
            continue
        detail = ""
        kind = types.CompletionItemKind.Class
        if category == "profile" and program is not None and name in program.profiles:
            detail = program.profiles[name].description or ""
        elif category == "task":
            kind = types.CompletionItemKind.EnumMember
            routed = program.routes.get(name) if program is not None else None
            detail = f"→ profile {routed}" if routed else ""
        elif category == "model":
            kind = types.CompletionItemKind.Module
        items.append(types.CompletionItem(label=name, kind=kind, detail=detail or None))
    return items


def _values(name: str, target: Version | None) -> list[types.CompletionItem]:
    spec = catalog().option(name)
    if spec is None:
        return []
    if spec.type is ValueType.BOOL:
        return [_simple(word, types.CompletionItemKind.Value, "") for word in ("true", "false")]
    items = [_simple(value, types.CompletionItemKind.Value, meaning) for value, meaning in spec.special.items()]
    default = spec.default_in(target) if target is not None else None
    if default is not None and not isinstance(default, bool) and str(default) not in spec.special:
        items.append(_simple(str(default), types.CompletionItemKind.Value, f"the default in Ollama {target}"))
    return items


def _simple(label: str, kind: types.CompletionItemKind, doc: str) -> types.CompletionItem:
    return types.CompletionItem(label=label, kind=kind, detail=doc or None)

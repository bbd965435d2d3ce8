"""Language features of Modelfiles: completion of instructions, parameters, values and roles; hover.

Consumes a `Document` of kind `modelfile` (`mpl.lsp.document.analyze_document`: the
Modelfile reader's commands and the analysis of the model they make);
produces LSP items. Parameter hovers and their documentation are those of
`.mprof` files (`mpl.lsp.hover`).
"""

from __future__ import annotations

import re

from lsprotocol import types

from mpl.catalog import MESSAGE_ROLES, MODELFILE_ROLES, catalog
from mpl.compiler.modelfile import KEYWORDS
from mpl.lsp import hover as mprof_hover
from mpl.lsp.completion import _parameters, _simple, _values
from mpl.lsp.document import Document
from mpl.lsp.positions import PositionMap
from mpl.source import line_start

INSTRUCTION_DOCS = {
    "FROM": "The base: a model name (`FROM llama3.2`) or a GGUF file or folder (`FROM ./model.gguf`).",
    "PARAMETER": "A model parameter: `PARAMETER temperature 0.7`. Names are case-sensitive; `stop` lines accumulate.",
    "TEMPLATE": 'The prompt template, in Go template syntax: `TEMPLATE """{{ .Prompt }}"""`.',
    "SYSTEM": 'The system prompt: `SYSTEM """You are …"""`.',
    "ADAPTER": "A LoRA adapter (GGUF or safetensors) applied to the base: `ADAPTER ./lora.gguf`. The last one wins.",
    "LICENSE": "A license text; several LICENSE lines accumulate.",
    "MESSAGE": "A message of the conversation history: `MESSAGE user Is Toronto in Canada?` (roles `system`, `user`, `assistant`).",
    "REQUIRES": "The minimum Ollama version the model needs, as semver: `REQUIRES 0.14.0`.",
    "RENDERER": "The renderer that formats the prompt for the model (instead of TEMPLATE).",
    "PARSER": "The parser of the model's output (tool calls, thinking).",
    "DRAFT": "A draft model for speculative decoding.",
}

_LINE_START = re.compile(r"[ \t]*([A-Za-z]*)$")
_PARAMETER_NAME = re.compile(r"[ \t]*parameter[ \t]+([A-Za-z0-9_]*)$", re.I)
_PARAMETER_VALUE = re.compile(r"[ \t]*parameter[ \t]+([A-Za-z0-9_]+)[ \t]+(\S*)$", re.I)
_MESSAGE_ROLE = re.compile(r"[ \t]*message[ \t]+([A-Za-z]*)$", re.I)


def instruction_markdown(keyword: str, doc: Document) -> str:
    spec = catalog().instructions.get(keyword)
    text = f"**`{keyword}`** (Modelfile instruction)\n\n{INSTRUCTION_DOCS.get(keyword, '')}"
    if spec is not None:
        since = f"Since Ollama {spec.first}"
        if spec.last is not None:
            since += f"; refused since {spec.removed_in}"
        works = spec.works_in(doc.target) if doc.analysis.program is not None else True
        text += f"\n\n{since}." + ("" if works else f" **Not in Ollama {doc.target}.**")
    return text


def completion(doc: Document, offset: int, current: PositionMap | None = None) -> types.CompletionList:
    """Completion at an offset of a Modelfile's current text."""
    current = current or doc.positions
    text = current.source.text
    prefix = text[line_start(text, offset):offset]
    target = doc.target if doc.analysis.program is not None else None
    items: list[types.CompletionItem] = []
    start = offset
    if match := _PARAMETER_VALUE.match(prefix):
        items = _values(match.group(1), target)
        start = offset - len(match.group(2))
    elif match := _PARAMETER_NAME.match(prefix):
        items = _parameters(target)
        start = offset - len(match.group(1))
    elif match := _MESSAGE_ROLE.match(prefix):
        items = [_simple(role, types.CompletionItemKind.EnumMember, MESSAGE_ROLES[role]) for role in MODELFILE_ROLES]
        start = offset - len(match.group(1))
    elif (match := _LINE_START.match(prefix)) and not prefix.lstrip(" \t").startswith("#"):
        for keyword in KEYWORDS:
            spec = catalog().instructions.get(keyword)
            known = spec is None or target is None or spec.works_in(target)
            item = types.CompletionItem(
                label=keyword, kind=types.CompletionItemKind.Keyword, detail=INSTRUCTION_DOCS[keyword],
                tags=None if known else [types.CompletionItemTag.Deprecated], sort_text=("0" if known else "1") + keyword,
            )
            items.append(item)
        start = offset - len(match.group(1))
    typed = types.Range(start=current.position(start), end=current.position(offset))
    for item in items:
        item.text_edit = types.TextEdit(range=typed, new_text=item.label)
    return types.CompletionList(is_incomplete=False, items=items)


def hover(doc: Document, offset: int) -> types.Hover | None:
    """Hover on an instruction keyword, or on a parameter name (as in `.mprof` files)."""
    modelfile = doc.modelfile
    if modelfile is not None:
        for command in modelfile.commands:
            span = command.keyword_span
            if span.start <= offset <= span.end:
                return types.Hover(
                    contents=types.MarkupContent(kind=types.MarkupKind.Markdown, value=instruction_markdown(command.keyword, doc)),
                    range=doc.positions.range(span),
                )
    if doc.analysis.program is None:
        return None
    return mprof_hover.hover(doc, offset)

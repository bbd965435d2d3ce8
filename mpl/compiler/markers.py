"""MPL733: chat markers in a model's `template` or `stop` strings that its base's vocabulary lacks.

Consumes a `Model` of the resolved program whose base is a local GGUF (directly or
through `from` models of the file); reads the base's `tokenizer.ggml.tokens` with the
bounded, cached reader of `modelinfo`; reports one warning per marker the vocabulary
does not hold, at the marker's first place in the template and at each stop string
holding one. A marker the vocabulary lacks is tokenized as plain text: the model never
saw it as a turn boundary (a template's Llama-2 `[INST]` on a ChatML model), and a stop
string made of it fires only if the model happens to spell it out.

What counts as a marker:

* `<|…|>` (ChatML, Llama 3, Phi-3 and most special tokens): always a special token;
* `<s>`, `</s>`, `<bos>`, `<eos>`, `<start_of_turn>`, `<end_of_turn>` (SentencePiece
  and Gemma specials);
* `[INST]`, `[/INST]`, `[TOOL_CALLS]` and other `[UPPER_CASE]` words, only when the
  vocabulary has chat markers of another kind (`<|im_start|>`, …): Llama 2 and
  Mistral v0.1/v0.2 learned `[INST]` as plain text, and have no such tokens.
"""

from __future__ import annotations

import functools
import re
import typing as t

from mpl.compiler.modelinfo import base_source, gguf_vocabulary, local_gguf_base

if t.TYPE_CHECKING:
    from mpl.compiler.program import Model, Program
    from mpl.diagnostics import Sink
    from mpl.source import Span

_MARKER = re.compile(r"<\|[^|<>\s]{1,64}\|>|</?(?:s|bos|eos|start_of_turn|end_of_turn)>|\[/?[A-Z][A-Z_]{1,31}\]")


def check_markers(program: Program, model: Model, sink: Sink) -> None:
    """Report MPL733 for each marker in the model's own template and stop strings that its base's vocabulary lacks."""
    if model.template is None and "stop" not in model.params:
        return
    base = local_gguf_base(program, model)
    if base is None:
        return
    vocabulary = gguf_vocabulary(base)
    if not vocabulary:
        return
    brackets = _has_chat_markers(vocabulary)
    label = _label(program, model)
    text = program.source.text
    if model.template is not None:
        seen: set[str] = set()
        for marker in _markers(model.template.value, vocabulary, brackets):
            if marker not in seen:
                seen.add(marker)
                _report(sink, _find(text, model.template.value_span, marker), marker, "the template", label, model.name)
    stop = model.params.get("stop")
    if stop is not None and isinstance(stop.value, (list, tuple)):
        for index, value in enumerate(stop.value):
            if not isinstance(value, str):
                continue
            span = stop.elements[index] if index < len(stop.elements) else stop.value_span
            for marker in dict.fromkeys(_markers(value, vocabulary, brackets)):
                _report(sink, _find(text, span, marker), marker, f"stop string {_show(value)}", label, model.name)


def _markers(text: str, vocabulary: frozenset[str], brackets: bool) -> t.Iterator[str]:
    for match in _MARKER.finditer(text):
        marker = match.group()
        if marker in vocabulary or (marker.startswith("[") and not brackets):
            continue
        yield marker


@functools.lru_cache(maxsize=16)
def _has_chat_markers(vocabulary: frozenset[str]) -> bool:
    """Whether the vocabulary has turn markers of its own (so an `[INST]` it lacks is foreign to it)."""
    return any(token.startswith("<|") or token == "<start_of_turn>" for token in vocabulary if len(token) < 40)


def _report(sink: Sink, span: Span, marker: str, where: str, base: str, model: str) -> None:
    sink.report(
        "MPL733", span, f"`{marker}` in {where} is not a token of the base `{base}`: the model reads it as plain text",
        help="use the base's own chat markers (`mpl init --template fine-tuned --base BASE.gguf` writes them), or remove it",
        marker=marker, model=model,
    )


def _find(text: str, span: Span, marker: str) -> Span:
    """The marker's place in the source, when the literal holds it as written; else the literal."""
    from mpl.source import Span as _Span

    at = text.find(marker, span.start, span.end)
    return _Span(at, at + len(marker)) if at >= 0 else span


def _label(program: Program, model: Model) -> str:
    source = base_source(program, model)
    return source.value if source is not None else model.source.value


def _show(value: str) -> str:
    return '"' + value.encode("unicode_escape").decode("ascii").replace('"', '\\"') + '"'


__all__ = ["check_markers"]

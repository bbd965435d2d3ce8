"""Chat templates: a conversation rendered as the model reads it, as Hugging Face's `apply_chat_template` does.

`load_template(base=GGUF)` reads the template a GGUF carries (`tokenizer.chat_template`)
and its `bos_token`/`eos_token` (`tokenizer.ggml.bos_token_id`/`eos_token_id` indexing
`tokenizer.ggml.tokens`) with mpl's own bounded header reader; `load_template(family=NAME)`
takes one of `FAMILIES`, each a real model's template text kept beside this file with its
source, stop strings and special tokens. `ChatTemplate.render` renders in the environment
transformers builds in `chat_template_utils._compile_jinja_template`: jinja2's
`ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)` with the `loopcontrols`
extension and a `{% generation %}` tag that renders its body, the `tojson` filter with
transformers' defaults (`ensure_ascii=False`, keys unsorted), and the `raise_exception` and
`strftime_now` globals; the variables are `messages`, `tools`, `documents` (None),
`add_generation_prompt` and the special tokens. Every failure is a `ChatTemplateError` whose
message says what went wrong, never a traceback.

jinja2 is imported when a template is compiled, so importing this package costs nothing.
"""

from __future__ import annotations

import datetime as _dt
import json
import typing as t
from importlib import resources
from pathlib import Path

import msgspec

if t.TYPE_CHECKING:
    import jinja2

__all__ = ["FAMILIES", "ChatTemplate", "ChatTemplateError", "Family", "family_template", "load_template"]

MAX_TEMPLATE_CHARS = 1 << 20  # real templates are a few KiB (the largest known, ~30 KiB)


class ChatTemplateError(Exception):
    """A template that cannot be had or rendered; the message says why (for a diagnostic)."""


class Family(msgspec.Struct, frozen=True):
    """A named chat format: a real model's template, where it was taken from, and its tokens."""

    name: str
    model: str  # the model whose template this is
    source: str  # where the text was read
    bos_token: str | None
    eos_token: str
    stop: tuple[str, ...]  # Ollama's stop parameters for the format (its template/*.json)
    ollama_template: str  # file name of the Go template Ollama ships for the format (template/*.gotmpl)

    def text(self) -> str:
        """The Jinja chat template text."""
        return _data(f"{self.name}.jinja")

    def go_template(self) -> str:
        """The Go template Ollama uses for this format (what a Modelfile's TEMPLATE holds)."""
        return _data(self.ollama_template)


FAMILIES: dict[str, Family] = {
    "chatml": Family(
        "chatml", "Qwen/Qwen2.5-7B-Instruct",
        "tokenizer_config.json `chat_template`, as kept in llama.cpp tests/chat/templates/Qwen-Qwen2.5-7B-Instruct.jinja",
        None, "<|im_end|>", ("<|im_start|>", "<|im_end|>"), "chatml.gotmpl",
    ),
    "llama3": Family(
        "llama3", "meta-llama/Llama-3.2-3B-Instruct",
        "tokenizer_config.json `chat_template` (the Llama 3.1 Instruct format), as kept in llama.cpp "
        "models/templates/meta-llama-Llama-3.2-3B-Instruct.jinja",
        "<|begin_of_text|>", "<|eot_id|>", ("<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"), "llama3.gotmpl",
    ),
    "mistral": Family(
        "mistral", "mistralai/Mistral-7B-Instruct-v0.3",
        "tokenizer_config.json `chat_template` (with [AVAILABLE_TOOLS], [TOOL_CALLS] and [TOOL_RESULTS]), as reproduced "
        "in public code that renders it; its plain conversation gives Mistral's documented v0.3 format",
        "<s>", "</s>", ("[INST]", "[/INST]"), "mistral.gotmpl",
    ),
    "gemma": Family(
        "gemma", "google/gemma-2-2b-it",
        "tokenizer_config.json `chat_template` (the same text as gemma-7b-it's, kept in llama.cpp "
        "tests/chat/templates/google-gemma-7b-it.jinja); Gemma 3 it uses the same turn markers",
        "<bos>", "<eos>", ("<start_of_turn>", "<end_of_turn>"), "gemma.gotmpl",
    ),
    "phi3": Family(
        "phi3", "microsoft/Phi-3-mini-4k-instruct",
        "tokenizer_config.json `chat_template`, as kept in llama.cpp tests/chat/templates/microsoft-Phi-3-mini-4k-instruct.jinja",
        "<s>", "<|endoftext|>", ("<|end|>", "<|system|>", "<|user|>", "<|assistant|>"), "phi3.gotmpl",
    ),
}


def _data(name: str) -> str:
    return resources.files(__package__).joinpath("templates", name).read_text(encoding="utf-8")


class ChatTemplate:
    """A compiled chat template with its special tokens."""

    def __init__(self, text: str, *, bos_token: str | None = None, eos_token: str | None = None,
                 stop_tokens: tuple[str, ...] = (), origin: str = "the chat template") -> None:
        """Compile `text`; raises ChatTemplateError when it is too large or does not compile."""
        if len(text) > MAX_TEMPLATE_CHARS:
            raise ChatTemplateError(f"{origin} is {len(text)} characters long, more than mpl reads ({MAX_TEMPLATE_CHARS})")
        self.text = text
        self.bos_token = bos_token
        self.eos_token = eos_token
        self.stop_tokens = stop_tokens
        self.origin = origin
        import jinja2

        try:
            self._template = _environment().from_string(text)
        except jinja2.TemplateSyntaxError as exc:
            raise ChatTemplateError(f"{origin} does not compile: {exc.message} (template line {exc.lineno})") from None
        except (jinja2.TemplateError, RecursionError, MemoryError) as exc:
            raise ChatTemplateError(f"{origin} does not compile: {_reason(exc)}") from None

    def render(self, messages: list[dict[str, t.Any]], tools: list[dict[str, t.Any]] | None = None,
               add_generation_prompt: bool = False, *, now: _dt.datetime | None = None) -> str:
        """The conversation as the model reads it.

        `now` is what `strftime_now` formats (the current time when None), so that a
        template which writes today's date (Llama 3's) renders the same bytes twice.

        Raises:
            ChatTemplateError: `raise_exception()` was called, or rendering failed.
        """
        import jinja2

        special = {name: value for name, value in (("bos_token", self.bos_token), ("eos_token", self.eos_token))
                   if value is not None}

        def strftime_now(format: str) -> str:
            return (now or _dt.datetime.now()).strftime(format)

        try:
            return self._template.render(messages=messages, tools=tools, documents=None,
                                         add_generation_prompt=add_generation_prompt,
                                         strftime_now=strftime_now, **special)
        except _RaisedByTemplate as exc:
            raise ChatTemplateError(f"{self.origin} refuses the conversation: {exc}") from None
        except (jinja2.TemplateError, ArithmeticError, LookupError, TypeError, ValueError, AttributeError,
                RecursionError, MemoryError) as exc:
            raise ChatTemplateError(f"{self.origin} failed to render: {_reason(exc)}") from None


class _RaisedByTemplate(Exception):
    """`raise_exception(message)` in a template (transformers raises jinja2's TemplateError)."""


def _raise_exception(message: str) -> t.NoReturn:
    raise _RaisedByTemplate(message)


def _tojson(x: t.Any, ensure_ascii: bool = False, indent: int | None = None,
            separators: tuple[str, str] | None = None, sort_keys: bool = False) -> str:
    # transformers' filter: json.dumps with ensure_ascii off and keys in their order (jinja2's own sorts and escapes HTML).
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


_ENV: list[jinja2.Environment] = []


def _environment() -> jinja2.Environment:
    if not _ENV:
        from jinja2.ext import loopcontrols
        from jinja2.sandbox import ImmutableSandboxedEnvironment

        class Environment(ImmutableSandboxedEnvironment):
            """transformers' environment, with `*` and `**` bounded (a template from a file cannot ask for gigabytes)."""

            intercepted_binops = frozenset({"*", "**"})

            def call_binop(self, context: t.Any, operator: str, left: t.Any, right: t.Any) -> t.Any:
                _check_binop(operator, left, right)
                return super().call_binop(context, operator, left, right)

        env = Environment(trim_blocks=True, lstrip_blocks=True, extensions=[_generation_extension(), loopcontrols])
        env.filters["tojson"] = _tojson
        env.globals["raise_exception"] = _raise_exception
        _ENV.append(env)
    return _ENV[0]


MAX_PRODUCT = 1 << 24  # items or characters a `*` may make; real templates repeat a few spaces


def _check_binop(operator: str, left: t.Any, right: t.Any) -> None:
    from jinja2.exceptions import SecurityError

    if operator == "**":
        if isinstance(right, int) and abs(right) > 1024 and isinstance(left, int) and abs(left) > 1:
            raise SecurityError(f"the power {right} is larger than a template needs")
        return
    for seq, times in ((left, right), (right, left)):
        if isinstance(seq, (str, list, tuple)) and isinstance(times, int) and len(seq) * times > MAX_PRODUCT:
            raise SecurityError(f"repeating a sequence {times} times makes more than {MAX_PRODUCT} items")


def _generation_extension() -> type:
    """`{% generation %}…{% endgeneration %}` renders its body (transformers' AssistantTracker, without the mask)."""
    from jinja2 import nodes
    from jinja2.ext import Extension

    class Generation(Extension):
        tags = {"generation"}  # noqa: RUF012 - jinja2 declares it so

        def parse(self, parser: t.Any) -> nodes.Node:
            lineno = next(parser.stream).lineno
            body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
            return nodes.CallBlock(self.call_method("_body"), [], [], body).set_lineno(lineno)

        def _body(self, caller: t.Callable[[], str]) -> str:
            return caller()

    return Generation


def _reason(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def family_template(name: str) -> ChatTemplate:
    """The named family's template (raises ChatTemplateError for a name not in FAMILIES)."""
    family = FAMILIES.get(name)
    if family is None:
        raise ChatTemplateError(f"unknown template family `{name}`; known: {', '.join(FAMILIES)}")
    return ChatTemplate(family.text(), bos_token=family.bos_token, eos_token=family.eos_token,
                        stop_tokens=family.stop, origin=f"the `{name}` template ({family.model})")


def load_template(base: Path | None = None, family: str | None = None) -> ChatTemplate:
    """The chat template of a GGUF file (`base`) or of a named family; exactly one is given.

    Raises:
        ChatTemplateError: both or neither given; a missing, unreadable or non-GGUF file; a GGUF
            without `tokenizer.chat_template`; an unknown family; a template that does not compile.
    """
    if (base is None) == (family is None):
        raise ChatTemplateError("give either a base GGUF file or a template family, not both or neither")
    if family is not None:
        return family_template(family)
    assert base is not None
    return gguf_template(base)


def gguf_template(path: Path) -> ChatTemplate:
    """The template a GGUF carries, with its bos/eos token texts (ChatTemplateError when there is none)."""
    from mpl.compiler.modelinfo import TOKENS, NotGGUF, read_gguf_metadata

    try:
        meta = read_gguf_metadata(path, (TOKENS,))
    except OSError as exc:
        raise ChatTemplateError(f"cannot read `{path}`: {exc.strerror or exc}") from None
    except NotGGUF as exc:
        raise ChatTemplateError(f"`{path}` is not a GGUF file: {exc}") from None
    text = meta.get("tokenizer.chat_template")
    if not isinstance(text, str):
        raise ChatTemplateError(f"`{path}` has no `tokenizer.chat_template`; name a family with --template "
                                f"({', '.join(FAMILIES)})")
    tokens = meta.get(TOKENS)
    bos, eos = (_token(tokens, meta.get(f"tokenizer.ggml.{name}_token_id")) for name in ("bos", "eos"))
    stop = tuple(token for token in (eos,) if token is not None)
    return ChatTemplate(text, bos_token=bos, eos_token=eos, stop_tokens=stop,
                        origin=f"the chat template of `{path}`")


def _token(tokens: t.Any, index: t.Any) -> str | None:
    if not isinstance(tokens, tuple) or not isinstance(index, int) or isinstance(index, bool):
        return None
    return tokens[index] if 0 <= index < len(tokens) else None

"""`mpl init --template fine-tuned`: a starter `.mprof` for a model over a LoRA adapter.

The model is built `from` the base the adapter was trained on (a local GGUF, or an Ollama
library name), with the base family's Ollama TEMPLATE and stop strings, so that the
fine-tuned model is prompted in the format its training data was rendered in. The family
is read from a GGUF base's vocabulary (its chat tokens) or named with `--family`.
"""

from __future__ import annotations

import os
from pathlib import Path

from mpl.chat import FAMILIES, ChatTemplateError, Family

# The Ollama library model of each family, for a starter without a local base.
LIBRARY_BASES = {"chatml": "qwen2.5:7b", "llama3": "llama3.2:3b", "mistral": "mistral:7b", "gemma": "gemma2:2b", "phi3": "phi3:mini"}

# Tokens that tell a vocabulary's chat format, in the order they are tried.
_FAMILY_TOKENS = (("<|im_start|>", "chatml"), ("<|start_header_id|>", "llama3"), ("<start_of_turn>", "gemma"),
                  ("<|assistant|>", "phi3"), ("[INST]", "mistral"))


def detect_family(path: Path) -> str | None:
    """The family whose chat tokens a GGUF's vocabulary holds (None when none does, or there is no vocabulary)."""
    from mpl.compiler.modelinfo import NotGGUF, gguf_vocabulary, read_header

    try:
        read_header(path)
    except OSError as exc:
        raise ChatTemplateError(f"cannot read `{path}`: {exc.strerror or exc}") from None
    except NotGGUF as exc:
        raise ChatTemplateError(f"`{path}` is not a GGUF file: {exc}") from None
    vocabulary = gguf_vocabulary(path) or frozenset()
    return next((family for token, family in _FAMILY_TOKENS if token in vocabulary), None)


def fine_tuned_starter(folder: Path, *, family: str | None, base: str | None, adapter: Path | None,
                       name: str = "tuned") -> str:
    """The text of the starter; ChatTemplateError when the base or adapter cannot be used or the family not told."""
    from mpl.compiler.parse import quote_string

    base_text, base_path = _base(folder, base)
    if base_path is not None:
        found = detect_family(base_path)
        if family is None:
            family = found
        elif found is not None and found != family:
            raise ChatTemplateError(f"`{base}` has {found} chat tokens, not {family}'s; drop --family or pass --family {found}")
    if family is None:
        raise ChatTemplateError(f"cannot tell the chat format of `{base}`: pass --family ({', '.join(FAMILIES)})"
                                if base else f"name the base's chat format with --family ({', '.join(FAMILIES)}) or give --base BASE.gguf")
    spec = FAMILIES.get(family)
    if spec is None:
        raise ChatTemplateError(f"unknown template family `{family}`; known: {', '.join(FAMILIES)}")
    if base_text is None:
        base_text = LIBRARY_BASES[family]
    if adapter is not None and not adapter.is_file():
        raise ChatTemplateError(f"adapter `{adapter}` is not a file")
    stops = ", ".join(quote_string(stop) for stop in spec.stop)
    fields = {"family": family, "model": spec.model, "name": quote_string(name) if not name.isidentifier() else name,
              "base": quote_string(base_text), "stops": stops, "template": quote_string(spec.go_template(), triple=True),
              "render": _render_hint(spec, base_path)}
    if adapter is None:
        return (_HEAD + _ONE_MODEL).format(**fields)
    # Two models: the base as it is, and the tuned one over it, differing only by the adapter,
    # so that `mpl build tuned` puts both arms of the comparison (`mpl eval`) on the server.
    return (_HEAD + _TWO_MODELS).format(**fields, adapter=quote_string(_relative(folder, adapter)))


def _base(folder: Path, base: str | None) -> tuple[str | None, Path | None]:
    """The `from` text and, for a local file, its path."""
    if base is None:
        return None, None
    path = Path(base)
    if path.is_file() or base.endswith(".gguf") or os.sep in base:
        if not path.is_file():
            raise ChatTemplateError(f"base `{base}` is not a file")
        return _relative(folder, path), path
    return base, None


def _relative(folder: Path, path: Path) -> str:
    try:
        text = os.path.relpath(path.resolve(), folder.resolve())
    except ValueError:  # another drive on Windows
        return str(path.resolve())
    return text if text.startswith("..") else f"./{text}"


def _render_hint(spec: Family, base_path: Path | None) -> str:
    if base_path is not None:
        return f"--base {base_path}"
    return f"--template {spec.name}"


_HEAD = '''\
# A model over a fine-tuned LoRA adapter: `mpl check` checks it, `mpl build` creates it on Ollama.
# docs/fine-tuning.md walks through the rest: `mpl data` for the training set, LoRA training
# (PEFT or unsloth), then llama.cpp's convert_lora_to_gguf.py for the adapter GGUF.
#
# Chat format: {family} (the template of {model}). Train on data rendered in the
# same format (`mpl data ... --format text {render}`), and train the adapter on
# these very base weights: Ollama loads it over `from` as is.

ollama "0.12"  # the Ollama version you run: parameters are checked against it
'''

# The base family's settings, shared by both starters.
_SETTINGS = '''\
  # The base family's prompt format (Ollama's own template for it) and its turn markers as stops.
  template {template}
  stop [{stops}]
  num_ctx 8192         # set, not left to the default, which moved between Ollama releases
  repeat_penalty 1.0   # likewise (1.1 before Ollama 0.17.5)
>
'''

_ONE_MODEL = '''
model {name} from {base} <
  "{family} base with a fine-tuned LoRA adapter"
  # adapter "adapter.gguf"  # the LoRA GGUF from convert_lora_to_gguf.py: uncomment and point at it
''' + _SETTINGS

_TWO_MODELS = '''
# The base as it is: the other arm of `mpl eval`, so that the comparison measures the adapter alone.
model base from {base} <
  "{family} base, without the adapter"
''' + _SETTINGS + '''
# The tuned model: the base (its template, stops and parameters) with the adapter over it.
model {name} from base <
  "{family} base with a fine-tuned LoRA adapter"
  adapter {adapter}
>
'''

"""Check-time checks of a model's local files: GGUF headers of `from` files and adapters.

Consumes a `Model` of the resolved program; reports to the sink what `ollama
create` would refuse or silently get wrong, before anything is compiled or
sent: a file that is not a GGUF (MPL605), an adapter that is not a LoRA adapter
(MPL606), an adapter whose architecture differs from a local GGUF base's
(MPL607). Only headers are read, by the bounded reader of `modelinfo` (no numpy,
no tensor data), and only regular files are opened, so a FIFO or `/dev/zero`
gets a diagnostic, not a hang. A base known only from the server (a registry
name) is compared by `mpl build`, which asks the server.
"""

from __future__ import annotations

import os
import typing as t

from mpl.compiler.modelinfo import GGUFHeader, NotGGUF, model_info, read_header

if t.TYPE_CHECKING:
    from mpl.compiler.program import Model, Program
    from mpl.diagnostics import Sink


def check_model_files(program: Program, model: Model, sink: Sink) -> None:
    """Report MPL605/MPL606/MPL607 for a model's `from` GGUF file and its adapter."""
    source = model.source
    if source.kind == "path" and source.path is not None and _exists(source.path) and not os.path.isdir(source.path):
        # A folder is a safetensors model for Ollama; a file must be a GGUF.
        try:
            read_header(source.path)
        except (NotGGUF, OSError) as exc:
            sink.report("MPL605", source.span, f"model file `{source.value}` is not a GGUF file: {_reason(exc)}",
                        help="Ollama would answer `supplied file was not in GGUF format` after the upload", model=model.name)
    adapter = model.adapter
    if adapter is None or not _exists(adapter.path):
        return  # MPL307 says it is missing
    try:
        header = read_header(adapter.path)
    except (NotGGUF, OSError) as exc:
        sink.report("MPL605", adapter.value_span, f"adapter `{adapter.value}` is not a GGUF file: {_reason(exc)}",
                    help="Ollama accepts LoRA adapters as GGUF files only", model=model.name)
        return
    adapter_kind(header, adapter.value, adapter.value_span, model.name, sink)
    base = local_base_architecture(program, model)
    if base is not None:
        architecture_mismatch(header, base, adapter.value, adapter.value_span, model.name, _base_label(program, model), sink)


def adapter_kind(header: GGUFHeader, value: str, span: t.Any, model: str, sink: Sink) -> None:
    """MPL606 when the header does not say a LoRA adapter."""
    if header.general_type != "adapter":
        sink.report(
            "MPL606", span, f"adapter `{value}` has general.type {_quoted(header.general_type)}, not \"adapter\"",
            help="Ollama would silently store it as a second model layer; pass a LoRA adapter GGUF", model=model,
        )
    elif header.adapter_type != "lora":
        sink.report(
            "MPL606", span, f"adapter `{value}` has adapter.type {_quoted(header.adapter_type)}, not \"lora\"",
            help="llama.cpp loads only LoRA adapters (`expect adapter.type to be 'lora'`)", model=model,
        )


def architecture_mismatch(header: GGUFHeader, base: str, value: str, span: t.Any, model: str, base_name: str, sink: Sink) -> None:
    """MPL607 when the adapter's architecture is not its base's."""
    if header.architecture == base:
        return
    sink.report(
        "MPL607", span,
        f"adapter `{value}` is for architecture {_quoted(header.architecture)}, but its base `{base_name}` is \"{base}\"",
        help="Ollama accepts this at create and fails at load (`model arch and LoRA arch mismatch`); use an adapter trained on this base",
        adapter=header.architecture, base=base, model=model,
    )


def local_base_architecture(program: Program, model: Model) -> str | None:
    """The architecture in the header of the local GGUF the model is built on (through `from` models), if any."""
    info = model_info(program, model)
    return info.architecture if info is not None and info.known_from == "gguf" else None


def _base_label(program: Program, model: Model) -> str:
    dep = program.model(model.source.value) if model.source.kind == "model" else None
    return dep.name if dep is not None else model.source.value


def _exists(path: t.Any) -> bool:
    try:
        os.stat(path)
    except (OSError, ValueError):
        return False
    return True


def _reason(exc: Exception) -> str:
    return (exc.strerror or str(exc)) if isinstance(exc, OSError) else str(exc)


def _quoted(value: str | None) -> str:
    return f'"{value}"' if value is not None else "(missing)"


__all__ = ["adapter_kind", "architecture_mismatch", "check_model_files", "local_base_architecture"]

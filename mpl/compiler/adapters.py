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
from pathlib import Path

from mpl.compiler.modelinfo import GGUFHeader, NotGGUF, model_info, read_header

if t.TYPE_CHECKING:
    from mpl.compiler.program import Model, Program
    from mpl.diagnostics import Sink


def check_model_files(program: Program, model: Model, sink: Sink) -> None:
    """Report MPL605/MPL606/MPL607 for a model's `from` GGUF file and its adapter."""
    source = model.source
    if source.kind == "path" and source.path is not None and _exists(source.path):
        if os.path.isdir(source.path):  # a safetensors model for Ollama, or a folder of GGUFs
            try:
                folder_files(source.path)
            except FolderRefused as exc:
                sink.report("MPL605", source.span, f"model folder `{source.value}` {exc.what}: ollama create says `{exc.ollama}`",
                            help=_FOLDER_HELP, model=model.name)
        else:
            try:
                read_header(source.path)
            except (NotGGUF, OSError) as exc:
                sink.report("MPL605", source.span, f"model file `{source.value}` is not a GGUF file: {_reason(exc)}",
                            help="Ollama would answer `supplied file was not in GGUF format` after the upload", model=model.name)
    adapter = model.adapter
    if adapter is None or not _exists(adapter.path):
        return  # MPL307 says it is missing
    path = adapter.path
    if os.path.isdir(path):
        found = _adapter_folder(program, model, sink)
        if found is None:
            return
        path = Path(found)
    try:
        header = read_header(path)
    except (NotGGUF, OSError) as exc:
        sink.report("MPL605", adapter.value_span, f"adapter `{adapter.value}` is not a GGUF file: {_reason(exc)}",
                    help="Ollama accepts LoRA adapters as GGUF files only", model=model.name)
        return
    adapter_kind(header, adapter.value, adapter.value_span, model.name, sink)
    base = local_base_architecture(program, model)
    if base is not None:
        architecture_mismatch(header, base, adapter.value, adapter.value_span, model.name, _base_label(program, model), sink)


# -- folders, as the Ollama CLI expands them (parser/parser.go `filesForModel`) ------------

_FOLDER_HELP = ("Ollama takes from a folder `model*.safetensors` or `consolidated*.safetensors` (with their .json files), "
                "else `*.gguf` files; a PEFT `adapter_model.safetensors` is not among them: convert it with llama.cpp's "
                "`convert_lora_to_gguf.py` and give the GGUF file's path")
# Base architectures whose safetensors adapters Ollama converts (convert/convert.go `ConvertAdapter`).
SAFETENSORS_ADAPTER_ARCHITECTURES = ("llama", "gemma2")
_BINARY = frozenset([*range(0x09), 0x0B, *range(0x0E, 0x1B), *range(0x1C, 0x20)])


class FolderRefused(Exception):
    """A folder the Ollama CLI or server refuses: `what` in mpl's words, `ollama` in Ollama's."""

    def __init__(self, what: str, ollama: str) -> None:
        super().__init__(ollama)
        self.what, self.ollama = what, ollama


def _content_type(path: str) -> str:
    """Go's `http.DetectContentType` of a file's first 512 bytes, for the kinds `filesForModel` tells apart."""
    with open(path, "rb") as f:
        head = f.read(512)
    if head.startswith(b"PK\x03\x04"):
        return "application/zip"
    return "application/octet-stream" if any(b in _BINARY for b in head) else "text/plain"


def _glob(folder: str, pattern: str, content_type: str = "") -> list[str]:
    """`filepath.Glob` of `filesForModel`, each match of the wrong content type an error (Go's `**` is `*`)."""
    import glob as globbing

    matches = sorted(globbing.glob(os.path.join(globbing.escape(folder), pattern.replace("**", "*"))))
    for match in matches:
        found = _content_type(match)
        if content_type and found != content_type:
            raise FolderRefused(f"holds `{os.path.relpath(match, folder)}`, which is not {content_type}",
                                f"invalid content type: expected {found} for {match}")
    return matches


def folder_files(folder: str | os.PathLike[str]) -> list[str]:
    """The files the Ollama CLI sends for a FROM or ADAPTER folder (`filesForModel`), or `FolderRefused`."""
    root = os.fspath(folder)

    def first(pattern: str, content_type: str = "") -> list[str]:
        try:
            return _glob(root, pattern, content_type)
        except FolderRefused:
            return []  # Ollama drops the error of these globs and tries the next kind

    files = first("model*.safetensors")
    if files:
        files += _glob(root, "*/model*.safetensors")
    else:
        files = (first("consolidated*.safetensors") or first("pytorch_model*.bin", "application/zip")
                 or first("consolidated*.pth", "application/zip") or first("*.gguf", "application/octet-stream")
                 or first("*.bin", "application/octet-stream"))
    if not files:
        raise FolderRefused("holds no model file Ollama takes from a folder", "no Modelfile or safetensors files found")
    files += _glob(root, "*.json", "text/plain") + _glob(root, "**/*.json", "text/plain")
    files += _glob(root, "chat_template.jinja", "text/plain")
    files += first("tokenizer.model", "application/octet-stream") or first("**/tokenizer.model", "text/plain")
    return files


def sent_files(path: Path) -> list[Path]:
    """The files Ollama's CLI sends for a FROM or ADAPTER path: the file, or what it takes from a folder."""
    if not os.path.isdir(path):
        return [path]
    try:
        return [Path(f) for f in folder_files(path)]
    except (FolderRefused, OSError):
        return [path]  # the checker reported it (MPL605): nothing is built


def _is_gguf(path: str) -> bool:
    with open(path, "rb") as f:
        return f.read(4) == b"GGUF"


def _adapter_folder(program: Program, model: Model, sink: Sink) -> str | None:
    """Judge an adapter folder as Ollama does; the one GGUF it gives, whose header is then checked (else None)."""
    adapter = model.adapter
    assert adapter is not None

    def refuse(what: str, ollama: str, help: str = _FOLDER_HELP) -> None:
        sink.report("MPL605", adapter.value_span, f"adapter folder `{adapter.value}` {what}: ollama create says `{ollama}`",
                    help=help, model=model.name)

    try:
        files = folder_files(adapter.path)
    except (FolderRefused, OSError) as exc:
        refuse(exc.what, exc.ollama) if isinstance(exc, FolderRefused) else refuse("cannot be read", _reason(exc))
        return None
    names = [os.path.relpath(f, adapter.path) for f in files]
    if any(f.endswith(".safetensors") for f in files):  # the server converts these (server/create.go)
        if "adapter_config.json" not in names:
            refuse("holds safetensors without `adapter_config.json`", "open adapter_config.json: no such file or directory",
                   help="keep the adapter_config.json written with the adapter next to its safetensors")
            return None
        info = model_info(program, model)
        base = info.architecture if info is not None else None
        if base is not None and base not in SAFETENSORS_ADAPTER_ARCHITECTURES:
            refuse(f"holds a safetensors adapter, which Ollama converts only over a "
                   f"{' or '.join(SAFETENSORS_ADAPTER_ARCHITECTURES)} base, not \"{base}\"", "unsupported architecture",
                   help="convert the adapter to GGUF with llama.cpp's `convert_lora_to_gguf.py` and give that file's path")
        return None
    ggufs = [f for f in files if f.endswith(".gguf") or _is_gguf(f)]
    if not ggufs:
        refuse("holds no GGUF nor safetensors file", "unknown type")
        return None
    if len(files) > 1:
        refuse(f"gives Ollama {len(files)} files ({', '.join(names)}), and an adapter is one GGUF file",
               "only one adapter is currently supported", help=f"give the path of the adapter's GGUF file (`{names[0]}` in that folder)")
        return None
    return files[0]


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


__all__ = ["FolderRefused", "adapter_kind", "architecture_mismatch", "check_model_files", "folder_files", "local_base_architecture", "sent_files"]

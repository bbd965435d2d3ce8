"""What mpl can know about a model's weights: architecture, trained context, vision, MTP.

Consumes a `Model` of the resolved program; produces a `ModelInfo` for the lint
rules that need to know the model (rules 7, 15 and 19 of docs/diagnostics.md). Two sources:

* a local GGUF `from` path: its header is read with a small, bounded reader (no
  numpy, no tensor data; a few milliseconds even with a 150k-token vocabulary).
  This reader is the project's only GGUF reader: the checker's adapter checks
  and `mpl build` use `read_header` too;
* a registry name: only the architecture, and only for the families listed in
  `REGISTRY_ARCHITECTURES`, whose library models are known to use that
  architecture. Anything else is unknown, and rules that need it stay quiet.
"""

from __future__ import annotations

import functools
import mmap
import os
import stat
import struct
import typing as t
from pathlib import Path

import msgspec

if t.TYPE_CHECKING:
    from mpl.compiler.program import Model, ModelSource, Program


class ModelInfo(msgspec.Struct, frozen=True):
    """Facts about a model's weights; None where they are not known."""

    architecture: str | None
    context_length: int | None = None
    vision: bool | None = None
    mtp: bool | None = None
    known_from: t.Literal["gguf", "name"] = "name"


# Ollama library names (the part before `:`) whose architecture is clear from the
# name. Only "Ollama engine" families matter (`OllamaEngineRequired`); a name not listed
# is unknown, never guessed. Longest prefix wins only for exact family names.
REGISTRY_ARCHITECTURES: dict[str, str] = {
    "gemma3": "gemma3",
    "gemma3n": "gemma3n",
    "gemma4": "gemma4",
    "qwen3": "qwen3",
    "qwen3-coder": "qwen3moe",
    "qwen3-vl": "qwen3vl",
    "qwen3-next": "qwen3next",
    "qwen2.5vl": "qwen25vl",
    "gpt-oss": "gpt-oss",
    "llama4": "llama4",
    "mistral-small3.1": "mistral3",
    "mistral-small3.2": "mistral3",
    "deepseek-v2": "deepseek2",
    "deepseek-coder-v2": "deepseek2",
    "nomic-embed-text": "nomic-bert",
    "lfm2": "lfm2",
    # Families on llama.cpp's own runner, listed so that they are known (not guessed).
    "llama3": "llama",
    "llama3.1": "llama",
    "llama3.2": "llama",
    "qwen2.5": "qwen2",
    "qwen2.5-coder": "qwen2",
    "mistral": "llama",
}


def registry_architecture(name: str) -> str | None:
    """The architecture of a registry model, when its family name says so.

    >>> registry_architecture("gemma3:4b"), registry_architecture("library/qwen3:8b"), registry_architecture("x:1")
    ('gemma3', 'qwen3', None)
    """
    base = name.rsplit("/", 1)[-1].split(":", 1)[0].lower()
    return REGISTRY_ARCHITECTURES.get(base)


def model_info(program: Program, model: Model) -> ModelInfo | None:
    """What is known about a model's weights, following `from` another model in the file."""
    source = base_source(program, model)
    if source is None:
        return None
    if source.kind == "path":
        return gguf_info(str(source.path)) if source.path is not None else None
    arch = registry_architecture(source.value)
    return ModelInfo(arch) if arch else None


def base_source(program: Program, model: Model) -> ModelSource | None:
    """Where the weights come from (a path or a registry name), following `from` another model in the file."""
    seen: set[str] = set()
    current: Model | None = model
    while current is not None and current.name not in seen:
        seen.add(current.name)
        if current.source.kind != "model":
            return current.source
        current = _find(program, current.source.value)
    return None


def local_gguf_base(program: Program, model: Model) -> Path | None:
    """The local file the model is built on (through `from` models of the file), if any."""
    source = base_source(program, model)
    return source.path if source is not None and source.kind == "path" else None


def _find(program: Program, name: str) -> Model | None:
    return program.model(name)


# -- the bounded GGUF header reader --------------------------------------------------
#
# Layout (GGUF v2/v3): the magic, u32 version, u64 tensor_count, u64 kv_count, then
# kv_count times: string key, u32 type, value. A string is a u64 length and UTF-8
# bytes; an array is u32 item type, u64 count, items. The magic is b"GGUF" in a
# little-endian file and b"FUGG" in a big-endian one (`DetectContentType` in Ollama's `fs/ggml/ggml.go`).

_SCALARS = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}
_STRING, _ARRAY = 8, 9
_MAX_KV = 1 << 20
_MAX_ITEMS = 1 << 28
GGUF_MAGIC = {b"GGUF": "<", b"FUGG": ">"}


class NotGGUF(ValueError):
    """The file is not a GGUF file, or its header cannot be decoded; the message says which."""


class GGUFHeader(msgspec.Struct, frozen=True):
    """The header keys checks need (None when a key is absent or not a string)."""

    architecture: str | None
    general_type: str | None
    adapter_type: str | None


def read_header(path: Path) -> GGUFHeader:
    """The architecture and type keys of a GGUF file, without touching its tensor data.

    Raises:
        NotGGUF: Not a regular file, wrong magic, or a truncated or malformed header.
        OSError: The file cannot be opened.
    """
    meta = read_gguf_metadata(path)
    values = [meta.get(key) for key in ("general.architecture", "general.type", "adapter.type")]
    return GGUFHeader(*(value if isinstance(value, str) else None for value in values))


@functools.lru_cache(maxsize=64)
def gguf_info(path: str) -> ModelInfo | None:
    """Architecture, trained context, vision and MTP facts from a GGUF file's header.

    Returns None when the file is missing, unreadable or not a GGUF. Vision: any
    `clip.*` or `<arch>.vision.*` key. MTP: `<arch>.nextn_predict_layers` > 0.
    """
    try:
        meta = read_gguf_metadata(Path(path))
    except (OSError, ValueError):
        return None
    arch = meta.get("general.architecture")
    if not isinstance(arch, str):
        return None
    ctx = meta.get(f"{arch}.context_length")
    nextn = meta.get(f"{arch}.nextn_predict_layers")
    vision = any(k.startswith("clip.") or k.startswith(f"{arch}.vision.") for k in meta)
    return ModelInfo(
        architecture=arch,
        context_length=int(ctx) if isinstance(ctx, int) and not isinstance(ctx, bool) else None,
        vision=vision,
        mtp=isinstance(nextn, int) and nextn > 0,
        known_from="gguf",
    )


TOKENS = "tokenizer.ggml.tokens"  # the vocabulary: the text of each token id


def read_gguf_metadata(path: Path, arrays: tuple[str, ...] = ()) -> dict[str, t.Any]:
    """The scalar and string key/values of a GGUF header.

    Arrays are skipped, except the string arrays whose keys `arrays` names, read
    as tuples of str (`("tokenizer.ggml.tokens",)` gives the vocabulary). Only a
    regular file is opened (a FIFO would block, a device never ends), and only
    through a read-only memory map, so the cost is the header's pages; an array's
    strings are bounded by the file's size (each takes at least its 8-byte length).

    Raises:
        OSError: The file cannot be opened.
        NotGGUF: Anything that is not a well-formed GGUF header in a regular file.
    """
    identity = _identity(path)
    if arrays:  # large (a vocabulary): not kept in the header cache
        return _read(str(path), identity[0], arrays)
    return _read_cached(str(path), *identity)


def gguf_vocabulary(path: Path) -> frozenset[str] | None:
    """The token texts of a GGUF's `tokenizer.ggml.tokens`, or None when the file has none or cannot be read.

    Cached by the file's identity (size, mtime, inode) like the header itself.
    """
    try:
        identity = _identity(path)
    except (OSError, ValueError):
        return None
    return _vocabulary_cached(str(path), *identity)


@functools.lru_cache(maxsize=16)
def _vocabulary_cached(path: str, size: int, mtime: int, inode: int) -> frozenset[str] | None:
    try:
        tokens = _read(path, size, (TOKENS,)).get(TOKENS)
    except (OSError, ValueError):
        return None
    return frozenset(tokens) if isinstance(tokens, tuple) else None


def _identity(path: Path) -> tuple[int, int, int]:
    info = os.stat(path)
    if stat.S_ISDIR(info.st_mode):
        raise NotGGUF("it is a folder, not a file")
    if not stat.S_ISREG(info.st_mode):
        raise NotGGUF("it is not a regular file (a device, pipe or socket)")
    return info.st_size, info.st_mtime_ns, info.st_ino


@functools.lru_cache(maxsize=64)
def _read_cached(path: str, size: int, _mtime: int, _inode: int) -> dict[str, t.Any]:
    return _read(path, size, ())


def _read(path: str, size: int, arrays: tuple[str, ...]) -> dict[str, t.Any]:
    if size == 0:
        raise NotGGUF("it does not start with the GGUF magic (found an empty file)")
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):  # replaced since the stat
            raise NotGGUF("it is not a regular file (a device, pipe or socket)")
        with mmap.mmap(fd, 0, access=mmap.ACCESS_READ) as data:
            magic = bytes(data[:4])
            if magic not in GGUF_MAGIC:
                raise NotGGUF(f"it does not start with the GGUF magic (found {magic.hex()})")
            try:
                return _parse(data, GGUF_MAGIC[magic], arrays)
            except (struct.error, IndexError, UnicodeDecodeError, OverflowError, _Malformed) as exc:
                raise NotGGUF(f"its header cannot be read ({exc})") from None
    finally:
        os.close(fd)


class _Malformed(Exception):
    """The header is not a GGUF header mpl can read (never leaves this module)."""


def _parse(data: t.Any, order: str, arrays: tuple[str, ...] = ()) -> dict[str, t.Any]:
    (version,) = struct.unpack_from(order + "I", data, 4)
    if version not in (2, 3):
        raise _Malformed(f"GGUF version {version}")
    _tensors, count = struct.unpack_from(order + "QQ", data, 8)
    if count > _MAX_KV:
        raise _Malformed("too many keys")
    pos = 24
    size = len(data)
    meta: dict[str, t.Any] = {}
    for _ in range(count):
        key, pos = _string(data, pos, size, order)
        (kind,) = struct.unpack_from(order + "I", data, pos)
        pos += 4
        if kind == _ARRAY:
            if key in arrays:
                strings, pos = _string_array(data, pos, size, order)
                if strings is not None:
                    meta[key] = strings
            else:
                pos = _skip_array(data, pos, size, order)
            continue
        value, pos = _value(data, pos, size, kind, order)
        meta[key] = value
    return meta


def _string(data: t.Any, pos: int, size: int, order: str) -> tuple[str, int]:
    (length,) = struct.unpack_from(order + "Q", data, pos)
    pos += 8
    if pos + length > size:
        raise _Malformed("a string runs past the end of the file")
    return bytes(data[pos : pos + length]).decode("utf-8"), pos + length


def _value(data: t.Any, pos: int, size: int, kind: int, order: str) -> tuple[t.Any, int]:
    if kind == _STRING:
        return _string(data, pos, size, order)
    fmt = _SCALARS.get(kind)
    if fmt is None:
        raise _Malformed(f"unknown value type {kind}")
    (value,) = struct.unpack_from(order + fmt, data, pos)
    return value, pos + struct.calcsize(fmt)


def _string_array(data: t.Any, pos: int, size: int, order: str) -> tuple[tuple[str, ...] | None, int]:
    """An array's strings (None, and the array skipped, when its items are not strings)."""
    item, count = struct.unpack_from(order + "IQ", data, pos)
    if item != _STRING:
        return None, _skip_array(data, pos, size, order)
    pos += 12
    if count * 8 > size - pos:
        raise _Malformed("an array runs past the end of the file")
    strings = []
    for _ in range(count):  # a token that is not UTF-8 (a few converters write some) is kept, replaced
        (length,) = struct.unpack_from(order + "Q", data, pos)
        pos += 8
        if pos + length > size:
            raise _Malformed("a string runs past the end of the file")
        strings.append(bytes(data[pos : pos + length]).decode("utf-8", "replace"))
        pos += length
    return tuple(strings), pos


def _skip_array(data: t.Any, pos: int, size: int, order: str) -> int:
    item, count = struct.unpack_from(order + "IQ", data, pos)
    pos += 12
    if count > _MAX_ITEMS:
        raise _Malformed("an array is too long")
    if item == _STRING:
        if count * 8 > size - pos:
            raise _Malformed("an array runs past the end of the file")
        for _ in range(count):
            (length,) = struct.unpack_from(order + "Q", data, pos)
            pos += 8 + length
            if pos > size:
                raise _Malformed("an array runs past the end of the file")
        return pos
    if item == _ARRAY:
        raise _Malformed("nested arrays are not used in model headers")
    fmt = _SCALARS.get(item)
    if fmt is None:
        raise _Malformed(f"unknown array item type {item}")
    pos += struct.calcsize(fmt) * count
    if pos > size:
        raise _Malformed("an array runs past the end of the file")
    return pos

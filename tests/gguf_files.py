"""Write real GGUF files for tests: LoRA adapters, tiny base models and non-GGUF decoys.

Everything is written with the `gguf` package's `GGUFWriter`, so the files carry real
tensor data and pass Ollama's "tensor offset+size fits in the file" check
(ollama-facts.md §6.3). A call like `write_adapter(p)` gives this header (as
`gguf.GGUFReader` lists it; ~8 KiB file)::

    general.architecture = "qwen2"        general.type = "adapter"
    adapter.type = "lora"                 adapter.lora.alpha = 16.0 (f32)
    tensors: blk.0.attn_q.weight.lora_a  F32 [128, 8]   (numpy shape (8, 128))
             blk.0.attn_q.weight.lora_b  F32 [8, 128]

Pass `None` for any metadata argument to leave that key out of the file.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import gguf
import numpy as np

__all__ = [
    "write_adapter",
    "write_large_adapter",
    "write_model",
    "write_not_gguf",
]

_RANK = 8  # LoRA rank used for the 2-D tensor shapes below


def _lora_pair_shapes(n_elements: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Numpy shapes for a lora_a / lora_b pair of `n_elements` each."""
    if n_elements % _RANK == 0 and n_elements >= _RANK:
        return (_RANK, n_elements // _RANK), (n_elements // _RANK, _RANK)
    return (n_elements,), (n_elements,)


def _lora_tensor_names(count: int) -> list[str]:
    """`blk.0.attn_q.weight.lora_a`, `...lora_b`, `blk.0.attn_v.weight.lora_a`, ..."""
    projections = ("attn_q", "attn_v", "attn_k", "attn_output")
    names = []
    for i in range(count):
        pair, half = divmod(i, 2)
        block, proj = divmod(pair, len(projections))
        names.append(f"blk.{block}.{projections[proj]}.weight.lora_{'ab'[half]}")
    return names


def _add_kv(writer: gguf.GGUFWriter, key: str, value: Any) -> None:
    """Add one key/value with a GGUF type chosen from the Python type."""
    if value is None:
        return
    if isinstance(value, bool):
        writer.add_bool(key, value)
    elif isinstance(value, int):
        if 0 <= value < 2**32:
            writer.add_uint32(key, value)
        else:
            writer.add_int64(key, value)
    elif isinstance(value, float):
        writer.add_float32(key, value)
    elif isinstance(value, str):
        writer.add_key_value(key, value, gguf.GGUFValueType.STRING)
    elif isinstance(value, (list, tuple)):
        writer.add_array(key, list(value))
    else:
        raise TypeError(f"cannot store {type(value).__name__} under GGUF key {key!r}")


def _write(writer: gguf.GGUFWriter, path: Path) -> Path:
    writer.write_header_to_file(path)
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def write_adapter(
    path: str | os.PathLike[str],
    *,
    architecture: str | None = "qwen2",
    general_type: str | None = "adapter",
    adapter_type: str | None = "lora",
    alpha: float | None = 16.0,
    tensors: int = 2,
    tensor_bytes: int = 4096,
    name: str | None = None,
    seed: int = 0,
) -> Path:
    """Write a LoRA adapter GGUF and return its path.

    Args:
        path: file to write (parent folders are created).
        architecture: `general.architecture`; None leaves the key out.
        general_type: `general.type` ("adapter" makes Ollama treat it as an adapter).
        adapter_type: `adapter.type`.
        alpha: `adapter.lora.alpha`, stored as float32.
        tensors: number of float32 tensors (lora_a/lora_b pairs when even).
        tensor_bytes: bytes of data per tensor (a multiple of 4).
        name: optional `general.name`.
        seed: seed for the tensor values, so equal arguments give equal bytes.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = gguf.GGUFWriter(path, arch=architecture or "")
    if name is not None:
        writer.add_name(name)
    if general_type is not None:
        writer.add_key_value("general.type", general_type, gguf.GGUFValueType.STRING)
    if adapter_type is not None:
        writer.add_key_value("adapter.type", adapter_type, gguf.GGUFValueType.STRING)
    if alpha is not None:
        writer.add_float32("adapter.lora.alpha", float(alpha))
    rng = np.random.default_rng(seed)
    n_elements = max(1, tensor_bytes // 4)
    shape_a, shape_b = _lora_pair_shapes(n_elements)
    for i, tensor_name in enumerate(_lora_tensor_names(tensors)):
        shape = shape_a if i % 2 == 0 else shape_b
        writer.add_tensor(tensor_name, rng.standard_normal(shape).astype(np.float32))
    return _write(writer, path)


def write_model(
    path: str | os.PathLike[str],
    *,
    architecture: str | None = "qwen2",
    general_type: str | None = "model",
    context_length: int | None = 32768,
    embedding_length: int | None = 64,
    block_count: int | None = 2,
    file_type: int | None = 15,
    name: str | None = None,
    extra_kv: Mapping[str, Any] | None = None,
    tensors: int = 2,
    tensor_bytes: int = 1024,
    seed: int = 0,
) -> Path:
    """Write a tiny "base model" GGUF and return its path.

    Keys: `general.type`, `general.architecture`, `general.file_type` (15 = Q4_K_M, what
    Ollama shows as `quantization_level`; the tensors themselves are float32),
    `<arch>.context_length`, `<arch>.embedding_length`, `<arch>.block_count`, optional
    `general.name`, and `extra_kv` (int → uint32 or int64, float → float32, str, bool,
    list → array). Pass None to leave a key out.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = gguf.GGUFWriter(path, arch=architecture or "")
    arch = architecture or "unknown"
    if name is not None:
        writer.add_name(name)
    if general_type is not None:
        writer.add_key_value("general.type", general_type, gguf.GGUFValueType.STRING)
    _add_kv(writer, "general.file_type", file_type)
    _add_kv(writer, f"{arch}.context_length", context_length)
    _add_kv(writer, f"{arch}.embedding_length", embedding_length)
    _add_kv(writer, f"{arch}.block_count", block_count)
    for key, value in (extra_kv or {}).items():
        _add_kv(writer, key, value)
    rng = np.random.default_rng(seed)
    n_elements = max(1, tensor_bytes // 4)
    names = ["token_embd.weight"] + [f"blk.{i}.attn_q.weight" for i in range(max(0, tensors - 1))]
    for tensor_name in names[:tensors]:
        writer.add_tensor(tensor_name, rng.standard_normal(n_elements).astype(np.float32))
    return _write(writer, path)


def write_not_gguf(path: str | os.PathLike[str], content: bytes = b"PK\x03\x04 this is not a GGUF file\n") -> Path:
    """Write a file that does not start with the GGUF magic (a zip-looking header by default)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


def write_large_adapter(
    path: str | os.PathLike[str],
    size_bytes: int,
    *,
    architecture: str = "qwen2",
    max_tensor_bytes: int = 16 * 1024 * 1024,
) -> Path:
    """Write a valid LoRA adapter GGUF of about `size_bytes`, streaming the tensor data.

    Only the tensor infos are declared up front (`GGUFWriter.add_tensor_info`); the data is
    then written tensor by tensor from two reused arrays (`write_tensor_data`), so memory
    stays near `2 * max_tensor_bytes` even for a 1 GiB file. The size is exact to within
    a few KiB of header and alignment padding.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    n_tensors = max(2, math.ceil(size_bytes / max_tensor_bytes))
    n_tensors += n_tensors % 2  # whole lora_a/lora_b pairs
    n_elements = max(_RANK, (size_bytes // n_tensors) // 4 // _RANK * _RANK)
    shape_a, shape_b = _lora_pair_shapes(n_elements)
    # A cheap non-constant pattern; the values don't matter, only the bytes' presence.
    data_a = (np.arange(n_elements, dtype=np.float32) % 251 / 251).reshape(shape_a)
    data_b = np.ascontiguousarray(data_a.reshape(shape_b))

    writer = gguf.GGUFWriter(path, arch=architecture)
    writer.add_key_value("general.type", "adapter", gguf.GGUFValueType.STRING)
    writer.add_key_value("adapter.type", "lora", gguf.GGUFValueType.STRING)
    writer.add_float32("adapter.lora.alpha", 16.0)
    names = _lora_tensor_names(n_tensors)
    for i, tensor_name in enumerate(names):
        data = data_a if i % 2 == 0 else data_b
        writer.add_tensor_info(tensor_name, data.shape, data.dtype, data.nbytes)
    writer.write_header_to_file(path)
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
    for i in range(len(names)):
        writer.write_tensor_data(data_a if i % 2 == 0 else data_b)
    writer.close()
    return path

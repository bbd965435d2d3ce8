"""Write the example LoRA adapter `examples/adapters/meton-lora.gguf` (deterministic bytes).

Usage: python scripts/make_example_adapter.py [OUT]

The file is a small (~24 KiB) but valid GGUF LoRA adapter for architecture `qwen2`, the
architecture of `qwen2.5-coder:7b`. Its header, as `gguf.GGUFReader` lists it::

    general.architecture = "qwen2"   general.type = "adapter"   general.name = "meton-lora"
    general.file_type = 1 (F16)      adapter.type = "lora"      adapter.lora.alpha = 16.0
    blk.0.attn_q.weight.lora_a F16 [3584, 1]    blk.0.attn_q.weight.lora_b F16 [1, 3584]
    blk.0.attn_v.weight.lora_a F16 [3584, 1]    blk.0.attn_v.weight.lora_b F16 [1, 512]

Shapes follow qwen2.5-coder:7b (n_embd 3584, 4 KV heads x 128 = 512) at rank 1. The
values are seeded random numbers, so every run writes identical bytes. Ollama checks
none of this at create time (only that tensor data fits in the file); llama.cpp checks
type and architecture when the model is loaded. Imports only `gguf` and `numpy`.
"""

from __future__ import annotations

import sys
from pathlib import Path

import gguf
import numpy as np

DEFAULT_OUT = Path(__file__).resolve().parent.parent / "examples" / "adapters" / "meton-lora.gguf"

N_EMBD = 3584  # qwen2.5-coder:7b qwen2.embedding_length
N_EMBD_KV = 512  # 4 KV heads x 128 head dim
RANK = 1
SEED = 20240917


def write_example_adapter(out: Path) -> Path:
    """Write the adapter to `out` and return it."""
    rng = np.random.default_rng(SEED)
    out.parent.mkdir(parents=True, exist_ok=True)
    writer = gguf.GGUFWriter(out, arch="qwen2")
    writer.add_name("meton-lora")
    writer.add_type("adapter")
    writer.add_file_type(1)  # F16, as Ollama's own adapter converter writes
    writer.add_string("adapter.type", "lora")
    writer.add_float32("adapter.lora.alpha", 16.0)
    # numpy shape is (rows, cols); GGUF stores the dims reversed.
    tensors = {
        "blk.0.attn_q.weight.lora_a": (RANK, N_EMBD),
        "blk.0.attn_q.weight.lora_b": (N_EMBD, RANK),
        "blk.0.attn_v.weight.lora_a": (RANK, N_EMBD),
        "blk.0.attn_v.weight.lora_b": (N_EMBD_KV, RANK),
    }
    for name, shape in tensors.items():
        writer.add_tensor(name, (rng.standard_normal(shape) * 0.01).astype(np.float16))
    writer.write_header_to_file(out)
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return out


def main(argv: list[str]) -> int:
    if len(argv) > 2 or (len(argv) == 2 and argv[1] in ("-h", "--help")):
        print(__doc__.splitlines()[2], file=sys.stderr)
        return 2
    out = Path(argv[1]) if len(argv) == 2 else DEFAULT_OUT
    path = write_example_adapter(out)
    print(f"wrote {path} ({path.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))

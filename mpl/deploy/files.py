"""Local GGUF files: their blob digests (hashed in chunks) and their header metadata.

Consumes the paths of a model's `from` GGUF and its adapter; produces `Blob`s
(`sha256:<lowercase hex>`, as `CreateBlobHandler` in Ollama's `server/routes.go` checks) and `GGUFHeader`s read with
`gguf.GGUFReader`, which memory-maps the file: only the header pages are touched,
so a 1 GiB adapter costs no more memory than an 8 KiB one.
"""

from __future__ import annotations

import hashlib
import typing as t
from dataclasses import dataclass
from pathlib import Path

CHUNK = 4 * 1024 * 1024  # hashing and upload read size
GGUF_MAGIC = (b"GGUF", b"FUGG")  # little- or big-endian (`DetectContentType`, Ollama's `fs/ggml/ggml.go`)


@dataclass(frozen=True, slots=True)
class Blob:
    """A local file as Ollama will store it: its digest and size."""

    path: Path
    digest: str  # "sha256:" + 64 lowercase hex digits
    size: int

    @property
    def key(self) -> str:
        """The name the file is sent under in `files`/`adapters`: its base name (§1.10)."""
        return self.path.name


def hash_file(path: Path, progress: t.Callable[[int], None] | None = None) -> Blob:
    """Hash a file in fixed-size chunks read into one reused buffer.

    Args:
        path: The file.
        progress: Called with the number of bytes hashed after each chunk.

    Returns:
        The file's `Blob`.

    Raises:
        OSError: The file cannot be read.

    >>> import tempfile, os
    >>> with tempfile.NamedTemporaryFile(delete=False) as f:
    ...     _ = f.write(b"abc")
    >>> hash_file(Path(f.name)).digest
    'sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'
    >>> os.unlink(f.name)
    """
    sha = hashlib.sha256()
    buffer = bytearray(CHUNK)
    view = memoryview(buffer)
    size = 0
    with open(path, "rb", buffering=0) as f:
        while n := f.readinto(buffer):
            sha.update(view[:n])
            size += n
            if progress is not None:
                progress(n)
    return Blob(path, "sha256:" + sha.hexdigest(), size)


def read_chunks(path: Path, progress: t.Callable[[int], None] | None = None) -> t.Iterator[bytes]:
    """The file's bytes in `CHUNK`-sized pieces, for a streamed upload body."""
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            if progress is not None:
                progress(len(chunk))
            yield chunk


@dataclass(frozen=True, slots=True)
class GGUFHeader:
    """The header keys a build checks (None when a key is absent or not a string)."""

    architecture: str | None
    general_type: str | None
    adapter_type: str | None


class NotGGUF(Exception):
    """The file is not a GGUF file, or its header cannot be decoded; the message says which."""


def read_header(path: Path) -> GGUFHeader:
    """Read the metadata keys of a GGUF file without touching its tensor data.

    Raises:
        NotGGUF: The magic is wrong, or the header is truncated or malformed.
        OSError: The file cannot be opened.
    """
    with open(path, "rb") as f:
        magic = f.read(4)
    if magic not in GGUF_MAGIC:
        shown = magic.hex() if magic else "an empty file"
        raise NotGGUF(f"it does not start with the GGUF magic (found {shown})")
    import gguf  # heavy (numpy); only a build with GGUF files needs it

    try:
        reader = gguf.GGUFReader(path)
        fields = {key: reader.fields[key] for key in ("general.architecture", "general.type", "adapter.type") if key in reader.fields}
        values = {key: _string(field) for key, field in fields.items()}
    except Exception as exc:  # truncated, bad version, garbage lengths: gguf raises many kinds
        raise NotGGUF(f"its header cannot be read ({type(exc).__name__}: {exc})") from None
    finally:
        reader = None  # drop the memory map
    return GGUFHeader(values.get("general.architecture"), values.get("general.type"), values.get("adapter.type"))


def _string(field: t.Any) -> str | None:
    value = field.contents()
    return value if isinstance(value, str) else None

"""Local files as Ollama stores them: their blob digests, hashed in chunks.

Consumes the paths of a model's `from` GGUF and its adapter; produces `Blob`s
(`sha256:<lowercase hex>`, as `CreateBlobHandler` in Ollama's `server/routes.go` checks):
the create requests of the `ollama` target name them, and `mpl build` uploads them.
"""

from __future__ import annotations

import hashlib
import typing as t
from dataclasses import dataclass
from pathlib import Path

CHUNK = 4 * 1024 * 1024  # hashing and upload read size


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

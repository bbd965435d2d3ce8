"""All-or-nothing output: every file is written to a temporary name, then renamed.

If any write fails, the temporary files are removed and no output is replaced,
so a reader never sees a half-written file or a mix of old and new outputs.
"""

from __future__ import annotations

import os
import tempfile
import typing as t
from pathlib import Path

if t.TYPE_CHECKING:
    from mpl.targets.base import OutputFile


class OutputError(Exception):
    """An output could not be written (an I/O problem, exit code 2)."""


def write_all(out_dir: Path, files: t.Sequence[OutputFile]) -> list[Path]:
    """Write files under `out_dir` atomically; returns the paths written.

    >>> import tempfile, pathlib
    >>> from mpl.targets.base import OutputFile
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> [p.name for p in write_all(d, [OutputFile("a.txt", "hi\\n")])]
    ['a.txt']
    """
    staged: list[tuple[Path, Path]] = []
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        for item in files:
            final = out_dir / item.path
            final.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent)
            staged.append((Path(tmp), final))
            with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
                handle.write(item.content)
                handle.flush()
                os.fsync(handle.fileno())
                # mkstemp creates 0600; outputs get the mode any new file would get.
                os.chmod(tmp, _new_file_mode())
        for tmp, final in staged:
            os.replace(tmp, final)
    except OSError as exc:
        for tmp, _ in staged:
            try:
                tmp.unlink()
            except OSError:
                pass
        raise OutputError(f"cannot write to {exc.filename or out_dir}: {exc.strerror or exc}") from None
    return [final for _, final in staged]


def _new_file_mode() -> int:
    """0666 less the process umask, as `open()` would create a file."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask

"""All-or-nothing output: several files are replaced as one transaction.

`write_all` writes every new file to a temporary name first, keeps every file it
will replace under a second temporary name (a hard link, so the file itself never
leaves its place), then renames the new files over the old ones. A rename is
atomic, so a reader (or a process killed at any moment) sees each output either
as its previous complete content or as its new complete content. If a rename
fails, the renames already done are undone from the kept files, so the folder
is as it was. Temporaries are named `.NAME.mpl-XXXXXXXX.new` / `.old`; a later
run removes any left behind by a killed run.

Runs that write into the same folder take turns (`folder_lock`): a run holds an
exclusive lock on every folder it writes into from its first temporary to its
last rename, so it never removes another run's temporaries as stale, and a
folder always ends as one run's complete output.
"""

from __future__ import annotations

import errno
import os
import re
import secrets
import shutil
import stat
import sys
import typing as t
from pathlib import Path

if t.TYPE_CHECKING:
    from mpl.targets.base import OutputFile

#: The names of this module's temporaries (and only those: other files are never touched).
TEMPORARY = re.compile(r"^\..+\.mpl-[0-9a-f]{8}\.(?:new|old)$")


class OutputError(Exception):
    """An output could not be written (an I/O problem, exit code 2)."""


def temporary_name(final: Path, kind: t.Literal["new", "old"]) -> Path:
    """A fresh temporary beside `final`.

    >>> import re; bool(TEMPORARY.match(temporary_name(Path("out/a.json"), "new").name))
    True
    """
    return final.with_name(f".{final.name}.mpl-{secrets.token_hex(4)}.{kind}")


def remove_stale(folder: Path) -> list[Path]:
    """Remove temporaries of this module's naming left in `folder` by a killed run."""
    removed: list[Path] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        if TEMPORARY.match(entry.name) and entry.is_file(follow_symlinks=False):
            try:
                os.unlink(entry.path)
                removed.append(Path(entry.path))
            except OSError:
                pass
    return removed


class _Step:
    """One output of a transaction: its final path, its new temporary and the kept previous file."""

    __slots__ = ("final", "new", "old", "existed", "done")

    def __init__(self, final: Path) -> None:
        self.final = final
        self.new: Path | None = None
        self.old: Path | None = None
        self.existed = False
        self.done = False


def write_all(out_dir: Path, files: t.Sequence[OutputFile]) -> list[Path]:
    """Write files under `out_dir` as one transaction; returns the paths written.

    Raises:
        OutputError: Something is in the way or cannot be written; the message
            names the output (never a temporary), and no output was changed.

    >>> import tempfile, pathlib
    >>> from mpl.targets.base import OutputFile
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> [p.name for p in write_all(d, [OutputFile("a.txt", "hi\\n")])]
    ['a.txt']
    """
    steps = [_Step(out_dir / item.path) for item in files]
    folders = list(dict.fromkeys(step.final.parent for step in steps))
    current: Path = out_dir
    try:
        for folder in folders:
            current = folder
            folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot write {current}: {exc.strerror or exc}; no output was changed") from None
    with folder_lock(*folders):
        _transaction(steps, files, out_dir)
    return [step.final for step in steps]


def _transaction(steps: list[_Step], files: t.Sequence[OutputFile], out_dir: Path) -> None:
    """`write_all`'s work, with every folder it writes into locked."""
    current: Path = out_dir
    try:
        for folder in dict.fromkeys(step.final.parent for step in steps):
            current = folder
            remove_stale(folder)
        mode = _new_file_mode()
        for step in steps:
            current = step.final
            _check_in_the_way(step.final)
            step.new = temporary_name(step.final, "new")
        for step, item in zip(steps, files):
            current = step.final
            assert step.new is not None  # every temporary is named before any is written
            _write_new(step.new, item.content.encode("utf-8"), mode)
        for step in steps:
            current = step.final
            step.existed = os.path.lexists(step.final)
            if step.existed:
                step.old = temporary_name(step.final, "old")
                _keep(step.final, step.old)
        for step in steps:
            current = step.final
            assert step.new is not None
            os.replace(step.new, step.final)
            step.done = True
        _sync_folders({step.final.parent for step in steps})
    except (OSError, OutputError) as exc:
        _roll_back(steps)
        if isinstance(exc, OutputError):
            raise
        raise OutputError(f"cannot write {current}: {exc.strerror or exc}; no output was changed") from None
    except BaseException:  # KeyboardInterrupt: leave the folder as it was
        _roll_back(steps)
        raise
    for step in steps:
        if step.old is not None:
            _unlink(step.old)


def _check_in_the_way(final: Path) -> None:
    try:
        info = os.stat(final)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(info.st_mode):
        raise OutputError(f"cannot write {final}: a folder is in the way; no output was changed")
    if not stat.S_ISREG(info.st_mode):
        raise OutputError(f"cannot write {final}: it is not a regular file; no output was changed")


def _create(path: Path) -> int:
    """Create a temporary file that must not exist yet (never through a link); its descriptor."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    return os.open(path, flags, 0o600)


def _write_new(path: Path, data: bytes, mode: int) -> None:
    fd = _create(path)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
        os.chmod(path, mode)  # O_CREAT's mode went through the umask; give the mode a new file gets
    finally:
        os.close(fd)


def _keep(final: Path, old: Path) -> None:
    """Keep the previous file under `old` without moving it: a hard link, else a copy."""
    try:
        os.link(final, old, follow_symlinks=False)
    except OSError:
        shutil.copy2(final, old, follow_symlinks=False)


def _roll_back(steps: list[_Step]) -> None:
    for step in reversed(steps):
        if step.done:
            try:
                if step.old is not None:
                    os.replace(step.old, step.final)
                    step.old = None
                else:
                    os.unlink(step.final)
            except OSError:
                pass
        for path in (step.new, step.old):
            if path is not None:
                _unlink(path)


def _unlink(path: Path) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def _sync_folders(folders: t.Iterable[Path]) -> None:
    """Make the renames durable (best effort: not every system can open a folder)."""
    for folder in folders:
        try:
            fd = os.open(folder, os.O_RDONLY)
        except OSError:
            continue
        try:
            os.fsync(fd)
        except OSError:
            pass
        finally:
            os.close(fd)


def write_atomic(path: Path, data: bytes, *, mode: int | None = None, follow_links: bool = True) -> None:
    """Replace one file's content all at once (temporary file beside it, fsync, `os.replace`).

    With `follow_links`, a symbolic link the user named is followed, so the link
    stays and its target is rewritten. Without it (a backup, or any file mpl
    writes beside the user's), a link at `path` is replaced by the new file and
    whatever it pointed to is left alone, as a dangling link's target is never
    created. `mode` defaults to the file's own, or for a new file what `open()`
    would give. The temporary file is removed on any failure; the file is then as
    it was. The temporary is named as `write_all`'s are, so `remove_stale` finds
    one a killed run left.
    """
    final = Path(os.path.realpath(path)) if follow_links else Path(os.path.abspath(path))
    try:
        info: os.stat_result | None = os.stat(final, follow_symlinks=follow_links)
    except FileNotFoundError:
        info = None
    if follow_links and info is not None and not stat.S_ISREG(info.st_mode):
        # `-o /dev/null`, a FIFO, a folder: replacing it would put a file where the system keeps something else
        from mpl.source import file_kind

        raise OSError(errno.EEXIST, f"{file_kind(info.st_mode)} is in the way, not a regular file")
    if mode is None:
        mode = stat.S_IMODE(info.st_mode) if info is not None and stat.S_ISREG(info.st_mode) else _new_file_mode()
    tmp = temporary_name(final, "new")
    try:
        _write_new(tmp, data, mode)
        os.replace(tmp, final)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


#: How long a run waits for another run writing into the same folder before giving up.
LOCK_WAIT = 60.0


class FolderBusy(OutputError):
    """Another run kept a folder locked for longer than `LOCK_WAIT` seconds."""


class folder_lock:
    """An exclusive lock on folders, held by one run at a time (a context manager).

    The lock is `flock` on the folder itself, so no lock file is ever left in a
    user's folder, and the system releases it when the process dies, however it
    dies. Folders are locked in one order (their real paths, sorted), so two
    runs that lock overlapping sets never wait on each other in a circle. Where
    folders cannot be locked (no `fcntl`, or a filesystem without `flock`),
    writes go on unlocked, as before.

    >>> import tempfile
    >>> with folder_lock(Path(tempfile.mkdtemp())):
    ...     pass
    """

    def __init__(self, *folders: Path, wait: float | None = None) -> None:
        self.folders = sorted({os.path.realpath(f) for f in folders})
        self.wait = LOCK_WAIT if wait is None else wait
        self._fds: list[int] = []

    def __enter__(self) -> folder_lock:
        try:
            import fcntl
        except ImportError:  # pragma: no cover  (no flock on this system)
            return self
        import time

        try:
            for folder in self.folders:
                try:
                    fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0))
                except OSError:
                    continue  # not there (yet) or not readable: the writes themselves will say
                self._fds.append(fd)
                started = time.monotonic()
                told = False
                while True:
                    try:
                        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                        break
                    except BlockingIOError:
                        waited = time.monotonic() - started
                        if waited >= 1.0 and not told and self.wait > 1.0:
                            sys.stderr.write(f"mpl: waiting for another mpl run writing into {folder} "
                                             f"(at most {self.wait:g} s)\n")
                            sys.stderr.flush()
                            told = True
                        if waited >= self.wait:
                            raise FolderBusy(f"cannot write into {folder}: another mpl run has been writing "
                                             f"there for over {self.wait:g} s; no output was changed") from None
                        time.sleep(0.01)
                    except OSError:
                        break  # this filesystem cannot lock: go on as before
        except BaseException:
            self._release()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self._release()

    def _release(self) -> None:
        for fd in reversed(self._fds):
            os.close(fd)  # closing the folder releases its flock
        self._fds.clear()


def _new_file_mode() -> int:
    """0666 less the process umask, as `open()` would create a file."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


class StreamedOutputs:
    """Files written a piece at a time, then put in place together, all or nothing (a context manager).

    For outputs too large to hold in memory (`mpl data`): each file is written
    to a temporary beside its final name as the pieces come, then, when the
    `with` block ends without an exception, every temporary is renamed over its
    output as `write_all` does (the previous files kept until all renames are
    done, and put back if one fails). An exception in the block removes every
    temporary, and no output changes. The folders are locked for the whole run.

    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> with StreamedOutputs([d / "a.txt", d / "b.txt"]) as (a, b):
    ...     _ = a.write(b"one\\n"); _ = b.write(b"two\\n")
    >>> sorted(p.name for p in d.iterdir())
    ['a.txt', 'b.txt']
    """

    def __init__(self, paths: t.Sequence[Path]) -> None:
        self.steps = [_Step(Path(p)) for p in paths]
        self._lock: folder_lock | None = None
        self._handles: list[t.BinaryIO] = []

    def __enter__(self) -> list[t.BinaryIO]:
        folders = list(dict.fromkeys(step.final.parent for step in self.steps))
        current = self.steps[0].final if self.steps else Path(".")
        try:
            for folder in folders:
                current = folder
                folder.mkdir(parents=True, exist_ok=True)
            self._lock = folder_lock(*folders)
            self._lock.__enter__()
            for folder in folders:
                remove_stale(folder)
            for step in self.steps:
                current = step.final
                _check_in_the_way(step.final)
                step.new = temporary_name(step.final, "new")
                self._handles.append(os.fdopen(_create(step.new), "wb"))
        except (OSError, OutputError) as exc:
            self._abandon()
            if isinstance(exc, OutputError):
                raise
            raise OutputError(f"cannot write {current}: {exc.strerror or exc}; no output was changed") from None
        return list(self._handles)

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: object) -> None:
        if kind is not None:
            self._abandon()
            if isinstance(value, OSError) and self.steps:  # a write to a temporary failed (a full disk)
                raise OutputError(f"cannot write {self.steps[0].final}: {value.strerror or value}; "
                                  "no output was changed") from None
            return
        current = self.steps[0].final if self.steps else Path(".")
        try:
            mode = _new_file_mode()
            for step, handle in zip(self.steps, self._handles):
                current = step.final
                handle.flush()
                os.fsync(handle.fileno())
                handle.close()
                assert step.new is not None
                os.chmod(step.new, mode)
            for step in self.steps:
                current = step.final
                step.existed = os.path.lexists(step.final)
                if step.existed:
                    step.old = temporary_name(step.final, "old")
                    _keep(step.final, step.old)
            for step in self.steps:
                current = step.final
                assert step.new is not None
                os.replace(step.new, step.final)
                step.done = True
            _sync_folders({step.final.parent for step in self.steps})
        except BaseException as exc:
            self._abandon()
            if isinstance(exc, OSError):
                raise OutputError(f"cannot write {current}: {exc.strerror or exc}; no output was changed") from None
            raise
        for step in self.steps:
            if step.old is not None:
                _unlink(step.old)
        self._release()

    def _abandon(self) -> None:
        for handle in self._handles:
            try:
                handle.close()
            except OSError:
                pass
        _roll_back(self.steps)
        self._release()

    def _release(self) -> None:
        if self._lock is not None:
            self._lock.__exit__(None, None, None)
            self._lock = None


# -- rewriting a file of the user's in place ------------------------------------------


class Unchangeable(OutputError):
    """The file cannot be rewritten as asked (it is left as it was); the message is one line about it."""


def rewrite(path: Path, change: t.Callable[[bytes], bytes | None], *, backup: bool = True) -> bool:
    """Replace a file's content with `change(content)`, atomically; False when `change` returns None.

    The file's folder is locked from the read to the write (`folder_lock`), so two
    runs rewriting one file take turns and neither loses the other's change. The old
    content is kept as `PATH.bak` (`backup_path`) unless `backup` is False: one
    generation, an earlier backup replaced, and a link at `PATH.bak` replaced too,
    never followed. The new file keeps the old one's mode. Raises `Unchangeable`,
    `FolderBusy`, `OSError`, or what `change` raises; the file is then as it was.
    """
    from mpl.source import read_file

    real = Path(os.path.realpath(path))
    with folder_lock(real.parent):
        raw = read_file(real, whole=True)
        new = change(raw)
        if new is None:
            return False
        mode = real.stat().st_mode & 0o7777
        if backup:
            kept = backup_path(real)
            if os.path.isdir(kept) and not os.path.islink(kept):
                raise Unchangeable(f"cannot keep its previous content as {kept}: a folder is in the way "
                                   "(move it, or pass --no-backup)")
            write_atomic(kept, raw, mode=mode, follow_links=False)
        write_atomic(real, new, mode=mode)
    return True


def backup_path(real: Path) -> Path:
    """Where `rewrite` keeps the previous content: `NAME.bak` beside the file itself."""
    return real.with_name(real.name + ".bak")

"""What a build shows while it runs: a progress bar per file, a status line per model.

On a terminal this is a rich `Progress` (bytes, rate, time left); otherwise (a
pipe, a CI log, the test runner) it is plain lines, one per finished transfer and
one per change of a model's create status. Safe to call from several threads.
A status is the server's text: it is shown `visible` (escaped, cut), and the bars
read no markup.
"""

from __future__ import annotations

import threading
import time
import typing as t


def human_size(n: float) -> str:
    """Bytes in binary units.

    >>> human_size(23072), human_size(1 << 30), human_size(12)
    ('22.5 KiB', '1.0 GiB', '12 B')
    """
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError  # pragma: no cover


class Transfer:
    """One file being hashed or uploaded; `advance` is called per chunk."""

    def __init__(self, display: Display, verb: str, label: str, total: int) -> None:
        self._display = display
        self.verb = verb
        self.label = label
        self.total = total
        self.done = 0
        self.started = time.perf_counter()
        self._task = display._add_task(f"{verb} {label}", total)

    def advance(self, n: int) -> None:
        self.done += n
        if self._task is not None:
            self._display._progress.advance(self._task, n)

    def finish(self, note: str = "") -> None:
        seconds = max(time.perf_counter() - self.started, 1e-9)
        rate = human_size(self.done / seconds) + "/s"
        past = {"hashing": "hashed", "uploading": "uploaded"}.get(self.verb, self.verb)
        text = f"{past} {self.label}: {human_size(self.done)} in {seconds:.1f} s ({rate}){note}"
        if self._task is not None:
            self._display._progress.update(self._task, description=f"{past} {self.label}", completed=self.total)
        else:
            self._display.message(text)


class Display:
    """Progress output on `stream` (stderr in the CLI).

    Args:
        stream: Where to write.
        live: Rich progress bars; default: when `stream` is a terminal.
    """

    def __init__(self, stream: t.TextIO, *, live: bool | None = None) -> None:
        self.stream = stream
        self.live = stream.isatty() if live is None and hasattr(stream, "isatty") else bool(live)
        self._lock = threading.Lock()
        self._last: dict[str, str] = {}
        self._status_tasks: dict[str, t.Any] = {}
        self._progress: t.Any = None
        if self.live:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                DownloadColumn,
                Progress,
                SpinnerColumn,
                TextColumn,
                TimeRemainingColumn,
                TransferSpeedColumn,
            )

            self._progress = Progress(
                SpinnerColumn(), TextColumn("{task.description}", markup=False), BarColumn(), DownloadColumn(),
                TransferSpeedColumn(), TimeRemainingColumn(), console=Console(file=stream), transient=False,
            )

    def __enter__(self) -> Display:
        if self._progress is not None:
            self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()

    def transfer(self, verb: str, label: str, total: int) -> Transfer:
        """Start a bar for `verb` ("hashing", "uploading") of a file of `total` bytes."""
        return Transfer(self, verb, label, total)

    def status(self, model: str, line: t.Mapping[str, t.Any]) -> None:
        """A create progress line, e.g. `{"status": "pulling 8eeb52dfb3bb", "total": 1, "completed": 1}`."""
        from mpl.deploy.untrusted import visible

        done = line.get("status") == "success"
        text = visible(line.get("status", ""))
        with self._lock:
            changed = self._last.get(model) != text
            self._last[model] = text
        if self._progress is not None:
            task = self._status_tasks.get(model)
            if task is None:
                task = self._status_tasks[model] = self._progress.add_task(f"{model}: {text}", total=None)
            fields: dict[str, t.Any] = {"description": f"{model}: {text}"}
            total, completed = line.get("total"), line.get("completed") or 0
            if _count(total) and total and _count(completed):  # the server's numbers, used only when they are byte counts
                fields.update(total=total, completed=completed)
            if done:
                fields.update(total=1, completed=1)
            self._progress.update(task, **fields)
        elif changed:
            self.message(f"{model}: {text}")

    def message(self, text: str) -> None:
        """A line of its own, above the bars when they are live."""
        if self._progress is not None:
            self._progress.console.print(text, markup=False, highlight=False)
            return
        with self._lock:
            self.stream.write(text + "\n")
            self.stream.flush()

    def _add_task(self, description: str, total: int) -> t.Any:
        if self._progress is None:
            return None
        return self._progress.add_task(description, total=total)


def _count(value: t.Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 1 << 63

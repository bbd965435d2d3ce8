"""Running the case-runs: at most K at a time, each streamed through the `ollama` client.

Each run is one `/api/chat` request, streamed through the client `mpl build` uses
(`mpl.deploy.server.Server`: its transport bounds every line by `--timeout`, cuts
oversized and redirected answers), and must end within `--timeout` seconds in all.
Whatever goes wrong with a run (a missing model, an option the server refuses, a
timeout, an error in the middle of the stream, a broken connection) is that run's
`error`: one line, the other runs go on. `run_all` returns the records of the runs
that finished, in the suite's order, also after Ctrl-C (`Interrupted.records`).
"""

from __future__ import annotations

import threading
import time
import typing as t
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass

from mpl.eval.arms import Arm, Plan
from mpl.eval.cases import Case
from mpl.eval.checks import Verdict, failed, judge

if t.TYPE_CHECKING:
    from mpl.deploy.server import Server

#: The most characters of one answer kept; a longer one is cut and the run is an error.
MAX_OUTPUT = 1 << 22


@dataclass(frozen=True, slots=True)
class Job:
    """One case-run: a case, an arm, a repeat, the options it sends (or why it cannot be sent)."""

    index: int
    case: Case
    arm: Arm
    repeat: int
    options: dict[str, t.Any]
    refused: str | None = None  # an error known before sending (the arm's model is not on the server)


class Interrupted(Exception):
    """Ctrl-C: `records` are the runs that had finished."""

    def __init__(self, records: list[dict[str, t.Any]]) -> None:
        super().__init__("interrupted")
        self.records = records


def jobs_for(cases: t.Sequence[Case], arms: t.Sequence[Arm], plans: t.Mapping[tuple[str, str], Plan], repeat: int,
             missing: t.Mapping[str, str]) -> list[Job]:
    """Every run, repeat by repeat, so that an interrupted evaluation covers the cases evenly."""
    jobs: list[Job] = []
    for r in range(repeat):
        for case in cases:
            for arm in arms:
                plan = plans[arm.name, case.id]
                jobs.append(Job(len(jobs), case, arm, r, plan.for_repeat(r), missing.get(arm.name)))
    return jobs


def run_all(server: Server, jobs: t.Sequence[Job], *, concurrency: int, timeout: float,
            progress: t.Callable[[dict[str, t.Any]], None] | None = None) -> list[dict[str, t.Any]]:
    """Run every job, at most `concurrency` at a time; the records in the jobs' order."""
    done: dict[int, dict[str, t.Any]] = {}
    cancelled = threading.Event()
    pool = ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="mpl-eval")
    futures: dict[Future[dict[str, t.Any]], Job] = {}
    try:
        for job in jobs:
            futures[pool.submit(run_one, server, job, timeout, cancelled)] = job
        pending = set(futures)
        while pending:
            finished, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in finished:
                record = future.result()
                done[futures[future].index] = record
                if progress is not None:
                    progress(record)
    except KeyboardInterrupt:
        cancelled.set()
        pool.shutdown(wait=False, cancel_futures=True)
        for future, job in futures.items():  # runs that ended while the interrupt came in
            if future.done() and not future.cancelled() and job.index not in done and future.exception() is None:
                record = future.result()
                if record["error"] != "interrupted":
                    done[job.index] = record
        raise Interrupted([done[i] for i in sorted(done)]) from None
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    return [done[i] for i in sorted(done)]


def run_one(server: Server, job: Job, timeout: float, cancelled: threading.Event | None = None) -> dict[str, t.Any]:
    """One run's record: the answer, its verdict and timings, or the error that stopped it."""
    if job.refused is not None:
        return _record(job, None, failed(job.case), error=job.refused)
    doing = f"case `{job.case.id}` on arm `{job.arm.name}` (repeat {job.repeat})"
    parts: list[str] = []
    size = 0
    final: t.Any = None
    start = time.monotonic()
    try:
        stream = server.streaming.chat(job.arm.model, job.case.messages, stream=True, options=job.options)
        for part in stream:
            if cancelled is not None and cancelled.is_set():
                return _record(job, None, failed(job.case), error="interrupted")
            content = part.message.content or "" if part.message is not None else ""
            parts.append(content)
            size += len(content)
            if size > MAX_OUTPUT:
                raise _RunError(f"the answer is longer than {MAX_OUTPUT:,} characters; cut")
            if part.done:
                final = part
                break
            if time.monotonic() - start > timeout:
                raise _RunError(f"no complete answer within {timeout:g} s (see --timeout)")
    except _RunError as exc:
        return _record(job, None, failed(job.case), error=str(exc))
    except Exception as exc:  # noqa: BLE001 - every failure of a run is that run's error
        return _record(job, None, failed(job.case), error=_explain(server, doing, exc))
    latency = time.monotonic() - start
    if final is None:
        return _record(job, None, failed(job.case), error="the server ended the stream before `done`")
    output = "".join(parts)
    eval_count = final.eval_count if isinstance(final.eval_count, int) else None
    duration = final.eval_duration if isinstance(final.eval_duration, int) else None
    rate = eval_count / (duration / 1e9) if eval_count is not None and duration else None
    try:
        verdict = judge(job.case, output)
    except Exception as exc:  # noqa: BLE001 - a check that cannot run is this run's error, not the evaluation's end
        return _record(job, output, failed(job.case), error=f"the answer could not be judged: {type(exc).__name__}: {exc}"[:300],
                       latency=latency, rate=rate, eval_count=eval_count)
    return _record(job, output, verdict, latency=latency, rate=rate, eval_count=eval_count)


class _RunError(Exception):
    pass


def _explain(server: Server, doing: str, exc: BaseException) -> str:
    try:
        message = str(server.explain(doing, exc))
    except BaseException:  # noqa: BLE001 - a failure the explainer does not know: its type and text
        from mpl.deploy.untrusted import visible

        message = f"{doing}: {type(exc).__name__}: {visible(exc)}"
    prefix = f"{doing}: "
    return message.removeprefix(prefix)


def _record(job: Job, output: str | None, verdict: Verdict, *, error: str | None = None, latency: float | None = None,
            rate: float | None = None, eval_count: int | None = None) -> dict[str, t.Any]:
    """The run record, exactly as the statistics and the report read it."""
    return {
        "case": job.case.id, "arm": job.arm.name, "repeat": job.repeat, "task": job.case.task,
        "options": dict(job.options), "output": output, "passed": verdict.passed, "score": verdict.score,
        "similarity": verdict.similarity, "assertions": verdict.assertions, "latency_s": latency,
        "tokens_per_s": rate, "eval_count": eval_count, "error": error,
    }


class Progress:
    """A progress bar of the runs on a terminal; elsewhere a line at every tenth of them."""

    def __init__(self, stream: t.TextIO, total: int, *, live: bool | None = None) -> None:
        self.stream = stream
        self.total = total
        self.done = 0
        self.errors = 0
        self.started = time.monotonic()
        self._lock = threading.Lock()
        self._bar: t.Any = None
        self._task: t.Any = None
        live = stream.isatty() if live is None and hasattr(stream, "isatty") else bool(live)
        if live and total:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )
            from rich.progress import Progress as Bar

            self._bar = Bar(TextColumn("runs"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[errors]}"),
                            TimeElapsedColumn(), TimeRemainingColumn(), console=Console(file=stream), transient=True)
            self._task = self._bar.add_task("runs", total=total, errors="")

    def __enter__(self) -> t.Self:
        if self._bar is not None:
            self._bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()

    def __call__(self, record: dict[str, t.Any]) -> None:
        with self._lock:
            self.done += 1
            self.errors += record["error"] is not None
            if self._bar is not None:
                errors = f"{self.errors} errored" if self.errors else ""
                self._bar.update(self._task, completed=self.done, errors=errors)
                return
            if self.done * 10 // self.total != (self.done - 1) * 10 // self.total:  # each tenth of the runs
                seconds = time.monotonic() - self.started
                errors = f", {self.errors} errored" if self.errors else ""
                self.stream.write(f"mpl: {self.done}/{self.total} runs ({self.done * 100 // self.total}%{errors}) in {seconds:.1f} s\n")
                self.stream.flush()

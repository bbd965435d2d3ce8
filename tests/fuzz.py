"""Fuzzing: generated valid programs and mutated sources never make mpl raise or hang.

Two fuzzers share one verdict (`run_one`): a source read from disk is analysed
(check), every target is emitted when it has no errors (compile), and it is
formatted; each ends in diagnostics or success within `TIME_BOUND` seconds, and
nothing raises.

- `programs()`: a hypothesis strategy for valid programs built from the grammar's
  pieces (tasks, profiles with `extends`, `for` and `when task is`, models with
  `use`, settings, strings full of characters that need escapes). They must have
  no errors, and `mpl fmt` must keep their meaning: the formatted text resolves to
  the same settings and compiles to the same outputs.
- `mutants()`: the examples and the diagnostic fixtures, mutated: byte flips,
  truncation, huge numbers, deep nesting, long lines and strings, invalid UTF-8,
  NUL, a BOM, CR-only line breaks.

`tests/test_fuzz.py` runs a short budget with the suite; the long run is

    python -m tests.fuzz --minutes 10

which prints how many programs and mutants were run and what failed.
"""

from __future__ import annotations

import argparse
import random
import signal
import sys
import tempfile
import time
import traceback
import typing as t
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from mpl.compiler import analyze  # noqa: E402
from mpl.compiler.parse import quote_string  # noqa: E402
from mpl.fmt import format_text  # noqa: E402

#: Seconds one source may take from reading to formatting (the largest mutant takes well under 1 s).
TIME_BOUND = 10.0
TARGETS = ("options", "meton", "modelfile")


class TooSlow(Exception):
    pass


def _alarm(signum: int, frame: t.Any) -> None:
    raise TooSlow(f"no verdict within {TIME_BOUND:g} s")


def run_one(data: bytes, folder: Path) -> tuple[bool, t.Any]:
    """Check, compile and format one source (as bytes on disk); returns (has errors, what it means).

    Raises on any failure of mpl: an exception, a span outside the text, or no verdict in time.
    """
    path = folder / "fuzz.mprof"
    path.write_bytes(data)
    use_alarm = hasattr(signal, "SIGALRM") and _main_thread()
    if use_alarm:
        old = signal.signal(signal.SIGALRM, _alarm)
        signal.setitimer(signal.ITIMER_REAL, TIME_BOUND)
    try:
        analysis = analyze(path, base_dir=folder)
        text = analysis.source.text
        for diag in analysis.diagnostics:
            if diag.span is not None:
                assert 0 <= diag.span.start <= diag.span.end <= len(text), diag
        meaning = None
        if not analysis.has_errors and analysis.program is not None:
            meaning = _meaning(analysis.program, folder)
        format_text(text, str(path))
        return analysis.has_errors, meaning
    finally:
        if use_alarm:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old)


def _main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def _meaning(program: t.Any, folder: Path) -> t.Any:
    """What a program means: every resolved setting, and every target's output."""
    from mpl.targets import get_target

    resolved = {}
    for name in program.profiles:
        for task in (None, *program.profiles[name].tasks, *getattr(program, "tasks", ())):
            resolved[(name, task)] = {k: s.value for k, s in program.resolve(name, task).items()}
    outputs = []
    for target in TARGETS:
        for output in get_target(target).emit(program, folder / "out"):
            assert output.path and "/" not in output.path
            outputs.append((target, output.path, output.content))
    return resolved, outputs


# -- generated valid programs ----------------------------------------------------------

TASKS = ("chat", "code", "docs")
IDENT = st.sampled_from(["a", "b", "c", "fast", "slow", "p_1", "x-y"])
TRICKY = st.sampled_from(['"', '"""', "\\", "\n", "\t", "#", "<", ">", ";", "\u00e9", "😀", "PARAMETER x 1", "\r\n"])
TEXT = st.lists(st.one_of(TRICKY, st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Cf", "Zs", "Zl", "Zp", "Co", "Cn")), max_size=4)), max_size=6).map("".join)
#: What a model's strings may hold: a Modelfile cannot write `"""` inside a value (mpl refuses it, MPL5xx).
MODEL_TEXT = TEXT.filter(lambda s: '"""' not in s)

SETTINGS: dict[str, st.SearchStrategy[str]] = {
    "temperature": st.integers(0, 200).map(lambda n: f"{n / 100}"),
    "top_p": st.integers(0, 100).map(lambda n: f"{n / 100}"),
    "min_p": st.integers(0, 100).map(lambda n: f"{n / 100}"),
    "top_k": st.integers(1, 200).map(str),
    "num_ctx": st.sampled_from(["2048", "4096", "8192", "32768"]),
    "num_predict": st.integers(1, 4096).map(str),
    "seed": st.integers(-1, 2**31 - 1).map(str),
    "repeat_penalty": st.integers(50, 200).map(lambda n: f"{n / 100}"),
    "repeat_last_n": st.integers(0, 256).map(str),
}


@st.composite
def _settings(draw: t.Any) -> list[str]:
    names = draw(st.lists(st.sampled_from(sorted(SETTINGS)), unique=True, max_size=4))
    return [f"{n} {draw(SETTINGS[n])}" for n in names]


@st.composite
def programs(draw: t.Any) -> str:
    """A valid program: tasks, profiles (a chain of `extends`), models using them."""
    lines = [f"tasks {', '.join(TASKS)}", "default p0", ""]
    count = draw(st.integers(1, 4))
    names = [f"p{i}" for i in range(count)]
    free_tasks = list(TASKS)
    for i, name in enumerate(names):
        head = f"profile {name}"
        if i and draw(st.booleans()):
            head += f" extends {names[draw(st.integers(0, i - 1))]}"
        if free_tasks and draw(st.booleans()):
            head += f" for {free_tasks.pop(0)}"
        body = _body(draw)
        if draw(st.booleans()):
            body.append(f"when task is {draw(st.sampled_from(TASKS))} < {'; '.join(draw(_settings())) or 'seed 1'} >")
        sep = "\n  " if draw(st.booleans()) else "; "
        lines.append(f"{head} <" + (("\n  " + sep.join(body) + "\n") if sep.startswith("\n") else (" " + sep.join(body) + " ")) + ">")
    for j in range(draw(st.integers(0, 2))):
        body = [f"use {draw(st.sampled_from(names))}", *draw(_settings())]
        if draw(st.booleans()):
            body.append(f"system {quote_string(draw(MODEL_TEXT))}")
        if draw(st.booleans()):
            body.append(f"stop [{', '.join(quote_string(s) for s in draw(st.lists(MODEL_TEXT.filter(bool), min_size=1, max_size=3)))}]")
        if draw(st.booleans()):
            body.append(f"message user {quote_string(draw(MODEL_TEXT))}")
        if draw(st.booleans()):
            comment = draw(TEXT).splitlines()
            body.append(f"# {comment[0] if comment else 'note'}")
        lines.append(f'model m{j} from "qwen2.5-coder:7b" <\n  ' + "\n  ".join(body) + "\n>")
    return "\n".join(lines) + "\n"


def _body(draw: t.Any) -> list[str]:
    body = []
    if draw(st.booleans()):
        body.append(quote_string(draw(TEXT).replace("\n", " ")))
    body += draw(_settings())
    return body or ["seed 1"]


def check_program(text: str, folder: Path) -> None:
    """A generated program has no errors, and its formatted text means the same."""
    errors, meaning = run_one(text.encode(), folder)
    assert not errors, (text, [str(d.message) for d in analyze(text).diagnostics])
    formatted = format_text(text)
    assert formatted is not None, text
    again_errors, again = run_one(formatted.encode(), folder)
    assert not again_errors and again == meaning, (text, formatted)
    assert format_text(formatted) == formatted, (text, formatted)  # idempotent


# -- mutated sources ------------------------------------------------------------------


def seeds() -> list[bytes]:
    files = sorted((ROOT / "examples").glob("*.mprof")) + sorted((ROOT / "tests" / "fixtures").rglob("*.mprof"))
    return [p.read_bytes() for p in files]


def _mutate(rng: random.Random, data: bytes) -> bytes:
    kind = rng.randrange(11)
    at = rng.randrange(len(data) + 1)
    if kind == 0 and data:  # byte flips
        b = bytearray(data)
        for _ in range(rng.randint(1, 8)):
            i = rng.randrange(len(b))
            b[i] ^= 1 << rng.randrange(8)
        return bytes(b)
    if kind == 1:  # truncation
        return data[:at]
    if kind == 2:  # a huge number
        return data[:at] + rng.choice([b"9" * rng.randint(20, 5000), b"1e" + b"9" * 400, b"-0." + b"0" * 3000 + b"1", b"0x" + b"f" * 300]) + data[at:]
    if kind == 3:  # deep nesting
        depth = rng.choice([50, 500, 5000])
        opener = rng.choice([b"<", b"[", b"when task is a <", b"profile p <"])
        return data[:at] + opener * depth + rng.choice([b"", b">" * depth, b"]" * depth]) + data[at:]
    if kind == 4:  # a long line
        return data[:at] + b"x" * rng.choice([10_000, 200_000]) + data[at:]
    if kind == 5:  # a long string
        return data[:at] + b' system "' + b"s" * rng.choice([10_000, 300_000]) + b'" ' + data[at:]
    if kind == 6:  # invalid UTF-8
        return data[:at] + rng.choice([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xc0\xaf"]) + data[at:]
    if kind == 7:  # NUL
        return data[:at] + b"\x00" * rng.randint(1, 3) + data[at:]
    if kind == 8:  # a BOM
        return b"\xef\xbb\xbf" + data if rng.random() < 0.7 else data[:at] + b"\xef\xbb\xbf" + data[at:]
    if kind == 9:  # CR-only line breaks
        return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r")
    # splice two places of the same file
    other = rng.randrange(len(data) + 1)
    return data[:at] + data[min(at, other) : max(at, other)] + data[at:]


def mutants(rng: random.Random, pool: list[bytes]) -> t.Iterator[bytes]:
    while True:
        data = rng.choice(pool)
        for _ in range(rng.choice([1, 1, 2, 3])):
            data = _mutate(rng, data)
        yield data


# -- the long run ---------------------------------------------------------------------


def fuzz(seconds: float, seed: int | None = None, out: t.TextIO = sys.stdout) -> dict[str, int]:
    """Run both fuzzers for about `seconds` (half each); returns the counts."""
    seed = random.randrange(2**32) if seed is None else seed
    counts = {"programs": 0, "mutants": 0, "mutants with errors": 0, "failures": 0, "slowest ms": 0}
    with tempfile.TemporaryDirectory(prefix="mpl-fuzz-") as tmp:
        folder = Path(tmp)
        deadline = time.monotonic() + seconds / 2

        @settings(max_examples=20, deadline=None, database=None, derandomize=False,  # batches of 20, until the deadline
                  suppress_health_check=list(HealthCheck))
        @given(programs())
        def generated(text: str) -> None:
            if time.monotonic() > deadline:
                return
            counts["programs"] += 1
            try:
                check_program(text, folder)
            except Exception:
                counts["failures"] += 1
                out.write(f"program failed:\n{text}\n{traceback.format_exc()}\n")
                raise

        while time.monotonic() < deadline:
            try:
                generated()
            except Exception:
                pass  # counted and printed above
        rng = random.Random(seed)
        pool = seeds()
        deadline = time.monotonic() + seconds / 2
        for data in mutants(rng, pool):
            if time.monotonic() > deadline:
                break
            counts["mutants"] += 1
            start = time.monotonic()
            try:
                errors, _ = run_one(data, folder)
                counts["mutants with errors"] += errors
            except Exception:
                counts["failures"] += 1
                out.write(f"mutant failed (seed {seed}, #{counts['mutants']}): {data[:300]!r}\n{traceback.format_exc()}\n")
            counts["slowest ms"] = max(counts["slowest ms"], int((time.monotonic() - start) * 1000))
    out.write(f"seed {seed}: " + ", ".join(f"{k} {v}" for k, v in counts.items()) + "\n")
    return counts


def long_run(
    prog: str, doc: str, run: t.Callable[[float, int | None], dict[str, int]], argv: list[str] | None, seed_help: str
) -> int:
    """A fuzzer's command line (`--minutes`, `--seed`): exit code 1 on any failure."""
    parser = argparse.ArgumentParser(prog=prog, description=doc.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="how long to run (default 10)")
    parser.add_argument("--seed", type=int, default=None, help=f"{seed_help} (default random)")
    args = parser.parse_args(argv)
    counts = run(args.minutes * 60, args.seed)
    return 1 if counts["failures"] else 0


def main(argv: list[str] | None = None) -> int:
    return long_run("python -m tests.fuzz", __doc__, fuzz, argv, "the mutation fuzzer's seed")


if __name__ == "__main__":
    sys.exit(main())

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
- `yaml_mutants()`: Meton config.yaml files (`tests/fixtures/meton/`) and hostile
  seeds (`hostile_yaml()`: alias bombs, deep nesting, tabs, keys given twice, merge
  keys, several documents, binary), mutated as above and in YAML's own ways
  (anchors and aliases, merge keys, duplicated lines, tags, tabs, `---`). Each
  one is imported (`mpl import`) and merged into (`mpl compile --into`) in-process
  by `run_yaml_one`: a diagnostic or an `IntoError`, or success, within `TIME_BOUND`.

`tests/test_fuzz.py` runs a short budget with the suite; the long run is

    python -m tests.fuzz --minutes 10

which prints how many programs and mutants were run and what failed.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
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

from mpl.pipeline import analyze  # noqa: E402
from mpl.compiler.parse import quote_string  # noqa: E402
from mpl.fmt import format_text  # noqa: E402

#: Seconds one source may take from reading to formatting (the largest mutant takes well under 1 s).
TIME_BOUND = 10.0
TARGETS = ("options", "meton", "modelfile")


class TooSlow(Exception):
    pass


def _alarm(signum: int, frame: t.Any) -> None:
    raise TooSlow(f"no verdict within {TIME_BOUND:g} s")


@contextlib.contextmanager
def _time_bound() -> t.Iterator[None]:
    """Raise `TooSlow` in the block once `TIME_BOUND` seconds have passed (where SIGALRM can)."""
    use_alarm = hasattr(signal, "SIGALRM") and _main_thread()
    if use_alarm:
        old = signal.signal(signal.SIGALRM, _alarm)
        signal.setitimer(signal.ITIMER_REAL, TIME_BOUND)
    try:
        yield
    finally:
        if use_alarm:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old)


def run_one(data: bytes, folder: Path) -> tuple[bool, t.Any]:
    """Check, compile and format one source (as bytes on disk); returns (has errors, what it means).

    Raises on any failure of mpl: an exception, a span outside the text, or no verdict in time.
    """
    path = folder / "fuzz.mprof"
    path.write_bytes(data)
    with _time_bound():
        analysis = analyze(path, base_dir=folder)
        text = analysis.source.text
        _spans_inside(analysis.diagnostics, text)
        meaning = None
        if not analysis.has_errors and analysis.program is not None:
            meaning = _meaning(analysis.program, folder)
        format_text(text, str(path))
        return analysis.has_errors, meaning


def _spans_inside(diagnostics: t.Iterable[t.Any], text: str) -> None:
    for diag in diagnostics:
        if diag.span is not None:
            assert 0 <= diag.span.start <= diag.span.end <= len(text), diag


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


# -- mutated Meton config.yaml files (mpl import, mpl compile --into) -------------------

METON = ROOT / "tests" / "fixtures" / "meton"


def yaml_seeds() -> list[bytes]:
    """Meton's config.yaml in several shapes (`tests/fixtures/meton/`), and the hostile seeds."""
    files = sorted(METON.glob("*.yaml")) + sorted((METON / "corpus").glob("*.yaml"))
    return [p.read_bytes() for p in files] * 4 + hostile_yaml()  # most mutants start from a file Meton loads


def _bomb(levels: int, indent: bytes = b"  ") -> bytes:
    lines = [indent + b"lol0: &a0 [" + b", ".join([b"lol"] * 9) + b"]"]
    lines += [indent + b"lol%d: &a%d [" % (i, i) + b", ".join([b"*a%d" % (i - 1)] * 9) + b"]" for i in range(1, levels + 1)]
    return b"\n".join(lines) + b"\n"


def hostile_yaml() -> list[bytes]:
    """YAML that attacks a reader, or that PyYAML (Meton's reader) reads differently from a naive one."""
    settings = b"models:\n  settings:\n    temperature: 0.5\n"
    chain = b"a0: &a0 [x]\n" + b"".join(b"a%d: &a%d [*a%d]\n" % (i, i, i - 1) for i in range(1, 200))
    return [
        b"anchors:\n" + _bomb(9) + b"parameter_profiles:\n  p:\n    settings:\n      stop: *a9\n",  # a bomb in a value
        settings + b"extra:\n" + _bomb(9),  # a bomb in a section --into keeps
        b"models:\n  settings:\n    stop: " + b"[" * 1000 + b"]" * 1000 + b"\n",  # deep nesting
        settings + b"deep: " + b"{a: " * 300 + b"1" + b"}" * 300 + b"\n",
        chain + b"models:\n  settings:\n    stop: *a199\n",  # deep through aliases
        b"models:\n  settings: &s\n    stop: [*s]\n",  # an alias inside its own node
        b"models:\n\tsettings:\n\t\ttemperature: 0.1\n",  # tabs
        b"models:\n  settings: {temperature: 0.1}\nmodels:\n  settings: {temperature: 0.9}\n",  # keys given twice
        b"models:\n  settings:\n    seed: 1\n    seed: 2\nparameter_profiles:\n  p: {}\n  p: {settings: {}}\n",
        b"base: &b {temperature: 0.3}\nmodels:\n  <<: *b\n  settings:\n    <<: *b\n    top_k: 3\n",  # merge keys
        b"base: &b {settings: {seed: 1}}\nmodels:\n  <<: [*b, {primary: x}]\nparameter_profiles: {p: {<<: *b}}\n",
        settings + b"---\n" + settings,  # several documents
        b"", b"- models\n", b"~\n", b"models: !!binary aGVsbG8=\n", b"models:\n  settings: !!set {a, b}\n",
        b"\x00\x01\x02GGUF\xff\xfe" * 20,  # binary
        b"\xef\xbb\xbf" + settings,
        b"\xff\xfe" + settings.decode().encode("utf-16-le"),
        settings + b"parameter_profiles:\n  p: !!python/object/apply:os.system [echo]\n",
        b"models:\n  settings:\n    seed: " + b"9" * 5000 + b"\n",
        settings + b"when: 2001-13-45\n",
        b"? [a, b]\n: 1\n" + settings,
        b"models:\r  settings:\r    top_k: 3\r",  # CR-only line breaks
        b"models:\n  settings:\n    stop: [\"\xe2\x80\xa8\", \"\\x85\"]\n\xc2\x85top: 1\n",
    ]


_YAML_PIECES = (
    b"&x ", b"*x", b"*nope", b"<<: *x\n", b"<<: [*x, *x]\n", b"<<: 5\n", b"\t", b"---\n", b"...\n", b"!!binary ",
    b"!!python/name:os.system ", b"!!set ", b"!!str ", b"!!int ", b"!custom ", b"? ", b": ", b"- ", b"{", b"}", b"[",
    b"]", b",", b"'", b'"', b"|\n", b">-\n", b"# ", b"%YAML 1.1\n", b"~", b"null", b"yes", b"on", b".nan", b"-.inf",
    b"0x1F", b"0o17", b"1_000", b"1e400", b"2001-12-14t21:59:43.10-05:00", b"\\", b"\xc2\x85", b"\r",
)


def _mutate_yaml(rng: random.Random, data: bytes) -> bytes:
    """One YAML-shaped change: a token, a line given twice or moved, an anchor aliased, indentation, a bomb."""
    lines = data.split(b"\n")
    i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
    kind = rng.randrange(6)
    if kind == 0:  # a YAML token anywhere
        at = rng.randrange(len(data) + 1)
        return data[:at] + rng.choice(_YAML_PIECES) + data[at:]
    if kind == 1:  # a line given twice: a key given twice, mostly
        lines.insert(j, lines[i])
    elif kind == 2:  # a value anchored, and aliased (or merged) later
        if b": " in lines[i]:
            key, _, value = lines[i].partition(b": ")
            lines[i] = key + b": &x" + str(i).encode() + b" " + value
            later = rng.randrange(i, len(lines))
            if b": " in lines[later] and later != i:
                k2, _, _ = lines[later].partition(b": ")
                lines[later] = k2 + b": *x" + str(i).encode()
            else:
                indent = lines[i][: len(lines[i]) - len(lines[i].lstrip())]
                lines.insert(later + 1, indent + rng.choice([b"<<: *x", b"again: *x"]) + str(i).encode())
    elif kind == 3:  # indentation moved
        lines[i] = rng.choice([b" ", b"  ", b"\t", b""]) + (lines[i][rng.randint(0, 2):] if rng.random() < 0.5 else lines[i])
    elif kind == 4:  # a bomb, deep nesting or a long chain of aliases at a line
        indent = lines[i][: len(lines[i]) - len(lines[i].lstrip())]
        lines[i:i] = rng.choice([
            _bomb(rng.randint(2, 9), indent).rstrip(b"\n"),
            indent + b"deep: " + b"[" * rng.choice([50, 99, 101, 500]) + b"]" * rng.choice([50, 99, 101, 500]),
            indent + b"deep: " + b"{k: " * rng.choice([50, 120]) + b"1" + b"}" * rng.choice([50, 120]),
        ]).split(b"\n")
    else:  # two lines swapped
        lines[i], lines[j] = lines[j], lines[i]
    return b"\n".join(lines)


def yaml_mutants(rng: random.Random, pool: list[bytes]) -> t.Iterator[bytes]:
    while True:
        data = rng.choice(pool)
        for _ in range(rng.choice([1, 1, 1, 2])):  # most files Meton could still load: the paths past the reader
            data = _mutate_yaml(rng, data) if rng.random() < 0.75 else _mutate(rng, data)
        yield data


@functools.lru_cache(maxsize=1)
def _into_program() -> t.Any:
    analysis = analyze(METON / "profiles.mprof", targets=["meton"])
    assert analysis.program is not None and not analysis.has_errors
    return analysis.program


def run_yaml_one(data: bytes, folder: Path) -> tuple[bool, bool]:
    """`mpl import` of one config.yaml, then `mpl compile --into` it, in-process; returns
    (the import has errors, --into refused).

    Raises on any failure of mpl: an exception, a span outside the text, a refused file
    that was changed, a result Meton cannot read, or no verdict in time.
    """
    import yaml

    from mpl.importer import ImportError_, run_import
    from mpl.targets.meton import MetonTarget
    from mpl.pipeline import write_into
    from mpl.targets.meton_into import IntoError

    path = folder / "config.yaml"
    path.write_bytes(data)
    with _time_bound():
        try:
            text, imported, _ = run_import([path], output=None, profile=None, name=None, do_factor=False)
        except ImportError_:
            text, imported = None, None
        for source, sink in imported.reports if imported is not None else ():
            _spans_inside(sink.diagnostics, source.text)
        try:
            write_into(path, _into_program(), MetonTarget(), backup=False)
            refused = False
        except IntoError as exc:
            assert "\n" not in str(exc), exc
            assert path.read_bytes() == data, "a refused file was changed"
            refused = True
        if not refused:
            merged = yaml.safe_load(path.read_bytes().decode("utf-8"))  # Meton reads what was written, as text
            assert isinstance(merged, dict) and isinstance(merged.get("parameter_profiles"), dict)
    return text is None, refused


# -- the long run ---------------------------------------------------------------------


def fuzz(seconds: float, seed: int | None = None, out: t.TextIO = sys.stdout) -> dict[str, int]:
    """Run the fuzzers for about `seconds` (a third each); returns the counts."""
    seed = random.randrange(2**32) if seed is None else seed
    counts = {"programs": 0, "mutants": 0, "mutants with errors": 0, "yaml mutants": 0, "yaml imports with errors": 0,
              "yaml into refused": 0, "failures": 0, "slowest ms": 0}
    with tempfile.TemporaryDirectory(prefix="mpl-fuzz-") as tmp:
        folder = Path(tmp)
        deadline = time.monotonic() + seconds / 3

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

        def mprof(data: bytes) -> None:
            errors, _ = run_one(data, folder)
            counts["mutants with errors"] += errors

        def config(data: bytes) -> None:
            errors, refused = run_yaml_one(data, folder)
            counts["yaml imports with errors"] += errors
            counts["yaml into refused"] += refused

        _run_mutants("mutants", mutants(random.Random(seed), seeds()), mprof, seconds / 3, counts, seed, out)
        _run_mutants("yaml mutants", yaml_mutants(random.Random(seed), yaml_seeds()), config, seconds / 3, counts, seed, out)
    out.write(f"seed {seed}: " + ", ".join(f"{k} {v}" for k, v in counts.items()) + "\n")
    return counts


def _run_mutants(label: str, stream: t.Iterator[bytes], verdict: t.Callable[[bytes], None], seconds: float,
                 counts: dict[str, int], seed: int, out: t.TextIO) -> None:
    """Give mutants of `stream` to `verdict` for about `seconds`, counted under `label`; print each failure."""
    deadline = time.monotonic() + seconds
    for data in stream:
        if time.monotonic() > deadline:
            break
        counts[label] += 1
        start = time.monotonic()
        try:
            verdict(data)
        except Exception:
            counts["failures"] += 1
            out.write(f"{label[:-1]} failed (seed {seed}, #{counts[label]}): {data[:300]!r}\n{traceback.format_exc()}\n")
        counts["slowest ms"] = max(counts["slowest ms"], int((time.monotonic() - start) * 1000))


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

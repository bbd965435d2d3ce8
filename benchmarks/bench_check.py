"""Benchmark: `mpl check examples/meton.mprof` as a whole process, against `python -c pass`.

Run: python benchmarks/bench_check.py [--runs N]
The target: median under 8x `python -c pass`, measured from a regular (non-editable) install
(run it with that install's interpreter; `benchmarks/run.py` makes one).

The `mpl` package is byte-compiled first, as pip does when it installs a wheel:
with PYTHONDONTWRITEBYTECODE set (or an editable install in a read-only tree)
every run would otherwise compile mpl's sources again, which measures the
environment rather than mpl.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def timed(cmds: list[list[str]], runs: int) -> list[list[float]]:
    """Wall times of each command, run in turns so that both see the same machine load."""
    env = {**os.environ, "NO_COLOR": "1"}
    for cmd in cmds:
        subprocess.run(cmd, capture_output=True, env=env)  # warm the page cache, bytecode and lark's cache
    samples: list[list[float]] = [[] for _ in cmds]
    for _ in range(runs):
        for cmd, times in zip(cmds, samples):
            start = time.perf_counter()
            subprocess.run(cmd, capture_output=True, env=env)
            times.append(time.perf_counter() - start)
    return samples


def compile_bytecode() -> Path:
    """Byte-compile the imported `mpl` package (and the grammar package) in place."""
    import compileall
    import importlib.util

    folders = []
    for name in ("mpl", "mpl.grammar"):
        spec = importlib.util.find_spec(name)
        assert spec is not None and spec.origin is not None, f"{name} is not installed"
        folders.append(Path(spec.origin).parent)
    for folder in folders:
        compileall.compile_dir(str(folder), quiet=1)
    return folders[0]


def mpl_command() -> list[str]:
    """The `mpl` script of this interpreter's environment, else `python -m mpl`."""
    script = Path(sys.executable).parent / "mpl"
    return [str(script)] if script.exists() else [sys.executable, "-m", "mpl"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    example = str(ROOT / "examples" / "meton.mprof")
    package = compile_bytecode()
    print(f"mpl package           {package} (byte-compiled)")
    check_cmd = [*mpl_command(), "check", example]
    base_times, check_times = timed([[sys.executable, "-c", "pass"], check_cmd], args.runs)
    base, check = statistics.median(base_times), statistics.median(check_times)
    print(f"python -c pass        median {base * 1000:7.1f} ms")
    print(f"mpl check meton.mprof median {check * 1000:7.1f} ms")
    print(f"ratio                 {check / base:7.2f}x (target < 8x)")
    imports = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "mpl", "check", example], capture_output=True, text=True
    ).stderr
    heavy = sorted({line.split("|")[-1].strip().split(".")[0] for line in imports.splitlines() if "|" in line} & {"ollama", "httpx", "jinja2", "pygls", "rich", "yaml", "pydantic", "typer"})
    print(f"heavy modules imported by check: {heavy or 'none'} (typer parses only a command line with an option)")
    sys.exit(0 if check / base < 8 and not heavy else 1)


if __name__ == "__main__":
    main()

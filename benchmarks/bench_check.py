"""Benchmark: `mpl check examples/meton.mprof` as a whole process, against `python -c pass`.

Run: python benchmarks/bench_check.py [--runs N]
The target (issue "The mpl language and compiler"): median under 10x `python -c pass`.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def timed(cmd: list[str], runs: int) -> list[float]:
    env = {**os.environ, "NO_COLOR": "1"}
    subprocess.run(cmd, capture_output=True, env=env)  # warm the page cache and bytecode
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, capture_output=True, env=env)
        samples.append(time.perf_counter() - start)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    example = str(ROOT / "examples" / "meton.mprof")
    mpl = shutil.which("mpl")
    check_cmd = [mpl, "check", example] if mpl else [sys.executable, "-m", "mpl", "check", example]
    base = statistics.median(timed([sys.executable, "-c", "pass"], args.runs))
    check = statistics.median(timed(check_cmd, args.runs))
    print(f"python -c pass        median {base * 1000:7.1f} ms")
    print(f"mpl check meton.mprof median {check * 1000:7.1f} ms")
    print(f"ratio                 {check / base:7.2f}x (target < 10x)")
    imports = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "mpl", "check", example], capture_output=True, text=True
    ).stderr
    heavy = sorted({line.split("|")[-1].strip().split(".")[0] for line in imports.splitlines() if "|" in line} & {"ollama", "httpx", "jinja2", "pygls", "rich", "yaml"})
    print(f"heavy modules imported by check: {heavy or 'none'}")
    sys.exit(0 if check / base < 10 and not heavy else 1)


if __name__ == "__main__":
    main()

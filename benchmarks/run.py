"""Run every benchmark, print one table and write the figures as JSON.

Run: python benchmarks/run.py [--quick] [--json benchmarks/results.json]

* start-up: `mpl check examples/meton.mprof` against `python -c pass` (median);
* scale: `mpl check` and `mpl compile` of generated sources of 100, 1,000 and
  10,000 profiles (`benchmarks/generate.py`: 20 tasks, `extends` chains up to 50
  deep, `when` blocks, N/20 models) to all three file targets, each as its own
  process: wall time, peak RSS (the child's own rusage) and the ratio 1,000 -> 10,000;
* LSP: didChange -> publishDiagnostics through a real client, default debounce,
  on 2,000 and 20,000 lines: median and p95;
* build: peak RSS of `mpl build` with a large adapter against the fake server, and
  hashing speed against `sha256sum`;
* data: `mpl data` over 10,000 Meton conversation files of 20 messages each
  (`benchmarks/bench_data.py`): wall time and peak RSS.

`--quick` shrinks every size (for trying the script, not for figures). The targets
checked are the ones `docs/performance.md` states; the exit code is 1 if one is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT / "tests"))

TARGETS = ["-t", "options", "-t", "modelfile", "-t", "meton"]


def run_child(cmd: list[str], cwd: Path) -> tuple[int, float, float]:
    """(exit code, wall seconds, peak RSS in MB) of one child process, from its own rusage."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "NO_COLOR": "1"})
    _pid, status, usage = os.wait4(proc.pid, 0)
    return os.waitstatus_to_exitcode(status), time.perf_counter() - start, usage.ru_maxrss / 1024


def startup(runs: int) -> dict:
    from bench_check import compile_bytecode, mpl_command, timed

    compile_bytecode()
    example = str(ROOT / "examples" / "meton.mprof")
    base, check = timed([[sys.executable, "-c", "pass"], [*mpl_command(), "check", example]], runs)
    b, c = statistics.median(base), statistics.median(check)
    return {"python_c_pass_ms": b * 1000, "mpl_check_ms": c * 1000, "ratio": c / b}


def scale(sizes: list[int], runs: int) -> dict:
    from bench_check import mpl_command
    from generate import generate

    out: dict = {}
    with tempfile.TemporaryDirectory(prefix="mpl-bench-") as tmp:
        folder = Path(tmp)
        for n in sizes:
            src = folder / f"p{n}.mprof"
            src.write_text(generate(n))
            figures: dict = {"bytes": src.stat().st_size, "lines": src.read_text().count("\n")}
            for verb, extra in (("check", []), ("compile", ["-o", str(folder / f"out{n}")])):
                best = None
                for _ in range(runs):
                    code, seconds, rss = run_child([*mpl_command(), verb, str(src), *TARGETS, *extra], folder)
                    if best is None or seconds < best[1]:
                        best = (code, seconds, rss)
                assert best is not None
                figures[verb] = {"exit": best[0], "seconds": best[1], "peak_rss_mb": best[2]}
            out[str(n)] = figures
    keys = [str(n) for n in sizes]
    if len(keys) >= 2:
        small, big = out[keys[-2]], out[keys[-1]]
        out["growth"] = {verb: big[verb]["seconds"] / small[verb]["seconds"] for verb in ("check", "compile")}
    return out


def lsp(line_counts: list[int], edit_count: int) -> dict:
    from bench_lsp import edits, generate, session

    out: dict = {}
    for lines in line_counts:
        text = generate(lines)
        versions = edits(text, edit_count if lines <= 5000 else max(20, edit_count // 4))
        opened, latencies, cpu = asyncio.run(session(text, versions, None))
        ms = sorted(x * 1000 for x in latencies)
        out[str(lines)] = {
            "edits": len(ms), "open_ms": opened * 1000, "median_ms": statistics.median(ms),
            "p95_ms": ms[max(0, int(len(ms) * 0.95) - 1)], "cpu_ms_per_change": cpu * 1000 if cpu is not None else None,
        }
    return out


def build(size_mib: int, runs: int) -> dict:
    from bench_build import adapter_file, best
    from fake_ollama import FakeOllama

    from mpl.targets.blobs import hash_file

    adapter = adapter_file(size_mib)
    sha256sum = shutil.which("sha256sum")
    subprocess.run([sha256sum or "true", str(adapter)], capture_output=True)  # warm the page cache
    ours = best(lambda: hash_file(adapter), runs)
    theirs = best(lambda: subprocess.run([sha256sum, str(adapter)], capture_output=True, check=True), runs) if sha256sum else None
    with tempfile.TemporaryDirectory(prefix="mpl-bench-build-") as tmp, FakeOllama() as server:
        server.add_model("qwen2.5-coder:7b", family="qwen2")
        src = Path(tmp) / "big.mprof"
        src.write_text(f'model big from "qwen2.5-coder:7b" <\n  adapter "{adapter}"\n  num_ctx 8192\n>\n')
        code, seconds, rss = run_child([sys.executable, "-m", "mpl", "build", "big", "-f", str(src), "--host", server.url], Path(tmp))
    return {
        "adapter_mib": size_mib, "hash_seconds": ours, "sha256sum_seconds": theirs,
        "hash_speed_vs_sha256sum": theirs / ours if theirs else None,
        "build": {"exit": code, "seconds": seconds, "peak_rss_mb": rss},
    }


def data(files: int) -> dict:
    from bench_data import bench

    return bench(files, 20)


# (label, path into the results, limit, comparison)
TARGETS_STATED = [
    ("start-up / python -c pass", ("startup", "ratio"), 10, "<"),
    ("check 10,000 profiles (s)", ("scale", "10000", "check", "seconds"), 3, "<"),
    ("compile 10,000 profiles (s)", ("scale", "10000", "compile", "seconds"), 3, "<"),
    ("compile 10,000 peak RSS (MB)", ("scale", "10000", "compile", "peak_rss_mb"), 300, "<"),
    ("growth 1,000 -> 10,000 (compile)", ("scale", "growth", "compile"), 11, "<="),
    ("LSP median at 2,000 lines (ms)", ("lsp", "2000", "median_ms"), 100, "<"),
    ("LSP median at 20,000 lines (ms)", ("lsp", "20000", "median_ms"), 300, "<"),
    ("build peak RSS (MB)", ("build", "build", "peak_rss_mb"), 150, "<"),
    ("hashing speed vs sha256sum", ("build", "hash_speed_vs_sha256sum"), 0.8, ">="),
    ("data 10,000 conversation files (s)", ("data", "seconds"), 10, "<"),
    ("data 10,000 files peak RSS (MB)", ("data", "peak_rss_mb"), 200, "<"),
]


def lookup(results: dict, path: tuple[str, ...]):
    for key in path:
        if not isinstance(results, dict) or key not in results:
            return None
        results = results[key]
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes, one run each")
    parser.add_argument("--json", type=Path, default=HERE / "results.json")
    parser.add_argument("--only", choices=["startup", "scale", "lsp", "build", "data"], action="append")
    args = parser.parse_args()
    quick = args.quick
    chosen = args.only or ["startup", "scale", "lsp", "build", "data"]
    results: dict = {"machine": {"python": platform.python_version(), "platform": platform.platform(),
                                 "cpus": os.cpu_count(), "date": time.strftime("%Y-%m-%d")}}
    if "startup" in chosen:
        results["startup"] = startup(5 if quick else 30)
    if "scale" in chosen:
        results["scale"] = scale([100, 1000] if quick else [100, 1000, 10000], 1 if quick else 3)
    if "lsp" in chosen:
        results["lsp"] = lsp([200, 2000] if quick else [2000, 20000], 20 if quick else 100)
    if "build" in chosen:
        results["build"] = build(64 if quick else 1024, 1 if quick else 3)
    if "data" in chosen:
        results["data"] = data(1000 if quick else 10_000)

    print(f"machine: {results['machine']['platform']}, {results['machine']['cpus']} CPUs, Python {results['machine']['python']}")
    if "scale" in results:
        print(f"{'profiles':>10} {'bytes':>10} {'check s':>8} {'RSS MB':>7} {'compile s':>9} {'RSS MB':>7}")
        for n, row in results["scale"].items():
            if n == "growth":
                continue
            print(f"{n:>10} {row['bytes']:>10} {row['check']['seconds']:>8.2f} {row['check']['peak_rss_mb']:>7.0f}"
                  f" {row['compile']['seconds']:>9.2f} {row['compile']['peak_rss_mb']:>7.0f}")
    missed = 0
    for label, path, limit, op in TARGETS_STATED:
        value = lookup(results, path)
        if value is None:
            continue
        ok = value < limit if op == "<" else value <= limit if op == "<=" else value >= limit
        missed += not ok
        print(f"{label:36s} {value:10.2f}   target {op} {limit:<6g} {'ok' if ok else 'MISSED'}")
    args.json.write_text(json.dumps(results, indent=2) + "\n")
    print(f"figures written to {args.json}")
    sys.exit(1 if missed else 0)


if __name__ == "__main__":
    main()

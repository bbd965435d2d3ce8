"""Run every benchmark, print one table and write the figures as JSON.

Run: python benchmarks/run.py [--quick] [--json benchmarks/results.json] [--python PATH]

Every `mpl` process runs from a regular (non-editable) install of this tree: a
virtual environment under the system's temporary folder, made on the first run
(`pip install` of the tree, which needs the dependencies from the package index)
and given the tree's current code on each run (`--python` names another
install's interpreter instead). An editable install's import hook alone adds
some 17 ms to every start.

* start-up: `mpl check examples/meton.mprof` against `python -c pass` (median of
  the wall time, and of the CPU time, which machine load disturbs less), and the
  same with an option, which typer parses (`mpl check FILE` runs without typer);
* scale: `mpl check` and `mpl compile` of generated sources of 500, 1,000 and
  10,000 profiles (`benchmarks/generate.py`: 20 tasks, `extends` chains up to 50
  deep, `when` blocks, N/20 models) to all three file targets, each as its own
  process: wall time, peak RSS (the child's own rusage) and the ratio 1,000 -> 10,000;
* errors: the same sources with syntax errors (10 at 500 profiles, one at 10,000),
  against the clean ones: an error must cost about what a clean file costs;
* LSP: didChange -> publishDiagnostics through a real client, default debounce,
  on 2,000 and 20,000 lines, with and without a syntax error in the file: median and p95;
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
import re
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


def run_child(cmd: list[str], cwd: Path) -> tuple[int, float, float, float]:
    """(exit code, wall seconds, peak RSS in MB, CPU seconds) of one child process, from its own rusage."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "NO_COLOR": "1"})
    _pid, status, usage = os.wait4(proc.pid, 0)
    cpu = usage.ru_utime + usage.ru_stime
    return os.waitstatus_to_exitcode(status), time.perf_counter() - start, usage.ru_maxrss / 1024, cpu


def regular_install(python: str | None) -> Path:
    """The `bin` folder of a regular install of this tree (see the module's docstring)."""
    if python:
        return Path(python).parent
    venv = Path(tempfile.gettempdir()) / "mpl-bench-regular"
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    if not (venv / "bin" / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([*pip, str(ROOT)], check=True)
    else:
        subprocess.run([*pip, "--no-deps", "--force-reinstall", str(ROOT)], check=True)
    return venv / "bin"


def startup(bin_dir: Path, runs: int) -> dict:
    """`mpl check` of a small file against `python -c pass`: as pre-commit runs it (operands only, no
    typer), and with one option (`--lang auto`, the default), which typer parses."""
    example = str(ROOT / "examples" / "meton.mprof")
    cmds = [[str(bin_dir / "python"), "-c", "pass"], [str(bin_dir / "mpl"), "check", example],
            [str(bin_dir / "mpl"), "check", "--lang", "auto", example]]
    for cmd in cmds:
        run_child(cmd, ROOT)  # warm the page cache and lark's cache
    samples: list[list[tuple[float, float]]] = [[] for _ in cmds]
    for _ in range(runs):
        for cmd, into in zip(cmds, samples):  # in turns, so that all see the same machine load
            _code, wall, _rss, cpu = run_child(cmd, ROOT)
            into.append((wall, cpu))
    (b, c, o), (bc, cc, oc) = ([statistics.median(x[i] for x in s) for s in samples] for i in (0, 1))
    return {"python_c_pass_ms": b * 1000, "mpl_check_ms": c * 1000, "ratio": c / b,
            "python_c_pass_cpu_ms": bc * 1000, "mpl_check_cpu_ms": cc * 1000, "cpu_ratio": cc / bc,
            "with_an_option_ms": o * 1000, "with_an_option_cpu_ms": oc * 1000, "with_an_option_ratio": o / b}


def with_syntax_errors(text: str, count: int) -> str:
    """The text with `count` syntax errors spread evenly: `temperature = x` (a `=` the language has not)."""
    line = "\n  temperature "
    at = [m.end() for m in re.finditer(re.escape(line), text)]
    chosen = sorted({at[len(at) * k // count] for k in range(count)})
    pieces = [text[a:b] for a, b in zip([0, *chosen], [*chosen, len(text)])]
    return "= ".join(pieces)


def best_of(cmd: list[str], cwd: Path, runs: int) -> dict:
    best = None
    for _ in range(runs):
        result = run_child(cmd, cwd)
        if best is None or result[1] < best[1]:
            best = result
    assert best is not None
    return {"exit": best[0], "seconds": best[1], "peak_rss_mb": best[2], "cpu_seconds": best[3]}


def scale(bin_dir: Path, sizes: list[int], runs: int) -> dict:
    from generate import generate

    def mpl_command() -> list[str]:
        return [str(bin_dir / "mpl")]

    out: dict = {}
    with tempfile.TemporaryDirectory(prefix="mpl-bench-") as tmp:
        folder = Path(tmp)
        for n in sizes:
            src = folder / f"p{n}.mprof"
            src.write_text(generate(n))
            figures: dict = {"bytes": src.stat().st_size, "lines": src.read_text().count("\n")}
            for verb, extra in (("check", []), ("compile", ["-o", str(folder / f"out{n}")])):
                figures[verb] = best_of([*mpl_command(), verb, str(src), *TARGETS, *extra], folder, runs)
            out[str(n)] = figures
    keys = [str(n) for n in sizes]
    if len(keys) >= 2:
        small, big = out[keys[-2]], out[keys[-1]]
        out["growth"] = {verb: big[verb]["seconds"] / small[verb]["seconds"] for verb in ("check", "compile")}
    return out


def errors(bin_dir: Path, cases: list[tuple[int, int]], runs: int) -> dict:
    """Each (profiles, syntax errors): `mpl check` and `mpl compile` of the clean and the broken source."""
    from generate import generate

    out: dict = {}
    with tempfile.TemporaryDirectory(prefix="mpl-bench-errors-") as tmp:
        folder = Path(tmp)
        for n, count in cases:
            text = generate(n)
            row: dict = {"syntax_errors": count}
            for label, body in (("clean", text), ("broken", with_syntax_errors(text, count))):
                src = folder / f"{label}{n}.mprof"
                src.write_text(body)
                for verb, extra in (("check", []), ("compile", ["-o", str(folder / f"out{n}")])):
                    row[f"{verb}_{label}"] = best_of([str(bin_dir / "mpl"), verb, str(src), *TARGETS, *extra], folder, runs)
            for verb in ("check", "compile"):
                row[f"{verb}_ratio"] = row[f"{verb}_broken"]["seconds"] / row[f"{verb}_clean"]["seconds"]
            out[str(n)] = row
    return out


def lsp(bin_dir: Path, line_counts: list[int], edit_count: int) -> dict:
    from bench_lsp import broken, edits, generate, session

    out: dict = {}
    for lines in line_counts:
        for label, text in (("", generate(lines)), ("_syntax_error", broken(generate(lines)))):
            versions = edits(text, edit_count if lines <= 5000 else max(20, edit_count // 4))
            opened, latencies, cpu = asyncio.run(session(text, versions, None, python=str(bin_dir / "python")))
            ms = sorted(x * 1000 for x in latencies)
            out[f"{lines}{label}"] = {
                "edits": len(ms), "open_ms": opened * 1000, "median_ms": statistics.median(ms),
                "p95_ms": ms[max(0, int(len(ms) * 0.95) - 1)],
                "cpu_ms_per_change": cpu * 1000 if cpu is not None else None,
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
        code, seconds, rss, _cpu = run_child([sys.executable, "-m", "mpl", "build", "big", "-f", str(src), "--host", server.url], Path(tmp))
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
    ("start-up / python -c pass (wall)", ("startup", "ratio"), 8, "<"),
    ("check 500 profiles (s)", ("scale", "500", "check", "seconds"), 0.5, "<"),
    ("check 500, 10 syntax errors / clean", ("errors", "500", "check_ratio"), 1.3, "<="),
    ("check 10,000 profiles (s)", ("scale", "10000", "check", "seconds"), 6, "<"),
    ("compile 10,000 profiles (s)", ("scale", "10000", "compile", "seconds"), 6, "<"),
    ("check 10,000, 1 syntax error / clean", ("errors", "10000", "check_ratio"), 1.3, "<="),
    ("compile 10,000, 1 syntax error / clean", ("errors", "10000", "compile_ratio"), 1.3, "<="),
    ("check 10,000 peak RSS (MB)", ("scale", "10000", "check", "peak_rss_mb"), 300, "<"),
    ("compile 10,000 peak RSS (MB)", ("scale", "10000", "compile", "peak_rss_mb"), 300, "<"),
    ("growth 1,000 -> 10,000 (check)", ("scale", "growth", "check"), 11, "<="),
    ("growth 1,000 -> 10,000 (compile)", ("scale", "growth", "compile"), 11, "<="),
    ("LSP median at 2,000 lines (ms)", ("lsp", "2000", "median_ms"), 100, "<"),
    ("LSP median, 2,000 lines, syntax error", ("lsp", "2000_syntax_error", "median_ms"), 100, "<"),
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
    parser.add_argument("--only", choices=["startup", "scale", "errors", "lsp", "build", "data"], action="append")
    parser.add_argument("--python", help="the interpreter of an existing regular install of mpl to measure")
    args = parser.parse_args()
    quick = args.quick
    chosen = args.only or ["startup", "scale", "errors", "lsp", "build", "data"]
    results: dict = {"machine": {"python": platform.python_version(), "platform": platform.platform(),
                                 "cpus": os.cpu_count(), "date": time.strftime("%Y-%m-%d")}}
    bin_dir = regular_install(args.python)
    results["install"] = str(bin_dir.parent)
    if "startup" in chosen:
        results["startup"] = startup(bin_dir, 5 if quick else 30)
    if "scale" in chosen:
        results["scale"] = scale(bin_dir, [100, 500] if quick else [500, 1000, 10000], 1 if quick else 3)
    if "errors" in chosen:
        results["errors"] = errors(bin_dir, [(100, 10), (500, 1)] if quick else [(500, 10), (10000, 1)], 1 if quick else 3)
    if "lsp" in chosen:
        results["lsp"] = lsp(bin_dir, [200, 2000] if quick else [2000, 20000], 20 if quick else 100)
    # `mpl data` before the build: the build benchmark grows this process (it reads a 1 GiB
    # file), and Linux keeps a parent's peak RSS in a child's across exec.
    if "data" in chosen:
        results["data"] = data(1000 if quick else 10_000)
    if "build" in chosen:
        results["build"] = build(64 if quick else 1024, 1 if quick else 3)

    print(f"machine: {results['machine']['platform']}, {results['machine']['cpus']} CPUs, Python {results['machine']['python']}")
    print(f"install: {results['install']} (regular)")
    if "startup" in results:
        s = results["startup"]
        print(f"start-up: python -c pass {s['python_c_pass_ms']:.1f} ms ({s['python_c_pass_cpu_ms']:.1f} ms CPU), "
              f"mpl check {s['mpl_check_ms']:.1f} ms ({s['mpl_check_cpu_ms']:.1f} ms CPU): "
              f"{s['ratio']:.2f}x wall, {s['cpu_ratio']:.2f}x CPU; with an option (typer parses it) "
              f"{s['with_an_option_ms']:.1f} ms ({s['with_an_option_cpu_ms']:.1f} ms CPU): {s['with_an_option_ratio']:.2f}x wall")
    if "scale" in results:
        print(f"{'profiles':>10} {'bytes':>10} {'check s':>8} {'CPU s':>6} {'RSS MB':>7} {'compile s':>9} {'CPU s':>6} {'RSS MB':>7}")
        for n, row in results["scale"].items():
            if n == "growth":
                continue
            check, compile_ = row["check"], row["compile"]
            print(f"{n:>10} {row['bytes']:>10} {check['seconds']:>8.2f} {check['cpu_seconds']:>6.2f} {check['peak_rss_mb']:>7.0f}"
                  f" {compile_['seconds']:>9.2f} {compile_['cpu_seconds']:>6.2f} {compile_['peak_rss_mb']:>7.0f}")
    for n, row in results.get("errors", {}).items():
        print(f"{n:>10} profiles, {row['syntax_errors']} syntax error(s): check {row['check_clean']['seconds']:.2f} s -> "
              f"{row['check_broken']['seconds']:.2f} s ({row['check_ratio']:.2f}x), compile "
              f"{row['compile_clean']['seconds']:.2f} s -> {row['compile_broken']['seconds']:.2f} s ({row['compile_ratio']:.2f}x)")
    for key, row in results.get("lsp", {}).items():
        print(f"LSP {key:>20}: median {row['median_ms']:.1f} ms, p95 {row['p95_ms']:.1f} ms, "
              f"open {row['open_ms']:.0f} ms, server CPU {row['cpu_ms_per_change'] or 0:.1f} ms/change")
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

"""Benchmark: `mpl build` with a 1 GiB LoRA adapter against the fake Ollama server.

Run: python benchmarks/bench_build.py [--size-mib 1024] [--runs 3]

Targets (issue "mpl build --target ollama"):
  * the `mpl build` process's peak RSS stays under 150 MB while it hashes,
    reads the header of, and uploads a 1 GiB adapter (measured for that child
    alone with os.wait4's rusage);
  * hashing runs at no less than 80 % of `sha256sum`'s speed on the same file
    (best of N, page cache warm for both).
The adapter is a real GGUF (tensor data included), generated once into
benchmarks/data/ (git-ignored). The fake server streams uploads to disk; its own
peak RSS (this process) is printed too.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from fake_ollama import FakeOllama  # noqa: E402
from gguf_files import write_large_adapter  # noqa: E402

from mpl.targets.blobs import hash_file  # noqa: E402

RSS_LIMIT_MB = 150
HASH_RATIO = 0.80


def adapter_file(size_mib: int) -> Path:
    path = ROOT / "benchmarks" / "data" / f"adapter-{size_mib}mib.gguf"
    if not path.exists():
        print(f"writing {path} ({size_mib} MiB) …", flush=True)
        partial = path.with_suffix(".partial")
        write_large_adapter(partial, size_mib * 1024 * 1024, architecture="qwen2")
        partial.replace(path)
    return path


def run_child(cmd: list[str], cwd: Path) -> tuple[int, float, float, str]:
    """(exit code, seconds, peak RSS in MB, output) of one child process, from its own rusage."""
    with tempfile.TemporaryFile("w+") as log:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "NO_COLOR": "1"})
        _pid, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        log.seek(0)
        return proc.returncode, seconds, usage.ru_maxrss / 1024, log.read()


def best(fn, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    adapter = adapter_file(args.size_mib)
    size = adapter.stat().st_size

    # -- hashing speed -----------------------------------------------------------
    sha256sum = shutil.which("sha256sum")
    subprocess.run([sha256sum or "true", str(adapter)], capture_output=True)  # warm the page cache
    ours = best(lambda: hash_file(adapter), args.runs)
    theirs = best(lambda: subprocess.run([sha256sum, str(adapter)], capture_output=True, check=True), args.runs) if sha256sum else float("nan")
    ratio = theirs / ours  # speed ratio: ours / theirs in bytes per second

    # -- a whole build, as its own process ---------------------------------------------
    with tempfile.TemporaryDirectory(prefix="bench-build-") as tmp, FakeOllama() as server:
        server.add_model("qwen2.5-coder:7b", family="qwen2")
        src = Path(tmp) / "big.mprof"
        src.write_text(f'model big from "qwen2.5-coder:7b" <\n  adapter "{adapter}"\n  num_ctx 8192\n>\n')
        cmd = [sys.executable, "-m", "mpl", "build", "big", "-f", str(src), "--host", server.url]
        code, seconds, rss_mb, output = run_child(cmd, Path(tmp))
        uploaded = sum(r.body_size for r in server.requests if r.method == "POST" and r.path.startswith("/api/blobs/"))
        code2, seconds2, rss2_mb, output2 = run_child(cmd, Path(tmp))
        blob_on_disk = sum(p.stat().st_size for p in server.blobs_dir.glob("sha256-*"))
    own_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    mib = size / 2**20
    print(f"adapter                      {mib:8.0f} MiB  ({adapter})")
    print(f"hash_file (mpl)              {ours:8.2f} s   {mib / ours:7.0f} MiB/s")
    print(f"sha256sum                    {theirs:8.2f} s   {mib / theirs:7.0f} MiB/s")
    print(f"hashing speed vs sha256sum   {ratio * 100:7.0f} %   (target >= {HASH_RATIO * 100:.0f} %)")
    print(f"mpl build (create)           {seconds:8.2f} s   exit {code}, uploaded {uploaded / 2**20:.0f} MiB, peak RSS {rss_mb:.0f} MB (target < {RSS_LIMIT_MB} MB)")
    print(f"mpl build (up to date)       {seconds2:8.2f} s   exit {code2}, peak RSS {rss2_mb:.0f} MB")
    print(f"fake server + bench process  peak RSS {own_mb:.0f} MB; blobs on the fake's disk {blob_on_disk / 2**20:.0f} MiB")
    ok_build = code == 0 and code2 == 0 and "created and verified" in output and "up to date" in output2 and uploaded == size
    ok_rss = rss_mb < RSS_LIMIT_MB
    ok_hash = ratio >= HASH_RATIO
    if not ok_build:
        print(output, output2, sep="\n")
    for name, ok in (("build", ok_build), ("peak RSS", ok_rss), ("hashing speed", ok_hash)):
        print(f"{name:<28} {'PASS' if ok else 'FAIL'}")
    sys.exit(0 if ok_build and ok_rss and ok_hash else 1)


if __name__ == "__main__":
    main()

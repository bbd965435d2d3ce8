"""Benchmark: 1,000 case-runs of `mpl eval` against the fake Ollama server, `--concurrency 4`.

Run: python benchmarks/bench_eval.py [--cases 250] [--repeat 2] [--concurrency 4]

Target (issue "mpl eval"): 250 cases x 2 arms x 2 repeats = 1,000 runs finish in under
30 s, with the progress bar on standard error. `mpl eval` runs as a child process (its
progress and summary pass through), the fake server in this one; every case has three
assertions and a reference, so the runs are judged and scored as a real suite's are.
Prints the wall time, the runs per second and the fake server's most answers at once.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from fake_ollama import FakeOllama  # noqa: E402

LIMIT_S = 30.0
PROFILES = """\
tasks coding, docs
default balanced
profile balanced < temperature 0.7; top_k 40 >
profile precise for coding < temperature 0.2; seed 42; when task is coding < top_k 10 > >
profile creative for docs < temperature 0.9; min_p 0.05 >
"""
# The child: `mpl` itself.
CHILD = "import sys; from mpl.__main__ import main; sys.argv[0] = 'mpl'; main()"


def suite(cases: int) -> str:
    lines = []
    for i in range(cases):
        task = ("coding", "docs", None)[i % 3]
        lines.append(f"- id: case-{i}\n" + (f"  task: {task}\n" if task else "") + f"  prompt: \"Question number {i}: what is {i} + {i}?\"\n"
                     "  expect:\n    - contains: \"the\"\n    - regex: \"\\\\w+\\\\.$\"\n      weight: 2\n    - not-contains: \"zzz\"\n"
                     f"  reference: \"the answer is {2 * i}\"\n")
    return "".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=250)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    runs = args.cases * 2 * args.repeat
    with tempfile.TemporaryDirectory(prefix="bench-eval-") as tmp, FakeOllama() as fake:
        folder = Path(tmp)
        (folder / "cases.yaml").write_text(suite(args.cases), encoding="utf-8")
        (folder / "profiles.mprof").write_text(PROFILES, encoding="utf-8")
        for model in ("m1", "m2"):
            fake.add_model(model)
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tests")])}
        command = [sys.executable, "-c", CHILD, "eval", "cases.yaml", "--arm", "base=m1", "--arm", "tuned=m2@precise",
                   "--repeat", str(args.repeat), "--concurrency", str(args.concurrency), "--host", fake.url,
                   "--json", "out.json", "--isolated"]
        start = time.perf_counter()
        child = subprocess.run(command, cwd=folder, env=env, check=False)
        elapsed = time.perf_counter() - start
        document = json.loads((folder / "out.json").read_text(encoding="utf-8"))
        errored = sum(r["error"] is not None for r in document["results"])
        print(f"\n{len(document['results'])} case-runs ({args.cases} cases x 2 arms x {args.repeat}), "
              f"--concurrency {args.concurrency}: {elapsed:.2f} s, {len(document['results']) / elapsed:.0f} runs/s, "
              f"{errored} errored, exit {child.returncode}; the server had at most {fake.most_in_flight} answers under way")
        ok = len(document["results"]) == runs and errored == 0 and elapsed < LIMIT_S
        print(f"target: {runs} runs under {LIMIT_S:g} s: {'met' if ok else 'NOT met'}")
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

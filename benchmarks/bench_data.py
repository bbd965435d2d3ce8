"""Benchmark `mpl data`: 10,000 Meton conversation files of 20 messages each.

Run: python benchmarks/bench_data.py [--files N] [--messages M]

The files are written as Meton writes them (`conversations/session_{time}_{id8}.json`,
indented JSON), with user, tool and assistant messages of a few hundred
characters, one secret in every 50th file, one failed turn in every 20th, and
every 10th session saved twice (a prefix file). `mpl data` runs as its own
process with the default options (redaction on) and `--holdout 0.1`; the figures
are its wall time and peak RSS (its own rusage). Targets (issue 17): under 10 s
and under 200 MB.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

_WORDS = ["the", "parser", "reads", "each", "token", "and", "builds", "a", "node", "for", "the", "checker,", "which", "resolves", "names", "and", "reports", "what", "it", "cannot", "find;", "tests", "cover", "every", "code", "path", "we", "know", "of"]


def _text(n: int, words: int) -> str:
    return " ".join(_WORDS[(n + i) % len(_WORDS)] for i in range(words))


def conversation(number: int, messages: int) -> tuple[str, dict]:
    session = str(uuid.UUID(int=number * 7919 + 1, version=4))
    rows = []
    for i in range(messages):
        turn = i % 4
        if turn == 0:
            content = f"Question {number}.{i}: {_text(number + i, 25)}"
            if number % 50 == 0 and i == 0:
                content += " my key is AKIAZ4Q7XBRT2KQWL3NP"
            rows.append({"role": "user", "content": content, "timestamp": "2026-11-01T10:00:00", "metadata": {}})
        elif turn in (1, 2):
            rows.append({"role": "tool", "content": f"✓ Read src/module_{i}.py\n{_text(number * 3 + i, 40)}",
                         "timestamp": "2026-11-01T10:00:01", "metadata": {"tool_name": "file_operations", "action": "read"}})
        else:
            meta = {"error": True} if number % 20 == 0 and i == 3 else {"thoughts": 2, "tool_calls": 2, "iterations": 3, "model": "qwen2.5-coder:32b"}
            rows.append({"role": "assistant", "content": f"Answer {number}.{i}: {_text(number + 2 * i, 35)}",
                         "timestamp": "2026-11-01T10:00:02", "metadata": meta})
    return session, {"session_id": session, "start_time": "2026-11-01T10:00:00", "end_time": "2026-11-01T10:05:00",
                     "message_count": len(rows), "max_history": 20, "messages": rows}


def generate(folder: Path, files: int, messages: int) -> int:
    """Write the conversation files; returns their total size in bytes."""
    folder.mkdir(parents=True, exist_ok=True)
    total = 0
    written = 0
    number = 0
    while written < files:
        session, data = conversation(number, messages)
        saves = [data]
        if number % 10 == 0 and written + 1 < files:
            saves.insert(0, {**data, "messages": data["messages"][: messages // 2]})
        for k, save in enumerate(saves):
            text = json.dumps(save, indent=2, ensure_ascii=False)
            path = folder / f"session_20261101_{number // 60:04d}{number % 60:02d}_{k}{session[:8]}.json"
            path.write_text(text, encoding="utf-8")
            total += len(text.encode())
            written += 1
        number += 1
    return total


def run_data(folder: Path, out: Path) -> tuple[int, float, float]:
    """(exit code, wall seconds, peak RSS in MB) of one `mpl data` process."""
    cmd = [sys.executable, "-m", "mpl", "data", str(folder), "-o", str(out), "--holdout", "0.1", "--seed", "1"]
    env = {**os.environ, "NO_COLOR": "1", "PYTHONPATH": str(ROOT)}
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    assert proc.stderr is not None
    err = proc.stderr.read()
    _pid, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        sys.stderr.write(err.decode("utf-8", "replace"))
    return code, seconds, usage.ru_maxrss / 1024


def bench(files: int, messages: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="mpl-bench-data-") as tmp:
        folder = Path(tmp) / "conversations"
        size = generate(folder, files, messages)
        code, seconds, rss = run_data(folder, Path(tmp) / "out" / "train.jsonl")
        manifest = json.loads((Path(tmp) / "out" / "train.manifest.json").read_text()) if code == 0 else {}
    return {"files": files, "messages": messages, "input_mb": size / 1e6, "exit": code, "seconds": seconds,
            "peak_rss_mb": rss, "counts": manifest.get("counts")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--messages", type=int, default=20)
    args = parser.parse_args()
    figures = bench(args.files, args.messages)
    counts = figures["counts"] or {}
    print(f"mpl data: {figures['files']} files of {figures['messages']} messages ({figures['input_mb']:.1f} MB): "
          f"exit {figures['exit']}, {figures['seconds']:.2f} s, peak RSS {figures['peak_rss_mb']:.0f} MB")
    print(f"  sessions {counts.get('sessions')}, examples {counts.get('examples')}, dropped {counts.get('dropped')}, "
          f"redacted {counts.get('redacted')}")
    ok = figures["exit"] == 0 and figures["seconds"] < 10 and figures["peak_rss_mb"] < 200
    print(f"  targets: < 10 s, < 200 MB: {'ok' if ok else 'MISSED'}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()

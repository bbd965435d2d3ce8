"""Generate large profile sources for the scale benchmarks.

Run: python benchmarks/generate.py N [-o FILE] [--seed S]

The shape (the one the scale findings were measured on): 20 declared tasks;
profiles in `extends` chains up to 50 deep; 30% of profiles with 1-3 `when`
blocks; 10 parameters in each profile; one model for every 20 profiles, each
`use`-ing a profile and setting a few parameters of its own. Every value is
one Meton can hold too, so the file compiles to every target without errors.
Deterministic for a given N and seed.
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

TASKS = [f"task{i:02d}" for i in range(20)]
MAX_DEPTH = 50

# name -> a function of the random generator giving a value in the name's
# meaningful range (and in Meton's), written as the source writes it.
VALUES = {
    "temperature": lambda r: f"{r.choice([0.1, 0.2, 0.3, 0.5, 0.7, 0.9, 1.1])}",
    "top_k": lambda r: str(r.choice([10, 20, 40, 64, 100])),
    "top_p": lambda r: f"{r.choice([0.8, 0.85, 0.9, 0.95])}",
    "min_p": lambda r: f"{r.choice([0.02, 0.05, 0.1])}",
    "repeat_penalty": lambda r: f"{r.choice([1.0, 1.05, 1.1, 1.15])}",
    "repeat_last_n": lambda r: str(r.choice([32, 64, 128, 256])),
    "presence_penalty": lambda r: f"{r.choice([0.0, 0.1, 0.2, 0.5])}",
    "frequency_penalty": lambda r: f"{r.choice([0.0, 0.1, 0.3])}",
    "seed": lambda r: str(r.choice([-1, 7, 42, 1234])),
    "num_ctx": lambda r: str(r.choice([4096, 8192, 16384, 32768])),
    "num_predict": lambda r: str(r.choice([256, 512, 1024, 2048])),
}


def generate(count: int, seed: int = 1) -> str:
    """The text of a source with `count` profiles."""
    rng = random.Random(seed)
    names = list(VALUES)
    out = ['ollama "0.32"', "", "tasks " + ", ".join(TASKS), ""]
    depth: list[int] = []
    routed = 0
    for index in range(count):
        parent = None
        if index and rng.random() < 0.9:
            candidates = [j for j in range(max(0, index - 200), index) if depth[j] < MAX_DEPTH]
            if candidates:
                parent = rng.choice(candidates)
        depth.append(depth[parent] + 1 if parent is not None else 1)
        header = f"profile p{index}" + (f" extends p{parent}" if parent is not None else "")
        if routed < len(TASKS) and index % max(1, count // len(TASKS)) == 0:
            header += f" for {TASKS[routed]}"
            routed += 1
        out.append(header + " <")
        out.append(f'  "Generated profile {index}"')
        for name in rng.sample(names, 10):
            out.append(f"  {name} {VALUES[name](rng)}")
        if rng.random() < 0.3:
            for _ in range(rng.randint(1, 3)):
                if rng.random() < 0.5:
                    out.append(f"  when task is {rng.choice(TASKS)} <")
                else:
                    out.append(f"  when task in [{', '.join(rng.sample(TASKS, 3))}] <")
                for name in rng.sample(names, 2):
                    out.append(f"    {name} {VALUES[name](rng)}")
                out.append("  >")
        out.append(">")
        out.append("")
    out.insert(4, "default p0\n")
    for index in range(count // 20):
        used = rng.randrange(count)
        out.append(f'model m{index} from "qwen2.5-coder:7b" <')
        out.append(f"  use p{used}")
        out.append(f"  num_ctx {VALUES['num_ctx'](rng)}")
        out.append('  stop "<|im_end|>"')
        out.append(f'  system "You are model {index}."')
        out.append(">")
        out.append("")
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("count", type=int, help="number of profiles")
    parser.add_argument("-o", "--output", type=Path, help="file to write (default: standard output)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    text = generate(args.count, args.seed)
    if args.output:
        args.output.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    main()

"""Time each stage of check and compile on one source (process time, so that other
load on the machine counts less): parse, syntax check, resolve, passes, each target's
check, allow-comments, and each target's emit.

    python benchmarks/profile_stages.py FILE [--cprofile STAGE]
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import pstats
import tempfile
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("file", type=Path)
    ap.add_argument("--cprofile", help="profile one stage: parse, resolve, lint, check-TARGET, emit-TARGET")
    ap.add_argument("--targets", default="options,modelfile,meton")
    args = ap.parse_args()
    gc.disable()  # as `mpl.__main__` starts: imports with the collector paused, then frozen, then on

    from mpl.compiler.parse import parse
    from mpl.compiler.policy import apply_policy
    from mpl.compiler.check import check_syntax
    from mpl.compiler.resolve import file_target, resolve
    from mpl.compiler import PASSES
    from mpl.diagnostics import Sink
    from mpl.source import SourceFile
    from mpl.targets import get_target

    for name in args.targets.split(","):
        get_target(name)  # imported with the start-up
    gc.freeze()
    gc.enable()
    targets = args.targets.split(",")
    src = SourceFile(str(args.file), args.file.read_text())
    sink = Sink(src)

    def run(name, fn):
        prof = cProfile.Profile() if args.cprofile == name else None
        t0 = time.process_time()
        if prof:
            prof.enable()
        out = fn()
        if prof:
            prof.disable()
        print(f"{name:>18}: {time.process_time() - t0:7.3f} s")
        if prof:
            pstats.Stats(prof).sort_stats("cumulative").print_stats(25)
        return out

    file = run("parse", lambda: parse(src, sink))
    run("check-syntax", lambda: check_syntax(file, file_target(file, None), sink))
    program = run("resolve", lambda: resolve(file, sink, base_dir=args.file.parent))

    def passes():
        p = program
        for compiler_pass in PASSES:
            p = compiler_pass(p, sink)
        return p

    program = run("lint", passes)
    for name in targets:
        run(f"check-{name}", lambda name=name: get_target(name).check(program, sink))
    run("policy", lambda: apply_policy(sink, program))
    out = Path(tempfile.mkdtemp(prefix="mpl-stages-"))  # emit builds files in memory; nothing is written
    for name in targets:
        run(f"emit-{name}", lambda name=name: get_target(name).emit(program, out))
    out.rmdir()
    print(f"{len(sink.diagnostics)} diagnostics")


if __name__ == "__main__":
    main()

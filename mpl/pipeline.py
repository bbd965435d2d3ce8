"""The driver: the compiler's analysis with the checks of the targets a command writes.

The compiler (`mpl.compiler`) knows nothing of targets; the targets know the
compiler's program. This module, above both, runs one with the other: the CLI,
the API, the session, `mpl build` and the language server analyse through it.
"""

from __future__ import annotations

import typing as t
from pathlib import Path

from mpl import compiler
from mpl.compiler import Analysis, nodes
from mpl.diagnostics import Sink
from mpl.source import SourceFile
from mpl.targets import DEFAULT_TARGETS, get_target

if t.TYPE_CHECKING:
    from mpl.catalog import Version
    from mpl.compiler.program import Program
    from mpl.targets.meton import MetonTarget

#: The targets a Modelfile is checked against: what it can be compiled into without configuration.
MODELFILE_TARGETS = ("options", "modelfile")


def target_checks(targets: t.Iterable[str]) -> tuple[compiler.Check, ...]:
    """The `check` of each target named (each imported on first use)."""
    return tuple(get_target(name).check for name in targets)


def analyze(
    source: str | Path | SourceFile | nodes.File,
    *,
    target: Version | None = None,
    target_origin: t.Literal["option", "server"] = "option",
    base_dir: Path | None = None,
    targets: t.Iterable[str] = DEFAULT_TARGETS,
) -> Analysis:
    """`mpl.compiler.analyze` with the checks of `targets` (by default, those on without configuration).

    >>> a = analyze("profile p < temperature 0.5 >")
    >>> a.has_errors, a.program.resolve("p")["temperature"].value
    (False, 0.5)
    """
    return compiler.analyze(source, target=target, target_origin=target_origin, base_dir=base_dir,
                            checks=target_checks(targets))


def analyze_read(
    src: SourceFile, sink: Sink, io_error: bool = False, *,
    target: Version | None = None,
    base_dir: Path | None = None,
    targets: t.Iterable[str] = DEFAULT_TARGETS,
) -> Analysis:
    """`mpl.compiler.analyze_read` (of what `read_source` or `read_input` returned) with the checks of `targets`."""
    return compiler.analyze_read(src, sink, io_error, target=target, base_dir=base_dir, checks=target_checks(targets))


def analyze_modelfile(
    source: Path | SourceFile | str,
    *,
    target: Version | None = None,
    targets: t.Iterable[str] = MODELFILE_TARGETS,
    base_dir: Path | None = None,
) -> Analysis:
    """A Modelfile checked as a `.mprof` model (`mpl.compiler.modelfile.analyze_modelfile`) with the checks of `targets`."""
    from mpl.compiler.modelfile import analyze_modelfile as analyze_as_model

    return analyze_as_model(source, target=target, base_dir=base_dir, checks=target_checks(targets))


def write_into(path: Path, program: Program, target: MetonTarget, *, backup: bool = True) -> list[str] | None:
    """Merge the compiled Meton sections into the config.yaml at `path`, in place and atomically.

    None when the file already holds them (nothing is written), else the remarks on
    what was removed or written anew. The reading and writing (the folder's lock,
    the `.bak`, the atomic replace) are `mpl.output.rewrite`'s; the new text is the
    target's (`mpl.targets.meton_into.merged_text`). Raises `IntoError`,
    `mpl.output.Unchangeable`, `mpl.output.FolderBusy` or `OSError`; the file is then unchanged.
    """
    from mpl.output import rewrite
    from mpl.targets.meton_into import Merge, merged_text

    merges: list[Merge | None] = []

    def change(raw: bytes) -> bytes | None:
        merges.append(merged_text(path, raw, program, target))
        return None if merges[-1] is None else merges[-1].text.encode("utf-8")

    if not rewrite(path, change, backup=backup):
        return None
    merge = merges[-1]
    assert merge is not None
    return merge.remarks

"""The base of every target, and the value conversions they share.

A target checks a `Program` (reporting what it cannot express at the source
span) and, when there are no errors, emits `OutputFile`s in memory; writing
them is `mpl.output`'s job.
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass
from pathlib import Path

from mpl.catalog import ValueType, catalog
from mpl.compiler.program import Options, Program, PyValue
from mpl.diagnostics import Sink


@dataclass(frozen=True, slots=True)
class OutputFile:
    """One file a target produces, relative to the output directory."""

    path: str
    content: str


class Target:
    name: t.ClassVar[str]

    def check(self, program: Program, sink: Sink) -> None:
        """Report what this target cannot express; nothing by default."""

    def emit(self, program: Program, out_dir: Path) -> list[OutputFile]:
        raise NotImplementedError


def typed(name: str, value: PyValue) -> t.Any:
    """A value in Ollama's JSON type for the option: floats as floats, `stop` as a list.

    A float option is a Go float32: its value is the float32's shortest decimal, so
    that every target writes the number Ollama stores (never a double that Ollama
    would round a second time).

    >>> typed("temperature", 0), typed("num_ctx", 4096), typed("stop", ("a",))
    (0.0, 4096, ['a'])
    >>> typed("temperature", 1.000000059604644775390625), typed("top_p", 0.95)
    (1.0, 0.95)
    """
    spec = catalog().option(name)
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    match spec.type if spec is not None else None:
        case ValueType.FLOAT if number:
            return _float32(value)  # type: ignore[arg-type]
        case ValueType.INT if number and isinstance(value, int):
            return value
        case ValueType.BOOL if isinstance(value, bool):
            return value
        case ValueType.STRING_LIST:
            return list(value) if isinstance(value, tuple) else [value]
    # An unknown name or a value of the wrong type (already an error): kept as written.
    return list(value) if isinstance(value, tuple) else value


def _float32(value: int | float) -> float:
    """The float32 Ollama stores for a number, as its shortest decimal; out of range (an error already): unchanged."""
    from mpl.catalog.values import shortest_float32

    if isinstance(value, int) and abs(value) > 2**129:
        return value  # type: ignore[return-value]  # far outside float32: already MPL306
    return shortest_float32(float(value))


def typed_options(options: Options) -> dict[str, t.Any]:
    """Resolved options as a JSON-ready dict in Ollama's names and types."""
    return {name: typed(name, setting.value) for name, setting in options.items()}


def task_variants(program: Program) -> list[tuple[str, str]]:
    """(profile, task) pairs whose resolution differs from the profile's own."""
    pairs: list[tuple[str, str]] = []
    for profile in program.profiles:
        own = program.resolve(profile)
        base: dict[str, t.Any] | None = None
        for task in program.variants(profile)[1:]:
            variant = program.resolve(profile, task)
            if variant is own:
                continue
            if base is None:
                base = typed_options(own)
            if typed_options(variant) != base:
                pairs.append((profile, task))
    return pairs

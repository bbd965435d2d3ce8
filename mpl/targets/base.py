"""The base of every target, and the value conversions they share.

A target checks a `Program` (reporting what it cannot express at the source
span) and, when there are no errors, emits `OutputFile`s in memory; writing
them is `mpl.output`'s job.
"""

from __future__ import annotations

import functools
import typing as t
from pathlib import Path

import msgspec

from mpl.catalog import ValueType, catalog
from mpl.catalog.values import shortest_float32
from mpl.compiler.program import Options, Program, PyValue, Setting
from mpl.diagnostics import Sink


class OutputFile(msgspec.Struct, frozen=True, gc=False):
    """One file a target produces, relative to the output directory."""

    path: str
    content: str


class Target:
    """A target: its name in the registry, and what it can express, as data.

    `RENAMES` maps an option to the key the target writes (`num_predict` is
    Meton's `max_tokens`); `SUPPORTED` is the keys it can hold (None: every
    option); `RANGES` the (minimum, maximum) it accepts per key (None: unbounded).
    `check_setting` reads them, with the generic codes MPL501 and MPL502 whose
    messages name the target (`title`).
    """

    name: t.ClassVar[str]
    title: t.ClassVar[str] = ""
    RENAMES: t.ClassVar[dict[str, str]] = {}
    SUPPORTED: t.ClassVar[frozenset[str] | None] = None
    RANGES: t.ClassVar[dict[str, tuple[float | None, float | None]]] = {}

    def check(self, program: Program, sink: Sink) -> None:
        """Report what this target cannot express; nothing by default."""

    def check_settings(self, program: Program) -> None:
        """Raise ValueError, naming the flag, when the target's settings (its registry keys) do not fit `program`."""

    def check_setting(self, program: Program, setting: Setting, sink: Sink) -> bool:
        """MPL501 for an option the target has no key for, MPL502 for a value outside its range.

        Returns whether the value can be written. Unknown names, values of the wrong
        type and numbers out of any range are the checker's (already reported).
        """
        if catalog().option(setting.name) is None:
            return False
        key = self.RENAMES.get(setting.name, setting.name)
        if self.SUPPORTED is not None and key not in self.SUPPORTED:
            sink.report(
                "MPL501", setting.name_span,
                f"{self.title} cannot hold `{setting.name}`, set in {setting.origin}",
                help=f"{self.title} accepts " + ", ".join(sorted(self.SUPPORTED))
                + f"; leave `{self.name}` out of the targets, or move it to a model",
                parameter=setting.name, target=self.name,
            )
            return False
        value = setting.value
        if key not in self.RANGES or isinstance(value, bool) or not isinstance(value, (int, float)):
            return True
        if isinstance(value, int) and abs(value) > 2**64:
            return False  # beyond int64 and float32: MPL306
        low, high = self.RANGES[key]
        if (low is not None and value < low) or (high is not None and value > high):
            bound = f"between {low:g} and {high:g}" if high is not None else f"at least {low:g}"
            sink.report(
                "MPL502", setting.value_span,
                f"{self.title} requires `{key}` {bound}; {setting.origin} sets {value:g}",
                parameter=setting.name, target=self.name,
            )
            return False
        return True

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
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    match _type_of(name):
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


@functools.cache
def _type_of(name: str) -> ValueType | None:
    spec = catalog().option(name)
    return spec.type if spec is not None else None


def _float32(value: int | float) -> float:
    """The float32 Ollama stores for a number, as its shortest decimal; out of range (an error already): unchanged."""
    if isinstance(value, int) and abs(value) > 2**129:
        return value  # far outside float32: already MPL306
    return shortest_float32(float(value))


def dump_json(document: t.Any) -> str:
    """`document` as JSON indented by two spaces, non-ASCII kept, with a final newline.

    The text of `json.dumps(document, indent=2, ensure_ascii=False)`, but encoded by
    the json module's C encoder (which indenting turns off) and indented by msgspec.

    >>> print(dump_json({"a": [1e-05, "é"], "b": {}}), end="")
    {
      "a": [
        1e-05,
        "é"
      ],
      "b": {}
    }
    """
    import json

    import msgspec

    return msgspec.json.format(json.dumps(document, ensure_ascii=False), indent=2) + "\n"


def typed_options(options: Options) -> dict[str, t.Any]:
    """Resolved options as a JSON-ready dict in Ollama's names and types."""
    return {name: typed(name, setting.value) for name, setting in options.items()}


def task_variants(program: Program) -> list[tuple[str, str]]:
    """(profile, task) pairs whose resolution differs from the profile's own.

    Values are compared as written first (type and value), and in Ollama's types only
    where they differ, so that a variant whose values all stand for the same float32
    as its profile's is no variant.
    """
    # The resolver keeps only variants that hold other settings than their profile;
    # `_differs` tells those whose values still stand for the same as the profile's.
    pairs: list[tuple[str, str]] = []
    for profile in program.profiles:
        own = program.resolve(profile)
        for task in program.profiles[profile].varied_tasks:
            if _differs(own, program.resolve(profile, task)):
                pairs.append((profile, task))
    return pairs


def _differs(a: Options, b: Options) -> bool:
    if a.keys() != b.keys():
        return True
    for name, setting in a.items():
        other = b[name]
        if other is setting:
            continue
        x, y = setting.value, other.value
        if x is y or (type(x) is type(y) and x == y):
            continue
        if typed(name, x) != typed(name, y):
            return True
    return False

"""Targets: what a checked `Program` compiles into, and the one list of them.

`REGISTRY` is the only place a target is named: its name, the class that
implements it (`"module:Class"`, imported on first use so that `mpl check` never
imports what only one output needs), the files it writes, and whether it is
checked and written without configuration. The CLI's `--target` choices, the
configuration's schema, the compiler's defaults and the docs read it, so that
adding a target costs its module and one line here.
"""

from __future__ import annotations

import enum
import functools
import importlib
import typing as t
from dataclasses import dataclass

if t.TYPE_CHECKING:
    from mpl.targets.base import Target


@dataclass(frozen=True)
class TargetInfo:
    """One registered target."""

    name: str
    entry: str  # "module:Class"
    output: str  # what it writes, for help texts: "STEM.options.json"
    default: bool  # checked and written when the configuration names no targets
    files: bool = True  # writes files (`ollama` creates models on a server instead)


REGISTRY: tuple[TargetInfo, ...] = (
    TargetInfo("options", "mpl.targets.options:OptionsTarget", "STEM.options.json", default=True),
    TargetInfo("meton", "mpl.targets.meton:MetonTarget", "STEM.meton.yaml", default=False),
    TargetInfo("modelfile", "mpl.targets.modelfile:ModelfileTarget", "MODEL.Modelfile", default=True),
    TargetInfo("ollama", "mpl.targets.ollama:OllamaTarget", "models on an Ollama server", default=False, files=False),
)

TARGETS: dict[str, str] = {info.name: info.entry for info in REGISTRY}
# The targets `mpl check` and `mpl compile` know (files), and those on without configuration.
FILE_TARGETS: tuple[str, ...] = tuple(info.name for info in REGISTRY if info.files)
DEFAULT_TARGETS: tuple[str, ...] = tuple(info.name for info in REGISTRY if info.default)

# `--target` choices of `mpl check` and `mpl compile`, and of `mpl build`.
TargetName = enum.Enum("TargetName", {name: name for name in FILE_TARGETS}, type=str)  # type: ignore[misc]
BuildTargetName = enum.Enum(  # type: ignore[misc]
    "BuildTargetName", {info.name: info.name for info in REGISTRY if not info.files}, type=str
)


@functools.cache
def get_target(name: str) -> Target:
    """The target registered under a name.

    >>> get_target("options").name
    'options'
    >>> FILE_TARGETS, DEFAULT_TARGETS
    (('options', 'meton', 'modelfile'), ('options', 'modelfile'))
    """
    module_name, _, class_name = TARGETS[name].partition(":")
    return getattr(importlib.import_module(module_name), class_name)()

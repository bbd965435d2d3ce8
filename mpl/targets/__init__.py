"""Targets: what a checked `Program` compiles into.

The registry maps a target's name to `"module:Class"`, imported on first use,
so that `mpl check` never imports what only one output needs (jinja2, yaml).
"""

from __future__ import annotations

import functools
import importlib
import typing as t

if t.TYPE_CHECKING:
    from mpl.targets.base import Target

TARGETS: dict[str, str] = {
    "options": "mpl.targets.options:OptionsTarget",
    "meton": "mpl.targets.meton:MetonTarget",
    "modelfile": "mpl.targets.modelfile:ModelfileTarget",
    "ollama": "mpl.targets.ollama:OllamaTarget",
}


@functools.cache
def get_target(name: str) -> Target:
    """The target registered under a name.

    >>> get_target("options").name
    'options'
    """
    module_name, _, class_name = TARGETS[name].partition(":")
    return getattr(importlib.import_module(module_name), class_name)()

"""The `options` target: JSON `options` dicts for Ollama's chat/generate API.

One entry per profile and one per declared task (the routed profile, or the
`default`, resolved for that task), in Ollama's option names and JSON types.
"""

from __future__ import annotations

import typing as t
from pathlib import Path

from mpl.compiler.program import Program
from mpl.targets.base import OutputFile, Target, dump_json, typed_options


class OptionsTarget(Target):
    name = "options"

    def document(self, program: Program) -> dict[str, t.Any]:
        """The JSON document as a dict (also what `mpl.load(...).options` mirrors)."""
        profiles: dict[str, t.Any] = {}
        for name, profile in program.profiles.items():
            profiles[name] = {
                "description": profile.description,
                "extends": profile.parent,
                "tasks": list(profile.tasks),
                "options": typed_options(program.resolve(name)),
            }
        tasks: dict[str, t.Any] = {}
        for task in program.tasks:
            chosen = program.profile_for_task(task)
            tasks[task] = {
                "profile": chosen,
                "options": typed_options(program.resolve(chosen, task)) if chosen else None,
            }
        return {
            "generated_by": "mpl",
            "source": Path(program.source.path).name,
            "ollama": str(program.target),
            "default": program.default,
            "profiles": profiles,
            "tasks": tasks,
        }

    def emit(self, program: Program, out_dir: Path) -> list[OutputFile]:
        text = dump_json(self.document(program))
        return [OutputFile(f"{_stem(program)}.options.json", text)]


def _stem(program: Program) -> str:
    stem = Path(program.source.path).stem
    return stem if stem and not stem.startswith("<") else "profiles"

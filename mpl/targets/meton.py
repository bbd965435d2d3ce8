"""The `meton` target: `models.settings` and `parameter_profiles` for Meton's config.yaml.

Meton holds fourteen parameters, spells `num_predict` as `max_tokens` and
validates its own ranges; anything it cannot hold is a diagnostic at the
statement that set it. `when` variants that differ from their profile become
extra profiles named `PROFILE-TASK`.
"""

from __future__ import annotations

import typing as t
from pathlib import Path

from mpl.catalog import catalog
from mpl.compiler.program import Options, Program
from mpl.diagnostics import Related, Sink
from mpl.source import Span
from mpl.targets.base import OutputFile, Target, task_variants, typed


class MetonTarget(Target):
    name = "meton"

    RENAMES: t.ClassVar[dict[str, str]] = {"num_predict": "max_tokens"}
    # Meton's ModelSettings fields and ranges (min, max; None = unbounded).
    RANGES: t.ClassVar[dict[str, tuple[float | None, float | None]]] = {
        "temperature": (0.0, 2.0),
        "max_tokens": (1, None),
        "top_p": (0.0, 1.0),
        "num_ctx": (1, None),
        "top_k": (0, None),
        "min_p": (0.0, 1.0),
        "repeat_penalty": (0.0, 2.0),
        "repeat_last_n": (-1, None),
        "presence_penalty": (-2.0, 2.0),
        "frequency_penalty": (-2.0, 2.0),
        "mirostat": (0, 2),
        "mirostat_tau": (0.0, None),
        "mirostat_eta": (0.0, 1.0),
        "seed": (-1, None),
    }

    def entries(self, program: Program) -> list[tuple[str, str | None, str | None, Options]]:
        """(name, profile, task, options) for every profile and differing variant."""
        found: list[tuple[str, str | None, str | None, Options]] = [
            (name, name, None, program.resolve(name)) for name in program.profiles
        ]
        for profile, task in task_variants(program):
            found.append((f"{profile}-{task}", profile, task, program.resolve(profile, task)))
        return found

    def check(self, program: Program, sink: Sink) -> None:
        names: dict[str, Span] = {n: p.decl.name.span for n, p in program.profiles.items()}
        for name, profile, task, options in self.entries(program):
            if task is not None and name in names:
                sink.report(
                    "MPL506", names[name],
                    f"Meton profile name `{name}` is taken by profile `{name}` and by `{profile}` for task `{task}`",
                    related=[Related(program.profiles[profile].decl.name.span, f"variant of `{profile}`")],  # type: ignore[index]
                    help="rename the profile",
                )
            for setting in options.values():
                if catalog().option(setting.name) is None:
                    continue  # an unknown name, already reported by the checker
                key = self.RENAMES.get(setting.name, setting.name)
                span = Span(setting.span.start, setting.span.start + len(setting.name))
                if key not in self.RANGES:
                    sink.report(
                        "MPL501", span,
                        f"Meton cannot hold `{setting.name}` (set for profile `{name}` by {setting.origin})",
                        help="Meton accepts " + ", ".join(sorted(self.RANGES)) + "; compile without `--target meton` or move it to a model",
                        parameter=setting.name,
                    )
                    continue
                low, high = self.RANGES[key]
                value = setting.value
                if isinstance(value, bool) or not isinstance(value, (int, float)):
                    continue  # a type error, already reported by the checker
                if (low is not None and value < low) or (high is not None and value > high):
                    bound = f"between {low:g} and {high:g}" if high is not None else f"at least {low:g}"
                    sink.report(
                        "MPL502", setting.value_span,
                        f"Meton requires `{key}` {bound}; profile `{name}` has {value:g} (set by {setting.origin})",
                        parameter=setting.name,
                    )

    def document(self, program: Program) -> dict[str, t.Any]:
        doc: dict[str, t.Any] = {}
        if program.default is not None:
            doc["models"] = {"settings": self._settings(program.resolve(program.default))}
        profiles: dict[str, t.Any] = {}
        for name, profile, task, options in self.entries(program):
            description = program.profiles[profile].description or "" if profile else ""
            if task is not None:
                description = f"{description} (task {task})".strip()
            profiles[name] = {"name": name, "description": description, "settings": self._settings(options)}
        doc["parameter_profiles"] = profiles
        return doc

    def _settings(self, options: Options) -> dict[str, t.Any]:
        return {self.RENAMES.get(n, n): typed(n, s.value) for n, s in options.items()}

    def emit(self, program: Program, out_dir: Path) -> list[OutputFile]:
        import yaml

        header = f"# Generated by mpl from {Path(program.source.path).name}; merge into Meton's config.yaml.\n"
        body = yaml.safe_dump(self.document(program), sort_keys=False, allow_unicode=True, default_flow_style=False)
        return [OutputFile(output_name(program.source.path), header + body)]


def output_name(source_path: str) -> str:
    """`STEM.meton.yaml`, or `meton.yaml` for a source named meton.mprof (not `meton.meton.yaml`).

    >>> output_name("profiles.mprof"), output_name("examples/meton.mprof"), output_name("<stdin>")
    ('profiles.meton.yaml', 'meton.yaml', 'profiles.meton.yaml')
    """
    stem = Path(source_path).stem
    stem = stem if stem and not stem.startswith("<") else "profiles"
    return "meton.yaml" if stem == "meton" else f"{stem}.meton.yaml"

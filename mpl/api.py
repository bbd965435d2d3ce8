"""The Python API: `mpl.load(...)` and the `ProfileSet` an assistant calls.

`ProfileSet.options(profile, task=None, **overrides)` returns resolved options
with runtime overrides validated against the catalog (what a `/param` or
`/preset` command needs); `for_task(task)` picks the routed profile or the
`default`. Every user error raises one `MplError` carrying diagnostics.
"""

from __future__ import annotations

import typing as t
from collections.abc import Mapping
from pathlib import Path

from mpl.compiler import Analysis, analyze
from mpl.diagnostics import Diagnostic, Severity
from mpl.diagnostics.render import render_text
from mpl.source import SourceFile
from mpl.targets.base import typed_options

if t.TYPE_CHECKING:
    from mpl.compiler.program import Program


class MplError(Exception):
    """Errors found in a source or in runtime overrides; `diagnostics` has them all."""

    def __init__(self, diagnostics: t.Sequence[Diagnostic], source: SourceFile | None = None) -> None:
        self.diagnostics = list(diagnostics)
        self.source = source or SourceFile("<overrides>", "")
        super().__init__(self._text())

    def _text(self) -> str:
        errors = [d for d in self.diagnostics if d.severity is Severity.ERROR] or self.diagnostics
        return render_text(self.source, errors).rstrip("\n")


class MplWarning(UserWarning):
    """A runtime override the target Ollama version ignores; `diagnostic` says why.

    Emitted with `warnings.warn`, so an assistant can show it (or turn it into an
    error with a warnings filter); the value is still returned, as Ollama would
    receive it.
    """

    def __init__(self, diagnostic: Diagnostic) -> None:
        self.diagnostic = diagnostic
        super().__init__(f"{diagnostic.code}: {diagnostic.message}" + (f" ({diagnostic.help})" if diagnostic.help else ""))


class ResolvedProfile(Mapping[str, t.Any]):
    """A profile resolved for a task: a read-only mapping of its options.

    `name` is the profile, `task` the task asked for, `options` a plain dict.
    """

    def __init__(self, name: str, task: str | None, description: str | None, options: dict[str, t.Any]) -> None:
        self.name = name
        self.task = task
        self.description = description
        self.options = options

    def __getitem__(self, key: str) -> t.Any:
        return self.options[key]

    def __iter__(self) -> t.Iterator[str]:
        return iter(self.options)

    def __len__(self) -> int:
        return len(self.options)

    def __repr__(self) -> str:
        return f"ResolvedProfile(name={self.name!r}, task={self.task!r}, options={self.options!r})"


class ProfileSet:
    """The checked profiles of one source."""

    def __init__(self, analysis: Analysis) -> None:
        assert analysis.program is not None
        self._analysis = analysis
        self.program: Program = analysis.program
        self.diagnostics: list[Diagnostic] = analysis.diagnostics  # warnings and notes

    @property
    def profiles(self) -> list[str]:
        return list(self.program.profiles)

    @property
    def tasks(self) -> list[str]:
        return list(self.program.tasks)

    @property
    def default(self) -> str | None:
        return self.program.default

    @property
    def models(self) -> list[str]:
        return [m.name for m in self.program.models]

    def description(self, profile: str) -> str | None:
        return self._profile(profile).description

    def options(self, profile: str, task: str | None = None, **overrides: t.Any) -> dict[str, t.Any]:
        """Resolved options of a profile (for a task), with validated overrides.

        An override of `None` removes the option. An override the target Ollama
        version does not know is an `MplWarning` where that version ignores it
        (as a profile's value would be, MPL401) and an `MplError` where it
        rejects requests that carry it (before 0.1.35).

        >>> ps = load('tasks a\\nprofile p for a < temperature 0.2; when task is a < top_k 5 > >')
        >>> ps.options("p", "a", temperature="0.7")
        {'temperature': 0.7, 'top_k': 5}
        """
        self._profile(profile)
        if task is not None and task not in self.program.tasks:
            raise MplError([_error("MPL205", f"task `{task}` is not declared", _near(task, self.program.tasks))])
        options = typed_options(self.program.resolve(profile, task))
        validated = validate_overrides(overrides)
        self._check_versions(name for name, value in validated.items() if value is not None)
        for name, value in validated.items():
            if value is None:
                options.pop(name, None)
            else:
                options[name] = value
        return options

    def for_task(self, task: str, **overrides: t.Any) -> ResolvedProfile:
        """The profile routed to a task (or the `default`), resolved for that task."""
        if task not in self.program.tasks:
            raise MplError([_error("MPL205", f"task `{task}` is not declared", _near(task, self.program.tasks))])
        chosen = self.program.profile_for_task(task)
        if chosen is None:
            raise MplError([_error("MPL217", f"task `{task}` is routed to no profile and there is no `default`", None)])
        return ResolvedProfile(chosen, task, self.program.profiles[chosen].description, self.options(chosen, task, **overrides))

    def _check_versions(self, names: t.Iterable[str]) -> None:
        """The checker's version rule (MPL401) for overrides: a warning where the
        target ignores the option, an `MplError` where it rejects requests that carry it."""
        import warnings

        from mpl.catalog import catalog
        from mpl.compiler.check import check_runtime_version
        from mpl.diagnostics import Sink

        sink = Sink(SourceFile("<overrides>", ""))
        for name in names:
            spec = catalog().option(name)
            if spec is not None:
                check_runtime_version(spec, self.program.target, None, sink)
        for diag in sink.diagnostics:
            if not diag.is_error:
                warnings.warn(MplWarning(diag), stacklevel=3)
        rejected = [d for d in sink.diagnostics if d.is_error]
        if rejected:
            raise MplError(rejected)

    def _profile(self, name: str):
        profile = self.program.profiles.get(name)
        if profile is None:
            raise MplError([_error("MPL207", f"profile `{name}` does not exist", _near(name, self.program.profiles))])
        return profile


def load(source: str | Path, *, ollama: str | None = None) -> ProfileSet:
    """Load and check a profile source: a path, or the text itself.

    A `Path`, or a string naming an existing file (or ending in `.mprof`), is
    read from disk; any other string is source text. Raises `MplError` when the
    source has errors; warnings are kept in `ProfileSet.diagnostics`.
    """
    from mpl.catalog import Version

    target = None
    if ollama is not None:
        try:
            target = Version.parse(ollama)
        except ValueError as exc:
            raise MplError([_error("MPL304", str(exc), None)]) from None
    if isinstance(source, str) and "\n" not in source and (source.endswith(".mprof") or Path(source).is_file()):
        source = Path(source)
    analysis = analyze(source, target=target, targets=("options",))
    if analysis.has_errors or analysis.program is None:
        raise MplError(analysis.diagnostics, analysis.source)
    return ProfileSet(analysis)


# -- overrides -------------------------------------------------------------------


def _error(code: str, message: str, help: str | None) -> Diagnostic:
    return Diagnostic(code=code, severity=Severity.ERROR, message=message, span=None, help=help)


def _near(name: str, candidates: t.Iterable[str]) -> str | None:
    from mpl.compiler.names import did_you_mean

    return did_you_mean(name, candidates)


def validate_overrides(overrides: dict[str, t.Any]) -> dict[str, t.Any]:
    """Check runtime overrides against the catalog; returns them in Ollama's types.

    Each value gets the verdict the checker gives the same value in a profile
    (`mpl.catalog.validate`); a string typed at a prompt is read as the profile
    syntax reads it (``"0.7"`` is a number, ``"true"`` a boolean; for `stop` it is
    the string). `None` is kept: it removes the option. A warning (a float that
    underflows to 0) is an `MplWarning`.

    >>> validate_overrides({"top_k": "20", "stop": "###"})
    {'top_k': 20, 'stop': ['###']}
    """
    if not overrides:
        return {}
    import warnings

    from mpl.catalog import catalog, validate
    from mpl.catalog.values import read_prompt

    diags: list[Diagnostic] = []
    for name in overrides:
        if catalog().option(name) is None:
            near = catalog().suggest(name)
            diags.append(_error("MPL301", f"unknown parameter `{name}`", f"did you mean `{near}`?" if near else None))
    if diags:
        raise MplError(diags)
    result: dict[str, t.Any] = {}
    for name, value in overrides.items():
        if value is None:
            result[name] = None
            continue
        spec = catalog().option(name)
        assert spec is not None
        verdict = validate(spec, read_prompt(spec, value))
        for problem in verdict.problems:
            if problem.severity == "error":
                diags.append(_error(problem.code, problem.message, problem.help))
            else:
                diag = Diagnostic(code=problem.code, severity=Severity.WARNING, message=problem.message, span=None, help=problem.help)
                warnings.warn(MplWarning(diag), stacklevel=3)
        if verdict.ok:
            result[name] = verdict.value
    if diags:
        raise MplError(diags)
    return result

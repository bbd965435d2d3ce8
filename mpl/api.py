"""The Python API: `mpl.load(path)`, `mpl.loads(text)` and the `ProfileSet` an assistant calls.

`ProfileSet.options(profile, task=None, **overrides)` returns resolved options
with runtime overrides validated against the catalog (what a `/param` or
`/preset` command needs); `for_task(task)` picks the routed profile or the
`default`. Every user error raises one `MplError` carrying diagnostics.
"""

from __future__ import annotations

import os
import typing as t
from collections.abc import Mapping
from pathlib import Path

from mpl.compiler import Analysis
from mpl.pipeline import analyze
from mpl.checks import MplError, MplWarning, error, known_profile, known_task, validate_overrides
from mpl.diagnostics import Diagnostic
from mpl.source import SourceFile, read_stream
from mpl.targets.base import typed_options

if t.TYPE_CHECKING:
    from mpl.catalog import Version
    from mpl.compiler.program import Program
    from mpl.session import Session


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

        >>> ps = loads('tasks a\\nprofile p for a < temperature 0.2; when task is a < top_k 5 > >')
        >>> ps.options("p", "a", temperature="0.7")
        {'temperature': 0.7, 'top_k': 5}
        """
        self._profile(profile)
        if task is not None:
            known_task(task, self.program.tasks)
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
        known_task(task, self.program.tasks)
        chosen = self.program.profile_for_task(task)
        if chosen is None:
            raise MplError([error("MPL217", f"task `{task}` is routed to no profile and there is no `default`", None)])
        return ResolvedProfile(chosen, task, self.program.profiles[chosen].description, self.options(chosen, task, **overrides))

    def session(self, profile: str | None = None, task: str | None = None) -> Session:
        """A runtime session (`mpl.session.Session`): `/param`, `/preset`, `/param show`, `/profile save`.

        It starts at `profile`, else the profile routed to `task`, else the `default`.
        """
        from mpl.session import Session

        return Session(self, profile, task)

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

    def reload(self, path: str | os.PathLike[str]) -> ProfileSet:
        """This set's file (at `path`), loaded again after it changed, against the same Ollama version."""
        program = self.program
        return load(path, ollama=str(program.target) if program.target_origin == "option" else None)

    def _profile(self, name: str):
        return self.program.profiles[known_profile(name, self.program.profiles)]


def load(source: str | os.PathLike[str] | t.BinaryIO, *, ollama: str | None = None) -> ProfileSet:
    """Load and check a profile source: a path, or a file opened in binary mode.

    As `json.load` and `tomllib.load`: `mpl.load(path)` reads the file, and
    `mpl.load(fp)` reads an open binary file; source text goes to
    `mpl.loads`. Anything wrong with the input (a missing or unreadable file,
    a folder, binary or non-UTF-8 content, errors in the source) raises
    `MplError`; warnings are kept in `ProfileSet.diagnostics`.
    """
    target = _target(ollama)
    if isinstance(source, (str, os.PathLike)):
        analysis = analyze(Path(source), target=target, targets=("options",))
        if analysis.io_error and isinstance(source, str) and not os.path.lexists(source):
            analysis.sink.diagnostics[:] = [_no_such_file(d, source) for d in analysis.sink.diagnostics]
        return _checked(analysis)
    if hasattr(source, "read"):
        return _load_file_object(source, target)
    raise TypeError(f"mpl.load() takes a path or a binary file object, not {type(source).__name__}; for text call mpl.loads()")


def _no_such_file(diag: Diagnostic, path: str) -> Diagnostic:
    """MPL001 for a path that names nothing, saying so, and where source text goes."""
    import msgspec.structs

    if diag.code != "MPL001":
        return diag
    from mpl.source import visible

    shown = visible(path, 80)
    return msgspec.structs.replace(diag, message=f"no file `{shown}`",
                                   help="mpl.load reads a file (a path or a binary file object); for source text call mpl.loads(text)")


def loads(text: str | bytes, *, name: str = "<string>", ollama: str | None = None) -> ProfileSet:
    """Load and check profile source text; `name` is the file name diagnostics show.

    Relative paths in the source (adapters, local model files) are taken from the
    current directory. Raises `MplError` when the source has errors.

    >>> loads('profile p < temperature 0.2 >').options("p")
    {'temperature': 0.2}
    """
    target = _target(ollama)
    if isinstance(text, (bytes, bytearray)):
        return _load_bytes(bytes(text), name, None, target)
    if not isinstance(text, str):
        raise TypeError(f"mpl.loads() takes str or bytes, not {type(text).__name__}")
    return _checked(analyze(SourceFile(name, text), target=target, targets=("options",)))


def _target(ollama: str | None) -> Version | None:
    if ollama is None:
        return None
    from mpl.catalog import Version

    if not isinstance(ollama, str):
        raise MplError([error("MPL304", f"an Ollama version is a string such as \"0.12\", not {type(ollama).__name__}", None)])
    try:
        return Version.parse(ollama)
    except ValueError as exc:
        raise MplError([error("MPL304", str(exc), None)]) from None


def _load_file_object(fp: t.Any, target: Version | None) -> ProfileSet:
    name = getattr(fp, "name", None)
    shown = name if isinstance(name, str) and name else "<file>"
    try:
        data = read_stream(fp)  # at most 16 MiB and a byte: more is MPL005
    except UnicodeDecodeError as exc:  # a text-mode file in another encoding
        raise MplError([error("MPL002", f"`{shown}` is not valid UTF-8: {exc.reason}", "save the file as UTF-8")]) from None
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise MplError([error("MPL001", f"cannot read `{shown}`: {reason}", None)]) from None
    base_dir = None
    if shown != "<file>":
        try:
            if os.path.isfile(shown):
                base_dir = Path(shown).resolve().parent
        except (OSError, ValueError):
            base_dir = None
    if isinstance(data, str):  # a file opened in text mode: already decoded
        return _checked(analyze(SourceFile(shown, data), target=target, base_dir=base_dir, targets=("options",)))
    if not isinstance(data, (bytes, bytearray)):
        raise TypeError(f"mpl.load() needs a file whose read() returns bytes, not {type(data).__name__}")
    return _load_bytes(bytes(data), shown, base_dir, target)


def _load_bytes(data: bytes, name: str, base_dir: Path | None, target: Version | None) -> ProfileSet:
    from mpl.compiler import decode_source
    from mpl.pipeline import analyze_read

    return _checked(analyze_read(*decode_source(data, name), target=target, base_dir=base_dir, targets=("options",)))


def _checked(analysis: Analysis) -> ProfileSet:
    if analysis.has_errors or analysis.program is None:
        raise MplError(analysis.diagnostics, analysis.source)
    return ProfileSet(analysis)


__all__ = ["MplError", "MplWarning", "ProfileSet", "ResolvedProfile", "known_profile", "known_task", "load", "loads", "validate_overrides"]

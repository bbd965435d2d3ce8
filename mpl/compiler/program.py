"""The resolved program: what every target consumes.

`resolve` builds a `Program` from the syntax tree; `check` reads it and adds
diagnostics. Targets never see syntax nodes beyond the spans kept here.
"""

from __future__ import annotations

import typing as t
from pathlib import Path

import msgspec

from mpl.compiler import nodes
from mpl.source import SourceFile, Span

if t.TYPE_CHECKING:
    from mpl.catalog import Version

Scalar = t.Union[int, float, bool, str]
PyValue = t.Union[Scalar, tuple[Scalar, ...]]


class Setting(msgspec.Struct, frozen=True):
    """One resolved parameter value and where it came from.

    `origin` names the block whose statement set the value ("profile precise",
    "model meton-custom", "profile explanation, when task is docs").
    """

    name: str
    value: PyValue
    span: Span  # the statement that set (or last appended to) the value
    value_span: Span
    origin: str
    profile: str | None  # the profile whose statement set it (None for a model's own)
    elements: tuple[Span, ...] = ()  # for lists: the value span of each element


Options = dict[str, Setting]


class Profile(msgspec.Struct):
    """A declared profile: its own statements stay in `decl`; `Program.resolve` merges the chain."""

    name: str
    decl: nodes.ProfileDecl
    description: str | None
    parent: str | None  # None when absent, unknown or part of a cycle
    tasks: tuple[str, ...]

    @property
    def name_span(self) -> Span:
        return self.decl.name.span

    @property
    def span(self) -> Span:
        return self.decl.span


class ModelSource(msgspec.Struct, frozen=True):
    """Where a model comes from: a registry name, a local path, or another model of the file."""

    kind: t.Literal["registry", "path", "model"]
    value: str  # the registry name, the path as written, or the other model's name
    span: Span
    path: Path | None = None  # absolute, for kind == "path"


class Text(msgspec.Struct, frozen=True):
    """A model's `system`, `template`, `license` or `requires` text."""

    value: str
    span: Span  # the statement
    value_span: Span


class Message(msgspec.Struct, frozen=True):
    """A model's `message ROLE "text"`."""

    role: str
    content: str
    span: Span
    role_span: Span
    value_span: Span


class Adapter(msgspec.Struct, frozen=True):
    """A model's `adapter "path"`, as written and as an absolute path."""

    value: str  # as written
    path: Path  # absolute
    span: Span
    value_span: Span


class Model(msgspec.Struct):
    """A declared model: its source and what its block sets."""

    name: str
    decl: nodes.ModelDecl
    source: ModelSource
    adapter: Adapter | None = None
    params: Options = msgspec.field(default_factory=dict)
    system: Text | None = None
    template: Text | None = None
    messages: list[Message] = msgspec.field(default_factory=list)
    licenses: list[Text] = msgspec.field(default_factory=list)
    requires: Text | None = None
    uses: list[tuple[str, str | None, Span]] = msgspec.field(default_factory=list)
    unsets: list[tuple[str, Span]] = msgspec.field(default_factory=list)

    @property
    def name_span(self) -> Span:
        return self.decl.name.span

    @property
    def span(self) -> Span:
        return self.decl.span


class Program(msgspec.Struct):
    """A resolved source: profiles, tasks, routes and models, for the checks and every target."""

    source: SourceFile
    file: nodes.File
    base_dir: Path
    target: Version
    target_origin: t.Literal["file", "option", "server", "default"]
    target_span: Span | None
    tasks: dict[str, Span]
    default: str | None
    default_span: Span | None
    profiles: dict[str, Profile]
    routes: dict[str, str]  # task -> profile
    models: list[Model]  # in build order (dependencies first)
    _cache: dict[tuple[str, str | None], Options] = msgspec.field(default_factory=dict)
    _when_tasks: dict[str, frozenset[str]] = msgspec.field(default_factory=dict)
    _models_by_key: dict[str, Model] = msgspec.field(default_factory=dict)

    def profile_for_task(self, task: str) -> str | None:
        """The profile a task is routed to, else the `default`."""
        return self.routes.get(task, self.default)

    def resolve(self, profile: str, task: str | None = None) -> Options:
        """The resolved options of a profile, for a task or for none."""
        found = self._cache.get((profile, task))
        if found is None:
            from mpl.compiler.resolve import resolve_profile

            found = self._cache[(profile, task)] = resolve_profile(self, profile, task)
        return found

    def model(self, name: str) -> Model | None:
        """The model of a name as Ollama matches names (any case, `:latest` implied)."""
        from mpl.compiler.names import canonical_model_name

        if len(self._models_by_key) != len(self.models):
            self._models_by_key = {canonical_model_name(m.name): m for m in reversed(self.models)}
        return self._models_by_key.get(canonical_model_name(name))


def plain(options: Options) -> dict[str, PyValue]:
    """Options as plain values: lists become Python lists.

    >>> plain({})
    {}
    """
    return {name: list(s.value) if isinstance(s.value, tuple) else s.value for name, s in options.items()}

"""The resolved program: the one IR every pass after resolution, every target and the build read.

`mpl.compiler.resolve` builds a `Program` from the syntax tree once, eagerly:
every profile resolved for no task and for every task its chain's `when`
blocks name, every model with its baked parameters, each value with a
structured `Origin`. The program holds no syntax node, no cache and no
lazy step: reading it never runs the resolver again.

Its frozen parts (settings, origins, profiles, texts) hold only values and
other frozen parts, never a reference cycle, so they are built with
`gc=False`: the cyclic garbage collector does not track them.
"""

from __future__ import annotations

import typing as t
from pathlib import Path

import msgspec

from mpl.source import SourceFile, Span

if t.TYPE_CHECKING:
    from mpl.catalog import Version
    from mpl.compiler.policy import Allows

Scalar = t.Union[int, float, bool, str]
PyValue = t.Union[Scalar, tuple[Scalar, ...]]


class Origin(msgspec.Struct, frozen=True, gc=False):
    """Which block's statement set a value.

    `profile` is the profile whose statement set it (None for a model's own
    statement, then `model` names the model); `when` holds the tasks of the
    `when` block it stands in, `form` whether that block reads `is` or `in`.
    `override` marks a value set at runtime (a session's override), not by
    any statement. `str(origin)` is how people read it: "profile precise",
    "model m", "profile explanation, when task is docs", "override".

    >>> str(Origin(profile="p", when=("docs",), form="is"))
    'profile p, when task is docs'
    """

    profile: str | None = None
    model: str | None = None
    when: tuple[str, ...] = ()
    form: t.Literal["is", "in"] = "is"
    override: bool = False

    def __str__(self) -> str:
        if self.override:
            return "override"
        if self.profile is None:
            return f"model {self.model}"
        if not self.when:
            return f"profile {self.profile}"
        tasks = self.when[0] if self.form == "is" else "[" + ", ".join(self.when) + "]"
        return f"profile {self.profile}, when task {self.form} {tasks}"


class Setting(msgspec.Struct, frozen=True, gc=False):
    """One resolved parameter value and where it came from."""

    name: str
    value: PyValue
    span: Span  # the statement that set (or last appended to) the value
    value_span: Span
    origin: Origin
    elements: tuple[Span, ...] = ()  # for lists: the span of each element's literal

    @property
    def profile(self) -> str | None:
        """The profile whose statement set the value (None for a model's own)."""
        return self.origin.profile

    @property
    def name_span(self) -> Span:
        """The parameter name at the start of the statement."""
        return Span(self.span.start, self.span.start + len(self.name))


Options = dict[str, Setting]


class Profile(msgspec.Struct, frozen=True, gc=False):
    """A declared profile: where it stands, what it extends, which tasks it claims."""

    name: str
    name_span: Span
    span: Span  # the whole declaration
    description: str | None
    parent: str | None  # None when absent, unknown or part of a cycle
    parent_span: Span | None
    tasks: tuple[str, ...]
    when_tasks: frozenset[str]  # tasks named by `when` blocks of this profile and its ancestors
    # The declared tasks, in declaration order, whose resolution differs from the profile's own.
    varied_tasks: tuple[str, ...] = ()


class ModelSource(msgspec.Struct, frozen=True, gc=False):
    """Where a model comes from: a registry name, a local path, or another model of the file."""

    kind: t.Literal["registry", "path", "model"]
    value: str  # the registry name, the path as written, or the other model's name
    span: Span
    path: Path | None = None  # absolute, for kind == "path"


class Text(msgspec.Struct, frozen=True, gc=False):
    """A model's `system`, `template`, `license` or `requires` text."""

    value: str
    span: Span  # the statement
    value_span: Span


class Message(msgspec.Struct, frozen=True, gc=False):
    """A model's `message ROLE "text"`."""

    role: str
    content: str
    span: Span
    role_span: Span
    value_span: Span


class Adapter(msgspec.Struct, frozen=True, gc=False):
    """A model's `adapter "path"`, as written and as an absolute path."""

    value: str  # as written
    path: Path  # absolute
    span: Span
    value_span: Span


class Use(msgspec.Struct, frozen=True, gc=False):
    """A model's `use PROFILE [for TASK]`."""

    profile: str
    task: str | None
    span: Span


class Model(msgspec.Struct, frozen=True):
    """A declared model: its source and what its block sets."""

    name: str
    name_span: Span
    span: Span
    source: ModelSource
    adapter: Adapter | None = None
    params: Options = msgspec.field(default_factory=dict)
    system: Text | None = None
    template: Text | None = None
    messages: tuple[Message, ...] = ()
    licenses: tuple[Text, ...] = ()
    requires: Text | None = None
    uses: tuple[Use, ...] = ()
    unsets: tuple[tuple[str, Span], ...] = ()
    base: str | None = None  # the model of this file it is built `from`, if any


class Comment(msgspec.Struct, frozen=True, gc=False):
    """A `#` comment of the source (for allow comments and lints that read intent)."""

    span: Span
    text: str
    line: int
    own_line: bool  # nothing but blanks before it on its line


class Program(msgspec.Struct, frozen=True):
    """A resolved source: profiles, their variants, tasks, routes and models."""

    source: SourceFile
    base_dir: Path
    target: Version
    target_origin: t.Literal["file", "option", "server", "default"]
    target_span: Span | None
    pinned: Version | None  # the file's own `ollama` line, whatever was checked
    pinned_span: Span | None
    tasks: dict[str, Span]
    default: str | None
    default_span: Span | None
    profiles: dict[str, Profile]
    children: dict[str, tuple[str, ...]]  # profile -> the profiles that extend it
    routes: dict[str, str]  # task -> profile
    resolved: dict[tuple[str, str | None], Options]  # (profile, task) -> options; task None = no task; a task absent: as no task
    models: tuple[Model, ...]  # in build order (dependencies first)
    models_by_key: dict[str, Model]  # canonical name -> model
    comments: tuple[Comment, ...] = ()
    line_comments: dict[int, str] = msgspec.field(default_factory=dict)  # line -> its comments' text
    allows: Allows | None = None  # the `# mpl: allow(...)` comments, once the lint pass has read them

    def profile_for_task(self, task: str) -> str | None:
        """The profile a task is routed to, else the `default`."""
        return self.routes.get(task, self.default)

    def resolve(self, profile: str, task: str | None = None) -> Options:
        """The resolved options of a profile, for a task or for none.

        A task no `when` block of the chain names resolves as no task.
        """
        found = self.resolved.get((profile, task))
        return found if found is not None else self.resolved[(profile, None)]

    def variants(self, profile: str) -> list[str | None]:
        """No task, then every declared task whose resolution the chain's `when` blocks change."""
        return [None, *self.profiles[profile].varied_tasks]

    def model(self, name: str) -> Model | None:
        """The model of a name as Ollama matches names (any case, `:latest` implied)."""
        from mpl.compiler.names import canonical_model_name

        return self.models_by_key.get(canonical_model_name(name))

    def dependency(self, model: Model) -> Model | None:
        """The model of the same file that `model` is built `from`, if any."""
        return self.models_by_key.get(model.base) if model.base is not None else None

    def comments_on_line(self, line: int) -> str:
        """The text of the comments on a 1-based line, joined by spaces."""
        return self.line_comments.get(line, "")


def plain(options: Options) -> dict[str, t.Any]:
    """Options as plain values: lists become Python lists.

    >>> plain({})
    {}
    """
    return {name: list(s.value) if isinstance(s.value, tuple) else s.value for name, s in options.items()}

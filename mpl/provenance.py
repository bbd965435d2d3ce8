"""Provenance: what a profile, task or model really sets, where each value comes from.

Consumes a checked `Program`; produces `Row`s for `mpl show` and `mpl diff`
(value, the file:line and profile that set it, and notes when the value is inert:
overridden by mirostat, moot at temperature 0, ignored by the target version) and
`DefaultRow`s for `mpl check --explain-defaults`. Rendering is in `mpl.show`.

Subjects are named as on the command line (docs/show.md):
``NAME`` (a profile, else a model), ``profile:NAME``, ``model:NAME``,
``task:TASK`` (the profile the task routes to, resolved for that task) and
``PROFILE@TASK`` (a profile resolved for a task).
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass

from mpl.catalog import ModelfileBehaviour, Version, catalog
from mpl.compiler.check import version_note
from mpl.compiler.lint import DRIFTING, default_changes, drift_range, show_default, subject_for
from mpl.compiler.modelinfo import ModelInfo, model_info
from mpl.compiler.names import suggest
from mpl.compiler.rules import run_rules

if t.TYPE_CHECKING:
    from mpl.compiler.program import Options, Program, PyValue


class UnknownSubject(Exception):
    """A subject name that is no profile, model or task; `hint` is a did-you-mean."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint


@dataclass(frozen=True, slots=True)
class Subject:
    """A resolved option set that `mpl show` can explain."""

    kind: t.Literal["profile", "model"]
    name: str
    task: str | None
    options: Options
    info: ModelInfo | None = None

    @property
    def label(self) -> str:
        return f"{self.kind} {self.name}" + (f" for task {self.task}" if self.task else "")


@dataclass(frozen=True, slots=True)
class Row:
    """One parameter of a subject: its value and where it comes from."""

    name: str
    value: PyValue | None  # None: Ollama decides (automatic / unset)
    source: t.Literal["set", "default"]
    line: int | None = None
    column: int | None = None
    origin: str | None = None  # "profile precise", "model m", "profile p, when task is …"
    profile: str | None = None
    notes: tuple[str, ...] = ()

    @property
    def inert(self) -> bool:
        return self.source == "set" and bool(self.notes)


@dataclass(frozen=True, slots=True)
class DefaultRow:
    """A parameter a subject leaves unset whose Ollama default has changed over releases."""

    name: str
    default: t.Any
    history: tuple[tuple[str, t.Any, str], ...]  # (since, value, note)
    drifts: bool  # changes within the versions the subject targets (MPL730)


def find_subject(program: Program, spec: str, task: str | None = None) -> Subject:
    """Resolve a subject name; raises `UnknownSubject` with a did-you-mean.

    >>> from mpl.pipeline import analyze
    >>> p = analyze("tasks a\\nprofile x for a < temperature 0.5 >").program
    >>> find_subject(p, "task:a").label, find_subject(p, "x").options["temperature"].value
    ('profile x for task a', 0.5)
    """
    kind, _, name = spec.partition(":") if spec.split(":", 1)[0] in ("task", "profile", "model") else ("", "", spec)
    if kind == "task":
        return _profile(program, _routed(program, name), _task(program, name))
    if "@" in name and kind != "model":
        name, _, at = name.partition("@")
        task = at
    if kind in ("", "profile") and name in program.profiles:
        return _profile(program, name, _task(program, task) if task else None)
    if kind in ("", "model"):
        model = program.model(name)
        if model is not None:
            if task:
                raise UnknownSubject(f"models are not resolved per task; `--task {task}` does not apply to `{name}`")
            return Subject("model", model.name, None, model.params, model_info(program, model))
    pool = [*program.profiles, *(m.name for m in program.models)] if kind == "" else (
        list(program.profiles) if kind == "profile" else [m.name for m in program.models])
    near = suggest(name, pool)
    what = {"": "profile or model", "profile": "profile", "model": "model"}[kind]
    raise UnknownSubject(f"no {what} named `{name}`", f"did you mean `{near}`?" if near else _known(pool))


def _known(pool: list[str]) -> str | None:
    return f"known: {', '.join(pool)}" if pool else None


def _task(program: Program, task: str) -> str:
    if task not in program.tasks:
        near = suggest(task, program.tasks)
        raise UnknownSubject(f"no task named `{task}`", f"did you mean `{near}`?" if near else _known(list(program.tasks)))
    return task


def _routed(program: Program, task: str) -> str:
    _task(program, task)
    profile = program.profile_for_task(task)
    if profile is None or profile not in program.profiles:
        raise UnknownSubject(f"task `{task}` is routed to no profile and there is no `default`")
    return profile


def _profile(program: Program, name: str, task: str | None) -> Subject:
    return Subject("profile", name, task, program.resolve(name, task))


def rows(program: Program, subject: Subject, *, defaults: bool = True) -> list[Row]:
    """Every parameter the subject sets (with notes), then Ollama's defaults for the rest."""
    cat = catalog()
    target = program.target
    notes: dict[str, list[str]] = {}
    view = subject_for(program, subject.options, subject.kind, subject.info)
    for finding in run_rules(view):
        if finding.inert and finding.param:
            bucket = notes.setdefault(finding.param, [])
            if finding.inert not in bucket:
                bucket.append(finding.inert)
    out: list[Row] = []
    order = {name: i for i, name in enumerate(cat.options)}
    for name, setting in sorted(subject.options.items(), key=lambda item: order.get(item[0], len(order))):
        spec = cat.option(name)
        extra = list(notes.get(name, ()))
        if spec is None:
            extra.append("unknown parameter")
        elif not spec.known_in(target):
            extra.insert(0, _ignored(subject, name, target))
        line, column = program.source.line_col(setting.span.start)
        out.append(Row(name, setting.value, "set", line, column, str(setting.origin), setting.profile, tuple(extra)))
    if defaults:
        for name, spec in cat.options.items():
            if name in subject.options or not spec.known_in(target):
                continue
            changes = [(str(c.since), c.value) for c in spec.defaults]
            history = () if len({repr(v) for _, v in changes}) < 2 else (_history_note(name, target),)
            out.append(Row(name, spec.default_in(target), "default", notes=history))
    return out


def _ignored(subject: Subject, name: str, target: Version) -> str:
    spec = catalog().options[name]
    if subject.kind == "model":
        match catalog().modelfile_behaviour(name, target):
            case ModelfileBehaviour.DROP_WARN:
                return f"dropped by `ollama create` of Ollama {target}: it {version_note(spec, target)}"
            case ModelfileBehaviour.REJECT:
                return f"rejected by `ollama create` of Ollama {target}: it {version_note(spec, target)}"
    return f"ignored: it {version_note(spec, target)}; Ollama {target} ignores it"


def _history_note(name: str, target: Version) -> str:
    """How the default at `target` relates to other releases ("changes to 1.0 in Ollama 0.32.10")."""
    spec = catalog().options[name]
    current = spec.default_in(target)
    later = [c for c in spec.defaults if c.since > target and c.value != current]
    if later:
        return f"default changes to {show_default(later[0].value)} in Ollama {later[0].since}"
    earlier = [c for c in spec.defaults if c.since <= target]
    if len(earlier) > 1 and earlier[-1].value != earlier[-2].value:
        return f"default since Ollama {earlier[-1].since} (was {show_default(earlier[-2].value)})"
    return "default has changed over releases"


def default_history(name: str) -> tuple[tuple[str, t.Any, str], ...]:
    """Every (since, value, note) of a parameter's default, oldest first."""
    return tuple((str(c.since), c.value, c.note) for c in catalog().options[name].defaults)


def unset_defaults(program: Program, options: Options, *, model: t.Any = None) -> list[DefaultRow]:
    """The parameters left unset whose default moved across releases, at the target version.

    >>> from mpl.pipeline import analyze
    >>> p = analyze('ollama "0.12"\\nprofile x < temperature 0.5 >').program
    >>> [(r.name, r.default, r.drifts) for r in unset_defaults(p, p.resolve("x"))][:2]
    [('num_keep', 4, False), ('num_predict', -1, False)]
    """
    target = program.target
    span = drift_range(program, model)
    out = []
    for name, spec in catalog().options.items():
        if name in options or not spec.known_in(target):
            continue
        history = default_history(name)
        if len({repr(value) for _, value, _ in history}) < 2:
            continue
        drifts = span is not None and name in DRIFTING and len(default_changes(name, *span)) > 1
        out.append(DefaultRow(name, spec.default_in(target), history, drifts))
    return out


def diff_rows(a: list[Row], b: list[Row]) -> list[tuple[str, Row | None, Row | None]]:
    """The parameters whose value or source differs between two row lists."""
    left = {r.name: r for r in a}
    right = {r.name: r for r in b}
    names = list(dict.fromkeys([*left, *right]))
    order = {name: i for i, name in enumerate(catalog().options)}
    names.sort(key=lambda n: order.get(n, len(order)))
    out = []
    for name in names:
        ra, rb = left.get(name), right.get(name)
        if ra is not None and rb is not None and (ra.value, ra.source, ra.line, ra.notes) == (rb.value, rb.source, rb.line, rb.notes):
            continue
        if ra is not None and rb is not None and ra.source == rb.source == "default":
            continue
        out.append((name, ra, rb))
    return out


@dataclass(frozen=True, slots=True)
class Instruction:
    """One Modelfile instruction a model holds (FROM, ADAPTER, SYSTEM, …), as `ollama show` lists them.

    `origin` is the model whose block wrote it: the subject itself, or the model
    of the same file it is built `from` (Ollama copies the base's instructions).
    """

    keyword: t.Literal["FROM", "ADAPTER", "SYSTEM", "TEMPLATE", "MESSAGE", "LICENSE", "REQUIRES"]
    value: str
    line: int
    column: int
    origin: str
    role: str | None = None  # MESSAGE only
    note: str = ""


def instructions(program: Program, subject: Subject) -> list[Instruction]:
    """The instructions of a model subject, its base's merged in as `/api/create` merges them.

    FROM is the model's own; a base model of the same file lends its SYSTEM,
    TEMPLATE, MESSAGEs and REQUIRES where the model has none, and its ADAPTERs
    and LICENSEs come before the model's own. A profile has none.

    >>> from mpl.pipeline import analyze
    >>> p = analyze('model a from "llama3" < system "hi" >\\nmodel b from a < license "MIT" >').program
    >>> [(i.keyword, i.value, i.origin) for i in instructions(p, find_subject(p, "b"))]
    [('FROM', 'a', 'model b'), ('SYSTEM', 'hi', 'model a'), ('LICENSE', 'MIT', 'model b')]
    """
    if subject.kind != "model":
        return []
    model = program.model(subject.name)
    if model is None:
        return []
    chain = [model]
    while chain[-1].source.kind == "model":
        base = program.model(chain[-1].source.value)
        if base is None or any(base is m for m in chain):
            break
        chain.append(base)

    def at(keyword: t.Any, value: str, span: t.Any, owner: t.Any, **extra: t.Any) -> Instruction:
        line, column = program.source.line_col(span.start)
        return Instruction(keyword, value, line, column, f"model {owner.name}", **extra)

    source = model.source
    from_note = {
        "registry": "a registry model; what it holds itself is on the server, not in this file",
        "model": "a model of this file, whose instructions it inherits",
        "path": f"a local file: {source.path}",
    }[source.kind]
    out = [at("FROM", source.value, source.span, model, note=from_note)]
    for owner in reversed(chain):  # the base's adapters come first, as in its manifest
        if owner.adapter is not None:
            out.append(at("ADAPTER", owner.adapter.value, owner.adapter.span, owner, note=str(owner.adapter.path)))
    for keyword in ("SYSTEM", "TEMPLATE"):
        holder = next((m for m in chain if getattr(m, keyword.lower()) is not None and getattr(m, keyword.lower()).value), None)
        if holder is not None:
            text = getattr(holder, keyword.lower())
            out.append(at(keyword, text.value, text.span, holder))
    holder = next((m for m in chain if m.messages), None)
    if holder is not None:
        out.extend(at("MESSAGE", m.content, m.span, holder, role=m.role) for m in holder.messages)
    for owner in reversed(chain):
        out.extend(at("LICENSE", text.value, text.span, owner) for text in owner.licenses)
    holder = next((m for m in chain if m.requires is not None), None)
    if holder is not None and holder.requires is not None:
        out.append(at("REQUIRES", holder.requires.value, holder.requires.span, holder))
    return out

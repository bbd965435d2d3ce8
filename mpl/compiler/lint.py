"""Lint: semantic lints over a checked `Program` (the rules of `mpl.compiler.rules`).

`lint(program, sink)` runs the rules of `mpl.compiler.rules` on every profile
(resolved for no task and for each task its `when` blocks name) and on every
model's baked parameters, then reports each finding once, at the statement that
makes it true. A finding seen only through inheritance says so ("inherited by
`debugging` from `precise`"). Rule 23 (default drift) is here: it needs the tree.

The pass reads the source's `# mpl: allow(...)` comments once (`mpl.compiler.policy`),
marks the findings they silence, and leaves them on the program for the policy.
"""

from __future__ import annotations

import typing as t

import msgspec

from mpl.catalog import NEWEST, Version, catalog
from mpl.compiler.modelinfo import local_gguf_base, model_info
from mpl.compiler.policy import Allows, find_allows
from mpl.compiler.resolve import chain_order
from mpl.compiler.rules import RULES, Finding, Subject
from mpl.diagnostics import CODES, Related, Sink
from mpl.source import Span

if t.TYPE_CHECKING:
    from mpl.compiler.program import Model, Options, Program

# Defaults that moved in a way that changes behaviour (`DefaultOptions()` across releases).
DRIFTING = ("repeat_penalty", "num_ctx", "num_keep", "repeat_last_n", "num_gpu", "num_thread", "use_mmap")


class Context(msgspec.Struct, frozen=True):
    """Where a finding was seen: a profile (for a task or none) or a model."""

    kind: t.Literal["profile", "model"]
    name: str
    task: str | None = None


class _Group(msgspec.Struct):
    finding: Finding
    span: Span
    owner: Context
    related: list[Related]
    contexts: list[Context] = msgspec.field(default_factory=list)
    seen: set[Context] = msgspec.field(default_factory=set)


# -- the pass -----------------------------------------------------------------------


def lint(program: Program, sink: Sink) -> Program:
    """Report the semantic lints of every profile, task variant and model.

    Every rule runs on every subject: each profile resolved for no task and for
    each task whose `when` blocks change it, and each model's baked parameters.
    A finding seen in several subjects is reported once, at the statement that
    makes it true, naming the subjects that show it.
    """
    allows = find_allows(program, sink)
    groups: dict[tuple[str, int, int, str], _Group] = {}
    known = catalog().names_in(program.target)
    for name in chain_order(program.profiles):  # parents first: a group keeps what its first subject saw
        for task in program.variants(name):
            _lint_subject(program, groups, Context("profile", name, task), program.resolve(name, task), known)
    for model in program.models:
        _lint_subject(program, groups, Context("model", model.name), model.params, known, info=model_info(program, model))
    for group in _drift(program, _declarations_in_error(sink)):
        groups.setdefault((group.finding.code or "", group.span.start, group.span.end, group.finding.message), group)
    rank = _context_rank(program)
    for group in groups.values():
        if len(group.contexts) > 1:
            group.contexts.sort(key=rank)
        _report(program, sink, group, allows)
    for model in program.models:
        lint_texts(model, sink)
        if (model.template is not None or "stop" in model.params) and local_gguf_base(program, model) is not None:
            # The marker lint reads the base's vocabulary: imported only for local GGUF bases.
            from mpl.compiler.markers import check_markers

            check_markers(program, model, sink)
    return msgspec.structs.replace(program, allows=allows)


def lint_texts(model: Model, sink: Sink) -> None:
    """A template with no `{{ … }}` (MPL734) and a system prompt of whitespace only (MPL735)."""
    template, system = model.template, model.system
    if template is not None and template.value and "{{" not in template.value:
        sink.report(
            "MPL734", template.value_span,
            "this template holds no `{{ … }}`: every prompt becomes this fixed text, and the user's message never reaches the model",
            help="put `{{ .Prompt }}` where the user's text goes (or range over `.Messages`); remove the template to keep the base model's",
            model=model.name,
        )
    if system is not None and system.value and not system.value.strip():
        sink.report(
            "MPL735", system.value_span,
            "this system prompt is only whitespace: it replaces the base model's system prompt with blank text",
            help="remove it to keep the base model's system prompt, or write the prompt",
            model=model.name,
        )


def _context_rank(program: Program) -> t.Callable[[Context], tuple[int, int, int]]:
    """Contexts in source order: profiles as declared (no task first, then tasks as declared), then models."""
    profiles = {name: i for i, name in enumerate(program.profiles)}
    tasks = {name: i + 1 for i, name in enumerate(program.tasks)}
    models = {m.name: i for i, m in enumerate(program.models)}

    def rank(ctx: Context) -> tuple[int, int, int]:
        if ctx.kind == "profile":
            return (0, profiles.get(ctx.name, 0), tasks.get(ctx.task, 0) if ctx.task else 0)
        return (1, models.get(ctx.name, 0), 0)

    return rank


def effective(opts: Options, target: Version) -> Options:
    """Only the options the target version knows (the others are ignored or rejected)."""
    known = catalog().names_in(target)
    return {n: s for n, s in opts.items() if n in known}


def subject_for(program: Program, opts: Options, kind: t.Literal["profile", "model"], info: t.Any = None) -> Subject:
    """The rules' view of one option set."""
    return _subject(program, effective(opts, program.target), kind, info)


def _subject(program: Program, opts: Options, kind: t.Literal["profile", "model"], info: t.Any) -> Subject:
    source = program.source

    def comment_after(name: str) -> str:
        setting = opts.get(name)
        if setting is None:
            return ""
        return program.comments_on_line(source.line_col(setting.span.end)[0])

    return Subject(opts, program.target, kind, info, comment_after)


def _lint_subject(
    program: Program, groups: dict, ctx: Context, opts: Options, known: frozenset[str], *, info: t.Any = None
) -> None:
    """Run every rule on one subject and record its findings under `ctx`."""
    view = opts if opts.keys() <= known else {n: s for n, s in opts.items() if n in known}
    subject = _subject(program, view, ctx.kind, info)
    for rule in RULES:
        for finding in rule(subject):
            if finding.code is None:
                continue
            span, owner = _locate(program, finding, ctx, view)
            key = (finding.code, span.start, span.end, finding.message)
            group = groups.get(key)
            if group is None:
                related = [Related(view[n].span, f"`{n}` is set here") for n in finding.related if n in view]
                group = groups[key] = _Group(finding, span, owner, related)
            if ctx not in group.seen:
                group.seen.add(ctx)
                group.contexts.append(ctx)


def _locate(program: Program, finding: Finding, ctx: Context, opts: Options) -> tuple[Span, Context]:
    if finding.param is None:
        return _decl_name_span(program, ctx), Context(ctx.kind, ctx.name)
    setting = opts[finding.param]
    span = setting.span
    if finding.element is not None and finding.element < len(setting.elements):
        span = _element_span(program, setting.elements, finding.element)
    owner = Context("profile", setting.profile) if setting.profile else Context("model", ctx.name)
    return span, owner


def _element_span(program: Program, elements: tuple[Span, ...], index: int) -> Span:
    """The span of one element of a list parameter."""
    return elements[index]


def _decl_name_span(program: Program, ctx: Context) -> Span:
    if ctx.kind == "profile":
        return program.profiles[ctx.name].name_span
    model = program.model(ctx.name)
    assert model is not None
    return model.name_span


def _report(program: Program, sink: Sink, group: _Group, allows: Allows) -> None:
    finding = group.finding
    code = finding.code
    assert code is not None
    is_error = CODES[code].severity == "error"
    used: set[tuple[int, str]] = set()
    line_allow = allows.for_line(code, program.source.line_col(group.span.start)[0])
    live = []
    for ctx in group.contexts:
        hit = allows.for_decl(code, ctx.kind, ctx.name)
        if hit is not None and not is_error:
            used.add(hit)
        else:
            live.append(ctx)
    if line_allow is not None and not is_error:
        used.add(line_allow)
        live = []
    contexts = live or group.contexts
    message = finding.message + _suffix(group.owner, contexts)
    related = list(group.related)
    for ctx in contexts[:1]:
        if finding.param is not None and (ctx.kind == "model" or ctx.name != group.owner.name):
            what = "uses" if ctx.kind == "model" else "inherits"
            related.append(Related(_decl_name_span(program, ctx), f"`{ctx.name}` {what} this value"))
    sink.report(
        code, group.span, message, help=finding.help, related=related,
        parameter=finding.param, contexts=tuple((c.kind, c.name, c.task) for c in group.contexts),
        allowed=not live, allow_used=tuple(sorted(used)),
    )


def _suffix(owner: Context, contexts: list[Context]) -> str:
    """'' when the owner itself shows the finding; else who inherits or bakes the value."""
    if any(c == Context(owner.kind, owner.name) for c in contexts):
        return ""
    own_tasks = [c.task for c in contexts if c.kind == owner.kind and c.name == owner.name and c.task]
    inheritors = _unique(c.name for c in contexts if c.kind == "profile" and c.name != owner.name)
    models = _unique(c.name for c in contexts if c.kind == "model" and c.name != owner.name)
    parts = []
    if own_tasks and not inheritors and not models:
        return f" (for task {_list(_unique(own_tasks))})"
    if inheritors:
        parts.append(f"inherited by {_list(inheritors)} from `{owner.name}`")
    if models:
        source = f" from `{owner.name}`" if not inheritors and owner.kind == "profile" else ""
        parts.append(f"baked into model {_list(models)}{source}")
    return f" ({'; '.join(parts)})" if parts else ""


def _unique(items: t.Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _list(names: list[str]) -> str:
    quoted = [f"`{n}`" for n in names]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]


# -- rule 23: defaults that drift across the targeted versions -----------------------


def drift_range(program: Program, model: Model | None = None) -> tuple[Version, Version] | None:
    """The Ollama versions a profile or model targets: the pinned version (or a model's
    `requires`) up to the newest release mpl knows. None when nothing is pinned."""
    start: Version | None = None
    if model is not None and model.requires is not None:
        try:
            start = Version.parse(model.requires.value.split("-")[0].split("+")[0])
        except ValueError:
            start = None
    if start is None and program.target_origin in ("file", "option"):
        start = program.target
    end = max(NEWEST, program.target)
    return (start, end) if start is not None and start < end else None


def default_changes(name: str, lo: Version, hi: Version) -> list[tuple[Version, t.Any]]:
    """The default at `lo`, then every change up to `hi` (one entry: no drift).

    >>> [(str(v), d) for v, d in default_changes("repeat_penalty", Version(0, 12, 0), Version(0, 32, 15))]
    [('0.12.0', 1.1), ('0.17.5', 1.0), ('0.18.0', 1.1), ('0.32.10', 1.0)]
    """
    spec = catalog().options[name]
    changes = [(lo, spec.default_in(lo))]
    for change in spec.defaults:
        if lo < change.since <= hi and change.value != changes[-1][1]:
            changes.append((change.since, change.value))
    return changes


def show_default(value: t.Any) -> str:
    """A default as people read it: None is Ollama's automatic choice."""
    return "automatic" if value is None else str(value).lower() if isinstance(value, bool) else str(value)


def _declarations_in_error(sink: Sink) -> t.Callable[[Span], bool]:
    """Whether a declaration (its span) holds an error already reported: a rule-23 note there would be noise."""
    import bisect

    starts = sorted(d.span.start for d in sink.diagnostics if d.is_error and d.span is not None)

    def in_error(span: Span) -> bool:
        index = bisect.bisect_left(starts, span.start)
        return index < len(starts) and starts[index] < span.end

    return in_error


def _drift(program: Program, in_error: t.Callable[[Span], bool]) -> t.Iterator[_Group]:
    """Rule 23 (default drift) for profiles and models, except declarations `in_error`."""
    span_range = drift_range(program)
    if span_range is not None:
        yield from _profile_drift(program, span_range, in_error)
    for model in program.models:
        model_range = drift_range(program, model)
        if model_range is None or in_error(model.span) or program.dependency(model) is not None:
            continue  # a model built from one of this file has its parameters: the drift is reported there
        for param in DRIFTING:
            if param in model.params:
                continue
            if model.uses and not any(param in program.resolve(u.profile, u.task) for u in model.uses):
                continue  # the profile it uses is reported already
            group = _drift_group(program, Context("model", model.name), param, model_range, [])
            if group is not None:
                yield group


def _profile_drift(
    program: Program, span_range: tuple[Version, Version], in_error: t.Callable[[Span], bool]
) -> t.Iterator[_Group]:
    """Rule 23 for profiles: reported at the topmost profile of a chain that leaves a drifting default unset.

    The heirs named in the message (profiles that extend it and leave the
    parameter unset too) are found by one walk down the children map per
    reported parameter, so the pass is linear in the profiles (times the seven
    drifting parameters), never profiles × profiles.
    """
    drifting = [p for p in DRIFTING if len(default_changes(p, *span_range)) > 1]
    if not drifting:
        return
    position = {name: index for index, name in enumerate(program.profiles)}
    for name, profile in program.profiles.items():
        if in_error(profile.span):
            continue
        opts = program.resolve(name)
        parent = program.resolve(profile.parent) if profile.parent else None
        for param in drifting:
            if param in opts or (parent is not None and param not in parent):
                continue
            heirs = _heirs_leaving_unset(program, name, param, position)
            group = _drift_group(program, Context("profile", name), param, span_range, heirs)
            if group is not None:
                yield group


def _heirs_leaving_unset(program: Program, root: str, param: str, position: dict[str, int]) -> list[str]:
    """The descendants of `root` (in declaration order: `position`) that leave `param` unset too.

    A descendant that sets it is still walked: its own heirs may `unset` it again.
    """
    found: list[str] = []
    stack = list(program.children.get(root, ()))
    while stack:
        name = stack.pop()
        if param not in program.resolve(name):
            found.append(name)
        stack.extend(program.children.get(name, ()))
    return sorted(found, key=position.__getitem__)


def _drift_group(
    program: Program, ctx: Context, param: str, span_range: tuple[Version, Version], heirs: list[str]
) -> _Group | None:
    lo, hi = span_range
    changes = default_changes(param, lo, hi)
    if len(changes) < 2:
        return None
    first = changes[0][1]
    later = ", ".join(f"{show_default(v)} from {since}" for since, v in changes[1:])
    heirs_note = f" (so {'does' if len(heirs) == 1 else 'do'} {_list(heirs)}, which {'extends' if len(heirs) == 1 else 'extend'} it)" if heirs else ""
    message = (
        f"`{ctx.name}` leaves `{param}` unset{heirs_note}: Ollama's default is {show_default(first)} at {lo}, "
        f"then {later}"
    )
    keep = "" if first is None else f" (`{param} {show_default(first)}` keeps Ollama {lo}'s behaviour)"
    finding = Finding("MPL730", None, message, help=f"set `{param}` explicitly{keep}")
    return _Group(finding, _decl_name_span(program, ctx), ctx, [], [ctx], {ctx})

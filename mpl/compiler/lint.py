"""Lint: semantic lints over a checked `Program` (the rules of `mpl.compiler.rules`), and `# mpl: allow(...)`.

`lint(program, sink)` runs the rules of `mpl.compiler.rules` on every profile
(resolved for no task and for each task its `when` blocks name) and on every
model's baked parameters, then reports each finding once, at the statement that
makes it true. A finding seen only through inheritance says so ("inherited by
`debugging` from `precise`"). Rule 23 (default drift) is here: it needs the tree.

`apply_allows(program, sink)` runs last (after the target checks) and moves every
diagnostic silenced by an allow comment out of the sink; see docs/lints.md:

* a trailing `# mpl: allow(MPL701, …)` silences diagnostics that start on its line;
* on its own line it applies to the next line that is not a comment, and when
  that line opens a `profile` or `model`, to the whole declaration (including
  lints found while resolving it at inherited lines).

Errors are never silenced. An allow that silences nothing is reported (MPL731).
"""

from __future__ import annotations

import re
import typing as t

import msgspec

from mpl.catalog import NEWEST, Version, catalog
from mpl.compiler import nodes
from mpl.compiler.modelinfo import model_info
from mpl.compiler.rules import Finding, Subject, run_rules
from mpl.diagnostics import CODES, Diagnostic, Related, Severity, Sink
from mpl.source import Span

if t.TYPE_CHECKING:
    from mpl.compiler.program import Model, Options, Program

# Defaults that moved in a way that changes behaviour (`DefaultOptions()` across releases).
DRIFTING = ("repeat_penalty", "num_ctx", "num_keep", "repeat_last_n", "num_gpu", "num_thread", "use_mmap")

_ALLOW = re.compile(r"#\s*mpl:\s*allow\(([^)]*)\)", re.I)
_NAMES = {spec.name: code for code, spec in CODES.items()}


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


# -- the pass -----------------------------------------------------------------------


def lint(program: Program, sink: Sink) -> Program:
    """Report the semantic lints of every profile, task variant and model."""
    allows = find_allows(program, sink=None)
    groups: dict[tuple[str, int, int, str], _Group] = {}
    for name in program.profiles:
        for task in variant_tasks(program, name):
            opts = program.resolve(name, task)
            _collect(program, groups, Context("profile", name, task), opts, None)
    for model in program.models:
        _collect(program, groups, Context("model", model.name), model.params, model_info(program, model))
    for group in _drift(program):
        groups.setdefault((group.finding.code or "", group.span.start, group.span.end, group.finding.message), group)
    for group in groups.values():
        _report(program, sink, group, allows)
    return program


def effective(opts: Options, target: Version) -> Options:
    """Only the options the target version knows (the others are ignored or rejected)."""
    cat = catalog()
    return {n: s for n, s in opts.items() if (spec := cat.option(n)) is not None and spec.known_in(target)}


def subject_for(program: Program, opts: Options, kind: t.Literal["profile", "model"], info: t.Any = None) -> Subject:
    """The rules' view of one option set."""
    source = program.source

    def comment_after(name: str) -> str:
        setting = opts.get(name)
        if setting is None:
            return ""
        line = source.line_col(setting.span.end)[0]
        return " ".join(c.text for c in program.file.comments if source.line_col(c.span.start)[0] == line)

    return Subject(effective(opts, program.target), program.target, kind, info, comment_after)


def variant_tasks(program: Program, profile: str) -> list[str | None]:
    """No task, then every declared task that a `when` block in the profile's chain names."""
    from mpl.compiler.resolve import when_tasks

    named = when_tasks(program, profile)
    return [None, *(task for task in program.tasks if task in named)]


def _collect(program: Program, groups: dict, ctx: Context, opts: Options, info: t.Any) -> None:
    subject = subject_for(program, opts, ctx.kind, info)
    for finding in run_rules(subject):
        if finding.code is None:
            continue
        span, owner = _locate(program, finding, ctx, subject.opts)
        key = (finding.code, span.start, span.end, finding.message)
        group = groups.get(key)
        if group is None:
            related = [
                Related(subject.opts[name].span, f"`{name}` is set here")
                for name in finding.related if name in subject.opts
            ]
            group = groups[key] = _Group(finding, span, owner, related)
        if ctx not in group.contexts:
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
    """The span of one list element; a model's `stop [...]` records the list's span per element."""
    span = elements[index]
    for decl in program.file.decls:
        block = getattr(decl, "block", None)
        for stmt in _params(block):
            if isinstance(stmt.value, nodes.List) and stmt.value.span == span:
                item = index - elements.index(span)
                return stmt.value.items[item].span if item < len(stmt.value.items) else span
    return span


def _params(block: nodes.Block | None) -> t.Iterator[nodes.Param]:
    for stmt in block.stmts if block is not None else ():
        if isinstance(stmt, nodes.Param):
            yield stmt
        elif isinstance(stmt, nodes.When):
            yield from _params(stmt.block)


def _decl_name_span(program: Program, ctx: Context) -> Span:
    if ctx.kind == "profile":
        return program.profiles[ctx.name].decl.name.span
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


def _drift(program: Program) -> t.Iterator[_Group]:
    span_range = drift_range(program)
    if span_range is not None:
        for name, profile in program.profiles.items():
            opts = program.resolve(name)
            parent = program.resolve(profile.parent) if profile.parent else None
            for param in DRIFTING:
                if param in opts or (parent is not None and param not in parent):
                    continue
                heirs = [q for q in program.profiles if q != name and _inherits_unset(program, q, name, param)]
                group = _drift_group(program, Context("profile", name), param, span_range, heirs)
                if group is not None:
                    yield group
    for model in program.models:
        model_range = drift_range(program, model)
        if model_range is None:
            continue
        for param in DRIFTING:
            if param in model.params:
                continue
            if model.uses and not any(param in program.resolve(p, t_) for p, t_, _ in model.uses):
                continue  # the profile it uses is reported already
            group = _drift_group(program, Context("model", model.name), param, model_range, [])
            if group is not None:
                yield group


def _inherits_unset(program: Program, child: str, ancestor: str, param: str) -> bool:
    seen: set[str] = set()
    current = program.profiles[child].parent
    while current is not None and current not in seen:
        if current == ancestor:
            return param not in program.resolve(child)
        seen.add(current)
        current = program.profiles[current].parent
    return False


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
    return _Group(finding, _decl_name_span(program, ctx), ctx, [], [ctx])


# -- allow comments -------------------------------------------------------------------


class Allow(msgspec.Struct, frozen=True):
    """One `# mpl: allow(...)` comment and what it covers."""

    span: Span  # the comment
    codes: tuple[str, ...]
    line: int  # the line it silences
    decl: tuple[str, str] | None = None  # (kind, name) of the declaration it silences
    decl_span: Span | None = None


class Allows(msgspec.Struct, frozen=True):
    """The allow comments of one source, with lookups by line and declaration."""

    items: tuple[Allow, ...] = ()

    def for_line(self, code: str, line: int) -> tuple[int, str] | None:
        for allow in self.items:
            if allow.decl is None and allow.line == line and code in allow.codes:
                return (allow.span.start, code)
        return None

    def for_decl(self, code: str, kind: str, name: str) -> tuple[int, str] | None:
        for allow in self.items:
            if allow.decl == (kind, name) and code in allow.codes:
                return (allow.span.start, code)
        return None

    def for_span(self, code: str, span: Span, line: int) -> tuple[int, str] | None:
        """An allow covering a diagnostic by its line, or by the declaration holding it."""
        found = self.for_line(code, line)
        if found is not None:
            return found
        for allow in self.items:
            if allow.decl_span is not None and code in allow.codes and allow.decl_span.start <= span.start < allow.decl_span.end:
                return (allow.span.start, code)
        return None


def find_allows(program: Program, sink: Sink | None) -> Allows:
    """Parse every allow comment; with a sink, report names that are not codes (MPL731)."""
    source = program.source
    decl_lines: dict[int, tuple[str, str, Span]] = {}
    for decl in program.file.decls:
        match decl:
            case nodes.ProfileDecl(name=name):
                decl_lines.setdefault(source.line_col(decl.span.start)[0], ("profile", name.value, decl.span))
            case nodes.ModelDecl(name=name):
                decl_lines.setdefault(source.line_col(decl.span.start)[0], ("model", name.value, decl.span))
    comment_lines = {source.line_col(c.span.start)[0] for c in program.file.comments
                     if not source.line_text(source.line_col(c.span.start)[0])[: source.line_col(c.span.start)[1] - 1].strip()}
    items = []
    for comment in program.file.comments:
        match = _ALLOW.search(comment.text)
        if match is None:
            continue
        line, col = source.line_col(comment.span.start)
        codes = []
        for raw in (part.strip() for part in match.group(1).split(",")):
            if not raw:
                continue
            code = raw.upper() if raw.upper() in CODES else _NAMES.get(raw.lower())
            if code is None:
                if sink is not None:
                    sink.report("MPL731", comment.span, f"`{raw}` in `mpl: allow(...)` is not a diagnostic code",
                                help="name codes such as `MPL701` or names such as `greedy-ignores-filters`")
                continue
            codes.append(code)
        own_line = not source.line_text(line)[: col - 1].strip()
        target = line
        if own_line:
            target = line + 1
            while target in comment_lines and target <= source.line_count:
                target += 1
        decl = decl_lines.get(target) if own_line else None
        items.append(Allow(comment.span, tuple(codes), target, decl[:2] if decl else None, decl[2] if decl else None))
    return Allows(tuple(items))


def apply_allows(program: Program | None, sink: Sink) -> list[Diagnostic]:
    """Move silenced diagnostics out of the sink and return them; report unused allows."""
    if program is None:
        return []
    allows = find_allows(program, sink)
    used: set[tuple[int, str]] = set()
    kept: list[Diagnostic] = []
    silenced: list[Diagnostic] = []
    for diag in sink.diagnostics:
        used.update(diag.arg("allow_used") or ())
        if diag.arg("allowed"):
            silenced.append(diag)
            continue
        if diag.severity is not Severity.ERROR and diag.span is not None and diag.code != "MPL731":
            line = program.source.line_col(diag.span.start)[0]
            hit = allows.for_line(diag.code, line) if diag.arg("contexts") else allows.for_span(diag.code, diag.span, line)
            if hit is not None:
                used.add(hit)
                silenced.append(diag)
                continue
        kept.append(diag)
    sink.diagnostics[:] = kept
    for allow in allows.items:
        for code in allow.codes:
            if (allow.span.start, code) not in used:
                why = "errors cannot be silenced" if CODES[code].severity == "error" else f"no {code} is reported where it applies"
                sink.report("MPL731", allow.span, f"`allow({code})` silences nothing: {why}",
                            help="remove it from the comment", code_named=code)
    return silenced

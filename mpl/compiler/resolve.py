"""Resolve: syntax tree to `Program` — names, inheritance, tasks, models.

Reports unknown parents, cycles, duplicates, undeclared or twice-claimed
tasks, unknown profiles in `use`/`default`, misplaced statements and model
ordering problems, each at the offending span with a did-you-mean.
"""

from __future__ import annotations

import functools
import typing as t
from pathlib import Path

from mpl.catalog import MESSAGE_ROLES, NEWEST, OLDEST, Version
from mpl.catalog.values import float32_faithful
from mpl.compiler import nodes
from mpl.compiler.names import (
    canonical_model_name,
    did_you_mean,
    expand_path,
    looks_like_path,
    valid_model_name,
)
from mpl.compiler.program import (
    Adapter,
    Comment,
    Message,
    Model,
    ModelSource,
    Options,
    Origin,
    Profile,
    Program,
    PyValue,
    Setting,
    Text,
    Use,
)
from mpl.diagnostics import Related, Sink
from mpl.source import Span

LIST_PARAMETERS = frozenset({"stop"})
#: One empty set for every profile without `when` tasks (`frozenset()` makes a new 216-byte set each call).
NO_TASKS: frozenset[str] = frozenset()


# A file repeats the same few numbers: each literal is nudged once (keyed by its text
# too, so that -0.0 and 0.0 stay apart).
_faithful = functools.lru_cache(maxsize=1 << 16)(float32_faithful)


def py_value(value: nodes.Value) -> PyValue:
    """The Python value of a literal; lists become tuples."""
    match value:
        case nodes.List(items=items):
            return tuple(py_value(item) for item in items)  # type: ignore[misc]
        case nodes.Number(value=float() as number, text=text):
            # Numbers are float32 in Ollama: a double that would round twice is nudged.
            return _faithful(number, text)
        case nodes.Number() | nodes.String() | nodes.Bool():
            return value.value
    raise AssertionError(value)  # pragma: no cover


# -- the pass ---------------------------------------------------------------------


def resolve(
    file: nodes.File,
    sink: Sink,
    *,
    base_dir: Path | None = None,
    target: Version | None = None,
    target_origin: t.Literal["option", "server"] = "option",
) -> Program:
    """Build the resolved program of a parsed file, eagerly and once.

    `target` (from `--ollama` or a server) overrides the file's `ollama` line.
    """
    base_dir = base_dir or Path.cwd()
    ctx = _Resolver(file, sink, base_dir)
    pinned, pinned_span = ctx.pinned_version()
    version, origin, vspan = ctx.target_version(pinned, pinned_span, target, target_origin)
    tasks = ctx.collect_tasks()
    drafts = ctx.collect_profiles()
    default, default_span = ctx.collect_default(drafts)
    routes = ctx.collect_routes(drafts, tasks)
    ctx.check_unrouted(tasks, routes, default, default_span)
    order = chain_order(drafts)
    bodies = {name: _compile_body(name, draft.decl.block) for name, draft in drafts.items()}
    when_tasks = ctx.when_tasks(drafts, order, bodies)
    ctx.check_profile_bodies(drafts, order, tasks)
    resolved = ctx.resolve_profiles(drafts, order, when_tasks, bodies)
    profiles = {
        name: Profile(
            name=name, name_span=d.decl.name.span, span=d.decl.span, description=d.description,
            parent=d.parent, parent_span=d.decl.parent.span if d.decl.parent else None,
            tasks=tuple(n.value for n in d.decl.tasks), when_tasks=when_tasks[name],
            varied_tasks=tuple(task for task in tasks if (name, task) in resolved) if when_tasks[name] else (),
        )
        for name, d in drafts.items()
    }
    children: dict[str, list[str]] = {}
    for name, draft in drafts.items():
        if draft.parent is not None:
            children.setdefault(draft.parent, []).append(name)
    models = ctx.collect_models(profiles, tasks, resolved)
    comments, line_comments = _comments(file)
    return Program(
        source=file.source,
        base_dir=base_dir,
        target=version,
        target_origin=origin,
        target_span=vspan,
        pinned=pinned,
        pinned_span=pinned_span,
        tasks=tasks,
        default=default,
        default_span=default_span,
        profiles=profiles,
        children={k: tuple(v) for k, v in children.items()},
        routes=routes,
        resolved=resolved,
        models=tuple(models),
        models_by_key={canonical_model_name(m.name): m for m in reversed(models)},
        comments=comments,
        line_comments=line_comments,
    )


def file_target(file: nodes.File, override: Version | None = None) -> Version:
    """The version a file is checked against: the override, else its first valid `ollama` line, else the newest.

    Reports nothing: `resolve` reports bad and duplicate `ollama` lines.
    """
    if override is not None:
        return override
    for decl in file.decls:
        if isinstance(decl, nodes.OllamaDecl):
            try:
                return Version.parse(decl.version.value)
            except ValueError:
                continue
    return NEWEST


def chain_order(profiles: t.Mapping[str, t.Any]) -> list[str]:
    """Every profile after its parent: one walk per chain, each profile visited once.

    `profiles[name].parent` must be acyclic (cycles already cut). Shared by the
    resolver and by every pass that folds values down the `extends` tree.
    """
    order: list[str] = []
    done: set[str] = set()
    for start in profiles:
        chain: list[str] = []
        name: str | None = start
        while name is not None and name not in done:
            chain.append(name)
            done.add(name)
            name = profiles[name].parent
        order.extend(reversed(chain))
    return order


def walk_chains(
    starts: t.Iterable[str], step: t.Callable[[str], str | None]
) -> t.Iterator[tuple[list[str], str | None, bool]]:
    """Walk each chain of single links (`extends` parents, models built `from` models) once.

    For each start not yet seen, yields (path, stop, cycle): the names walked
    in order, the name the walk stopped at (None at the end of a chain, else a
    name already walked) and whether `stop` lies on this very path (a cycle).
    Linear in the number of names, however long the chains.
    """
    done: set[str] = set()
    for start in starts:
        if start in done:
            continue
        path: list[str] = []
        on_path: set[str] = set()
        name: str | None = start
        while name is not None and name not in done and name not in on_path:
            on_path.add(name)
            path.append(name)
            name = step(name)
        done.update(path)
        yield path, name, name is not None and name in on_path


def _comments(file: nodes.File) -> tuple[tuple[Comment, ...], dict[int, str]]:
    source = file.source
    out = []
    lines: dict[int, list[str]] = {}
    for c in file.comments:
        line, col = source.line_col(c.span.start)
        own = not source.line_text(line)[: col - 1].strip()
        out.append(Comment(c.span, c.text, line, own))
        lines.setdefault(line, []).append(c.text)
    return tuple(out), {k: " ".join(v) for k, v in lines.items()}


class _Draft:
    """A profile while the resolver works on it."""

    __slots__ = ("decl", "description", "parent")

    def __init__(self, decl: nodes.ProfileDecl, description: str | None) -> None:
        self.decl = decl
        self.description = description
        self.parent: str | None = decl.parent.value if decl.parent else None


class _Resolver:
    def __init__(self, file: nodes.File, sink: Sink, base_dir: Path) -> None:
        self.file = file
        self.sink = sink
        self.base_dir = base_dir
        self.by_kind: dict[type, list[t.Any]] = {}
        for decl in file.decls:
            self.by_kind.setdefault(type(decl), []).append(decl)

    def decls(self, kind: type) -> list[t.Any]:
        return self.by_kind.get(kind, [])

    # -- ollama "X.Y" ----------------------------------------------------------
    def pinned_version(self) -> tuple[Version | None, Span | None]:
        """The file's own `ollama "X.Y"` (duplicates and bad versions reported)."""
        found: tuple[Version, Span] | None = None
        for decl in self.decls(nodes.OllamaDecl):
            if found is not None:
                self.sink.report(
                    "MPL209", decl.span, "`ollama` is declared twice",
                    related=[Related(found[1], "first declared here")],
                )
                continue
            try:
                version = Version.parse(decl.version.value)
            except ValueError:
                self.sink.report(
                    "MPL304", decl.version.span,
                    f"`{decl.version.value}` is not an Ollama version",
                    help='write `ollama "X.Y"` or `ollama "X.Y.Z"`, e.g. `ollama "0.12"`',
                )
                continue
            found = (version, decl.version.span)
            self._check_range(version, decl.version.span)
        return found if found is not None else (None, None)

    def target_version(
        self, pinned: Version | None, pinned_span: Span | None, override: Version | None,
        origin: t.Literal["option", "server"],
    ) -> tuple[Version, t.Any, Span | None]:
        if override is not None:
            self._check_range(override, None)
            return override, origin, None
        if pinned is not None:
            return pinned, "file", pinned_span
        return NEWEST, "default", None

    def _check_range(self, version: Version, span: Span | None) -> None:
        if version > NEWEST:
            self.sink.report(
                "MPL406", span,
                f"Ollama {version} is newer than the newest release mpl knows ({NEWEST})",
                help=f"parameters are checked against {NEWEST}; instruction limits reported for later releases still apply",
            )
        elif version < OLDEST:
            self.sink.report(
                "MPL406", span, f"Ollama {version} is older than the oldest release mpl knows ({OLDEST})",
                help=f"parameters are checked against {OLDEST}",
            )

    # -- tasks ------------------------------------------------------------------
    def collect_tasks(self) -> dict[str, Span]:
        tasks: dict[str, Span] = {}
        for decl in self.decls(nodes.TasksDecl):
            for name in decl.names:
                if name.value in tasks:
                    self.sink.report(
                        "MPL216", name.span, f"task `{name.value}` is declared twice",
                        related=[Related(tasks[name.value], "first declared here")],
                    )
                else:
                    tasks[name.value] = name.span
        return tasks

    def check_task(self, name: nodes.Name, tasks: dict[str, Span]) -> bool:
        if name.value in tasks:
            return True
        hint = did_you_mean(name.value, tasks)
        if hint is None:
            hint = f"declare it: `tasks …, {name.value}`" if tasks else f"declare it: `tasks {name.value}`"
        self.sink.report("MPL205", name.span, f"task `{name.value}` is not declared", help=hint, task=name.value)
        return False

    # -- profiles -----------------------------------------------------------------
    def collect_profiles(self) -> dict[str, _Draft]:
        profiles: dict[str, _Draft] = {}
        for decl in self.decls(nodes.ProfileDecl):
            name = decl.name.value
            if name in profiles:
                self.sink.report(
                    "MPL203", decl.name.span, f"profile `{name}` is defined twice",
                    related=[Related(profiles[name].decl.name.span, "first defined here")],
                    profile=name,
                )
                continue
            profiles[name] = _Draft(decl, self.description(decl.block))
        for profile in profiles.values():
            parent = profile.decl.parent
            if parent is not None and parent.value not in profiles:
                self.sink.report(
                    "MPL201", parent.span, f"profile `{profile.decl.name.value}` extends unknown profile `{parent.value}`",
                    help=did_you_mean(parent.value, profiles), parent=parent.value,
                )
                profile.parent = None
        self._break_cycles(profiles)
        return profiles

    def _break_cycles(self, profiles: dict[str, _Draft]) -> None:
        for path, stop, cycle in walk_chains(profiles, lambda n: profiles[n].parent):
            if not cycle or stop is None:
                continue
            ring = path[path.index(stop) :]
            first = profiles[ring[0]]
            assert first.decl.parent is not None
            self.sink.report(
                "MPL202", first.decl.parent.span, "inheritance cycle: " + " → ".join(ring + [ring[0]]),
                related=[
                    Related(profiles[n].decl.parent.span, f"`{n}` extends `{profiles[n].parent}` here")  # type: ignore[union-attr]
                    for n in ring[1:]
                ],
                help="one profile in the cycle must not extend another",
                cycle=tuple(ring),
            )
            for n in ring:
                profiles[n].parent = None

    def description(self, block: nodes.Block) -> str | None:
        found: nodes.Description | None = None
        for index, stmt in enumerate(block.stmts):
            if not isinstance(stmt, nodes.Description):
                continue
            if found is not None:
                self.sink.report(
                    "MPL219", stmt.span, "a block has only one description",
                    related=[Related(found.span, "the description is here")],
                    help='write a parameter value as `name "value"`',
                )
            elif index != 0:
                self.sink.report(
                    "MPL208", stmt.span, "the description must be the first statement of the block",
                    help="move the string to the top of the block",
                )
                found = stmt
            else:
                found = stmt
        return found.text.value if found else None

    def collect_default(self, profiles: dict[str, _Draft]) -> tuple[str | None, Span | None]:
        default: nodes.DefaultDecl | None = None
        for decl in self.decls(nodes.DefaultDecl):
            if default is not None:
                self.sink.report(
                    "MPL209", decl.span, "`default` is declared twice",
                    related=[Related(default.span, "first declared here")],
                )
                continue
            default = decl
        if default is None:
            return None, None
        if default.name.value not in profiles:
            self.sink.report(
                "MPL207", default.name.span, f"default profile `{default.name.value}` does not exist",
                help=did_you_mean(default.name.value, profiles), profile=default.name.value,
            )
            return None, default.name.span
        return default.name.value, default.name.span

    def collect_routes(self, profiles: dict[str, _Draft], tasks: dict[str, Span]) -> dict[str, str]:
        routes: dict[str, str] = {}
        claimed_at: dict[str, Span] = {}
        for name, profile in profiles.items():
            for task in profile.decl.tasks:
                if not self.check_task(task, tasks):
                    continue
                if task.value in routes and routes[task.value] != name:
                    self.sink.report(
                        "MPL206", task.span,
                        f"task `{task.value}` is claimed by `{routes[task.value]}` and `{name}`",
                        related=[Related(claimed_at[task.value], f"claimed by `{routes[task.value]}` here")],
                        help="route a task to one profile; vary it inside with `when task is …`",
                        task=task.value,
                    )
                    continue
                routes[task.value] = name
                claimed_at[task.value] = task.span
        return routes

    def check_unrouted(
        self, tasks: dict[str, Span], routes: dict[str, str], default: str | None, default_span: Span | None
    ) -> None:
        if default is not None or default_span is not None:
            return
        for task, span in tasks.items():
            if task not in routes:
                self.sink.report(
                    "MPL217", span, f"task `{task}` is routed to no profile and there is no `default`",
                    help=f"add `for {task}` to a profile, or declare `default PROFILE`", task=task,
                )

    def when_tasks(
        self, profiles: dict[str, _Draft], order: list[str], bodies: dict[str, _Body]
    ) -> dict[str, frozenset[str]]:
        """For each profile, the tasks named by `when` blocks of it and its ancestors."""
        found: dict[str, frozenset[str]] = {}
        for name in order:
            parent = profiles[name].parent
            inherited = found[parent] if parent is not None else NO_TASKS
            own = bodies[name].tasks
            found[name] = inherited | own if own else inherited
        return found

    def check_profile_bodies(self, profiles: dict[str, _Draft], order: list[str], tasks: dict[str, Span]) -> None:
        """Misplaced statements, `+=` on scalars, parameters set twice and `unset`s that do nothing."""
        names_set: dict[str, frozenset[str]] = {}  # profile -> names it and its ancestors set
        for name in order:
            draft = profiles[name]
            inherited = names_set[draft.parent] if draft.parent is not None else frozenset()
            own = self._check_block(draft.decl.block, set(inherited), tasks, nested=False)
            names_set[name] = inherited | own if own - inherited else inherited

    def _report_unset_noop(self, name: nodes.Name) -> None:
        self.sink.report(
            "MPL211", name.span, f"`unset {name.value}` has no effect: nothing before it sets `{name.value}`"
        )

    def _check_block(self, block: nodes.Block, known: set[str], tasks: dict[str, Span], *, nested: bool) -> set[str]:
        """Check one block's statements; returns the parameter names it sets."""
        seen: dict[str, Span] = {}
        sets: set[str] = set()
        for stmt in block.stmts:
            match stmt:
                case nodes.Param(name=name, append=append):
                    if append and name.value not in LIST_PARAMETERS:
                        self.sink.report(
                            "MPL212", stmt.span, f"`+=` needs a list parameter; `{name.value}` is not one",
                            help=f"write `{name.value} VALUE` to replace the value",
                        )
                    elif not append and name.value in seen:
                        self.sink.report(
                            "MPL210", name.span, f"`{name.value}` is set twice in this block; the later value wins",
                            related=[Related(seen[name.value], "first set here")],
                        )
                    seen[name.value] = stmt.span
                    known.add(name.value)
                    sets.add(name.value)
                case nodes.UnsetStmt(names=names):
                    for name in names:
                        if name.value not in known:
                            self._report_unset_noop(name)
                        seen.pop(name.value, None)
                case nodes.When(tasks=when, block=inner):
                    if nested:
                        self.sink.report("MPL208", stmt.span, "`when` blocks cannot be nested")
                    for task in when:
                        self.check_task(task, tasks)
                    sets |= self._check_block(inner, set(known), tasks, nested=True)
                case nodes.Description() if nested:
                    self.sink.report("MPL208", stmt.span, "a `when` block has no description")
                case nodes.AdapterStmt() | nodes.UseStmt() | nodes.TextStmt() | nodes.MessageStmt():
                    keyword = _keyword(stmt)
                    self.sink.report(
                        "MPL208", stmt.span, f"`{keyword}` belongs in a model, not a profile",
                        help="profiles hold parameters; put it in a `model … from … < >` block",
                    )
        return sets

    # -- resolving every profile and variant ------------------------------------------
    def resolve_profiles(
        self, profiles: dict[str, _Draft], order: list[str], when_tasks: dict[str, frozenset[str]],
        bodies: dict[str, _Body],
    ) -> dict[tuple[str, str | None], Options]:
        """Each profile for no task and for each task its chain's `when` blocks name.

        Parents come first in `order`, so a variant is its parent's variant for
        the same task (or the parent's own options, when the parent's chain does
        not vary for it), then the body, then the matching `when` blocks. A
        variant that holds the very settings of the profile's own options (the
        body set again what the parent's `when` block set) is not kept: the
        task resolves as no task.
        """
        resolved: dict[tuple[str, str | None], Options] = {}
        for name in order:
            body, whens, _tasks = bodies[name]
            parent = profiles[name].parent
            base = resolved[(parent, None)] if parent is not None else {}
            own = dict(base)
            _run(own, body)
            resolved[(name, None)] = own
            for task in when_tasks[name]:
                start = resolved.get((parent, task)) if parent is not None else None
                matching = [ops for when, ops in whens if task in when]
                if start is None:
                    if not matching:
                        continue  # neither the parent's chain nor this profile varies for the task
                    options = dict(own)
                else:
                    options = dict(start)
                    _run(options, body)
                for ops in matching:
                    _run(options, ops)
                if not _same(options, own):
                    resolved[(name, task)] = options
        return resolved

    # -- models ------------------------------------------------------------------
    def collect_models(
        self, profiles: dict[str, Profile], tasks: dict[str, Span], resolved: dict[tuple[str, str | None], Options]
    ) -> list[Model]:
        models: dict[str, Model] = {}
        first_span: dict[str, Span] = {}
        decls = self.decls(nodes.ModelDecl)
        names = {canonical_model_name(_str(d.name)) for d in decls}
        for decl in decls:
            name = _str(decl.name)
            key = canonical_model_name(name)
            if not valid_model_name(name):
                self.sink.report(
                    "MPL214", decl.name.span, f"`{name}` is not a valid Ollama model name",
                    help="use letters, digits, `_`, `-` and `.`, as `[namespace/]model[:tag]`; quote names with `:` or `/`",
                )
            if key in models:
                self.sink.report(
                    "MPL204", decl.name.span, f"model `{name}` is defined twice",
                    related=[Related(first_span[key], "first defined here")],
                )
                continue
            source = self._model_source(decl, names)
            models[key] = self._model(decl, name, source, profiles, tasks, resolved)
            first_span[key] = decl.name.span
        return self._build_order(models)

    def _model_source(self, decl: nodes.ModelDecl, names: set[str]) -> ModelSource:
        text = _str(decl.source)
        span = decl.source.span
        if canonical_model_name(text) in names:
            return ModelSource("model", text, span)
        if looks_like_path(text):
            return ModelSource("path", text, span, expand_path(text, self.base_dir))
        if not valid_model_name(text):
            address = "://" in text
            self.sink.report(
                "MPL214", span, f"`{text}` is neither a valid Ollama model name nor a GGUF path",
                help="Ollama downloads no address: it sends it as a model name and the server answers `invalid model name`; "
                     "download the file and give its path, or name a registry model (`hf.co/USER/REPO:QUANT`)" if address else
                     "a local file must end in `.gguf` or start with `./`, `../`, `/` or `~`",
            )
        return ModelSource("registry", text, span)

    def _model(
        self, decl: nodes.ModelDecl, name: str, source: ModelSource, profiles: dict[str, Profile],
        tasks: dict[str, Span], resolved: dict[tuple[str, str | None], Options],
    ) -> Model:
        """A model from its block.

        The profiles named by `use` are baked first, in order (a later `use`
        wins where two set the same parameter); the model's own parameter and
        `unset` statements then apply in order on top, wherever they stand in
        the block, so a direct parameter always overrides a profile's value.
        """
        params: Options = {}
        adapter: Adapter | None = None
        texts: dict[str, Text] = {}
        messages: list[Message] = []
        licenses: list[Text] = []
        uses: list[Use] = []
        direct: list[nodes.Param | nodes.UnsetStmt] = []
        for stmt in decl.block.stmts if decl.block is not None else ():
            match stmt:
                case nodes.Description():
                    pass  # documentation only
                case nodes.Param() | nodes.UnsetStmt():
                    direct.append(stmt)
                case nodes.UseStmt(profile=profile, task=task):
                    if profile.value not in profiles:
                        self.sink.report(
                            "MPL207", profile.span, f"profile `{profile.value}` does not exist",
                            help=did_you_mean(profile.value, profiles), profile=profile.value,
                        )
                        continue
                    task_name = None
                    if task is not None and self.check_task(task, tasks):
                        task_name = task.value
                    uses.append(Use(profile.value, task_name, stmt.span))
                    options = resolved.get((profile.value, task_name)) or resolved[(profile.value, None)]
                    params.update(options)
                case nodes.AdapterStmt(path=path):
                    if adapter is not None:
                        self.sink.report(
                            "MPL213", stmt.span, "a model takes one adapter",
                            related=[Related(adapter.span, "the first adapter")],
                            help="Ollama supports one LoRA adapter per model; merge them offline into one",
                        )
                        continue
                    adapter = Adapter(path.value, expand_path(path.value, self.base_dir), stmt.span, path.span)
                case nodes.TextStmt(keyword=keyword, text=text):
                    value = Text(text.value, stmt.span, text.span)
                    if keyword == "license":
                        licenses.append(value)
                    else:
                        previous = texts.get(keyword)
                        if previous is not None:
                            self.sink.report(
                                "MPL209", stmt.span, f"`{keyword}` is given twice in this model",
                                related=[Related(previous.span, "first given here")],
                            )
                        texts[keyword] = value
                case nodes.MessageStmt(role=role, text=text):
                    if role.value not in MESSAGE_ROLES:
                        self.sink.report(
                            "MPL218", role.span, f"`{role.value}` is not a message role",
                            help=did_you_mean(role.value, tuple(MESSAGE_ROLES)) or "roles are system, user, assistant and tool",
                        )
                        continue
                    messages.append(Message(role.value, text.value, stmt.span, role.span, text.span))
                case nodes.When():
                    self.sink.report(
                        "MPL208", stmt.span, "`when` blocks belong in profiles, not models",
                        help="put the variation in a profile and `use PROFILE for TASK`",
                    )
        unsets = self._model_params(name, params, direct)
        return Model(
            name=name, name_span=decl.name.span, span=decl.span, source=source, adapter=adapter, params=params,
            system=texts.get("system"), template=texts.get("template"), messages=tuple(messages),
            licenses=tuple(licenses), requires=texts.get("requires"), uses=tuple(uses), unsets=tuple(unsets),
            base=canonical_model_name(source.value) if source.kind == "model" else None,
        )

    def _model_params(
        self, model: str, params: Options, stmts: list[nodes.Param | nodes.UnsetStmt]
    ) -> list[tuple[str, Span]]:
        """Apply a model's own parameter and `unset` statements over its baked profiles."""
        seen: dict[str, Span] = {}
        unsets: list[tuple[str, Span]] = []
        origin = Origin(model=model)
        for stmt in stmts:
            match stmt:
                case nodes.Param(name=name, value=value, append=append):
                    if name.value in LIST_PARAMETERS:
                        # In a model, list parameters accumulate as Modelfile lines do.
                        _append(params, name.value, value, stmt.span, origin)
                        continue
                    if append:
                        self.sink.report(
                            "MPL212", stmt.span, f"`+=` needs a list parameter; `{name.value}` is not one",
                            help=f"write `{name.value} VALUE` to replace the value",
                        )
                    elif name.value in seen:
                        self.sink.report(
                            "MPL210", name.span, f"`{name.value}` is set twice in this model; the later value wins",
                            related=[Related(seen[name.value], "first set here")],
                        )
                    seen[name.value] = stmt.span
                    params[name.value] = Setting(name.value, py_value(value), stmt.span, value.span, origin)
                case nodes.UnsetStmt(names=names):
                    for n in names:
                        if n.value not in params:
                            self._report_unset_noop(n)
                        params.pop(n.value, None)
                        seen.pop(n.value, None)
                        unsets.append((n.value, n.span))
        return unsets

    def _build_order(self, models: dict[str, Model]) -> list[Model]:
        """Models with the models they are built `from` first; cycles reported once."""
        order: list[Model] = []

        def step(key: str) -> str | None:
            dep = models[key].base
            return dep if dep in models else None

        for path, stop, cycle in walk_chains(models, step):
            if cycle and stop is not None:
                ring = path[path.index(stop) :] + [stop]
                self.sink.report(
                    "MPL215", models[stop].source.span,
                    "models are built from each other in a cycle: " + " → ".join(models[k].name for k in ring),
                )
            order.extend(models[member] for member in reversed(path))
        return order


def _walk(block: nodes.Block) -> t.Iterator[nodes.Stmt]:
    for stmt in block.stmts:
        yield stmt
        if isinstance(stmt, nodes.When):
            yield from _walk(stmt.block)


def _keyword(stmt: nodes.Stmt) -> str:
    match stmt:
        case nodes.AdapterStmt():
            return "adapter"
        case nodes.UseStmt():
            return "use"
        case nodes.TextStmt(keyword=keyword):
            return keyword
        case nodes.MessageStmt():
            return "message"
    return type(stmt).__name__  # pragma: no cover


def _str(node: nodes.Name | nodes.String) -> str:
    return node.value


def _append(options: Options, name: str, value: nodes.Value, span: Span, origin: Origin) -> None:
    """Append a value (one string or a list) to a list parameter, keeping each element's span."""
    pv = py_value(value)
    items = pv if isinstance(pv, tuple) else (pv,)
    spans = _element_spans(value)
    previous = options.get(name)
    if previous is not None and isinstance(previous.value, tuple):
        items = previous.value + items
        spans = previous.elements + spans
    options[name] = Setting(name, tuple(items), span, value.span, origin, spans)


def _element_spans(value: nodes.Value) -> tuple[Span, ...]:
    return tuple(item.span for item in value.items) if isinstance(value, nodes.List) else (value.span,)


# -- compiled profile bodies ------------------------------------------------------------

# One operation of a body: ("set", Setting), ("append", (name, value node, span, origin)), ("unset", names).
Op = tuple[str, t.Any]
# A block's operations; a block of plain assignments is one mapping, applied with `dict.update`.
Ops = t.Union[list[Op], dict[str, Setting]]


class _Body(t.NamedTuple):
    """A profile's own statements, compiled once."""

    ops: Ops
    whens: list[tuple[frozenset[str], Ops]]  # each `when` block: its tasks, its operations
    tasks: frozenset[str]  # the tasks its `when` blocks name (nested ones too: those are MPL208)


def _compile_body(name: str, block: nodes.Block) -> _Body:
    """A profile's own statements as operations, and its `when` blocks as (tasks, operations)."""
    origin = Origin(profile=name)
    body: list[Op] = []
    whens: list[tuple[frozenset[str], Ops]] = []
    named: set[str] = set()
    for stmt in block.stmts:
        if type(stmt) is nodes.When:
            tasks = tuple(n.value for n in stmt.tasks)
            named.update(tasks)
            label = Origin(profile=name, when=tasks, form=stmt.form)
            ops: list[Op] = []
            for inner in stmt.block.stmts:
                if type(inner) is nodes.When:
                    named.update(task for nested in _walk(inner.block) if type(nested) is nodes.When
                                 for task in (n.value for n in nested.tasks))
                    named.update(n.value for n in inner.tasks)
                else:
                    _ops(inner, label, ops)
            whens.append((frozenset(tasks), _compact(ops)))
        else:
            _ops(stmt, origin, body)
    return _Body(_compact(body), whens, frozenset(named))


def _compact(ops: list[Op]) -> Ops:
    """Plain assignments as one mapping (later ones win, as when run in order); else the list."""
    if all(kind == "set" for kind, _arg in ops):
        return {setting.name: setting for _kind, setting in ops}
    return ops


def _ops(stmt: nodes.Stmt, origin: Origin, out: list[Op]) -> None:
    if isinstance(stmt, nodes.Param):
        name = stmt.name.value
        value = stmt.value
        if name in LIST_PARAMETERS:
            if stmt.append:
                out.append(("append", (name, value, stmt.span, origin)))
                return
            pv = py_value(value)
            items = pv if isinstance(pv, tuple) else (pv,)
            out.append(("set", Setting(name, items, stmt.span, value.span, origin, _element_spans(value))))
        else:
            out.append(("set", Setting(name, py_value(value), stmt.span, value.span, origin)))
    elif isinstance(stmt, nodes.UnsetStmt):
        out.append(("unset", tuple(n.value for n in stmt.names)))


def _same(a: Options, b: Options) -> bool:
    """Whether two option sets hold the very same settings (a variant the body overwrote back)."""
    return len(a) == len(b) and all(a.get(name) is setting for name, setting in b.items())


def _run(options: Options, ops: Ops) -> None:
    if isinstance(ops, dict):
        options.update(ops)
        return
    for kind, arg in ops:
        if kind == "set":
            options[arg.name] = arg
        elif kind == "append":
            _append(options, *arg)
        else:
            for n in arg:
                options.pop(n, None)

"""Resolve: syntax tree to `Program` — names, inheritance, tasks, models.

Reports unknown parents, cycles, duplicates, undeclared or twice-claimed
tasks, unknown profiles in `use`/`default`, misplaced statements and model
ordering problems, each at the offending span with a did-you-mean.
"""

from __future__ import annotations

import typing as t
from pathlib import Path

from mpl.catalog import NEWEST, OLDEST, Version
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
    Message,
    Model,
    ModelSource,
    Options,
    Profile,
    Program,
    PyValue,
    Setting,
    Text,
)
from mpl.diagnostics import Related, Sink
from mpl.source import Span

LIST_PARAMETERS = frozenset({"stop"})
MESSAGE_ROLES = ("system", "user", "assistant", "tool")
_MODEL_ONLY = (nodes.AdapterStmt, nodes.UseStmt, nodes.TextStmt, nodes.MessageStmt)


def py_value(value: nodes.Value) -> PyValue:
    """The Python value of a literal; lists become tuples."""
    match value:
        case nodes.List(items=items):
            return tuple(py_value(item) for item in items)  # type: ignore[misc]
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
    """Build the resolved program of a parsed file.

    `target` (from `--ollama` or a server) overrides the file's `ollama` line.
    """
    base_dir = base_dir or Path.cwd()
    ctx = _Resolver(file, sink, base_dir)
    version, origin, vspan = ctx.target_version(target, target_origin)
    tasks = ctx.collect_tasks()
    profiles = ctx.collect_profiles(tasks)
    default, default_span = ctx.collect_default(profiles)
    routes = ctx.collect_routes(profiles, tasks)
    program = Program(
        source=file.source,
        file=file,
        base_dir=base_dir,
        target=version,
        target_origin=origin,
        target_span=vspan,
        tasks=tasks,
        default=default,
        default_span=default_span,
        profiles=profiles,
        routes=routes,
        models=[],
    )
    ctx.check_unrouted(program)
    ctx.check_profile_bodies(program)
    program.models = ctx.collect_models(program)
    return program


class _Resolver:
    def __init__(self, file: nodes.File, sink: Sink, base_dir: Path) -> None:
        self.file = file
        self.sink = sink
        self.base_dir = base_dir
        self._ancestor_cache: dict[str, frozenset[str]] = {}

    def decls(self, kind: type) -> list[t.Any]:
        return [d for d in self.file.decls if isinstance(d, kind)]

    # -- ollama "X.Y" ----------------------------------------------------------
    def target_version(
        self, override: Version | None, origin: t.Literal["option", "server"]
    ) -> tuple[Version, t.Any, Span | None]:
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
        if override is not None:
            self._check_range(override, None)
            return override, origin, None
        if found is not None:
            return found[0], "file", found[1]
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
    def collect_profiles(self, tasks: dict[str, Span]) -> dict[str, Profile]:
        profiles: dict[str, Profile] = {}
        for decl in self.decls(nodes.ProfileDecl):
            name = decl.name.value
            if name in profiles:
                self.sink.report(
                    "MPL203", decl.name.span, f"profile `{name}` is defined twice",
                    related=[Related(profiles[name].decl.name.span, "first defined here")],
                    profile=name,
                )
                continue
            profiles[name] = Profile(
                name=name,
                decl=decl,
                description=self.description(decl.block),
                parent=decl.parent.value if decl.parent else None,
                tasks=tuple(n.value for n in decl.tasks),
            )
        for profile in profiles.values():
            parent = profile.decl.parent
            if parent is not None and parent.value not in profiles:
                self.sink.report(
                    "MPL201", parent.span, f"profile `{profile.name}` extends unknown profile `{parent.value}`",
                    help=did_you_mean(parent.value, profiles), parent=parent.value,
                )
                profile.parent = None
        self._break_cycles(profiles)
        return profiles

    def _break_cycles(self, profiles: dict[str, Profile]) -> None:
        done: set[str] = set()  # profiles whose chain is known to end (or was cut)
        for start in profiles:
            chain: list[str] = []
            on_chain: dict[str, int] = {}
            name: str | None = start
            while name is not None and name not in done and name not in on_chain:
                on_chain[name] = len(chain)
                chain.append(name)
                name = profiles[name].parent
            done.update(chain)
            if name is None or name not in on_chain:
                continue
            cycle = chain[on_chain[name] :]
            first = profiles[cycle[0]]
            path = " → ".join(cycle + [cycle[0]])
            assert first.decl.parent is not None
            self.sink.report(
                "MPL202", first.decl.parent.span, f"inheritance cycle: {path}",
                related=[
                    Related(profiles[n].decl.parent.span, f"`{n}` extends `{profiles[n].parent}` here")  # type: ignore[union-attr]
                    for n in cycle[1:]
                ],
                help="one profile in the cycle must not extend another",
                cycle=tuple(cycle),
            )
            for n in cycle:
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

    def collect_default(self, profiles: dict[str, Profile]) -> tuple[str | None, Span | None]:
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

    def collect_routes(self, profiles: dict[str, Profile], tasks: dict[str, Span]) -> dict[str, str]:
        routes: dict[str, str] = {}
        claimed_at: dict[str, Span] = {}
        for profile in profiles.values():
            for name in profile.decl.tasks:
                if not self.check_task(name, tasks):
                    continue
                if name.value in routes and routes[name.value] != profile.name:
                    self.sink.report(
                        "MPL206", name.span,
                        f"task `{name.value}` is claimed by `{routes[name.value]}` and `{profile.name}`",
                        related=[Related(claimed_at[name.value], f"claimed by `{routes[name.value]}` here")],
                        help="route a task to one profile; vary it inside with `when task is …`",
                        task=name.value,
                    )
                    continue
                routes[name.value] = profile.name
                claimed_at[name.value] = name.span
        return routes

    def check_unrouted(self, program: Program) -> None:
        if program.default is not None or program.default_span is not None:
            return
        for task, span in program.tasks.items():
            if task not in program.routes:
                self.sink.report(
                    "MPL217", span, f"task `{task}` is routed to no profile and there is no `default`",
                    help=f"add `for {task}` to a profile, or declare `default PROFILE`", task=task,
                )

    def check_profile_bodies(self, program: Program) -> None:
        for profile in program.profiles.values():
            self._check_block(program, profile.decl.block, profile, nested=False)

    def _ancestor_names(self, program: Program, profile: Profile) -> frozenset[str]:
        """The parameter names that a profile's ancestors set, memoised along the chain.

        Parents are acyclic here: `collect_profiles` has broken every cycle. The
        chain is walked iteratively, so a long `extends` chain needs no recursion.
        """
        chain: list[Profile] = []
        current: Profile | None = profile
        while current is not None and current.name not in self._ancestor_cache:
            chain.append(current)
            current = program.profiles[current.parent] if current.parent is not None else None
        found = self._ancestor_cache[current.name] if current is not None else frozenset()
        for member in reversed(chain):
            # `found` holds the names set by `member`'s ancestors; add its parent's own.
            if member.parent is not None:
                parent = program.profiles[member.parent]
                found = found | {stmt.name.value for stmt in _walk(parent.decl.block) if isinstance(stmt, nodes.Param)}
            self._ancestor_cache[member.name] = found
        return found

    def _report_unset_noop(self, name: nodes.Name) -> None:
        self.sink.report(
            "MPL211", name.span, f"`unset {name.value}` has no effect: nothing before it sets `{name.value}`"
        )

    def _check_block(self, program: Program, block: nodes.Block, profile: Profile, *, nested: bool) -> None:
        seen: dict[str, Span] = {}
        known = set(self._ancestor_names(program, profile))
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
                case nodes.UnsetStmt(names=names):
                    for name in names:
                        if name.value not in known:
                            self._report_unset_noop(name)
                        seen.pop(name.value, None)
                case nodes.When(tasks=tasks, block=inner):
                    if nested:
                        self.sink.report("MPL208", stmt.span, "`when` blocks cannot be nested")
                    for task in tasks:
                        self.check_task(task, program.tasks)
                    self._check_block(program, inner, profile, nested=True)
                case nodes.Description() if nested:
                    self.sink.report("MPL208", stmt.span, "a `when` block has no description")
                case nodes.AdapterStmt() | nodes.UseStmt() | nodes.TextStmt() | nodes.MessageStmt():
                    keyword = _keyword(stmt)
                    self.sink.report(
                        "MPL208", stmt.span, f"`{keyword}` belongs in a model, not a profile",
                        help="profiles hold parameters; put it in a `model … from … < >` block",
                    )

    # -- models ------------------------------------------------------------------
    def collect_models(self, program: Program) -> list[Model]:
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
            model = Model(name=name, decl=decl, source=source)
            self._model_body(program, model)
            models[key] = model
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
            self.sink.report(
                "MPL214", span, f"`{text}` is neither a valid Ollama model name nor a GGUF path",
                help="a local file must end in `.gguf` or start with `./`, `../`, `/` or `~`",
            )
        return ModelSource("registry", text, span)

    def _model_body(self, program: Program, model: Model) -> None:
        """Fill a model from its block.

        The profiles named by `use` are baked first, in order (a later `use`
        wins where two set the same parameter); the model's own parameter and
        `unset` statements then apply in order on top, wherever they stand in
        the block, so a direct parameter always overrides a profile's value.
        """
        block = model.decl.block
        if block is None:
            return
        direct: list[nodes.Param | nodes.UnsetStmt] = []
        for stmt in block.stmts:
            match stmt:
                case nodes.Description():
                    pass  # documentation only
                case nodes.Param() | nodes.UnsetStmt():
                    direct.append(stmt)
                case nodes.UseStmt(profile=profile, task=task):
                    if profile.value not in program.profiles:
                        self.sink.report(
                            "MPL207", profile.span, f"profile `{profile.value}` does not exist",
                            help=did_you_mean(profile.value, program.profiles), profile=profile.value,
                        )
                        continue
                    task_name = None
                    if task is not None and self.check_task(task, program.tasks):
                        task_name = task.value
                    model.uses.append((profile.value, task_name, stmt.span))
                    model.params.update(program.resolve(profile.value, task_name))
                case nodes.AdapterStmt(path=path):
                    if model.adapter is not None:
                        self.sink.report(
                            "MPL213", stmt.span, "a model takes one adapter",
                            related=[Related(model.adapter.span, "the first adapter")],
                            help="Ollama supports one LoRA adapter per model; merge them offline into one",
                        )
                        continue
                    model.adapter = Adapter(path.value, expand_path(path.value, self.base_dir), stmt.span, path.span)
                case nodes.TextStmt(keyword=keyword, text=text):
                    value = Text(text.value, stmt.span, text.span)
                    if keyword == "license":
                        model.licenses.append(value)
                    else:
                        previous = getattr(model, keyword)
                        if previous is not None:
                            self.sink.report(
                                "MPL209", stmt.span, f"`{keyword}` is given twice in this model",
                                related=[Related(previous.span, "first given here")],
                            )
                        setattr(model, keyword, value)
                case nodes.MessageStmt(role=role, text=text):
                    if role.value not in MESSAGE_ROLES:
                        self.sink.report(
                            "MPL218", role.span, f"`{role.value}` is not a message role",
                            help=did_you_mean(role.value, MESSAGE_ROLES) or "roles are system, user, assistant and tool",
                        )
                        continue
                    model.messages.append(Message(role.value, text.value, stmt.span, role.span, text.span))
                case nodes.When():
                    self.sink.report(
                        "MPL208", stmt.span, "`when` blocks belong in profiles, not models",
                        help="put the variation in a profile and `use PROFILE for TASK`",
                    )
        self._model_params(model, direct)

    def _model_params(self, model: Model, stmts: list[nodes.Param | nodes.UnsetStmt]) -> None:
        """Apply a model's own parameter and `unset` statements over its baked profiles."""
        params: Options = model.params
        seen: dict[str, Span] = {}
        origin = f"model {model.name}"
        for stmt in stmts:
            match stmt:
                case nodes.Param(name=name, value=value, append=append):
                    pv = py_value(value)
                    if name.value in LIST_PARAMETERS:
                        # In a model, list parameters accumulate as Modelfile lines do.
                        _append(params, name.value, value, stmt.span, origin, None)
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
                    params[name.value] = Setting(name.value, pv, stmt.span, value.span, origin, None)
                case nodes.UnsetStmt(names=names):
                    for n in names:
                        if n.value not in params:
                            self._report_unset_noop(n)
                        params.pop(n.value, None)
                        seen.pop(n.value, None)
                        model.unsets.append((n.value, n.span))

    def _build_order(self, models: dict[str, Model]) -> list[Model]:
        """Models with the models they are built `from` first; cycles reported once.

        Each model depends on at most one other (its `from`), so the dependencies
        form chains: each chain is walked iteratively, however long it is.
        """
        order: list[Model] = []
        done: set[str] = set()
        for start in models:
            path: list[str] = []
            on_path: dict[str, int] = {}
            key: str | None = start
            while key is not None and key not in done and key not in on_path:
                on_path[key] = len(path)
                path.append(key)
                model = models[key]
                dep = canonical_model_name(model.source.value) if model.source.kind == "model" else None
                key = dep if dep in models else None
            if key is not None and key in on_path:
                cycle = path[on_path[key] :] + [key]
                self.sink.report(
                    "MPL215", models[key].source.span,
                    "models are built from each other in a cycle: " + " → ".join(models[k].name for k in cycle),
                )
            for member in reversed(path):
                done.add(member)
                order.append(models[member])
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


def _append(
    options: Options, name: str, value: nodes.Value, span: Span, origin: str, profile: str | None
) -> None:
    """Append a value (one string or a list) to a list parameter, keeping each element's span."""
    pv = py_value(value)
    items = pv if isinstance(pv, tuple) else (pv,)
    spans = _element_spans(value)
    previous = options.get(name)
    if previous is not None and isinstance(previous.value, tuple):
        items = previous.value + items
        spans = previous.elements + spans
    options[name] = Setting(name, tuple(items), span, value.span, origin, profile, spans)


def _element_spans(value: nodes.Value) -> tuple[Span, ...]:
    return tuple(item.span for item in value.items) if isinstance(value, nodes.List) else (value.span,)


# -- resolving one profile ------------------------------------------------------------


def resolve_profile(program: Program, name: str, task: str | None) -> Options:
    """Parent resolved for the task, then the body, then the matching `when` blocks.

    A task that no `when` block of the profile or its ancestors names resolves
    as no task at all, so that result is shared rather than recomputed. The
    chain of ancestors is walked iteratively (root first), and every ancestor's
    result is cached on the way, so a long `extends` chain needs no recursion.
    """
    if task is not None and task not in when_tasks(program, name):
        return program.resolve(name)
    chain: list[str] = []
    ancestor: str | None = name
    while ancestor is not None and (ancestor, task) not in program._cache:
        chain.append(ancestor)
        ancestor = program.profiles[ancestor].parent
    options: Options = program._cache[(ancestor, task)] if ancestor is not None else {}
    for profile_name in reversed(chain):
        options = _resolve_body(program.profiles[profile_name], dict(options), task)
        program._cache[(profile_name, task)] = options
    return options


def _resolve_body(profile: Profile, options: Options, task: str | None) -> Options:
    """Apply one profile's own statements, then its `when` blocks for the task."""
    whens: list[nodes.When] = []
    origin = f"profile {profile.name}"
    for stmt in profile.decl.block.stmts:
        if isinstance(stmt, nodes.When):
            whens.append(stmt)
        else:
            _apply(options, stmt, origin, profile.name)
    if task is not None:
        for when in whens:
            if any(n.value == task for n in when.tasks):
                label = f"profile {profile.name}, when task {'is' if when.form == 'is' else 'in'} …"
                for stmt in when.block.stmts:
                    if not isinstance(stmt, nodes.When):
                        _apply(options, stmt, label, profile.name)
    return options


def when_tasks(program: Program, name: str) -> frozenset[str]:
    """The tasks named by `when` blocks of a profile and of its ancestors.

    Only for these tasks can the profile resolve to other values than its own.
    """
    chain: list[str] = []
    ancestor: str | None = name
    while ancestor is not None and ancestor not in program._when_tasks:
        chain.append(ancestor)
        ancestor = program.profiles[ancestor].parent
    found = program._when_tasks[ancestor] if ancestor is not None else frozenset()
    for profile_name in reversed(chain):
        block = program.profiles[profile_name].decl.block
        own = {task.value for stmt in _walk(block) if isinstance(stmt, nodes.When) for task in stmt.tasks}
        found = program._when_tasks[profile_name] = found | own
    return found


def _apply(options: Options, stmt: nodes.Stmt, origin: str, profile: str) -> None:
    match stmt:
        case nodes.Param(name=name, value=value, append=True) if name.value in LIST_PARAMETERS:
            _append(options, name.value, value, stmt.span, origin, profile)
        case nodes.Param(name=name, value=value):
            pv = py_value(value)
            if name.value in LIST_PARAMETERS:
                items = pv if isinstance(pv, tuple) else (pv,)
                options[name.value] = Setting(
                    name.value, items, stmt.span, value.span, origin, profile, _element_spans(value)
                )
            else:
                options[name.value] = Setting(name.value, pv, stmt.span, value.span, origin, profile)
        case nodes.UnsetStmt(names=names):
            for n in names:
                options.pop(n.value, None)

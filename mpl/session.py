"""Runtime tuning: a `Session` holds one profile, one task and the user's overrides.

Consumes a `ProfileSet` (`mpl.load(path).session()`); produces the `options`
dict an assistant sends to `ollama.chat`, provenance rows and the `/param show`
table, and writes the session's state back into the source as a profile
(`save`, `delete_profile`). A file is edited as text: only the declaration that
changes is rewritten (through the formatter), every other byte stays, and the
result is checked before it replaces the file atomically. docs/api.md has the
whole API.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import typing as t
import warnings
from pathlib import Path

from mpl.checks import MplError, error, known_profile, known_task, name_hint, validate_overrides
from mpl.compiler import lexicon
from mpl.diagnostics import Diagnostic, Severity
from mpl.source import SourceFile, Span, line_end, line_start, read_file

if t.TYPE_CHECKING:
    from mpl.compiler import Analysis, nodes
    from mpl.compiler.program import Program

class ProfileSet(t.Protocol):
    """What a session needs of the `mpl.api.ProfileSet` it works on (the API makes sessions, not the reverse)."""

    program: Program

    def options(self, profile: str, task: str | None = None, **overrides: t.Any) -> dict[str, t.Any]: ...

    def reload(self, path: str | os.PathLike[str]) -> ProfileSet: ...


_NAME = re.compile(lexicon.NAME + r"\Z")
_KEYWORDS = lexicon.KEYWORDS


@dataclasses.dataclass(frozen=True, slots=True)
class ParamRow:
    """One parameter of a session: its value, where it comes from, and notes.

    `source` is "override", "set" (by a profile statement) or "default" (left
    to Ollama); `where` says it in words: "override",
    "profile creative (meton.mprof:31)" or "Ollama 0.12 default". `inert`
    marks a value that has no effect (notes say why, as in `mpl show`).
    """

    name: str
    value: t.Any  # None: Ollama decides
    source: t.Literal["override", "set", "default"]
    where: str
    notes: tuple[str, ...] = ()
    inert: bool = False


class Session:
    """A profile, a task and runtime overrides over one `ProfileSet`.

    Not thread-safe; the `ProfileSet` it starts from is never changed (after
    `save` the session works on a reloaded one).

    >>> from mpl.api import loads
    >>> s = loads('tasks a\\ndefault p\\nprofile p < temperature 0.2 >').session(task="a")
    >>> s.set("temperature", "0.7"); s.set("stop", "</s>")
    >>> s.options()
    {'temperature': 0.7, 'stop': ['</s>']}
    >>> s.reset(); s.options()
    {'temperature': 0.2}
    """

    def __init__(self, profiles: ProfileSet, profile: str | None = None, task: str | None = None) -> None:
        self._set = profiles
        self._task: str | None = None
        self._overrides: dict[str, t.Any] = {}
        if task is not None:
            self._task = self._known_task(task)
        self._profile = self._known_profile(profile) if profile is not None else self._routed()

    # -- state

    @property
    def profiles(self) -> ProfileSet:
        """The `ProfileSet` the session works on (a new one after `save` or `delete_profile`)."""
        return self._set

    @property
    def profile(self) -> str:
        return self._profile

    @property
    def current_task(self) -> str | None:
        return self._task

    @property
    def overrides(self) -> dict[str, t.Any]:
        """The overrides, in Ollama's types (None: the option is removed)."""
        return dict(self._overrides)

    def preset(self, name: str, keep_overrides: bool = True) -> None:
        """Switch to another profile; the overrides stay unless `keep_overrides=False`."""
        self._profile = self._known_profile(name)
        if not keep_overrides:
            self._overrides.clear()

    def task(self, name: str | None) -> None:
        """Route to a task: its profile (or the `default`) for that task; `None` for no task."""
        if name is None:
            self._task = None
            return
        task = self._known_task(name)
        previous = self._task
        self._task = task
        try:
            self._profile = self._routed()
        except MplError:
            self._task = previous
            raise

    def set(self, name: str, value: t.Any) -> None:
        """Override one parameter, validated as `ProfileSet.options(**overrides)` validates it.

        A string is read as a user types it at a prompt: `"0.7"`, `"true"`,
        `"</s>"` (one stop sequence), `'["a", "b"]'` (a list in the file's
        syntax). `None` removes the option from the request. Raises `MplError`
        for an unknown parameter, a wrong type or a value out of its domain;
        warns `MplWarning` for an option the target Ollama version ignores.
        """
        validate_overrides({name: None})  # the name first: unknown, or not a string, is MPL301
        if isinstance(value, str):
            value = _typed_at_prompt(name, value)
        # The same checks as options(**overrides), warnings included; raises on a bad value.
        self._set.options(self._profile, self._task, **{name: value})
        self._overrides[name] = validate_overrides({name: value})[name]

    def unset(self, name: str) -> bool:
        """Drop one override (back to the profile's value); False if there was none."""
        if name not in self._overrides:
            validate_overrides({name: None})  # an unknown name gets its did-you-mean
            return False
        del self._overrides[name]
        return True

    def reset(self) -> None:
        """Drop every override: back to the profile as configured."""
        self._overrides.clear()

    def options(self) -> dict[str, t.Any]:
        """The options to send: `ollama.chat(model, messages, options=session.options())`."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # `set` has warned once already
            return self._set.options(self._profile, self._task, **self._overrides)

    # -- provenance

    def rows(self) -> list[ParamRow]:
        """Every parameter with its value and source: overrides, profile statements, Ollama defaults."""
        from mpl.compiler.program import Origin, Setting
        from mpl.provenance import Subject, rows

        program = self._set.program
        resolved = dict(program.resolve(self._profile, self._task))
        end = Span(len(program.source.text), len(program.source.text))
        for name, value in self._overrides.items():
            if value is None:
                resolved.pop(name, None)
            else:
                py = tuple(value) if isinstance(value, list) else value
                resolved[name] = Setting(name, py, end, end, Origin(override=True))
        subject = Subject("profile", self._profile, self._task, resolved)
        out = []
        for row in rows(program, subject):
            value = _plain(row.name, row.value)
            if row.source == "default":
                out.append(ParamRow(row.name, value, "default", f"Ollama {program.target} default", row.notes))
            elif row.origin == "override":
                out.append(ParamRow(row.name, value, "override", "override", row.notes, row.inert))
            else:
                where = f"{row.origin} ({Path(program.source.path).name}:{row.line})"
                out.append(ParamRow(row.name, value, "set", where, row.notes, row.inert))
        return out

    def render(self, *, rich: bool | None = None) -> str:
        """The `/param show` table: rich on a terminal (or with `rich=True`), plain text otherwise."""
        import sys

        from mpl.show import HEADERS, format_value, none_word, table

        if rich is None:
            rich = sys.stdout.isatty()
        body, dim = [], []
        for row in self.rows():
            note = "; ".join(row.notes)
            if row.inert:
                note = "INERT: " + note
            body.append([row.name, none_word(row.name) if row.value is None else format_value(row.value), row.where, note])
            dim.append(row.source == "default")
        return table(self._title(), HEADERS, body, dim, rich)

    def _title(self) -> str:
        count = len(self._overrides)
        extra = f", {count} override{'' if count == 1 else 's'}" if count else ""
        task = f" for task {self._task}" if self._task else ""
        return f"profile {self._profile}{task} at Ollama {self._set.program.target}{extra}"

    # -- writing profiles

    def save(self, name: str, *, description: str | None = None, extends: str | None = None) -> Path:
        """Write the session's state into the source file as profile `name`; returns the file.

        A new profile extends the current one (or `extends`) and holds only what
        differs from it: the overrides. An existing profile is updated in place
        (its statements edited, its comments kept) so that it resolves to the
        session's options. The rest of the file is kept byte for byte; the result
        is checked, then replaces the file atomically. Afterwards the session
        is on profile `name` with no overrides (and the same options).

        Refused with `MplError`: a name that is not an identifier, a model's
        name, an unknown `extends`, or a result with errors (a cycle, say).
        A task may share the name (tasks and profiles are apart).
        """
        with self._editing():
            return self._save(name, description=description, extends=extends)

    def _save(self, name: str, *, description: str | None, extends: str | None) -> Path:
        path, text, bom = self._read()
        before = _analyze(path, text)
        program = before.program
        assert program is not None
        if not _NAME.match(name) or name in _KEYWORDS:
            raise MplError([error("MPL101", f"`{name}` cannot be a profile name",
                                   "a name starts with a letter or `_` and holds letters, digits, `_` and `-`")])
        if program.model(name) is not None:
            raise MplError([error("MPL203", f"`{name}` is the name of a model; a profile of that name would be ambiguous",
                                   "pick another name")])
        if extends is not None and extends not in program.profiles:
            raise MplError([error("MPL201", f"cannot extend `{extends}`: no profile has that name", name_hint(extends, program.profiles))])
        desired = self.options()
        decl = _profile_decl(before, name)
        if decl is None:
            parent = extends or self._profile
            head = f"profile {name} extends {parent} < >"
            at = line_end(text, max(d.span.end for d in before.tree.decls if _is_profile(d)))  # type: ignore[union-attr]
            nl = _newline(text)
            text1 = text[:at] + nl + nl + head + text[at:]
            text1 = _edit_head(text1, _profile_decl(_analyze(path, text1), name), None, description)
        else:
            text1 = _edit_head(text, decl, extends, description)
        result = _reach(path, text1, name, self._task, desired, untouched=text)
        self._commit(path, text, result, bom)
        self._profile = name
        self._overrides.clear()
        return path

    def delete_profile(self, name: str) -> Path:
        """Remove a profile's declaration from the source file; returns the file.

        Refused with `MplError` when a profile extends it, a model `use`s it or
        `default` names it. If the session was on that profile it goes back to
        the profile its task routes to (or the `default`), keeping its overrides.
        """
        with self._editing():
            return self._delete_profile(name)

    def _delete_profile(self, name: str) -> Path:
        path, text, bom = self._read()
        before = _analyze(path, text)
        program = before.program
        assert program is not None
        decl = _profile_decl(before, name)
        if decl is None:
            raise MplError([error("MPL207", f"profile `{name}` does not exist", name_hint(name, program.profiles))])
        uses = []
        for other in program.profiles.values():
            if other.parent == name:
                uses.append(_at("MPL201", f"cannot delete profile `{name}`: profile `{other.name}` extends it", other.name_span))
        for model in program.models:
            for use in model.uses:
                if use.profile == name:
                    uses.append(_at("MPL207", f"cannot delete profile `{name}`: model `{model.name}` uses it", use.span))
        if program.default == name:
            uses.append(_at("MPL207", f"cannot delete profile `{name}`: `default` names it", program.default_span))
        if uses:
            raise MplError(uses, before.source)
        start = line_start(text, decl.span.start)
        end = line_end(text, decl.span.end)
        if text[start:decl.span.start].strip() or text[decl.span.end:end].strip().split("#")[0].strip(" \t;"):
            start, end = decl.span.start, decl.span.end  # shares its line with other code: cut the span alone
        else:
            end = _after_break(text, end)
            if _blank_line_at(text, end) and (start == 0 or _blank_line_before(text, start)):
                end = _after_break(text, end)  # drop one of the two blank lines around it
        result = text[:start] + text[end:]
        switch = name == self._profile
        if switch:
            after = _analyze(path, result)
            assert after.program is not None
            chosen = after.program.profile_for_task(self._task) if self._task else after.program.default
            if chosen is None:
                raise MplError([error("MPL217", f"cannot delete profile `{name}`: the session is on it and "
                                       "there is no `default` (or routed profile) to go back to", None)])
        self._commit(path, text, result, bom)
        if switch:
            self._profile = self._routed()
        return path

    def _path(self) -> Path:
        """The source file the session's profiles were loaded from."""
        program = self._set.program
        shown = Path(program.source.path)
        if program.source.path.startswith("<"):
            raise MplError([error("MPL001", "the profiles were loaded from text, not from a file: there is nothing to save to",
                                   "load a path: `mpl.load(\"profiles.mprof\")`")])
        return shown if shown.is_absolute() else program.base_dir / shown.name

    @contextlib.contextmanager
    def _editing(self) -> t.Iterator[None]:
        """Hold the source file's folder while the file is read, changed and replaced.

        Savers in other threads and processes wait their turn, and each reads the
        file as the one before left it, so no saver's profile is lost.
        """
        from mpl.output import FolderBusy, folder_lock

        lock = folder_lock(Path(os.path.realpath(self._path())).parent)
        try:
            lock.__enter__()
        except FolderBusy as exc:
            raise MplError([error("MPL001", str(exc), "another program is saving into this file; try again")]) from None
        try:
            yield
        finally:
            lock.__exit__(None, None, None)

    def _read(self) -> tuple[Path, str, bool]:
        path = self._path()
        try:
            data = read_file(path, whole=True)
        except OSError as exc:
            raise MplError([error("MPL001", f"cannot read `{path}`: {exc.strerror or exc}", None)]) from None
        bom = data.startswith(b"\xef\xbb\xbf")
        try:
            text = data[3 if bom else 0:].decode("utf-8")
        except UnicodeDecodeError:
            raise MplError([error("MPL002", f"`{path}` is not valid UTF-8", None)]) from None
        return path, text, bom

    def _commit(self, path: Path, old: str, new: str, bom: bool) -> None:
        """Check the new text (no error the old text did not have), write it atomically, reload."""
        from mpl.output import write_atomic

        targets = _checked_targets(path)
        before = _analyze(path, old, targets)  # what `mpl check` says, before and after
        after = _analyze(path, new, targets)
        known = {(d.code, d.message) for d in before.diagnostics if d.is_error}
        fresh = [d for d in after.diagnostics if d.is_error and (d.code, d.message) not in known]
        if fresh or after.program is None:
            raise MplError(fresh or after.diagnostics, after.source)
        if new != old:
            try:
                write_atomic(path, (b"\xef\xbb\xbf" if bom else b"") + new.encode("utf-8"))
            except OSError as exc:
                raise MplError([error("MPL001", f"cannot write `{path}`: {exc.strerror or exc}", None)]) from None
        self._set = self._set.reload(path)

    # -- names

    def _known_profile(self, name: str) -> str:
        return known_profile(name, self._set.program.profiles)

    def _known_task(self, name: str) -> str:
        return known_task(name, self._set.program.tasks)

    def _routed(self) -> str:
        program = self._set.program
        chosen = program.profile_for_task(self._task) if self._task is not None else program.default
        if chosen is None:
            what = f"task `{self._task}` is routed to no profile and" if self._task else "no profile was named and"
            raise MplError([error("MPL217", f"{what} there is no `default`", "name a profile: `session(profile=...)`")])
        return chosen


# -- values ---------------------------------------------------------------------------


def _typed_at_prompt(name: str, text: str) -> t.Any:
    """A value typed at a prompt: `0.7`, `true`, `</s>`, or a literal of the file's syntax.

    >>> _typed_at_prompt("stop", "</s>"), _typed_at_prompt("stop", '["a", "b"]'), _typed_at_prompt("top_k", " 40 ")
    ('</s>', ['a', 'b'], '40')
    """
    from mpl.catalog import ValueType, catalog

    spec = catalog().option(name)
    text = text.strip()
    if spec is not None and spec.type is ValueType.STRING_LIST and text[:1] in ('"', "["):
        literal = _literal(text)
        if literal is not None:
            return literal
    return text


def _literal(text: str) -> t.Any:
    """The value of a literal in the file's syntax (a string or a list of strings), or None."""
    from mpl.compiler import nodes
    from mpl.compiler.parse import parse
    from mpl.diagnostics import Sink

    source = SourceFile("<prompt>", f"profile p < stop {text} >")
    sink = Sink(source)
    file = parse(source, sink)
    if sink.has_errors or not file.decls:
        return None
    decl = file.decls[0]
    if not isinstance(decl, nodes.ProfileDecl) or len(decl.block.stmts) != 1:
        return None
    value = getattr(decl.block.stmts[0], "value", None)
    if isinstance(value, nodes.String):
        return value.value
    if isinstance(value, nodes.List) and all(isinstance(v, nodes.String) for v in value.items):
        return [v.value for v in value.items]  # type: ignore[union-attr]
    return None


def _plain(name: str, value: t.Any) -> t.Any:
    from mpl.targets.base import typed

    return None if value is None else typed(name, value)


def _source_literal(value: t.Any) -> str:
    """A value as the file's syntax writes it.

    >>> _source_literal(0.7), _source_literal(True), _source_literal(["</s>"]), _source_literal(40)
    ('0.7', 'true', '["</s>"]', '40')
    """
    from mpl.compiler.parse import value_literal

    return value_literal(value)


# -- text edits -------------------------------------------------------------------------


def _at(code: str, message: str, span: Span | None) -> Diagnostic:
    return Diagnostic(code=code, severity=Severity.ERROR, message=message, span=span,
                      help="change or remove that reference first")


def _checked_targets(path: Path) -> tuple[str, ...]:
    """The targets `mpl check` checks for this file: its configuration's, else options and modelfile."""
    from mpl.config import configured_targets

    return configured_targets(path)


def _analyze(path: Path, text: str, targets: t.Sequence[str] = ("options",)) -> Analysis:
    """Analyse a text as the file at `path` (`options` target checks only, as `mpl.load` does)."""
    from mpl.pipeline import analyze

    return analyze(SourceFile(str(path), text), base_dir=path.parent, targets=targets)


def _is_profile(decl: t.Any) -> bool:
    from mpl.compiler import nodes

    return isinstance(decl, nodes.ProfileDecl)


def _profile_decl(analysis: Analysis, name: str) -> nodes.ProfileDecl | None:
    assert analysis.tree is not None
    found = [d for d in analysis.tree.decls if _is_profile(d) and d.name.value == name]  # type: ignore[union-attr]
    return found[-1] if found else None  # type: ignore[return-value]


def _newline(text: str) -> str:
    match = re.search(r"\r\n|\r|\n", text)
    return match.group() if match else "\n"


def _after_break(text: str, pos: int) -> int:
    if text.startswith("\r\n", pos):
        return pos + 2
    return pos + 1 if text[pos:pos + 1] in ("\n", "\r") else pos


def _blank_line_at(text: str, pos: int) -> bool:
    return pos < len(text) and not text[pos:line_end(text, pos)].strip()


def _blank_line_before(text: str, start: int) -> bool:
    prev_end = start - 1 - (1 if text[max(0, start - 2):start] == "\r\n" else 0)
    prev_start = line_start(text, prev_end)
    return not text[prev_start:prev_end].strip()


def _splice(text: str, edits: list[tuple[int, int, str]]) -> str:
    for start, end, new in sorted(edits, key=lambda e: (e[0], e[1]), reverse=True):
        text = text[:start] + new + text[end:]
    return text


def _insert_stmts(text: str, block: nodes.Block, stmts: list[str], *, first: bool) -> tuple[int, int, str]:
    """An edit adding statements at the start or the end of a block."""
    nl = _newline(text)
    one_line = not re.search(r"[\r\n]", text[block.span.start:block.span.end])
    if one_line:
        if not block.stmts:
            return (block.span.start + 1, block.span.end - 1, " " + "; ".join(stmts) + " ")
        if first:
            return (block.span.start + 1, block.span.start + 1, " " + "; ".join(stmts) + ";")
        return (block.stmts[-1].span.end, block.stmts[-1].span.end, "; " + "; ".join(stmts))
    lines = "".join(nl + "  " + s for s in stmts)
    if first or not block.stmts:
        at = line_end(text, block.span.start)
        return (at, at, lines)
    at = line_end(text, block.stmts[-1].span.end)
    return (at, at, lines)


def _edit_head(text: str, decl: nodes.ProfileDecl | None, extends: str | None, description: str | None) -> str:
    """Set a profile declaration's parent and description."""
    from mpl.compiler import nodes
    from mpl.compiler.parse import quote_string

    assert decl is not None
    edits: list[tuple[int, int, str]] = []
    if extends is not None and (decl.parent is None or decl.parent.value != extends):
        if decl.parent is not None:
            edits.append((decl.parent.span.start, decl.parent.span.end, extends))
        else:
            edits.append((decl.name.span.end, decl.name.span.end, f" extends {extends}"))
    if description is not None:
        literal = quote_string(description)
        current = [s for s in decl.block.stmts if isinstance(s, nodes.Description)]
        if current:
            edits.append((current[0].text.span.start, current[0].text.span.end, literal))
        else:
            edits.append(_insert_stmts(text, decl.block, [literal], first=True))
    return _splice(text, edits)


def _reach(path: Path, text: str, name: str, task: str | None, desired: dict[str, t.Any], *, untouched: str) -> str:
    """Edit profile `name` until it resolves (for `task`) to `desired`; then format that declaration.

    A value the profile itself sets is changed where it is set (in a `when`
    block of the task, too); a value to remove loses its top-level statements;
    anything else becomes a statement (`name value`, `unset name`) at the end
    of the block. A value still differing after that is refused. A declaration
    that needs no edit is not reformatted (the text stays `untouched`).
    """
    from mpl.catalog import catalog
    from mpl.targets.base import typed_options

    order = {n: i for i, n in enumerate(catalog().options)}
    for _attempt in range(3):
        analysis = _analyze(path, text)
        if analysis.has_errors or analysis.program is None:
            raise MplError([d for d in analysis.diagnostics if d.is_error], analysis.source)
        decl = _profile_decl(analysis, name)
        assert decl is not None
        resolved = analysis.program.resolve(name, task)
        have = typed_options(resolved)
        diff = sorted((k for k in {*have, *desired} if have.get(k) != desired.get(k)), key=lambda k: order.get(k, len(order)))
        if not diff:
            return untouched if text == untouched else _format_decl(text, decl)
        edits: list[tuple[int, int, str]] = []
        added: list[str] = []
        for key in diff:
            value = desired.get(key)
            own = _own_params(decl.block, key)
            setting = resolved.get(key)
            if value is None and own:
                edits.extend((*_cut(text, s.span), "") for s in own)
                continue
            at = [s for s in _all_params(decl.block) if setting is not None and s.span == setting.span and not s.append]
            if value is not None and at:
                edits.append((at[0].value.span.start, at[0].value.span.end, _source_literal(value)))
            else:
                added.append(f"unset {key}" if value is None else f"{key} {_source_literal(value)}")
        if added:
            edits.append(_insert_stmts(text, decl.block, added, first=False))
        text = _splice(text, edits)
    analysis = _analyze(path, text)
    assert analysis.program is not None
    resolved = analysis.program.resolve(name, task)
    have = typed_options(resolved)
    diags = []
    for key in sorted(k for k in {*have, *desired} if have.get(k) != desired.get(k)):  # pragma: no cover - a bug
        setting = resolved.get(key)
        diags.append(_at("MPL210", f"cannot save `{key}` into profile `{name}`: another statement sets it",
                         setting.span if setting else None))
    raise MplError(diags, analysis.source)


def _cut(text: str, span: Span) -> tuple[int, int]:
    """The range to delete for a statement: its whole line when it stands alone on it."""
    start = line_start(text, span.start)
    end = line_end(text, span.end)
    if text[start:span.start].strip() or text[span.end:end].strip():
        return span.start, span.end
    return start, _after_break(text, end)


def _own_params(block: nodes.Block, key: str) -> list[nodes.Param]:
    from mpl.compiler import nodes

    return [s for s in block.stmts if isinstance(s, nodes.Param) and s.name.value == key and not s.append]


def _all_params(block: nodes.Block) -> t.Iterator[nodes.Param]:
    from mpl.compiler import nodes

    for stmt in block.stmts:
        if isinstance(stmt, nodes.Param):
            yield stmt
        elif isinstance(stmt, nodes.When):
            yield from _all_params(stmt.block)


def _format_decl(text: str, decl: nodes.ProfileDecl) -> str:
    """The text with one declaration rewritten by the formatter (its comments kept)."""
    from mpl.fmt import format_text

    snippet = text[decl.span.start:decl.span.end]
    formatted = format_text(snippet)
    if formatted is None:  # pragma: no cover - the text was checked just before
        return text
    formatted = formatted.replace("\r\n", "\n").rstrip("\n").replace("\n", _newline(text))
    return text[:decl.span.start] + formatted + text[decl.span.end:]

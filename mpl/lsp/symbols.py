"""Names in a document: every declaration and reference of a profile, a task or a model.

Consumes a parsed `nodes.File`; produces an `Index` of `Occurrence`s that
definition, references, rename, hover and highlighting query by offset or name.
Model names are matched as Ollama matches them (case-insensitive, `:latest`
implied), so `from Base` refers to `model base:latest`.
"""

from __future__ import annotations

import bisect
import typing as t
from dataclasses import dataclass

from mpl.compiler import nodes
from mpl.compiler.names import canonical_model_name
from mpl.source import Span

Kind = t.Literal["profile", "task", "model"]
Role = t.Literal["declaration", "extends", "default", "use", "for", "when", "from"]


@dataclass(frozen=True, slots=True)
class Occurrence:
    """One place a name is written."""

    kind: Kind
    name: str  # as written
    span: Span  # the name (with its quotes, for a quoted model name)
    role: Role

    @property
    def key(self) -> str:
        """What two occurrences of one symbol share."""
        return canonical_model_name(self.name) if self.kind == "model" else self.name

    @property
    def is_declaration(self) -> bool:
        return self.role == "declaration"


@dataclass(frozen=True, slots=True)
class ParamSite:
    """A parameter name written in a block: `temperature 0.5`, `unset temperature`."""

    name: nodes.Name
    owner: nodes.ProfileDecl | nodes.ModelDecl
    stmt: nodes.Param | nodes.UnsetStmt


class Index:
    """Every occurrence of a profile, task or model name in one file.

    >>> from mpl.compiler.parse import parse
    >>> index = Index(parse("tasks a\\nprofile p for a < >\\nprofile q extends p < when task is a < > >"))
    >>> [(o.kind, o.name, o.role) for o in index.find("task", "a")]
    [('task', 'a', 'declaration'), ('task', 'a', 'for'), ('task', 'a', 'when')]
    >>> index.at(index.find("profile", "p")[1].span.start).role
    'extends'
    """

    def __init__(self, file: nodes.File) -> None:
        self.file = file
        found: list[Occurrence] = []
        self.params: list[ParamSite] = []
        models = {canonical_model_name(d.name.value) for d in file.decls if isinstance(d, nodes.ModelDecl)}
        for decl in file.decls:
            match decl:
                case nodes.TasksDecl(names=names):
                    found.extend(Occurrence("task", n.value, n.span, "declaration") for n in names)
                case nodes.DefaultDecl(name=name):
                    found.append(Occurrence("profile", name.value, name.span, "default"))
                case nodes.ProfileDecl():
                    found.append(Occurrence("profile", decl.name.value, decl.name.span, "declaration"))
                    if decl.parent is not None:
                        found.append(Occurrence("profile", decl.parent.value, decl.parent.span, "extends"))
                    found.extend(Occurrence("task", n.value, n.span, "for") for n in decl.tasks)
                    self._block(decl.block, decl, found)
                case nodes.ModelDecl():
                    found.append(Occurrence("model", decl.name.value, decl.name.span, "declaration"))
                    if canonical_model_name(decl.source.value) in models:
                        found.append(Occurrence("model", decl.source.value, decl.source.span, "from"))
                    if decl.block is not None:
                        self._block(decl.block, decl, found)
        found.sort(key=lambda o: o.span.start)
        self.occurrences = found
        self._starts = [o.span.start for o in found]
        self.params.sort(key=lambda p: p.name.span.start)
        self._param_starts = [p.name.span.start for p in self.params]

    def _block(self, block: nodes.Block, owner: nodes.ProfileDecl | nodes.ModelDecl, found: list[Occurrence]) -> None:
        for stmt in block.stmts:
            match stmt:
                case nodes.Param(name=name):
                    self.params.append(ParamSite(name, owner, stmt))
                case nodes.UnsetStmt(names=names):
                    self.params.extend(ParamSite(name, owner, stmt) for name in names)
                case nodes.UseStmt(profile=profile, task=task):
                    found.append(Occurrence("profile", profile.value, profile.span, "use"))
                    if task is not None:
                        found.append(Occurrence("task", task.value, task.span, "use"))
                case nodes.When(tasks=tasks, block=inner):
                    found.extend(Occurrence("task", n.value, n.span, "when") for n in tasks)
                    self._block(inner, owner, found)

    def at(self, offset: int) -> Occurrence | None:
        """The occurrence under an offset (its end included, for a cursor just after a name)."""
        index = bisect.bisect_right(self._starts, offset) - 1
        if index >= 0 and offset in self.occurrences[index].span:
            return self.occurrences[index]
        return None

    def param_at(self, offset: int) -> ParamSite | None:
        """The parameter name under an offset."""
        index = bisect.bisect_right(self._param_starts, offset) - 1
        if index >= 0 and offset in self.params[index].name.span:
            return self.params[index]
        return None

    def find(self, kind: Kind, name: str) -> list[Occurrence]:
        """Every occurrence of one symbol, declarations included, in source order."""
        key = canonical_model_name(name) if kind == "model" else name
        return [o for o in self.occurrences if o.kind == kind and o.key == key]

    def declarations(self, kind: Kind, name: str) -> list[Occurrence]:
        return [o for o in self.find(kind, name) if o.is_declaration]

    def names(self, kind: Kind) -> list[str]:
        """Declared names of a kind, in source order, each once."""
        seen: dict[str, None] = {}
        for o in self.occurrences:
            if o.kind == kind and o.is_declaration:
                seen.setdefault(o.name, None)
        return list(seen)

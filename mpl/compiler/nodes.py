"""The syntax tree: frozen structs with a span on every node.

Produced by `mpl.compiler.parse`, consumed by `resolve`, `fmt` and the LSP.
Children are tuples; there are no parent pointers, so nodes can be shared.
Grammar rule `profile_decl` builds node `ProfileDecl`, and so on.
"""

from __future__ import annotations

import typing as t

import msgspec

from mpl.source import SourceFile, Span


class Node(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """The base of every node: `span` covers the node's text.

    A `msgspec.Struct` rather than a `@dataclass`: the same frozen, slotted,
    keyword-only class with value equality and hashing, but created in
    microseconds where a dataclass execs its generated methods (about 0.5 ms a
    class, and `mpl check` imports some fifty). Subclasses inherit the options
    (they repeat `frozen=True` for type checkers, which do not see it inherited).
    The other records defined on `mpl check`'s path (source files, versions, the
    catalog's specs, a value's problems, the target registry, the Modelfile
    reader's commands) are Structs for the same reason; pydantic still validates
    the catalog's specs, through a hook on their base class (`mpl.catalog`).

    `gc=False`: a frozen node holds only strings, numbers, spans and tuples of
    nodes, so it is never part of a reference cycle, and the cyclic garbage
    collector need not track it (a syntax tree is a few hundred thousand
    objects it would otherwise walk on every pass, in the language server).
    """

    span: Span


# -- values -----------------------------------------------------------------


class Name(Node, frozen=True):
    """An identifier: a profile, model, task or parameter name."""

    value: str


class Number(Node, frozen=True):
    """A number literal; `text` is how it was written."""

    value: int | float
    text: str


class String(Node, frozen=True):
    """A string literal with its escapes decoded; `triple` when written between three quotes."""

    value: str
    triple: bool = False


class Bool(Node, frozen=True):
    """`true` or `false`."""

    value: bool


class List(Node, frozen=True):
    """`[ … ]`: a list of values."""

    items: tuple[Value, ...]


Value = t.Union[Number, String, Bool, List]


# -- statements inside blocks -----------------------------------------------


class Description(Node, frozen=True):
    """A bare string in a block: the profile's or model's description."""

    text: String


class Param(Node, frozen=True):
    """`name value`, or `name += value` when `append`."""

    name: Name
    value: Value
    append: bool = False  # `name += value`


class UnsetStmt(Node, frozen=True):
    """`unset a, b`."""

    names: tuple[Name, ...]


class When(Node, frozen=True):
    """`when task is T < … >` or `when task in [T, U] < … >`."""

    tasks: tuple[Name, ...]
    form: t.Literal["is", "in"]
    block: Block


class AdapterStmt(Node, frozen=True):
    """`adapter "path"`."""

    path: String


class UseStmt(Node, frozen=True):
    """`use PROFILE` or `use PROFILE for TASK`."""

    profile: Name
    task: Name | None


class TextStmt(Node, frozen=True):
    """`system`, `template`, `license` or `requires` followed by a string."""

    keyword: t.Literal["system", "template", "license", "requires"]
    text: String


class MessageStmt(Node, frozen=True):
    """`message ROLE "text"`."""

    role: Name
    text: String


Stmt = t.Union[Description, Param, UnsetStmt, When, AdapterStmt, UseStmt, TextStmt, MessageStmt]


class Block(Node, frozen=True):
    """`< … >`: the span covers both brackets."""

    stmts: tuple[Stmt, ...]


# -- declarations -----------------------------------------------------------


class OllamaDecl(Node, frozen=True):
    """`ollama "X.Y"`: the Ollama version the file targets."""

    version: String


class TasksDecl(Node, frozen=True):
    """`tasks a, b`."""

    names: tuple[Name, ...]


class DefaultDecl(Node, frozen=True):
    """`default PROFILE`."""

    name: Name


class ProfileDecl(Node, frozen=True):
    """`profile NAME extends PARENT for TASKS < … >`."""

    name: Name
    parent: Name | None
    tasks: tuple[Name, ...]
    block: Block


class ModelDecl(Node, frozen=True):
    """`model NAME from SOURCE < … >`."""

    name: Name | String
    source: Name | String
    block: Block | None


Decl = t.Union[OllamaDecl, TasksDecl, DefaultDecl, ProfileDecl, ModelDecl]


class Comment(Node, frozen=True):
    """A `#` comment, kept for `mpl fmt`."""

    text: str  # including the leading '#'


class File(Node, frozen=True):
    """A parsed source: its declarations and comments."""

    source: SourceFile
    decls: tuple[Decl, ...]
    comments: tuple[Comment, ...] = ()
    syntax_ok: bool = True  # False when error recovery blanked part of the text

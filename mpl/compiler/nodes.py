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
    class, and `mpl check` imports some fifty). Subclasses inherit the options.

    `gc=False`: a frozen node holds only strings, numbers, spans and tuples of
    nodes, so it is never part of a reference cycle, and the cyclic garbage
    collector need not track it (a syntax tree is a few hundred thousand
    objects it would otherwise walk on every pass, in the language server).
    """

    span: Span


# -- values -----------------------------------------------------------------


class Name(Node):
    """An identifier: a profile, model, task or parameter name."""

    value: str


class Number(Node):
    """A number literal; `text` is how it was written."""

    value: int | float
    text: str


class String(Node):
    """A string literal with its escapes decoded; `triple` when written between three quotes."""

    value: str
    triple: bool = False


class Bool(Node):
    """`true` or `false`."""

    value: bool


class List(Node):
    """`[ … ]`: a list of values."""

    items: tuple[Value, ...]


Value = t.Union[Number, String, Bool, List]


# -- statements inside blocks -----------------------------------------------


class Description(Node):
    """A bare string in a block: the profile's or model's description."""

    text: String


class Param(Node):
    """`name value`, or `name += value` when `append`."""

    name: Name
    value: Value
    append: bool = False  # `name += value`


class UnsetStmt(Node):
    """`unset a, b`."""

    names: tuple[Name, ...]


class When(Node):
    """`when task is T < … >` or `when task in [T, U] < … >`."""

    tasks: tuple[Name, ...]
    form: t.Literal["is", "in"]
    block: Block


class AdapterStmt(Node):
    """`adapter "path"`."""

    path: String


class UseStmt(Node):
    """`use PROFILE` or `use PROFILE for TASK`."""

    profile: Name
    task: Name | None


class TextStmt(Node):
    """`system`, `template`, `license` or `requires` followed by a string."""

    keyword: t.Literal["system", "template", "license", "requires"]
    text: String


class MessageStmt(Node):
    """`message ROLE "text"`."""

    role: Name
    text: String


Stmt = t.Union[Description, Param, UnsetStmt, When, AdapterStmt, UseStmt, TextStmt, MessageStmt]


class Block(Node):
    """`< … >`: the span covers both brackets."""

    stmts: tuple[Stmt, ...]


# -- declarations -----------------------------------------------------------


class OllamaDecl(Node):
    """`ollama "X.Y"`: the Ollama version the file targets."""

    version: String


class TasksDecl(Node):
    """`tasks a, b`."""

    names: tuple[Name, ...]


class DefaultDecl(Node):
    """`default PROFILE`."""

    name: Name


class ProfileDecl(Node):
    """`profile NAME extends PARENT for TASKS < … >`."""

    name: Name
    parent: Name | None
    tasks: tuple[Name, ...]
    block: Block


class ModelDecl(Node):
    """`model NAME from SOURCE < … >`."""

    name: Name | String
    source: Name | String
    block: Block | None


Decl = t.Union[OllamaDecl, TasksDecl, DefaultDecl, ProfileDecl, ModelDecl]


class Comment(Node):
    """A `#` comment, kept for `mpl fmt`."""

    text: str  # including the leading '#'


class File(Node):
    """A parsed source: its declarations and comments."""

    source: SourceFile
    decls: tuple[Decl, ...]
    comments: tuple[Comment, ...] = ()
    syntax_ok: bool = True  # False when error recovery blanked part of the text

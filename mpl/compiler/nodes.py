"""The syntax tree: frozen dataclasses with a span on every node.

Produced by `mpl.compiler.parse`, consumed by `resolve`, `fmt` and the LSP.
Children are tuples; there are no parent pointers, so nodes can be shared.
Grammar rule `profile_decl` builds node `ProfileDecl`, and so on.
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass

from mpl.source import SourceFile, Span

node = dataclass(frozen=True, slots=True, kw_only=True)


@node
class Node:
    """The base of every node: `span` covers the node's text."""

    span: Span


# -- values -----------------------------------------------------------------


@node
class Name(Node):
    """An identifier: a profile, model, task or parameter name."""

    value: str


@node
class Number(Node):
    """A number literal; `text` is how it was written."""

    value: int | float
    text: str


@node
class String(Node):
    """A string literal with its escapes decoded; `triple` when written between three quotes."""

    value: str
    triple: bool = False


@node
class Bool(Node):
    """`true` or `false`."""

    value: bool


@node
class List(Node):
    """`[ … ]`: a list of values."""

    items: tuple[Value, ...]


Value = t.Union[Number, String, Bool, List]


# -- statements inside blocks -----------------------------------------------


@node
class Description(Node):
    """A bare string in a block: the profile's or model's description."""

    text: String


@node
class Param(Node):
    """`name value`, or `name += value` when `append`."""

    name: Name
    value: Value
    append: bool = False  # `name += value`


@node
class UnsetStmt(Node):
    """`unset a, b`."""

    names: tuple[Name, ...]


@node
class When(Node):
    """`when task is T < … >` or `when task in [T, U] < … >`."""

    tasks: tuple[Name, ...]
    form: t.Literal["is", "in"]
    block: Block


@node
class AdapterStmt(Node):
    """`adapter "path"`."""

    path: String


@node
class UseStmt(Node):
    """`use PROFILE` or `use PROFILE for TASK`."""

    profile: Name
    task: Name | None


@node
class TextStmt(Node):
    """`system`, `template`, `license` or `requires` followed by a string."""

    keyword: t.Literal["system", "template", "license", "requires"]
    text: String


@node
class MessageStmt(Node):
    """`message ROLE "text"`."""

    role: Name
    text: String


Stmt = t.Union[Description, Param, UnsetStmt, When, AdapterStmt, UseStmt, TextStmt, MessageStmt]


@node
class Block(Node):
    """`< … >`: the span covers both brackets."""

    stmts: tuple[Stmt, ...]


# -- declarations -----------------------------------------------------------


@node
class OllamaDecl(Node):
    """`ollama "X.Y"`: the Ollama version the file targets."""

    version: String


@node
class TasksDecl(Node):
    """`tasks a, b`."""

    names: tuple[Name, ...]


@node
class DefaultDecl(Node):
    """`default PROFILE`."""

    name: Name


@node
class ProfileDecl(Node):
    """`profile NAME extends PARENT for TASKS < … >`."""

    name: Name
    parent: Name | None
    tasks: tuple[Name, ...]
    block: Block


@node
class ModelDecl(Node):
    """`model NAME from SOURCE < … >`."""

    name: Name | String
    source: Name | String
    block: Block | None


Decl = t.Union[OllamaDecl, TasksDecl, DefaultDecl, ProfileDecl, ModelDecl]


@node
class Comment(Node):
    """A `#` comment, kept for `mpl fmt`."""

    text: str  # including the leading '#'


@node
class File(Node):
    """A parsed source: its declarations and comments."""

    source: SourceFile
    decls: tuple[Decl, ...]
    comments: tuple[Comment, ...] = ()
    syntax_ok: bool = True  # False when error recovery blanked part of the text

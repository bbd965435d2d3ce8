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
    span: Span


# -- values -----------------------------------------------------------------


@node
class Name(Node):
    value: str


@node
class Number(Node):
    value: int | float
    text: str


@node
class String(Node):
    value: str
    triple: bool = False


@node
class Bool(Node):
    value: bool


@node
class List(Node):
    items: tuple[Value, ...]


Value = t.Union[Number, String, Bool, List]


# -- statements inside blocks -----------------------------------------------


@node
class Description(Node):
    text: String


@node
class Param(Node):
    name: Name
    value: Value
    append: bool = False  # `name += value`


@node
class UnsetStmt(Node):
    names: tuple[Name, ...]


@node
class When(Node):
    tasks: tuple[Name, ...]
    form: t.Literal["is", "in"]
    block: Block


@node
class AdapterStmt(Node):
    path: String


@node
class UseStmt(Node):
    profile: Name
    task: Name | None


@node
class TextStmt(Node):
    """`system`, `template`, `license` or `requires` followed by a string."""

    keyword: t.Literal["system", "template", "license", "requires"]
    text: String


@node
class MessageStmt(Node):
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
    version: String


@node
class TasksDecl(Node):
    names: tuple[Name, ...]


@node
class DefaultDecl(Node):
    name: Name


@node
class ProfileDecl(Node):
    name: Name
    parent: Name | None
    tasks: tuple[Name, ...]
    block: Block


@node
class ModelDecl(Node):
    name: Name | String
    source: Name | String
    block: Block | None


Decl = t.Union[OllamaDecl, TasksDecl, DefaultDecl, ProfileDecl, ModelDecl]


@node
class Comment(Node):
    text: str  # including the leading '#'


@node
class File(Node):
    source: SourceFile
    decls: tuple[Decl, ...]
    comments: tuple[Comment, ...] = ()
    syntax_ok: bool = True  # False when error recovery blanked part of the text

"""Format: source text to its one canonical layout, with its comments and its meaning kept.

Consumes the syntax tree of `mpl.compiler.parse` and the comments scanned from
the text; produces text. `format_text` is the library entry point (the
language server's textDocument/formatting calls it); `run` is `mpl fmt`.

The layout, in short (docs/editors.md has the full list):

- two spaces of indentation per block; one statement per line;
- a block stays on one line (`< a 1; b 2 >`) only if it was written on one
  line, holds no `when` block and no comment, and fits in 88 columns; an
  empty block without comments is `< >`;
- `name value`, `name += value`, `, ` in lists and name lists; a list is
  written one item per line (with a trailing comma) when it holds a comment or
  does not fit in 88 columns;
- one blank line between top-level declarations; elsewhere a run of blank
  lines becomes one, and blank lines after `<` and before `>` go;
- strings are re-quoted with the canonical escapes: `"…"`, unless the source
  used `\"\"\"` and the value spans lines, which stays a triple-quoted string
  opened by a line break;
- numbers keep their spelling; comments keep their place: a comment after code
  stays at the end of that code's line (two spaces before `#`, aligned across
  consecutive one-line statements), a comment on a line of its own stays
  before what follows it;
- line breaks follow the file's first one (LF or CRLF); the text ends with
  one line break.

Every result is re-parsed and compared with the input (same syntax tree
without positions, same comments), so a formatter bug can fail loudly but
can never change what a file means.
"""

from __future__ import annotations

import bisect
import contextlib
import dataclasses
import os
import re
import sys
import typing as t
from pathlib import Path

from mpl.compiler import nodes
from mpl.compiler.parse import parse, value_literal
from mpl.output import OutputError, folder_lock, write_atomic
from mpl.diagnostics import Diagnostic, Sink
from mpl.source import SourceFile, read_binary, read_file

WIDTH = 88
INDENT = "  "


class FormatError(Exception):
    """The formatter produced text that does not mean what its input meant: a bug in mpl."""


@dataclasses.dataclass(frozen=True, slots=True)
class Formatted:
    """The outcome of formatting one source: the new text, or None and the syntax diagnostics."""

    source: SourceFile
    text: str | None
    diagnostics: tuple[Diagnostic, ...] = ()

    @property
    def changed(self) -> bool:
        return self.text is not None and self.text != self.source.text


def format_text(text: str, path: str = "<string>") -> str | None:
    """The canonical layout of a source text, or None when it has syntax errors.

    Raises `FormatError` only for a bug in the formatter (a result that would
    not mean what the text means); nothing is returned in that case.

    >>> print(format_text('profile p<temperature 0.5;top_k 40>  # fast'), end="")
    profile p < temperature 0.5; top_k 40 >  # fast
    >>> format_text("profile p < temperature >") is None
    True
    """
    return format_source(SourceFile(path, text)).text


def format_source(source: SourceFile, sink: Sink | None = None) -> Formatted:
    """Format a source; a source with syntax errors (or errors already in `sink`) is not formatted.

    Its syntax errors are those `mpl check` reports (`parse`, which recovers after an error).

    Raises `FormatError` if the result would not parse to the same tree (a bug).
    """
    sink = sink if sink is not None else Sink(source)
    try:
        file = parse(source, sink) if not sink.has_errors else None
        if file is None or not file.syntax_ok or sink.has_errors:
            return Formatted(source, None, tuple(sink.sorted()))
        text = _Printer(file).file()
    except RecursionError:
        from mpl.compiler.parse import report_too_deep

        report_too_deep(sink)
        return Formatted(source, None, tuple(sink.sorted()))
    newline = _newline_of(source.text)
    if newline != "\n":
        text = text.replace("\n", newline)
    _verify(file, text)
    return Formatted(source, text, tuple(sink.sorted()))


def _newline_of(text: str) -> str:
    match = re.search(r"\r\n|\r|\n", text)
    return "\r\n" if match and match.group() == "\r\n" else "\n"


# -- the printer -----------------------------------------------------------------


class _Printer:
    """Writes one parsed file. Comments are placed by position:

    - a comment with code before it on its line is *trailing*: it is anchored
      to the end of that code (separators `;` and `,` are skipped) and written
      after whatever construct ends there;
    - any other comment is *own-line*: written on its own line before the next
      item (statement, declaration or list item) of the block or list holding it.
    """

    def __init__(self, file: nodes.File) -> None:
        self.source = file.source
        self.text = file.source.text
        self.decls = file.decls
        self.own: list[nodes.Comment] = []
        self.trailing: dict[int, nodes.Comment] = {}
        for comment in file.comments:
            anchor = self._anchor(comment.span.start)
            if anchor is None:
                self.own.append(comment)
            else:
                self.trailing[anchor] = comment
        self.own_starts = [c.span.start for c in self.own]
        self.own_taken = 0  # own-line comments are taken in source order
        self.all_starts = sorted(c.span.start for c in file.comments)

    def _anchor(self, pos: int) -> int | None:
        i = pos - 1
        while i >= 0 and self.text[i] in " \t\f;,":
            i -= 1
        if i < 0 or self.text[i] in "\r\n":
            return None
        return i + 1

    # -- comment bookkeeping

    def take_own(self, lo: int, hi: int) -> list[nodes.Comment]:
        """The own-line comments starting in [lo, hi) that are not written yet."""
        end = bisect.bisect_left(self.own_starts, hi)
        start = max(self.own_taken, bisect.bisect_left(self.own_starts, lo))
        taken = self.own[start:end]
        self.own_taken = max(self.own_taken, end)
        return taken

    def trail(self, offset: int) -> str:
        """The trailing comment anchored at an offset (taken), or ""."""
        comment = self.trailing.pop(offset, None)
        return comment.text.rstrip() if comment else ""

    def has_comments(self, lo: int, hi: int) -> bool:
        index = bisect.bisect_left(self.all_starts, lo)
        return index < len(self.all_starts) and self.all_starts[index] < hi

    def line(self, offset: int) -> int:
        return self.source.line_col(offset)[0]

    # -- the file

    def file(self) -> str:
        out: list[str] = []
        prev: tuple[str, int] | None = None  # kind of the last item written, and its last line

        def gap(first_line: int) -> None:
            if prev is None:
                return
            kind, last_line = prev
            if kind == "decl" or first_line - last_line > 1:
                out.append("")

        pos = 0
        for decl in self.decls:
            for comment in self.take_own(pos, decl.span.start):
                gap(self.line(comment.span.start))
                out.append(comment.text.rstrip())
                prev = ("comment", self.line(comment.span.start))
            gap(self.line(decl.span.start))
            out.append(_with_comment(self.decl(decl), self.trail(decl.span.end)))
            prev = ("decl", self.line(decl.span.end))
            pos = decl.span.end
        for comment in self.take_own(pos, len(self.text) + 1):
            gap(self.line(comment.span.start))
            out.append(comment.text.rstrip())
            prev = ("comment", self.line(comment.span.start))
        if self.trailing or self.own_taken != len(self.own):  # pragma: no cover - a bug
            raise FormatError("a comment has no place in the formatted text")
        return "\n".join(out) + "\n" if out else ""

    def decl(self, decl: nodes.Decl) -> str:
        match decl:
            case nodes.OllamaDecl(version=version):
                return f"ollama {self.string(version)}"
            case nodes.TasksDecl(names=names):
                return "tasks " + ", ".join(n.value for n in names)
            case nodes.DefaultDecl(name=name):
                return f"default {name.value}"
            case nodes.ProfileDecl(name=name, parent=parent, tasks=tasks, block=block):
                head = f"profile {name.value}"
                if parent is not None:
                    head += f" extends {parent.value}"
                if tasks:
                    head += " for " + ", ".join(n.value for n in tasks)
                return self.block(block, head, 0)
            case nodes.ModelDecl(name=name, source=source, block=block):
                head = f"model {self.name_or_string(name)} from {self.name_or_string(source)}"
                return head if block is None else self.block(block, head, 0)
        raise AssertionError(f"unknown declaration {decl!r}")  # pragma: no cover

    # -- blocks and statements

    def block(self, block: nodes.Block, head: str, indent: int) -> str:
        """`head <…>` where `head` is already written (its first line without indentation)."""
        lo, hi = block.span.start, block.span.end
        if not self.has_comments(lo, hi):
            if not block.stmts:
                return head + " < >"
            one_line_source = not re.search(r"[\r\n]", self.text[lo:hi])
            nested = any(isinstance(s, nodes.When) for s in block.stmts)
            if one_line_source and not nested and "\n" not in head:
                line = head + " < " + "; ".join(self.stmt(s, indent + 1) for s in block.stmts) + " >"
                if "\n" not in line and len(INDENT * indent) + len(line) <= WIDTH:
                    return line
        pad = INDENT * (indent + 1)
        out: list[tuple[str, str]] = []  # (code, trailing comment) per line
        last_line: int | None = None

        def gap(first_line: int) -> None:
            if last_line is not None and first_line - last_line > 1:
                out.append(("", ""))

        pos = lo + 1
        for stmt in block.stmts:
            for comment in self.take_own(pos, stmt.span.start):
                gap(self.line(comment.span.start))
                out.append((pad + comment.text.rstrip(), ""))
                last_line = self.line(comment.span.start)
            gap(self.line(stmt.span.start))
            out.append((pad + self.stmt(stmt, indent + 1), self.trail(stmt.span.end)))
            last_line = self.line(stmt.span.end)
            pos = stmt.span.end
        for comment in self.take_own(pos, hi - 1):
            gap(self.line(comment.span.start))
            out.append((pad + comment.text.rstrip(), ""))
            last_line = self.line(comment.span.start)
        opener = _with_comment(head + " <", self.trail(lo + 1))
        return "\n".join([opener, *_aligned(out), INDENT * indent + ">"])

    def stmt(self, stmt: nodes.Stmt, indent: int) -> str:
        """One statement; lines after the first carry their own indentation."""
        col = len(INDENT * indent)
        match stmt:
            case nodes.Description(text=text):
                return self.string(text)
            case nodes.Param(name=name, value=value, append=append):
                head = f"{name.value} += " if append else f"{name.value} "
                return head + self.value(value, indent, col + len(head))
            case nodes.UnsetStmt(names=names):
                return "unset " + ", ".join(n.value for n in names)
            case nodes.When(tasks=tasks, form="is", block=block):
                return self.block(block, f"when task is {tasks[0].value}", indent)
            case nodes.When(tasks=tasks, block=block):
                open_at = self.text.index("[", stmt.span.start)
                close_at = self.text.rindex("]", open_at, block.span.start)
                listed = self.seq(tasks, open_at, close_at, indent, col + len("when task in "), lambda n, _i, _c: n.value)
                return self.block(block, "when task in " + listed, indent)
            case nodes.AdapterStmt(path=path):
                return f"adapter {self.string(path)}"
            case nodes.UseStmt(profile=profile, task=task):
                return f"use {profile.value}" + (f" for {task.value}" if task is not None else "")
            case nodes.TextStmt(keyword=keyword, text=text):
                return f"{keyword} {self.string(text)}"
            case nodes.MessageStmt(role=role, text=text):
                return f"message {role.value} {self.string(text)}"
        raise AssertionError(f"unknown statement {stmt!r}")  # pragma: no cover

    # -- values

    def value(self, value: nodes.Value, indent: int, col: int) -> str:
        match value:
            case nodes.Number(text=text):
                return text
            case nodes.Bool(value=flag):
                return "true" if flag else "false"
            case nodes.String():
                return self.string(value)
            case nodes.List(items=items, span=span):
                return self.seq(items, span.start, span.end - 1, indent, col, self.value)
        raise AssertionError(f"unknown value {value!r}")  # pragma: no cover

    def seq(
        self,
        items: t.Sequence[t.Any],
        open_at: int,
        close_at: int,
        indent: int,
        col: int,
        render: t.Callable[[t.Any, int, int], str],
    ) -> str:
        """`[a, b]` on one line, or one item per line when it holds comments or is too wide."""
        if not self.has_comments(open_at, close_at + 1):
            one = "[" + ", ".join(render(item, indent, col + 1) for item in items) + "]"
            if "\n" in one or col + len(one) <= WIDTH or len(items) < 2:
                return one
        pad = INDENT * (indent + 1)
        opener = _with_comment("[", self.trail(open_at + 1))
        out: list[tuple[str, str]] = []
        pos = open_at + 1
        for item in items:
            for comment in self.take_own(pos, item.span.start):
                out.append((pad + comment.text.rstrip(), ""))
            out.append((pad + render(item, indent + 1, len(pad)) + ",", self.trail(item.span.end)))
            pos = item.span.end
        for comment in self.take_own(pos, close_at):
            out.append((pad + comment.text.rstrip(), ""))
        return "\n".join([opener, *_aligned(out), INDENT * indent + "]"])

    def string(self, value: nodes.String) -> str:
        return value_literal(value.value, triple=value.triple)

    def name_or_string(self, value: nodes.Name | nodes.String) -> str:
        return self.string(value) if isinstance(value, nodes.String) else value.value


def _with_comment(code: str, comment: str) -> str:
    return f"{code}  {comment}" if comment else code


def _aligned(lines: list[tuple[str, str]]) -> list[str]:
    """Lines of code with their trailing comments; the comments of consecutive
    one-line statements start in one column, two spaces after the longest code.

    >>> _aligned([("  use p", "# a"), ("  num_ctx 8", "# b"), ("", ""), ("  x 1", "# c")])
    ['  use p      # a', '  num_ctx 8  # b', '', '  x 1  # c']
    """
    out: list[str] = []
    i = 0
    while i < len(lines):
        j = i
        while j < len(lines) and lines[j][1] and "\n" not in lines[j][0]:
            j += 1
        if j - i >= 2:
            width = max(len(code) for code, _ in lines[i:j])
            out.extend(f"{code.ljust(width)}  {comment}" for code, comment in lines[i:j])
            i = j
        else:
            out.append(_with_comment(*lines[i]))
            i += 1
    return out


# -- the safety net ------------------------------------------------------------------


def shape(value: t.Any) -> t.Any:
    """A node without its positions (and a string without its quoting), for comparisons.

    >>> shape(parse('profile p < stop "a" >').decls) == shape(parse('profile p <\\n  stop "\\\\u0061"\\n>').decls)
    True
    """
    if isinstance(value, tuple):
        return tuple(shape(item) for item in value)
    if isinstance(value, nodes.String):
        return ("String", value.value)
    if isinstance(value, nodes.Node):
        return (type(value).__name__,) + tuple(
            shape(getattr(value, name)) for name in value.__struct_fields__ if name != "span"
        )
    return value


def _verify(before: nodes.File, text: str) -> None:
    sink = Sink(SourceFile(before.source.path, text))
    after = parse(sink.source, sink)
    if not after.syntax_ok or sink.has_errors:
        raise FormatError(f"{before.source.path}: the formatted text does not parse: {[d.message for d in sink.sorted()]}")
    if shape(after.decls) != shape(before.decls):
        raise FormatError(f"{before.source.path}: the formatted text does not mean the same")
    if [c.text.rstrip() for c in after.comments] != [c.text.rstrip() for c in before.comments]:
        raise FormatError(f"{before.source.path}: the formatted text lost or moved a comment")


# -- `mpl fmt` ----------------------------------------------------------------------

STDIN = "-"


def run(paths: t.Sequence[str], *, check: bool = False, diff: bool = False, colour: bool = False) -> int:
    """Format files in place (or only report, with `check`/`diff`); returns the exit code.

    `-` reads standard input and writes the result to standard output. A
    directory stands for the `*.mprof` files under it. Exit codes: 0 nothing
    to do or all written, 1 a file would change (`check`/`diff`) or has
    syntax errors (then it is left as it is), 2 a file could not be read or written.
    """
    report_only = check or diff
    counts = {"changed": 0, "unchanged": 0, "failed": 0}
    code = 0
    for path in _expand(paths):
        # In place, the file is read, formatted and replaced under a lock on its folder, so a
        # `Session.save` (or another mpl) changing it meanwhile is never overwritten with old text.
        in_place = path != STDIN and not report_only
        try:
            with folder_lock(Path(os.path.realpath(path)).parent) if in_place else contextlib.nullcontext():
                code = max(code, _format_one(path, check=check, diff=diff, colour=colour, counts=counts))
        except OutputError as exc:
            sys.stderr.write(f"mpl: error: {exc}\n")
            counts["failed"] += 1
            code = 2
    if STDIN not in paths and not diff:
        sys.stderr.write(_summary(counts, check) + "\n")
    return code


def _format_one(path: str, *, check: bool, diff: bool, colour: bool, counts: dict[str, int]) -> int:
    """Format one file (or standard input) as `run` does; returns its exit code."""
    from mpl.diagnostics.render import render_text, summary_line

    shown = "<stdin>" if path == STDIN else path
    try:
        data = read_binary(sys.stdin) if path == STDIN else read_file(path)
    except OSError as exc:
        sys.stderr.write(f"mpl: error: cannot read `{shown}`: {exc.strerror or exc}\n")
        counts["failed"] += 1
        return 2
    if path != STDIN and _is_modelfile(path, data):
        sys.stderr.write(f"mpl: `{shown}` is a Modelfile, left as it is: mpl fmt formats .mprof sources "
                         "(`mpl import` turns a Modelfile into one)\n")
        counts["unchanged"] += 1
        return 0
    result, bom = _format_bytes(data, shown)
    if result is None:
        sys.stderr.write(f"mpl: error: cannot format `{shown}`: internal error in the formatter; the file is left as it is\n")
        counts["failed"] += 1
        return 2
    if result.text is None:
        sys.stderr.write(render_text(result.source, result.diagnostics, colour=colour))
        sys.stderr.write(f"{shown}: {summary_line(result.diagnostics)}; not formatted\n")
        counts["failed"] += 1
        return 1
    new_bytes = (b"\xef\xbb\xbf" if bom else b"") + result.text.encode("utf-8")
    changed = new_bytes != data
    counts["changed" if changed else "unchanged"] += 1
    if diff and changed:
        sys.stdout.write(unified_diff(result.source.text, result.text, shown))
    if check and changed:
        sys.stdout.write(f"would reformat {shown}\n")
    if check or diff:
        return 1 if changed else 0
    if path == STDIN:
        sys.stdout.write(result.text)
        return 0
    if changed:
        try:
            write_atomic(Path(path), new_bytes)
        except OSError as exc:
            sys.stderr.write(f"mpl: error: cannot write `{shown}`: {exc.strerror or exc}\n")
            return 2
        sys.stderr.write(f"reformatted {shown}\n")
    return 0


def _is_modelfile(path: str, data: bytes) -> bool:
    """Whether `mpl.source.source_language` says the file is a Modelfile (judged on its first bytes)."""
    from mpl.source import source_language

    return source_language(path, data[:8192].decode("utf-8", errors="replace")) == "modelfile"


def _format_bytes(data: bytes, shown: str) -> tuple[Formatted | None, bool]:
    from mpl.compiler import decode_source

    source, sink, _ = decode_source(data, shown)
    if sink.diagnostics:  # not UTF-8, binary or too large: the text is not the file's
        return Formatted(source, None, tuple(sink.sorted())), False
    try:
        return format_source(source, sink), data.startswith(b"\xef\xbb\xbf")
    except FormatError:
        return None, False


def _expand(paths: t.Sequence[str]) -> list[str]:
    out: list[str] = []
    for path in paths:
        if path != STDIN and os.path.isdir(path):  # False, never an error, for a name too long to look up
            out.extend(str(p) for p in sorted(Path(path).rglob("*.mprof")) if p.is_file())
        else:
            out.append(path)
    return out


def _summary(counts: dict[str, int], check: bool) -> str:
    def files(n: int) -> str:
        return f"{n} file{'' if n == 1 else 's'}"

    parts = []
    if counts["changed"]:
        parts.append(f"{files(counts['changed'])} {'would be ' if check else ''}reformatted")
    if counts["unchanged"]:
        parts.append(f"{files(counts['unchanged'])} {'would be ' if check else ''}left unchanged")
    if counts["failed"]:
        parts.append(f"{files(counts['failed'])} not formatted")
    return ", ".join(parts) if parts else "no .mprof files"


def unified_diff(before: str, after: str, shown: str) -> str:
    """A unified diff from `before` to `after`; empty when they are equal.

    >>> unified_diff("a\\n", "b\\n", "x.mprof").splitlines()
    ['--- x.mprof\\t(original)', '+++ x.mprof\\t(formatted)', '@@ -1 +1 @@', '-a', '+b']
    """
    import difflib

    lines = difflib.unified_diff(
        before.splitlines(keepends=True),
        after.splitlines(keepends=True),
        fromfile=f"{shown}\t(original)",
        tofile=f"{shown}\t(formatted)",
    )
    out = []
    for line in lines:
        out.append(line)
        if not line.endswith(("\n", "\r")):
            out.append("\n\\ No newline at end of file\n")
    return "".join(out)

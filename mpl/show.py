"""`mpl show`, `mpl diff` and `mpl check --explain-defaults`: provenance as tables and JSON.

Consumes `mpl.provenance` rows; produces a rich table on a terminal (rich is
imported only then), plain aligned text otherwise, or JSON (`version` 1, see
docs/show.md). The CLI commands are thin wrappers over `show_command` and
`diff_command`, which return the exit code: 0 shown, 1 the source has errors,
2 an unreadable file or an unknown profile, model or task.
"""

from __future__ import annotations

import json
import typing as t
from pathlib import Path

from mpl.provenance import (
    DefaultRow,
    Instruction,
    Row,
    Subject,
    UnknownSubject,
    diff_rows,
    find_subject,
    instructions,
    rows,
    unset_defaults,
)

if t.TYPE_CHECKING:
    from mpl.catalog import Version
    from mpl.compiler import Analysis
    from mpl.compiler.program import Program

HEADERS = ("parameter", "value", "set by", "note")


def format_value(value: t.Any) -> str:
    """A value as the source language writes it.

    >>> format_value(0.0), format_value(True), format_value(("a", "\\n")), format_value(None)
    ('0.0', 'true', '["a", "\\\\n"]', 'automatic')
    """
    from mpl.compiler.parse import value_literal

    return "automatic" if value is None else value_literal(value)


def none_word(name: str) -> str:
    """What an unset default means for a parameter: no list, unset, or Ollama's automatic choice."""
    from mpl.catalog import catalog

    spec = catalog().option(name)
    return "none" if name == "stop" else "unset" if spec is not None and spec.nullable else "automatic"


def where(program: Program, row: Row | None) -> str:
    """`file:line (profile p)` for a set value, `Ollama X default` for a default."""
    if row is None:
        return ""
    if row.source == "default":
        return f"Ollama {program.target} default"
    return f"{program.source.path}:{row.line} ({row.origin})"


def row_dict(program: Program, row: Row) -> dict[str, t.Any]:
    """The JSON form of one row."""
    value = list(row.value) if isinstance(row.value, tuple) else row.value
    return {
        "name": row.name,
        "value": value,
        "source": row.source,
        "file": program.source.path if row.source == "set" else None,
        "line": row.line,
        "column": row.column,
        "origin": row.origin,
        "profile": row.profile,
        "inert": row.inert,
        "notes": list(row.notes),
    }


def _subject_dict(program: Program, subject: Subject) -> dict[str, t.Any]:
    return {"kind": subject.kind, "name": subject.name, "task": subject.task}


def _header(program: Program, subject: Subject, origin: str | None = None) -> str:
    """The table's title: the subject and the Ollama version, with where the version came from.

    A version the caller chose (`target_origin` "option") is named by `origin`: `--ollama`,
    or the configuration key that set it.
    """
    origins = {"file": "the file's `ollama` line", "option": origin or "--ollama", "server": "the server",
               "default": "newest known"}
    return f"{subject.label} at Ollama {program.target} ({origins.get(program.target_origin, program.target_origin)})"


# -- tables -------------------------------------------------------------------------


def plain_table(headers: t.Sequence[str], body: t.Sequence[t.Sequence[str]]) -> str:
    """Columns aligned with spaces; the last column is not padded.

    >>> print(plain_table(("a", "bb"), [("xyz", "1")]))
    a    bb
    xyz  1
    """
    widths = [max(len(h), *(len(r[i]) for r in body)) if body else len(h) for i, h in enumerate(headers)]

    def line(cells: t.Sequence[str]) -> str:
        return "  ".join(c.ljust(w) if i < len(cells) - 1 else c for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    return "\n".join([line(headers), *(line(r) for r in body)])


def _rich_table(title: str, headers: t.Sequence[str], body: t.Sequence[t.Sequence[str]], dim: t.Sequence[bool]) -> str:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, title_justify="left", header_style="bold")
    for header in headers:
        table.add_column(header, overflow="fold")
    for cells, faint in zip(body, dim):
        table.add_row(*cells, style="dim" if faint else None)
    console = Console(force_terminal=True, width=None, highlight=False)
    with console.capture() as capture:
        console.print(table)
    return capture.get()


def table(title: str, headers: t.Sequence[str], body: list[list[str]], dim: list[bool], rich: bool) -> str:
    """A titled table of rows (`dim` greys a row): through rich on a terminal, else plain text.

    `mpl show`, `mpl diff` and a session's `render()` print their tables with it.
    """
    if rich:
        return _rich_table(title, headers, body, dim)
    return f"{title}\n{plain_table(headers, body)}\n"


# -- mpl show -----------------------------------------------------------------------


def render_show(
    program: Program, subject: Subject, fmt: str = "text", *, rich: bool = False, origin: str | None = None
) -> str:
    """The provenance of one subject as a table or JSON; `origin` names where a version the caller chose came from."""
    found = rows(program, subject)
    if fmt == "json":
        payload = {
            "version": 1,
            "file": program.source.path,
            "ollama": str(program.target),
            "subject": _subject_dict(program, subject),
            "parameters": [row_dict(program, r) for r in found],
        }
        if subject.kind == "model":
            payload["instructions"] = [instruction_dict(program, i) for i in instructions(program, subject)]
        return json.dumps(payload, indent=2, ensure_ascii=False) + "\n"
    body, dim = [], []
    for row in found:
        note = "; ".join(row.notes)
        if row.inert:
            note = "INERT: " + note
        body.append([row.name, _dv(row.name, row.value), where(program, row), note])
        dim.append(row.source == "default")
    text = table(_header(program, subject, origin), HEADERS, body, dim, rich)
    if subject.kind == "model":
        text += "\n" + render_instructions(program, subject, rich=rich)
    return text


#: How long a SYSTEM, TEMPLATE, MESSAGE or LICENSE text may be in the text table (JSON has it all).
TEXT_WIDTH = 72


def render_instructions(program: Program, subject: Subject, *, rich: bool = False) -> str:
    """A model's FROM, ADAPTER, SYSTEM, TEMPLATE, MESSAGE, LICENSE and REQUIRES, as `ollama show` lists them."""
    body = []
    for ins in instructions(program, subject):
        value = format_value(ins.value)
        if len(value) > TEXT_WIDTH:
            value = value[: TEXT_WIDTH - 1] + "…"
        if ins.role is not None:
            value = f"{ins.role} {value}"
        body.append([ins.keyword, value, f"{program.source.path}:{ins.line} ({ins.origin})", ins.note])
    headers = ("instruction", "value", "set by", "note")
    return table(f"{subject.label}: Modelfile instructions", headers, body, [False] * len(body), rich)


def instruction_dict(program: Program, ins: Instruction) -> dict[str, t.Any]:
    """The JSON form of one instruction: the full text, where it was written, and by which model."""
    return {
        "instruction": ins.keyword,
        "value": ins.value,
        "role": ins.role,
        "file": program.source.path,
        "line": ins.line,
        "column": ins.column,
        "origin": ins.origin,
        "note": ins.note or None,
    }


def render_diff(program: Program, a: Subject, b: Subject, fmt: str = "text", *, rich: bool = False) -> str:
    """What differs between two subjects, with provenance on both sides."""
    changes = diff_rows(rows(program, a), rows(program, b))
    if fmt == "json":
        payload = {
            "version": 1,
            "file": program.source.path,
            "ollama": str(program.target),
            "a": _subject_dict(program, a),
            "b": _subject_dict(program, b),
            "differences": [
                {"name": name, "a": row_dict(program, ra) if ra else None, "b": row_dict(program, rb) if rb else None}
                for name, ra, rb in changes
            ],
        }
        return json.dumps(payload, indent=2, ensure_ascii=False) + "\n"
    if not changes:
        return f"{a.label} and {b.label} resolve to the same parameters at Ollama {program.target}\n"
    headers = ("parameter", f"A: {a.label}", "set by", f"B: {b.label}", "set by")
    body = []
    for name, ra, rb in changes:
        body.append([name, _cell(ra), where(program, ra), _cell(rb), where(program, rb)])
    title = f"A: {a.label}  vs  B: {b.label}  at Ollama {program.target}"
    return table(title, headers, body, [False] * len(body), rich)


def _cell(row: Row | None) -> str:
    if row is None:
        return "-"
    text = _dv(row.name, row.value)  # an unset value reads as in `mpl show`
    return f"{text} (inert)" if row.inert else text


# -- mpl check --explain-defaults ---------------------------------------------------


def defaults_report(program: Program) -> dict[str, t.Any]:
    """For every profile and model: the drifting defaults it leaves unset, at the target version."""
    profiles = {name: unset_defaults(program, program.resolve(name)) for name in program.profiles}
    models = {m.name: unset_defaults(program, m.params, model=m) for m in program.models}

    def rows_json(found: list[DefaultRow]) -> list[dict[str, t.Any]]:
        return [
            {"parameter": r.name, "default": r.default, "drifts": r.drifts,
             "history": [{"since": s, "value": v, "note": n} for s, v, n in r.history]}
            for r in found
        ]

    return {
        "ollama": str(program.target),
        "profiles": {k: rows_json(v) for k, v in profiles.items()},
        "models": {k: rows_json(v) for k, v in models.items()},
    }


def render_defaults(program: Program) -> str:
    """`--explain-defaults` as text: per profile and model, param, default at the target, history."""
    report = defaults_report(program)
    out = [f"Defaults Ollama {report['ollama']} uses for parameters left unset (whose default has changed over releases):"]
    for kind in ("profiles", "models"):
        for name, found in report[kind].items():
            out.append(f"  {kind[:-1]} {name}")
            if not found:
                out.append("    (sets every parameter whose default has moved)")
            body = []
            for r in found:
                name = r["parameter"]
                history = "; ".join(f"{_dv(name, h['value'])} from {h['since']}" + (f" ({h['note']})" if h["note"] else "") for h in r["history"])
                flag = "  <- changes within your targeted versions (MPL730)" if r["drifts"] else ""
                body.append([name, _dv(name, r["default"]), history + flag])
            if body:
                table = plain_table(("parameter", "default", "history"), body)
                out.extend("    " + line for line in table.splitlines())
    return "\n".join(out) + "\n"


def _dv(name: str, value: t.Any) -> str:
    return none_word(name) if value is None else format_value(value)


# -- commands -----------------------------------------------------------------------


def _load(file: Path, ollama: Version | None, err: t.TextIO) -> tuple[Analysis | None, int]:
    from mpl.pipeline import analyze
    from mpl.diagnostics.render import render_text, summary_line

    analysis = analyze(file, target=ollama, targets=())
    if analysis.io_error or analysis.has_errors or analysis.program is None:
        errors = [d for d in analysis.diagnostics if d.is_error]
        err.write(render_text(analysis.source, errors, links=False))
        err.write(f"{analysis.source.path}: {summary_line(analysis.diagnostics)}\n")
        return None, 2 if analysis.io_error else 1
    return analysis, 0


def _subject(program: Program, spec: str, task: str | None, err: t.TextIO) -> Subject | None:
    try:
        return find_subject(program, spec, task)
    except UnknownSubject as exc:
        err.write(f"mpl: error: {exc}\n" + (f"  = help: {exc.hint}\n" if exc.hint else ""))
        return None


def show_command(
    file: Path, spec: str, *, task: str | None, ollama: Version | None, fmt: str, out: t.TextIO, err: t.TextIO, rich: bool,
    origin: str | None = None,
) -> int:
    """`mpl show FILE NAME [--task T]`; returns the exit code."""
    analysis, code = _load(file, ollama, err)
    if analysis is None:
        return code
    assert analysis.program is not None
    subject = _subject(analysis.program, spec, task, err)
    if subject is None:
        return 2
    out.write(render_show(analysis.program, subject, fmt, rich=rich, origin=origin))
    return 0


def diff_command(
    file: Path, a: str, b: str, *, ollama: Version | None, fmt: str, out: t.TextIO, err: t.TextIO, rich: bool,
    exit_code: bool = False,
) -> int:
    """`mpl diff FILE A B`; returns the exit code (with `exit_code`, 1 when they differ, as `git diff --exit-code`)."""
    analysis, code = _load(file, ollama, err)
    if analysis is None:
        return code
    assert analysis.program is not None
    left = _subject(analysis.program, a, None, err)
    right = _subject(analysis.program, b, None, err)
    if left is None or right is None:
        return 2
    out.write(render_diff(analysis.program, left, right, fmt, rich=rich))
    if exit_code and diff_rows(rows(analysis.program, left), rows(analysis.program, right)):
        return 1
    return 0

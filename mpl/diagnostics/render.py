"""Renderers: diagnostics to caret text and to JSON.

Renderers only format; positions and severities come from the diagnostics.
SARIF lives in `mpl.diagnostics.sarif`, the LSP form in `mpl.lsp`.
"""

from __future__ import annotations

import typing as t

from mpl.diagnostics import CODES, Diagnostic, Severity
from mpl.source import SourceFile, visible


_COLOURS = {
    Severity.ERROR: "\x1b[1;31m",
    Severity.WARNING: "\x1b[1;33m",
    Severity.INFO: "\x1b[1;36m",
}
_BOLD = "\x1b[1m"
_BLUE = "\x1b[1;34m"
_RESET = "\x1b[0m"


def help_uri(code: str, docs_url: str | None) -> str | None:
    """The address of a code's documentation under `docs-url`, if one is configured.

    >>> help_uri("MPL301", "https://example.org/mpl/diagnostics.html")
    'https://example.org/mpl/diagnostics.html#mpl301'
    >>> help_uri("MPL301", "https://example.org/{code}"), help_uri("MPL301", None)
    ('https://example.org/mpl301', None)
    """
    if not docs_url:
        return None
    if "{code}" in docs_url:
        return docs_url.replace("{code}", code.lower())
    return f"{docs_url}#{code.lower()}"


def location(source: SourceFile, diag: Diagnostic) -> str:
    if diag.span is None:
        return source.path
    line, col = source.line_col(diag.span.start)
    return f"{source.path}:{line}:{col}"


def render_text(
    source: SourceFile, diags: t.Iterable[Diagnostic], *, colour: bool = False, links: bool = True,
    docs_url: str | None = None,
) -> str:
    """Render diagnostics like a compiler: header, source line, carets, help, and where to read more.

    The `= see:` line names `mpl explain CODE` (unless `links` is off); with a
    configured `docs_url` it gives that address instead, and on a terminal
    (`colour`) the code becomes an OSC-8 hyperlink to it.

    >>> from mpl.diagnostics import Sink
    >>> from mpl.source import Span
    >>> src = SourceFile("a.mprof", "profile p < min_pp 0.1 >")
    >>> sink = Sink(src)
    >>> _ = sink.report("MPL301", Span(12, 18), "unknown parameter `min_pp`", help="did you mean `min_p`?")
    >>> print(render_text(src, sink.diagnostics))
    a.mprof:1:13: error[MPL301]: unknown parameter `min_pp`
      |
    1 | profile p < min_pp 0.1 >
      |             ^^^^^^
      = help: did you mean `min_p`?
      = see: mpl explain MPL301
    <BLANKLINE>
    """
    lines: dict[int, str] = {}  # each source line is cut out of the text once, however many diagnostics it has
    return "".join(_render_one(source, diag, colour, links, docs_url, lines) for diag in diags)


def _hyperlink(url: str, text: str) -> str:
    """An OSC-8 terminal hyperlink (terminals without support show the text)."""
    return f"\x1b]8;;{url}\x1b\\{text}\x1b]8;;\x1b\\"


def _see(code: str, docs_url: str | None) -> str:
    return help_uri(code, docs_url) or f"mpl explain {code}"


def _render_one(
    source: SourceFile, diag: Diagnostic, colour: bool, links: bool = True, docs_url: str | None = None,
    lines_seen: dict[int, str] | None = None,
) -> str:
    sev = diag.severity.value
    c = _COLOURS[diag.severity] if colour else ""
    b = _BOLD if colour else ""
    blue = _BLUE if colour else ""
    r = _RESET if colour else ""
    uri = help_uri(diag.code, docs_url) if links else None
    code = _hyperlink(uri, diag.code) if colour and uri else diag.code
    where = location(source, diag)  # a source without a path (no file at all): no location
    lines = [f"{b}{visible(where)}{r}: " * bool(where) + f"{c}{sev}[{code}]{r}: {b}{visible(diag.message)}{r}"]
    if diag.span is not None and source.text:
        line, col = source.line_col(diag.span.start)
        end_line, end_col = source.line_col(diag.span.end)
        text = lines_seen.get(line) if lines_seen is not None else None
        if text is None:
            text = source.line_text(line)
            if lines_seen is not None:
                lines_seen[line] = text
        width = len(str(line))
        if end_line == line:
            length = max(1, end_col - col)
        else:
            length = max(1, len(text) - col + 1)
        text, col, length = _window(text, col, length)
        shown = _visible(text)
        prefix = _visible(text[: col - 1])
        underline = _visible(text[col - 1 : col - 1 + length]) or " "
        pad = " " * width
        lines.append(f"{blue}{pad} |{r}")
        lines.append(f"{blue}{line} |{r} {shown}")
        lines.append(f"{blue}{pad} |{r} {' ' * len(prefix)}{c}{'^' * max(1, len(underline))}{r}")
        for rel in diag.related:
            rline, rcol = source.line_col(rel.span.start)
            lines.append(f"{blue}{pad} = note:{r} {visible(rel.message)} ({visible(source.path)}:{rline}:{rcol})")
        if diag.help:
            lines.append(f"{blue}{pad} = help:{r} {visible(diag.help)}")
        if links:
            lines.append(f"{pad} = see: {_see(diag.code, docs_url)}")
    else:
        for rel in diag.related:
            lines.append(f"  = note: {visible(rel.message)}")
        if diag.help:
            lines.append(f"  = help: {visible(diag.help)}")
        if links:
            lines.append(f"  = see: {_see(diag.code, docs_url)}")
    return "\n".join(lines) + "\n"


MAX_SHOWN = 120  # columns of a source line shown under a diagnostic


def _window(text: str, col: int, length: int) -> tuple[str, int, int]:
    """Cut a long source line to about `MAX_SHOWN` columns around the span, with `…` marks.

    Returns the text to show, the 1-based column of the span in it, and the span's
    length (clipped to the window).

    >>> _window("x" * 300, 200, 5)[1:]
    (42, 5)
    >>> _window("short", 2, 3)
    ('short', 2, 3)
    """
    if len(text) <= MAX_SHOWN:
        return text, col, length
    start = max(0, min(col - 1 - 40, len(text) - MAX_SHOWN))
    end = min(len(text), start + MAX_SHOWN)
    head = "…" if start > 0 else ""
    tail = "…" if end < len(text) else ""
    new_col = col - start + len(head)
    return head + text[start:end] + tail, new_col, max(1, min(length, end - (col - 1)))


def _visible(text: str) -> str:
    """Tabs become single spaces so that carets line up; controls are shown as '?'."""
    if text.isprintable():  # no tab, no control: nothing to change (the common line)
        return text
    return "".join(" " if ch == "\t" else ("?" if ord(ch) < 32 or ord(ch) == 127 else ch) for ch in text)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def summary_line(diags: t.Sequence[Diagnostic], *, notes_hint: str | None = None) -> str:
    """The counts of a report; with `notes_hint` (the notes were not listed), their codes too.

    >>> from mpl.diagnostics import Sink
    >>> sink = Sink(SourceFile("a.mprof", ""))
    >>> for i, code in enumerate(("MPL301", "MPL730", "MPL701", "MPL730")):
    ...     _ = sink.report(code, None, f"finding {i}")
    >>> summary_line(sink.diagnostics)
    '1 error, 0 warnings, 3 notes'
    >>> summary_line(sink.diagnostics, notes_hint="`--notes` lists them")
    '1 error, 0 warnings, 3 notes (MPL730 ×2, MPL701; `--notes` lists them)'
    """
    errors = sum(1 for d in diags if d.severity is Severity.ERROR)
    warnings = sum(1 for d in diags if d.severity is Severity.WARNING)
    parts = [_plural(errors, "error"), _plural(warnings, "warning")]
    if any(d.severity is Severity.INFO for d in diags):
        parts.append(notes_summary(diags, notes_hint) if notes_hint is not None else
                     _plural(sum(1 for d in diags if d.severity is Severity.INFO), "note"))
    return ", ".join(parts)


def notes_summary(diags: t.Sequence[Diagnostic], hint: str) -> str:
    """The notes among `diags` in one phrase, by code (most frequent first): `5 notes (MPL701 ×3, MPL730 ×2; HINT)`."""
    counts: dict[str, int] = {}
    for d in diags:
        if d.severity is Severity.INFO:
            counts[d.code] = counts.get(d.code, 0) + 1
    codes = ", ".join(code if n == 1 else f"{code} ×{n}" for code, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
    return f"{_plural(sum(counts.values()), 'note')} ({codes}; {hint})"


def diagnostic_dict(source: SourceFile, diag: Diagnostic, *, docs_url: str | None = None) -> dict[str, t.Any]:
    """The stable JSON form of one diagnostic (documented in docs/diagnostics.md).

    `url` is the code's address under a configured `docs_url`, else null.
    """
    item: dict[str, t.Any] = {
        "code": diag.code,
        "name": CODES[diag.code].name,
        "severity": diag.severity.value,
        "message": diag.message,
        "file": source.path,
    }
    if diag.span is not None:
        line, col = source.line_col(diag.span.start)
        end_line, end_col = source.line_col(diag.span.end)
        item["range"] = {
            "start": {"line": line, "column": col, "offset": diag.span.start},
            "end": {"line": end_line, "column": end_col, "offset": diag.span.end},
        }
    else:
        item["range"] = None
    item["help"] = diag.help
    item["related"] = [
        {
            "message": rel.message,
            "line": source.line_col(rel.span.start)[0],
            "column": source.line_col(rel.span.start)[1],
        }
        for rel in diag.related
    ]
    item["url"] = help_uri(diag.code, docs_url)
    return item


def render_json(
    source: SourceFile, diags: t.Sequence[Diagnostic], *, suppressed: t.Sequence[Diagnostic] = (),
    docs_url: str | None = None, **extra: t.Any,
) -> str:
    """The stable JSON report of one file (schema version 1, documented in docs/diagnostics.md)."""
    import json  # only this renderer needs it; text output stays without

    payload = json_payload(source, diags, suppressed=suppressed, docs_url=docs_url, **extra)
    return json.dumps(payload, indent=2, ensure_ascii=False) + "\n"


def json_payload(
    source: SourceFile, diags: t.Sequence[Diagnostic], *, suppressed: t.Sequence[Diagnostic] = (),
    docs_url: str | None = None, **extra: t.Any,
) -> dict[str, t.Any]:
    """The JSON report as a dict: `version`, `file`, `diagnostics`, `suppressed`, `summary`."""
    payload = {
        "version": 1,
        "file": source.path,
        "diagnostics": [diagnostic_dict(source, d, docs_url=docs_url) for d in diags],
        "suppressed": [diagnostic_dict(source, d, docs_url=docs_url) for d in suppressed],
        "summary": {
            "errors": sum(1 for d in diags if d.severity is Severity.ERROR),
            "warnings": sum(1 for d in diags if d.severity is Severity.WARNING),
            "notes": sum(1 for d in diags if d.severity is Severity.INFO),
        },
    }
    payload.update(extra)
    return payload

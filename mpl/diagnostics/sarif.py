"""SARIF 2.1.0: diagnostics as a static-analysis log that GitHub code scanning accepts.

Consumes the diagnostics (and silenced diagnostics) of one or more sources and
produces one SARIF log with one run. Every registered code is a rule of the
driver, so `ruleIndex` is stable; positions are 1-based lines and UTF-16 columns
(SARIF's default `columnKind`), `endColumn` is the column *after* the region.

A result, as this module writes it::

    {"ruleId": "MPL301", "ruleIndex": 30, "level": "error",
     "message": {"text": "unknown parameter `min_pp`\\nhelp: did you mean `min_p`?"},
     "locations": [{"physicalLocation": {
         "artifactLocation": {"uri": "profiles.mprof", "uriBaseId": "%SRCROOT%"},
         "region": {"startLine": 2, "startColumn": 3, "endLine": 2, "endColumn": 9}}}]}
"""

from __future__ import annotations

import json
import os
import typing as t
from pathlib import Path
from urllib.parse import quote

from mpl.diagnostics import CODES, Diagnostic, Severity
from mpl.diagnostics.render import help_uri
from mpl.source import SourceFile, Span

SCHEMA_URI = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
_LEVELS = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}

Report = tuple[SourceFile, t.Sequence[Diagnostic], t.Sequence[Diagnostic]]  # source, reported, silenced


def render_sarif(
    reports: t.Sequence[Report], *, version: str, root: Path | None = None, docs_url: str | None = None,
) -> str:
    """A SARIF 2.1.0 log (JSON text) for the diagnostics of one or more sources.

    Args:
        reports: For each source: the source, its diagnostics and its silenced ones.
        version: mpl's version, the tool driver's.
        root: The folder `%SRCROOT%` stands for (default: the current directory);
            sources outside it get absolute `file:` URIs.
        docs_url: The configured `docs-url`: each rule's `helpUri` is under it.
            Without one, rules carry no address (their help text is in the log).

    >>> from mpl.diagnostics import Sink
    >>> src = SourceFile("p.mprof", "profile p < min_pp 1 >")
    >>> sink = Sink(src)
    >>> _ = sink.report("MPL301", Span(12, 18), "unknown parameter `min_pp`")
    >>> log = json.loads(render_sarif([(src, sink.diagnostics, [])], version="0.1.0", root=Path.cwd()))
    >>> log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]
    {'startLine': 1, 'startColumn': 13, 'endLine': 1, 'endColumn': 19}
    """
    return json.dumps(sarif_log(reports, version=version, root=root, docs_url=docs_url), indent=2, ensure_ascii=False) + "\n"


def sarif_log(
    reports: t.Sequence[Report], *, version: str, root: Path | None = None, docs_url: str | None = None,
) -> dict[str, t.Any]:
    """The SARIF log as a dict (see `render_sarif`)."""
    root = (root or Path.cwd()).resolve()
    index = {code: i for i, code in enumerate(CODES)}
    results = []
    for source, diags, silenced in reports:
        uri = artifact_location(source.path, root)
        for diag in diags:
            results.append(_result(source, diag, uri, index))
        for diag in silenced:
            result = _result(source, diag, uri, index)
            result["suppressions"] = [{"kind": "inSource", "justification": "`# mpl: allow(...)` comment"}]
            results.append(result)
    driver: dict[str, t.Any] = {"name": "mpl", "version": version, "semanticVersion": version}
    if docs_url:
        driver["informationUri"] = docs_url.split("#")[0].replace("{code}", "")
    driver["rules"] = [_rule(code, docs_url) for code in CODES]
    return {
        "$schema": SCHEMA_URI,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {"driver": driver},
                "originalUriBaseIds": {"%SRCROOT%": {"uri": root.as_uri().rstrip("/") + "/"}},
                "columnKind": "utf16CodeUnits",
                "results": results,
            }
        ],
    }


def _rule(code: str, docs_url: str | None = None) -> dict[str, t.Any]:
    spec = CODES[code]
    text = f"{spec.summary}\n\nWhy: {spec.why}\n\nFix: {spec.fix}"
    markdown = f"**{spec.code} {spec.name}** ({spec.severity})\n\n{spec.summary}\n\n**Why:** {spec.why}\n\n**Fix:** {spec.fix}"
    rule: dict[str, t.Any] = {
        "id": code,
        "name": spec.name,
        "shortDescription": {"text": spec.summary},
        "fullDescription": {"text": f"{spec.summary} {spec.why}"},
        "help": {"text": text, "markdown": markdown},
    }
    uri = help_uri(code, docs_url)
    if uri:
        rule["helpUri"] = uri
    rule["defaultConfiguration"] = {"level": _LEVELS[Severity(spec.severity)]}
    rule["properties"] = {"tags": ["mpl", _band(code)]}
    return rule


def _band(code: str) -> str:
    return {
        "0": "input", "1": "syntax", "2": "structure", "3": "values", "4": "ollama-version",
        "5": "target", "6": "build", "7": "lint",
    }.get(code[3], "other")


def _result(source: SourceFile, diag: Diagnostic, uri: dict[str, str], index: dict[str, int]) -> dict[str, t.Any]:
    text = diag.message + (f"\nhelp: {diag.help}" if diag.help else "")
    result: dict[str, t.Any] = {
        "ruleId": diag.code,
        "ruleIndex": index[diag.code],
        "level": _LEVELS[diag.severity],
        "message": {"text": text},
        "locations": [_location(source, diag.span, uri)],
    }
    related = [
        {**_location(source, rel.span, uri), "id": i, "message": {"text": rel.message}}
        for i, rel in enumerate(diag.related)
    ]
    if related:
        result["relatedLocations"] = related
    return result


def _location(source: SourceFile, span: Span | None, uri: dict[str, str]) -> dict[str, t.Any]:
    physical: dict[str, t.Any] = {"artifactLocation": dict(uri)}
    if span is not None and source.text:
        physical["region"] = region(source, span)
    return {"physicalLocation": physical}


def region(source: SourceFile, span: Span) -> dict[str, int]:
    """1-based lines and UTF-16 columns; `endColumn` is the column after the last character.

    >>> region(SourceFile("a", "x 😀 y"), Span(4, 5))  # the emoji is two UTF-16 units
    {'startLine': 1, 'startColumn': 6, 'endLine': 1, 'endColumn': 7}
    """
    start_line, start_col = source.lsp_position(span.start)
    end_line, end_col = source.lsp_position(max(span.end, span.start))
    return {"startLine": start_line + 1, "startColumn": start_col + 1, "endLine": end_line + 1, "endColumn": end_col + 1}


def artifact_location(path: str, root: Path) -> dict[str, str]:
    """A URI relative to `%SRCROOT%` when the file is under `root`, else an absolute file URI.

    >>> artifact_location("examples/meton.mprof", Path.cwd())
    {'uri': 'examples/meton.mprof', 'uriBaseId': '%SRCROOT%'}
    """
    absolute = Path(os.path.abspath(path))
    try:
        relative = absolute.relative_to(root)
    except ValueError:
        return {"uri": absolute.as_uri()}
    return {"uri": quote(relative.as_posix()), "uriBaseId": "%SRCROOT%"}

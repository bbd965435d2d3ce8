"""The diagnostics policy: the one step that decides what is finally reported.

Passes and targets report everything they find into a `Sink`; nothing else
rewrites `sink.diagnostics`. `apply_policy` then, in this order:

1. **supersedes**: one mistake, one diagnostic. Where a more specific code is
   reported on the same line of the source, the general one is dropped
   (`SUPERSEDED_BY`): `top_p 1.5` is an out-of-domain value (MPL303), not also
   outside Meton's range (MPL502); `stop 5` is a type error (MPL302), not also a
   parameter Meton cannot hold (MPL501); what the server itself refuses (MPL608)
   replaces what the catalog says of the version (MPL405).
2. **escalates**, for `mpl build`: warnings a build cannot accept (`FATAL_IN_BUILD`)
   become errors for the models being built.
3. **allows**: `# mpl: allow(...)` comments silence warnings and notes (never
   errors) and unused allows are reported (MPL731); see docs/lints.md:

   * a trailing `# mpl: allow(MPL701, …)` silences diagnostics that start on its line;
   * on its own line it applies to the next line that is not a comment, and when
     that line opens a `profile` or `model`, to the whole declaration (including
     lints found while resolving it at inherited lines).

   The comments are read once per source, by the lint pass when it runs
   (`Program.allows`), which marks the findings they silence.

It returns the silenced diagnostics (`mpl check --format json` lists them).
"""

from __future__ import annotations

import re
import typing as t

import msgspec

from mpl.diagnostics import CODES, Diagnostic, Severity, Sink
from mpl.source import Span

if t.TYPE_CHECKING:
    from mpl.compiler.program import Program

# code -> the more specific codes that replace it on the same line
SUPERSEDED_BY: dict[str, frozenset[str]] = {
    "MPL502": frozenset({"MPL303", "MPL306"}),
    "MPL501": frozenset({"MPL302"}),
    "MPL401": frozenset({"MPL403"}),
    "MPL405": frozenset({"MPL608"}),
}
# Warnings a build stops at, for the models being built: the server would store and ignore the value.
FATAL_IN_BUILD = frozenset({"MPL403"})


def apply_policy(
    sink: Sink,
    program: Program | None,
    *,
    build: t.Collection[str] | None = None,
    allows: bool = True,
) -> list[Diagnostic]:
    """Apply the policy to `sink` in place; returns the diagnostics allow-comments silenced.

    `build` names the models `mpl build` is building (escalation applies only then);
    `allows=False` leaves allow-comments to an earlier run of the policy over the
    same sink (the build's second step, after the server's checks).
    """
    diagnostics = _supersede(sink)
    if build is not None:
        diagnostics = [_escalated(d) if d.code in FATAL_IN_BUILD and d.arg("model") in build
                       and d.severity is not Severity.ERROR else d for d in diagnostics]
    sink.diagnostics[:] = diagnostics
    if not allows or program is None:
        return []
    return apply_allows(program, sink)


def _supersede(sink: Sink) -> list[Diagnostic]:
    lines: dict[int, set[str]] = {}
    for d in sink.diagnostics:
        if d.span is not None:
            lines.setdefault(sink.source.line_col(d.span.start)[0], set()).add(d.code)
    kept = []
    for d in sink.diagnostics:
        better = SUPERSEDED_BY.get(d.code)
        if better and d.span is not None and not better.isdisjoint(lines[sink.source.line_col(d.span.start)[0]]):
            continue
        kept.append(d)
    return kept


def _escalated(d: Diagnostic) -> Diagnostic:
    return msgspec.structs.replace(
        d, severity=Severity.ERROR, help=(d.help or "") + "; `mpl build` stops: the server would store it and ignore it"
    )


# -- allow comments -------------------------------------------------------------------

_ALLOW = re.compile(r"#\s*mpl:\s*allow\(([^)]*)\)", re.I)
_NAMES = {spec.name: code for code, spec in CODES.items()}


class Allow(msgspec.Struct, frozen=True):
    """One `# mpl: allow(...)` comment and what it covers."""

    span: Span  # the comment
    codes: tuple[str, ...]
    line: int  # the line it silences
    scope: tuple[str, str] | None = None  # (kind, name) of the declaration it silences
    decl_span: Span | None = None


class Allows(msgspec.Struct, frozen=True):
    """The allow comments of one source, with lookups by line and declaration."""

    items: tuple[Allow, ...] = ()

    def for_line(self, code: str, line: int) -> tuple[int, str] | None:
        for allow in self.items:
            if allow.scope is None and allow.line == line and code in allow.codes:
                return (allow.span.start, code)
        return None

    def for_decl(self, code: str, kind: str, name: str) -> tuple[int, str] | None:
        for allow in self.items:
            if allow.scope == (kind, name) and code in allow.codes:
                return (allow.span.start, code)
        return None

    def for_span(self, code: str, span: Span, line: int) -> tuple[int, str] | None:
        """An allow covering a diagnostic by its line, or by the declaration holding it."""
        found = self.for_line(code, line)
        if found is not None:
            return found
        for allow in self.items:
            if allow.decl_span is not None and code in allow.codes and allow.decl_span.start <= span.start < allow.decl_span.end:
                return (allow.span.start, code)
        return None


def find_allows(program: Program, sink: Sink | None) -> Allows:
    """Parse every allow comment; with a sink, report names that are not codes (MPL731)."""
    source = program.source
    decl_lines: dict[int, tuple[str, str, Span]] = {}
    for profile in program.profiles.values():
        decl_lines.setdefault(source.line_col(profile.span.start)[0], ("profile", profile.name, profile.span))
    for model in program.models:
        decl_lines.setdefault(source.line_col(model.span.start)[0], ("model", model.name, model.span))
    comment_lines = {c.line for c in program.comments if c.own_line}
    items = []
    for comment in program.comments:
        match = _ALLOW.search(comment.text)
        if match is None:
            continue
        line = comment.line
        codes = []
        for raw in (part.strip() for part in match.group(1).split(",")):
            if not raw:
                continue
            code = raw.upper() if raw.upper() in CODES else _NAMES.get(raw.lower())
            if code is None:
                if sink is not None:
                    sink.report("MPL731", comment.span, f"`{raw}` in `mpl: allow(...)` is not a diagnostic code",
                                help="name codes such as `MPL701` or names such as `greedy-ignores-filters`")
                continue
            codes.append(code)
        target = line
        if comment.own_line:
            target = line + 1
            while target in comment_lines and target <= source.line_count:
                target += 1
        decl = decl_lines.get(target) if comment.own_line else None
        items.append(Allow(comment.span, tuple(codes), target, decl[:2] if decl else None, decl[2] if decl else None))
    return Allows(tuple(items))


def apply_allows(program: Program | None, sink: Sink) -> list[Diagnostic]:
    """Move silenced diagnostics out of the sink and return them; report unused allows."""
    if program is None:
        return []
    allows = program.allows if program.allows is not None else find_allows(program, sink)
    used: set[tuple[int, str]] = set()
    kept: list[Diagnostic] = []
    silenced: list[Diagnostic] = []
    for diag in sink.diagnostics:
        used.update(diag.arg("allow_used") or ())
        if diag.arg("allowed"):
            silenced.append(diag)
            continue
        if diag.severity is not Severity.ERROR and diag.span is not None and diag.code != "MPL731":
            line = program.source.line_col(diag.span.start)[0]
            hit = allows.for_line(diag.code, line) if diag.arg("contexts") else allows.for_span(diag.code, diag.span, line)
            if hit is not None:
                used.add(hit)
                silenced.append(diag)
                continue
        kept.append(diag)
    sink.diagnostics[:] = kept
    for allow in allows.items:
        for code in allow.codes:
            if (allow.span.start, code) not in used:
                why = "errors cannot be silenced" if CODES[code].severity == "error" else f"no {code} is reported where it applies"
                sink.report("MPL731", allow.span, f"`allow({code})` silences nothing: {why}",
                            help="remove it from the comment", code_named=code)
    return silenced

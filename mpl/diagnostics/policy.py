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
   errors) and unused allows are reported (MPL731); see `mpl.compiler.lint.find_allows`.

It returns the silenced diagnostics (`mpl check --format json` lists them).
"""

from __future__ import annotations

import typing as t

import msgspec

from mpl.diagnostics import Diagnostic, Severity, Sink

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
    from mpl.compiler.lint import apply_allows

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

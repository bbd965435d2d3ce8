"""Diagnostics: the one record every pass reports, and the sink that collects them.

Passes never raise for user errors; they call `Sink.report` and go on, so an
editor sees every problem at once. Renderers live in `mpl.diagnostics.render`.
"""

from __future__ import annotations

import typing as t
from enum import Enum

import msgspec

from mpl.source import SourceFile, Span

from mpl.diagnostics.codes import CODES as CODES
from mpl.diagnostics.codes import Code as Code


class Severity(str, Enum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "note"  # one word everywhere: `note[MPL701]`, "2 notes", JSON and SARIF `note`

    @property
    def rank(self) -> int:
        return {"error": 0, "warning": 1, "note": 2}[self.value]


class Related(msgspec.Struct, frozen=True):
    """A second place that explains a diagnostic ("first defined here")."""

    span: Span
    message: str


class Diagnostic(msgspec.Struct, frozen=True):
    """One problem: a stable code, a severity, a message and where it is.

    `args` keeps the values the message was made from, so tests and tools can
    compare them without depending on wording.
    """

    code: str
    severity: Severity
    message: str
    span: Span | None
    help: str | None = None
    related: tuple[Related, ...] = ()
    args: tuple[tuple[str, t.Any], ...] = ()

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def arg(self, name: str) -> t.Any:
        return dict(self.args).get(name)


class Sink(msgspec.Struct):
    """Collects diagnostics for one source file; duplicates are kept once.

    >>> sink = Sink(SourceFile("a.mprof", "x"))
    >>> _ = sink.report("MPL301", Span(0, 1), "unknown parameter `x`")
    >>> [d.code for d in sink.diagnostics], sink.has_errors
    (['MPL301'], True)
    """

    source: SourceFile
    diagnostics: list[Diagnostic] = msgspec.field(default_factory=list)
    _seen: set[tuple[str, int, int, str]] = msgspec.field(default_factory=set)

    def report(
        self,
        code: str,
        span: Span | None,
        message: str,
        *,
        help: str | None = None,
        severity: Severity | None = None,
        related: t.Iterable[Related] = (),
        **args: t.Any,
    ) -> Diagnostic | None:
        """Record a diagnostic; the code's registered severity is the default."""
        spec = CODES[code]
        sev = severity or Severity(spec.severity)
        if span is not None and span.end > len(self.source.text):
            # A node that error recovery closed past the end: point at what the text holds.
            end = len(self.source.text)
            span = Span(min(span.start, end), end)
        key = (code, span.start if span else -1, span.end if span else -1, message)
        if key in self._seen:
            return None
        self._seen.add(key)
        diag = Diagnostic(
            code=code,
            severity=sev,
            message=message,
            span=span,
            help=help,
            related=tuple(related),
            args=tuple(args.items()),
        )
        self.diagnostics.append(diag)
        return diag

    def extend(self, diagnostics: t.Iterable[Diagnostic]) -> None:
        """Record diagnostics made elsewhere (another sink over the same source)."""
        for diag in diagnostics:
            key = (diag.code, diag.span.start if diag.span else -1, diag.span.end if diag.span else -1, diag.message)
            if key not in self._seen:
                self._seen.add(key)
                self.diagnostics.append(diag)

    @property
    def has_errors(self) -> bool:
        return any(d.is_error for d in self.diagnostics)

    def sorted(self) -> list[Diagnostic]:
        return sorted(
            self.diagnostics,
            key=lambda d: (d.span.start if d.span else -1, d.severity.rank, d.code),
        )

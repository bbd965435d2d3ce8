"""The short cut of redaction: what `needs` reads from a pattern holds for every match of it.

`Redactor.redact` skips a pattern when the text has no word as long as the pattern's
`bound`, or lacks the pattern's `literal`. Both are read from the pattern's text
(`mpl.data.redact.needs`); if either claimed more than every match holds, a secret
would go unredacted. Here every detect-secrets pattern mpl uses, and patterns built
to probe the reader, are matched by strings hypothesis generates from the pattern
itself, and each match is checked against the claim.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mpl.data.redact import Redactor, needs

PATTERNS = [pattern for _, pattern, _, _, _ in Redactor().patterns]
PROBES = [re.compile(p) for p in (
    r"AKIA[0-9A-Z]{16}", r"(a|b{30})", r"(?:\s|^)AKC\d{40}", r"[\x00-\x7f]{20}", r"[ -~]{20}", r"[!-~]{20}",
    r"a(bc)?d", r"(?:ab){2}", r"x[^a]{9}", r"[\w.]{12}",
    r"(?:https?://)?host\.example/[a-z]{8,}", r"tok_[A-Z]{4}|key_[a-z]{9}", r"v(?:1|2)\.[0-9]{3}", r"\-\-[\w-]{10}",
    r"(?i)secret[a-z]{6}", r"x{3}y{0,2}z+",
)]


def _claim_holds(pattern: re.Pattern[str], match: str) -> None:
    bound, literal = needs(pattern)
    longest = max(map(len, match.split()), default=0)
    assert longest >= bound, (pattern.pattern, match, bound)
    if literal:
        inside = literal.lower() in match.lower() if pattern.flags & re.IGNORECASE else literal in match
        assert inside, (pattern.pattern, match, literal)


@pytest.mark.parametrize("pattern", PATTERNS + PROBES, ids=lambda p: p.pattern[:40])
@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_what_needs_reads_holds_for_every_match(pattern: re.Pattern[str], data: st.DataObject) -> None:
    try:
        strategy = st.from_regex(pattern, fullmatch=True)
        match = data.draw(strategy)
    except Exception as exc:  # a construct hypothesis cannot generate from (lookbehinds): nothing to draw
        pytest.skip(f"hypothesis cannot generate from {pattern.pattern!r}: {exc}")
    assert pattern.fullmatch(match) or pattern.search(match)
    _claim_holds(pattern, match)


def test_the_reader_claims_what_it_can_and_nothing_it_cannot() -> None:
    assert needs(re.compile(r"AKIA[0-9A-Z]{16}")) == (16, "AKIA")
    assert needs(re.compile(r"(a|b{30})")) == (0, "")  # an alternative: nothing is in every match
    assert needs(re.compile(r"[\x00-\x7f]{20}")) == (0, "")  # the class holds white space
    assert needs(re.compile(r"[!-~]{20}")) == (20, "")
    assert needs(re.compile(r"a(bc)?d")) == (0, "")  # optional: `bc` is not in every match
    assert needs(re.compile(r"k(?=ey)[a-z]{5}")) == (5, "")  # a lookahead matches nothing of its own
    assert needs(re.compile(r"x ?y", re.VERBOSE)) == (0, "")  # verbose patterns are not read

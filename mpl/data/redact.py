"""Find secrets in conversation text with Yelp's detect-secrets and replace each with a marker.

detect-secrets' regular-expression plugins (AWS, Azure, GitHub, GitLab, OpenAI,
Slack, Stripe, private keys, passwords in URLs, JSON web tokens, and the rest)
are used in-process on each string; their patterns are kept up to date
upstream, not here. Each match becomes `[REDACTED:<type>]`, the type being the
plugin's secret type in lower case with dashes (`[REDACTED:aws-access-key]`).

What is left out, and why: the high-entropy and keyword plugins (they flag any
long word or identifier in prose and code, so half a conversation would be
markers) and the public IP plugin (an address is not a secret). A private key
is redacted from its BEGIN line to its END line, not just the header the
plugin matches.
"""

from __future__ import annotations

import re
import typing as t
from collections import Counter

_LEFT_OUT = frozenset({"Base64 High Entropy String", "Hex High Entropy String", "Secret Keyword", "Public IP (ipv4)"})
_PRIVATE_KEY = re.compile(
    r"-----BEGIN[A-Z ]*PRIVATE KEY(?: BLOCK)?-----.*?(?:-----END[A-Z ]*PRIVATE KEY(?: BLOCK)?-----|\Z)", re.S)


def _slug(secret_type: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", secret_type.lower()).strip("-")


class Redactor:
    """Replaces secrets in strings; `counts` says how many of each type were replaced."""

    def __init__(self) -> None:
        from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class
        from detect_secrets.plugins.base import RegexBasedDetector

        self.patterns: list[tuple[str, re.Pattern[str]]] = []
        for secret_type, cls in sorted(get_mapping_from_secret_type_to_class().items()):
            if secret_type in _LEFT_OUT or not issubclass(cls, RegexBasedDetector):
                continue
            plugin = cls()
            label = _slug(secret_type)
            if label == "private-key":
                self.patterns.append((label, _PRIVATE_KEY))
                continue
            for pattern in plugin.denylist:
                self.patterns.append((label, pattern))
        # A string in which no plugin pattern can match is passed over at once: every
        # secret the plugins know holds one of these (checked by a test over their patterns).
        self.counts: Counter[str] = Counter()

    def redact(self, text: str) -> str:
        """`text` with every secret replaced by its marker."""
        spans: list[tuple[int, int, str]] = []
        for label, pattern in self.patterns:
            for match in pattern.finditer(text):
                start, end = _secret_span(match)
                if end > start:
                    spans.append((start, end, label))
        if not spans:
            return text
        spans.sort(key=lambda s: (s[0], -s[1]))
        out: list[str] = []
        pos = 0
        for start, end, label in spans:
            if start < pos:  # inside a secret already replaced (two plugins on one token)
                continue
            out.append(text[pos:start])
            out.append(f"[REDACTED:{label}]")
            self.counts[label] += 1
            pos = end
        out.append(text[pos:])
        return "".join(out)


def _secret_span(match: re.Match[str]) -> tuple[int, int]:
    """The part of a match that is the secret.

    A plugin's pattern often has groups: a prefix (`(ghp|gho)_...`, whose group is
    not the secret) or the secret after its key (`://user:(password)@`). The
    longest group is the secret when it is most of the match; otherwise the whole
    match is.
    """
    best: tuple[int, int] | None = None
    for number in range(1, (match.re.groups or 0) + 1):
        start, end = match.span(number)
        if start >= 0 and (best is None or end - start > best[1] - best[0]):
            best = (start, end)
    whole = match.span(0)
    start, end = best if best is not None and (best[1] - best[0]) * 2 >= whole[1] - whole[0] - 8 else whole
    # A pattern that stops early (a lazy JSON web token, a fixed length) would leave the rest of
    # the token in plain sight: the secret runs on to the end of its token.
    tail = _TOKEN_TAIL.match(match.string, end)
    return start, tail.end() if tail else end


_TOKEN_TAIL = re.compile(r"(?<=[A-Za-z0-9_\-+/=.])[A-Za-z0-9_\-+/=]+")


def redact_all(redactor: Redactor | None, texts: t.Iterable[str]) -> list[str]:
    """Each text redacted (or as it is, without a redactor)."""
    if redactor is None:
        return list(texts)
    return [redactor.redact(text) for text in texts]

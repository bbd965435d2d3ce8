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
    r"-----BEGIN[A-Z ]*PRIVATE KEY(?: BLOCK)?-----.*?(?:-----END[A-Z ]*PRIVATE KEY(?: BLOCK)?-----|\Z)", re.DOTALL)


def _slug(secret_type: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", secret_type.lower()).strip("-")


class Redactor:
    """Replaces secrets in strings; `counts` says how many of each type were replaced."""

    def __init__(self) -> None:
        from detect_secrets.core.plugins.util import (
            get_mapping_from_secret_type_to_class,
        )
        from detect_secrets.plugins.base import RegexBasedDetector

        self.patterns: list[tuple[str, re.Pattern[str], int, str, bool]] = []
        mapping: dict[str, t.Any] = dict(get_mapping_from_secret_type_to_class())
        for secret_type, cls in sorted(mapping.items()):
            if secret_type in _LEFT_OUT or not issubclass(cls, RegexBasedDetector):
                continue
            plugin = cls()
            label = _slug(secret_type)
            if label == "private-key":
                self.patterns.append((label, _PRIVATE_KEY, 0, "PRIVATE KEY", False))
                continue
            for pattern in plugin.denylist:
                self.patterns.append((label, pattern, *needs(pattern), bool(pattern.flags & re.IGNORECASE)))
        self.counts: Counter[str] = Counter()

    def redact(self, text: str) -> str:
        """`text` with every secret replaced by its marker."""
        spans: list[tuple[int, int, str]] = []
        # A run of token characters lies within a word between white space: the longest word bounds it.
        longest = max(map(len, text.split()), default=0)
        lower: str | None = None
        for label, pattern, needed, literal, anycase in self.patterns:
            if needed > longest:
                continue  # the pattern needs a longer run of token characters than the text has
            if literal:
                if anycase:
                    lower = text.lower() if lower is None else lower
                    if literal.lower() not in lower:
                        continue
                elif literal not in text:
                    continue  # nor can it match without its literal part
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


#: Characters of the tokens secrets are made of (keys, tokens, base64); `\\d` and `\\w` count too
#: (none of these is white space, so a run of them lies within one word of the text).
TOKEN_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=_-")


def needs(pattern: re.Pattern[str]) -> tuple[int, str]:
    """How long a run of `TOKEN_CHARS` every match of `pattern` holds (0: no such bound found),
    and a literal every match holds (`""`: none found).

    Most secrets are a long run of token characters (`AKIA[0-9A-Z]{16}`,
    `[0-9a-f]{64}`); a text without a run that long cannot match, and running
    some forty patterns over every message is most of `mpl data`'s time. The
    bound is read from the pattern itself: a repeat `CLASS{n,}` on its main path
    (not in an alternative) whose class holds only token characters. The
    patterns are detect-secrets', so the bounds follow them when they change.

    >>> needs(re.compile(r"AKIA[0-9A-Z]{16}")), needs(re.compile(r"(a|b{30})")), needs(re.compile(r"(?:\\s|^)AKC\\d{40}"))
    ((16, 'AKIA'), (0, ''), (40, 'AKC'))
    """
    import importlib

    c: t.Any = importlib.import_module("re._constants")  # the standard library's own pattern parser
    sre_parse: t.Any = importlib.import_module("re._parser")

    def chars(items: t.Any) -> set[str] | None:
        out: set[str] = set()
        for op, av in items:
            if op is c.LITERAL:
                out.add(chr(av))
            elif op is c.CATEGORY and av in (c.CATEGORY_DIGIT, c.CATEGORY_WORD):
                out.add("_")
            elif op is c.IN:
                for op2, av2 in av:
                    if op2 is c.LITERAL:
                        out.add(chr(av2))
                    elif op2 is c.RANGE:
                        out.update(chr(code) for code in range(av2[0], av2[1] + 1))
                    elif op2 is c.CATEGORY and av2 in (c.CATEGORY_DIGIT, c.CATEGORY_WORD):
                        out.add("_")  # \\d and \\w: word characters, which a run counts (any script)
                    else:
                        return None  # a category (Unicode digits and letters) or a negation: no bound
            else:
                return None
        if pattern.flags & re.IGNORECASE:
            out |= {ch.swapcase() for ch in out}
        return out

    def literal(sequence: t.Any) -> str:
        best, run = "", ""
        for op, av in sequence:
            if op is c.LITERAL:
                run += chr(av)
                best = max(best, run, key=len)
                continue
            run = ""
            if op is c.SUBPATTERN and not av[1] and not av[2]:  # not under scoped flags (`(?i:...)`)
                best = max(best, literal(av[-1]), key=len)
        return best

    def bound(sequence: t.Any) -> int:
        best = 0
        for op, av in sequence:
            if op in (c.MAX_REPEAT, c.MIN_REPEAT):
                low, _high, sub = av
                found = chars(sub)
                if found is not None and found <= TOKEN_CHARS:
                    best = max(best, low)
            elif op is c.SUBPATTERN:
                best = max(best, bound(av[-1]))
        return best

    try:
        parsed = sre_parse.parse(pattern.pattern, pattern.flags)
        found = literal(parsed)
        return bound(parsed), found if len(found) >= 2 else ""
    except (re.error, ValueError, TypeError, AttributeError, IndexError):  # read otherwise by this Python: always run
        return 0, ""


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

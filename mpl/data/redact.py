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
                continue  # the pattern needs a longer word than the text has
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


def needs(pattern: re.Pattern[str]) -> tuple[int, str]:
    """How long a word every match of `pattern` holds (0: no such bound found), and a literal
    every match holds (`""`: none found).

    Most secrets are a long run of characters that are never white space
    (`AKIA[0-9A-Z]{16}`, `[0-9a-f]{64}`): a text none of whose words is that long
    cannot match, and running some forty patterns over every message is most of
    `mpl data`'s time. Both facts are read from the pattern's own text by
    `_MainPath`, conservatively: only what lies on the pattern's main path (not in
    an alternative, not optional) counts, and a construct it does not know makes it
    claim nothing. The patterns are detect-secrets', so the bounds follow them.

    >>> needs(re.compile(r"AKIA[0-9A-Z]{16}")), needs(re.compile(r"(a|b{30})")), needs(re.compile(r"(?:\\s|^)AKC\\d{40}"))
    ((16, 'AKIA'), (0, ''), (40, 'AKC'))
    """
    if pattern.flags & re.VERBOSE:
        return 0, ""  # white space and comments inside the pattern: not read here
    try:
        path = _MainPath(pattern.pattern)
        path.sequence(top=True)
    except _Unknown:
        return 0, ""
    literal = max(path.literals, key=len, default="")
    return path.bound, literal if len(literal) >= 2 else ""


class _Unknown(Exception):
    """A construct `_MainPath` does not read: it then claims nothing of the pattern."""


# What an escape outside a class stands for, when it is one character that is never white space.
_ESCAPED_CLASSES = {"d": True, "w": True, "D": False, "W": False, "s": False, "S": False}


class _MainPath:
    """Reads a regular expression's text (Python's syntax) for what every match must hold.

    `literals`: the runs of plain characters on the main path (each a substring of
    every match). `bound`: the largest `n` of a repeat `ATOM{n,…}` on the main path
    whose atom never matches white space (every match holds a word that long).
    """

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.literals: list[str] = []
        self.bound = 0

    def sequence(self, *, top: bool = False, counted: bool = True) -> None:
        """Read up to the end or the `)` closing the group (an alternative there: nothing of it counts)."""
        run = ""
        alternatives = False
        seen_literals, seen_bound = len(self.literals), self.bound
        while self.pos < len(self.text):
            ch = self.text[self.pos]
            if ch == ")":
                if top:
                    raise _Unknown
                break
            if ch == "|":
                alternatives = True
                self.pos += 1
                run = self._close(run, counted)
                continue
            before = len(self.literals), self.bound
            atom, plain, char = self._atom()
            low, high = self._quantifier()
            if low == 0:  # optional: nothing in it is in every match
                del self.literals[before[0]:]
                self.bound = before[1]
            once = (low, high) == (1, 1)
            if plain and once and char is not None:
                run += char
                continue
            run = self._close(run, counted)
            if atom and counted and low >= 1 and low > self.bound:
                self.bound = low
        self._close(run, counted)
        if alternatives:  # nothing of one alternative is in every match
            del self.literals[seen_literals:]
            self.bound = seen_bound

    def _close(self, run: str, counted: bool) -> str:
        if run and counted:
            self.literals.append(run)
        return ""

    def _atom(self) -> tuple[bool, bool, str | None]:
        """Read one atom: (never matches white space, is one plain character, that character)."""
        text, ch = self.text, self.text[self.pos]
        if ch == "\\":
            if self.pos + 1 >= len(text):
                raise _Unknown
            esc = text[self.pos + 1]
            self.pos += 2
            if esc in _ESCAPED_CLASSES:
                return _ESCAPED_CLASSES[esc], False, None
            if esc.isalnum():  # \b, \A, \Z, \1, \x.., \u..: not read here
                if esc in "bBAZ":
                    return False, False, None
                raise _Unknown
            return not esc.isspace(), True, esc
        if ch == "[":
            return self._class(), False, None
        if ch == "(":
            return self._group()
        if ch in ".^$":
            self.pos += 1
            return False, False, None
        if ch in "*+?{":
            raise _Unknown  # a quantifier with nothing before it
        self.pos += 1
        return not ch.isspace(), True, ch

    def _class(self) -> bool:
        """Read `[...]`: whether it never matches white space (each member and range checked)."""
        text = self.text
        end = self.pos + 1
        negated = text.startswith("^", end)
        end += negated
        members: list[tuple[int, int]] = []
        safe = not negated
        first = True
        while end < len(text) and (text[end] != "]" or first):
            first = False
            if text[end] == "[":
                raise _Unknown  # nested sets (a future syntax)
            if text[end] == "\\":
                esc = text[end + 1] if end + 1 < len(text) else ""
                end += 2
                if esc in ("d", "w"):
                    continue  # digits and word characters: never white space
                if esc in ("s", "S", "W", "D", "n", "t", "r", "f", "v"):
                    safe = False  # white space, or what may be white space
                    continue
                if esc.isalnum() or not esc:
                    raise _Unknown  # \x.., \u.., \N{...}, \b: not read here
                code = ord(esc)
            else:
                code = ord(text[end])
                end += 1
            if text.startswith("-", end) and end + 1 < len(text) and text[end + 1] != "]":
                if text[end + 1] == "\\":
                    raise _Unknown
                members.append((code, ord(text[end + 1])))
                end += 2
            else:
                members.append((code, code))
        if end >= len(text):
            raise _Unknown
        self.pos = end + 1
        for first_code, last_code in members:
            if last_code - first_code > 0x3000 or any(chr(c).isspace() for c in range(first_code, last_code + 1)):
                safe = False
        return safe

    def _group(self) -> tuple[bool, bool, str | None]:
        """Read a group; its contents count only when it is a plain group (capturing or not)."""
        text = self.text
        self.pos += 1
        counted = True
        if text.startswith("?", self.pos):
            if text.startswith("?:", self.pos):
                self.pos += 2
            elif text.startswith("?P<", self.pos):
                close = text.find(">", self.pos)
                if close < 0:
                    raise _Unknown
                self.pos = close + 1
            elif text[self.pos + 1:self.pos + 2] in ("=", "!") or text.startswith("?<=", self.pos) or text.startswith("?<!", self.pos):
                counted = False  # a lookaround matches no characters of its own
                self.pos += 3 if text[self.pos + 1] == "<" else 2
            else:
                raise _Unknown  # scoped flags, conditionals, comments
        literals, bound = len(self.literals), self.bound
        self.sequence(counted=counted)
        if self.pos >= len(text) or text[self.pos] != ")":
            raise _Unknown
        self.pos += 1
        if not counted:
            del self.literals[literals:]
            self.bound = bound
        return False, False, None  # a group as a whole is not one character (its contents were read)

    def _quantifier(self) -> tuple[int, int | None]:
        """Read a quantifier after an atom (lazy or possessive marks too): (least, most) repeats."""
        text = self.text
        if self.pos >= len(text):
            return 1, 1
        ch = text[self.pos]
        if ch in "*+?":
            self.pos += 1
            low, high = {"*": (0, None), "+": (1, None), "?": (0, 1)}[ch]
        elif ch == "{":
            match = re.match(r"\{(\d*)(?:(,)(\d*))?\}", text[self.pos:])
            if match is None:
                return 1, 1  # a literal `{`, as Python reads one that is not a repeat
            self.pos += match.end()
            low = int(match.group(1) or 0)
            high = low if match.group(2) is None else (int(match.group(3)) if match.group(3) else None)
        else:
            return 1, 1
        if self.pos < len(text) and text[self.pos] in "?+":
            self.pos += 1
        return low, high


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

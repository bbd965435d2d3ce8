"""Ollama release numbers: parse ``"0.12"`` / ``"v0.12.3"`` into a comparable `Version`.

Consumes version text from profiles, the command line and ``/api/version``;
produces frozen, ordered `Version` values. Also usable as a pydantic field type.
"""

from __future__ import annotations

import re
import typing as t

import msgspec

__all__ = ["NEWEST", "OLDEST", "Version"]

# Plain non-negative decimal numbers without leading zeros (semver's rule), ASCII only.
_NUMBER = r"(0|[1-9][0-9]*)"
_VERSION_RE = re.compile(rf"v?{_NUMBER}\.{_NUMBER}(?:\.{_NUMBER})?")
_EXPECTED = "expected MAJOR.MINOR or MAJOR.MINOR.PATCH, like '0.12' or '0.12.3'"


class Version(msgspec.Struct, frozen=True, order=True, gc=False):
    """One Ollama release, compared field by field.

    >>> Version.parse("v0.6.8") < Version.parse("0.12") <= Version(0, 12, 0)
    True
    >>> str(Version.parse("0.12"))
    '0.12.0'
    """

    major: int
    minor: int
    patch: int

    @classmethod
    def parse(cls, text: str) -> Version:
        """Parse ``X.Y`` (meaning ``X.Y.0``) or ``X.Y.Z``, with an optional leading ``v``.

        Args:
            text: The version as written, e.g. ``"0.12"``, ``"0.12.3"`` or ``"v0.6.8"``.

        Returns:
            The parsed version.

        Raises:
            ValueError: For anything else, with a message saying what was expected.

        >>> Version.parse("0.12.3")
        Version(major=0, minor=12, patch=3)
        >>> Version.parse("0.12.x")
        Traceback (most recent call last):
        ...
        ValueError: invalid Ollama version '0.12.x': expected MAJOR.MINOR or MAJOR.MINOR.PATCH, like '0.12' or '0.12.3'
        """
        if not isinstance(text, str):
            raise TypeError(f"Ollama version must be a string, not {type(text).__name__}")
        match = _VERSION_RE.fullmatch(text)
        if match is None:
            raise ValueError(f"invalid Ollama version {text!r}: {_why_invalid(text)}")
        major, minor, patch = match.groups()
        return cls(int(major), int(minor), int(patch or 0))

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}"

    # pydantic integration: a field typed `Version` accepts a Version or its text
    # and serialises to the text ("0.12.0"). pydantic_core is imported only when a
    # model using the type is built, so importing this module stays cheap.
    @classmethod
    def __get_pydantic_core_schema__(cls, source: t.Any, handler: t.Any) -> t.Any:
        from pydantic_core import core_schema

        return core_schema.no_info_plain_validator_function(
            _coerce_version, serialization=core_schema.to_string_ser_schema()
        )

    @classmethod
    def __get_pydantic_json_schema__(cls, schema: t.Any, handler: t.Any) -> dict[str, t.Any]:
        return {"type": "string", "pattern": _VERSION_RE.pattern, "examples": ["0.12", "0.12.3"]}


def _coerce_version(value: object) -> Version:
    if isinstance(value, Version):
        return value
    if isinstance(value, str):
        return Version.parse(value)
    raise ValueError(f"expected an Ollama version string, got {type(value).__name__}")


def _why_invalid(text: str) -> str:
    """Say in words why `text` is not a version (only called on failure)."""
    body = text[1:] if text[:1] in ("v", "V") else text
    if not text.strip():
        return f"the version is empty; {_EXPECTED}"
    if text != text.strip():
        return f"remove the surrounding spaces; {_EXPECTED}"
    if text[:1] == "V":
        return "write a lowercase 'v' or none, like 'v0.12.3' or '0.12.3'"
    parts = body.split(".")
    if all(part.isascii() and part.isdigit() for part in parts):
        if len(parts) == 1:
            return f"a bare major number is ambiguous; write at least MAJOR.MINOR, like '{body}.0'"
        if len(parts) > 3:
            return f"too many parts ({len(parts)}); {_EXPECTED}"
        if any(len(part) > 1 and part[0] == "0" for part in parts):
            return "numbers may not have leading zeros (write '1.2', not '01.2')"
    if "-" in body or "+" in body:
        return f"pre-release and build suffixes are not supported; {_EXPECTED}"
    return _EXPECTED


#: The newest Ollama release whose source the catalog was read from.
NEWEST = Version(0, 32, 15)
#: The oldest release the catalog covers: v0.0.1 and v0.0.2 had another API (`api/types.go`).
OLDEST = Version(0, 0, 3)

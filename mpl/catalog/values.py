"""One option value against the catalog: type, machine range and hard domain.

Consumes an `OptionSpec` and a Python value (a `Written` number keeps its text);
produces a `Verdict`: the value in Ollama's type, or the problems as data (code,
message, help), reported by the checker on syntax and by the API on overrides.
Float options are Go float32s, read as `strconv.ParseFloat(v, 32)` reads them:
correctly rounded from the decimal, out of range above max + half an ulp.
"""

from __future__ import annotations

import functools
import math
import re
import struct
import typing as t

import msgspec

if t.TYPE_CHECKING:
    from mpl.catalog import OptionSpec

__all__ = [
    "FLOAT32_MAX",
    "INT64_MAX",
    "INT64_MIN",
    "Problem",
    "Verdict",
    "Written",
    "float32_of",
    "read_prompt",
    "shortest_float32",
    "validate",
]

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
FLOAT32_MAX = 3.4028234663852886e38
# Max + half an ulp, (2 - 2**-24) * 2**127: Go rounds anything below it to the max.
_FLOAT32_LIMIT = 3.4028235677973366e38
# The literal syntax of the profile grammar (grammar/profile.lark NUMBER).
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
_INTEGER = re.compile(r"[+-]?\d+")


class Written(t.NamedTuple):
    """A number as written: its value and its text (``1e39``, ``0.70``)."""

    value: int | float
    text: str


class Problem(msgspec.Struct, frozen=True, gc=False):
    """One thing wrong (or worth a warning) with a value, as diagnostic data."""

    code: str
    message: str
    help: str | None = None
    severity: t.Literal["error", "warning"] = "error"
    index: int | None = None  # the list item at fault, if any
    data: dict[str, t.Any] = msgspec.field(default_factory=dict)


class Verdict(msgspec.Struct, frozen=True, gc=False):
    """The value in Ollama's JSON type (None when rejected) and the problems found."""

    value: t.Any
    problems: tuple[Problem, ...] = ()

    @property
    def error(self) -> Problem | None:
        """The first error, or None when the value is accepted."""
        return next((p for p in self.problems if p.severity == "error"), None)

    @property
    def ok(self) -> bool:
        return self.error is None


_TYPE_WORDS = {
    "int": "an integer",
    "float": "a number",
    "bool": "`true` or `false`",
    "string_list": 'a string or a list of strings, e.g. `["a", "b"]`',
}


# -- float32 ----------------------------------------------------------------------


def _round32(x: float) -> float:
    """`x` rounded to the nearest float32 (ties to even); OverflowError beyond it."""
    return t.cast(float, struct.unpack("<f", struct.pack("<f", x))[0])


def float32_of(text: str) -> float | None:
    """The float32 Go's ``strconv.ParseFloat(text, 32)`` gives for a decimal, or None if out of range.

    Rounded once, from the decimal (a double in between would round twice):

    >>> float32_of("1.000000059604644775390625"), float32_of("1.0000000596046447753906251")
    (1.0, 1.0000001192092896)
    >>> float32_of("3.4028235e38") == FLOAT32_MAX, float32_of("3.4028236e38"), float32_of("1e-46")
    (True, None, 0.0)
    """
    d = float(text)
    if math.isnan(d):
        return d
    if abs(d) >= _FLOAT32_LIMIT:
        if abs(d) > _FLOAT32_LIMIT or abs(_exact(text)) >= _FLOAT32_LIMIT:
            return None
        return math.copysign(FLOAT32_MAX, d)
    f = _round32(d)
    if f == d:
        return f
    other = 2 * d - f  # the float32 on d's other side, if d is exactly halfway
    if other != f and _round32(other) == other and abs(other) <= FLOAT32_MAX:
        exact = _exact(text)
        if exact > d:
            return max(f, other)
        if exact < d:
            return min(f, other)
    return f


def _exact(text: str) -> t.Any:
    """The exact rational value of a decimal (called only at a rounding tie)."""
    from decimal import Decimal
    from fractions import Fraction

    return Fraction(Decimal(text.strip()))


def float32_faithful(value: float, text: str) -> float:
    """The double of a decimal literal that rounds to the float32 the decimal itself rounds to.

    `float(text)` rounds once to a double; when that double lies exactly halfway between
    two float32s while the decimal does not, rounding it to float32 picks the wrong one
    (Go's ``strconv.ParseFloat(text, 32)`` rounds the decimal once). Then the double one
    step towards the right float32 is returned; any other double is returned as it is.

    >>> float32_faithful(0.7000000178813934, "0.70000001788139343")
    0.7000000178813933
    >>> float32_faithful(1.0000000596046448, "1.000000059604644775390625")
    1.0000000596046448
    """
    if not math.isfinite(value):
        return value
    wanted = float32_of(text)
    try:
        got = _round32(value)
    except OverflowError:
        return value
    if wanted is None or wanted == got:
        return value
    return math.nextafter(value, wanted)


def shortest_float32(value: float) -> float:
    """The float32 nearest `value`, as the double of its shortest decimal (what `repr` prints).

    >>> shortest_float32(0.1), shortest_float32(1.000000059604644775390625), shortest_float32(1e-46)
    (0.1, 1.0, 0.0)
    >>> repr(shortest_float32(0.7)), repr(shortest_float32(3.4028234663852886e38))
    ('0.7', '3.4028235e+38')

    Zero keeps its sign, whichever zero was seen first (a cache keyed by value
    would take -0.0 for 0.0, which compare equal):

    >>> shortest_float32(0.0), shortest_float32(-0.0)
    (0.0, -0.0)
    """
    if value == 0 or not math.isfinite(value):
        return value
    return _shortest_float32(value)


@functools.lru_cache(maxsize=1 << 16)
def _shortest_float32(value: float) -> float:
    # Cached: a program holds few distinct numbers (zero, where 0.0 == -0.0, never gets here).
    try:
        f = _round32(value)
    except OverflowError:
        return value  # out of range: an error already reported
    if f == 0:
        return f
    for digits in range(1, 10):
        text = f"{f:.{digits}g}"
        if float32_of(text) == f:
            return float(text)
    return f  # pragma: no cover - nine digits always round-trip a float32


# -- validation ----------------------------------------------------------------------


def read_prompt(spec: OptionSpec, value: t.Any) -> t.Any:
    """A value typed at a prompt (a string) read as the profile syntax would read it.

    ``"0.7"`` is the number 0.7, ``"true"`` the boolean; for `stop` a string stays a
    string. Anything else, including strings that are no literal, is returned unchanged.

    >>> from mpl.catalog import catalog
    >>> read_prompt(catalog().option("top_k"), " 20 "), read_prompt(catalog().option("use_mmap"), "false")
    (Written(value=20, text='20'), False)
    """
    if not isinstance(value, str) or spec.type == "string_list":
        return value
    text = value.strip()
    if text in ("true", "false"):
        return text == "true"
    if _NUMBER.fullmatch(text):
        return Written(_number(text), text)
    return value


def _number(text: str) -> int | float:
    if _INTEGER.fullmatch(text):
        try:
            return int(text)
        except ValueError:  # more digits than Python converts: far outside every range
            return math.copysign(math.inf, -1.0 if text.startswith("-") else 1.0)
    return float(text)


def _written(value: t.Any) -> t.Any:
    """Python numbers as `Written`; other values unchanged."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return value
    if isinstance(value, float):
        return Written(value, repr(value))
    try:
        return Written(value, str(value))
    except ValueError:  # beyond Python's int-to-text limit
        return Written(value, f"<a {value.bit_length()}-bit integer>")


def _describe(value: t.Any) -> str:
    match value:
        case Written(text=text):
            return f"`{text}`"
        case bool():
            return f"`{'true' if value else 'false'}`"
        case str():
            shown = value if len(value) <= 20 else value[:17] + "…"
            return f'the string "{shown}"'
        case list() | tuple():
            return "a list"
    return f"a {type(value).__name__}"


def validate(spec: OptionSpec, value: t.Any) -> Verdict:
    """The verdict on one value of one option: type, machine range, hard domain.

    `value` is a bool, an int, a float, a `Written` number, a string or a list of
    them. Numbers are checked as Ollama stores them (int64, float32); the accepted
    value comes back in Ollama's JSON type, floats as their float32's shortest form.

    >>> from mpl.catalog import catalog
    >>> validate(catalog().option("temperature"), 1e39).error.code
    'MPL306'
    >>> validate(catalog().option("stop"), "###").value
    ['###']
    """
    name = spec.name
    kind = str(spec.type)
    value = _written(value)
    if kind == "string_list":
        items = value if _is_list(value) else [value]
        for index, item in enumerate(items):
            if not isinstance(item, str):
                return _reject(
                    "MPL302", f"`{name}` takes strings, not {_describe(_written(item))}",
                    f"write {_TYPE_WORDS[kind]}", name, index=index if items is value else None,
                )
        return Verdict(list(items))
    if _is_list(value):
        return _reject("MPL302", f"`{name}` takes one value, not a list", f"write {_TYPE_WORDS[kind]}", name)
    if kind == "bool":
        if isinstance(value, bool):
            return Verdict(value)
        return _type_error(spec, value)
    if not isinstance(value, Written) or (kind == "int" and not isinstance(value.value, int)):
        return _type_error(spec, value)
    number, text = value
    text = _shown(text)
    if kind == "int":
        assert isinstance(number, int)
        if not INT64_MIN <= number <= INT64_MAX:
            return _reject("MPL306", f"`{text}` does not fit in a 64-bit integer", None, name)
        stored: int | float = number
    else:
        stored32 = _float32_value(number, text)
        if stored32 is None or not math.isfinite(stored32):
            return _reject(
                "MPL306", f"`{text}` is outside the range of a 32-bit float",
                "Ollama stores float options as float32", name,
            )
        stored = stored32
    if spec.domain is not None and not spec.domain.contains(stored):
        return _reject(
            "MPL303", f"`{name}` must be {spec.domain.describe()}; got `{text}`",
            _domain_help(spec), name, value=number,
        )
    if kind == "float":
        problems: tuple[Problem, ...] = ()
        if stored == 0 and not _is_zero(number):
            meaning = spec.special.get("0")
            problems = (Problem(
                "MPL308", f"`{text}` is too small for a 32-bit float: Ollama reads `{name}` as 0",
                help=f"0 means {meaning}; write 0 if that is meant" if meaning else "write 0 if that is meant",
                severity="warning", data={"parameter": name},
            ),)
        return Verdict(shortest_float32(stored), problems)
    return Verdict(stored)


def _shown(text: str) -> str:
    """A number's text, shortened when it is very long (a 401-digit literal)."""
    return text if len(text) <= 40 else f"{text[:12]}…{text[-4:]} ({len(text)} characters)"


def _is_list(value: t.Any) -> bool:
    return isinstance(value, (list, tuple)) and not isinstance(value, Written)


def _float32_value(number: int | float, text: str) -> float | None:
    if isinstance(number, int) and abs(number) > 2**129:
        return None  # far beyond float32, and too long for float()
    if isinstance(number, float) and not math.isfinite(number):
        return None
    return float32_of(text) if _NUMBER.fullmatch(text) else float32_of(repr(float(number)))


def _is_zero(number: int | float) -> bool:
    return number == 0


def _type_error(spec: OptionSpec, value: t.Any) -> Verdict:
    kind = str(spec.type)
    hint = _TYPE_WORDS[kind]
    if kind == "int" and isinstance(value, Written) and _integral(value.value):
        hint = f"`{int(value.value)}`: `{spec.name}` is an integer"
    return _reject("MPL302", f"`{spec.name}` takes {_TYPE_WORDS[kind]}, not {_describe(value)}", f"write {hint}", spec.name)


def _integral(number: int | float) -> bool:
    return isinstance(number, int) or (math.isfinite(number) and float(number).is_integer())


def _domain_help(spec: OptionSpec) -> str | None:
    specials = ", ".join(f"{k} = {v}" for k, v in spec.special.items())
    return f"{spec.description} ({specials})" if specials else spec.description


def _reject(code: str, message: str, help: str | None, name: str, *, index: int | None = None, **data: t.Any) -> Verdict:
    return Verdict(None, (Problem(code, message, help, index=index, data={"parameter": name, **data}),))

"""A test-side Modelfile reader that follows Ollama v0.32.15, written from ollama-facts.md.

Modelfile text in, parsed commands and the JSON body of the CLI's ``/api/create``
request out. It ports the rune-by-rune state machine of ``parser/parser.go``
(``ParseFile``, facts 1.2-1.7), ``Modelfile.CreateRequest`` with ``expandPath`` and the
REQUIRES check (facts 1.9-1.11), and ``api.FormatParams`` with Go's number parsers
(facts 2.1-2.2). It shares no code with ``mpl.targets.modelfile_text``, so tests can
use it as an independent judge of what the encoder writes.
"""

from __future__ import annotations

import hashlib
import math
import os
import pwd
import re
import stat
import typing as t
import unicodedata
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

# ---------------------------------------------------------------------------------------
# Errors and commands


class ModelfileError(Exception):
    """An error text exactly as Ollama prints it, with ``(line N): `` when it has a line."""

    def __init__(self, message: str, line: int | None = None) -> None:
        self.message = message
        self.line = line
        super().__init__(f"(line {line}): {message}" if line is not None else message)


@dataclass(frozen=True, slots=True)
class Command:
    """One parsed instruction, as Go's ``parser.Command`` stores it.

    ``name`` is ``model`` for FROM, the parameter name for PARAMETER, ``message`` for
    MESSAGE (``args`` is then ``"<role>: <text>"``), else the lower-cased keyword.
    """

    name: str
    args: str


COMMANDS = (
    "from",
    "license",
    "template",
    "system",
    "adapter",
    "draft",
    "renderer",
    "parser",
    "parameter",
    "message",
    "requires",
)
ROLES = ("system", "user", "assistant")

ERR_INVALID_COMMAND = (
    'command must be one of "from", "license", "template", "system", "adapter", '
    '"draft", "renderer", "parser", "parameter", "message", or "requires"'
)
ERR_INVALID_ROLE = 'message role must be one of "system", "user", or "assistant"'
ERR_EOF = "unexpected EOF"
ERR_NO_FROM = "no FROM line"
ERR_REQUIRES = "requires must be a valid semver (e.g. 0.14.0)"

# ---------------------------------------------------------------------------------------
# Character classes, as parser.go and Go's unicode/strconv packages define them


def _is_space(ch: str) -> bool:
    return ch == " " or ch == "\t"


def _is_newline(ch: str) -> bool:
    return ch == "\r" or ch == "\n"


def _is_alpha(ch: str) -> bool:
    return "a" <= ch <= "z" or "A" <= ch <= "Z"


def _is_digit(ch: str) -> bool:
    return "0" <= ch <= "9"


try:
    import unicodedata2 as _UNICODE_15

    assert _UNICODE_15.unidata_version == "15.0.0"
except ImportError:  # pragma: no cover - the test extra installs it
    _UNICODE_15 = unicodedata  # type: ignore[assignment]

_PRINT_CATEGORIES = frozenset(
    "Lu Ll Lt Lm Lo Mn Mc Me Nd Nl No Pc Pd Ps Pe Pi Pf Po Sm Sc Sk So".split()
)


def go_is_print(ch: str) -> bool:
    """Go ``strconv.IsPrint``: categories L, M, N, P, S and U+0020, from Unicode 15.0.0.

    Ollama's Go build has Unicode 15.0.0 tables; the test extra `unicodedata2==15.0.0`
    gives the reader the same ones on every Python (mpl itself ships its own table).

    >>> go_is_print("\\u00ad"), go_is_print("\\ufe0f"), go_is_print("\\t")
    (False, True, False)
    """
    return ch == " " or _UNICODE_15.category(ch) in _PRINT_CATEGORIES


# unicode.IsSpace: the ASCII/Latin-1 set plus the White_Space property.
_GO_SPACE = frozenset(
    "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007"
    "\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)


def go_trim_space(s: str) -> str:
    """Go ``strings.TrimSpace``: strip ``unicode.IsSpace`` characters from both ends."""
    start, end = 0, len(s)
    while start < end and s[start] in _GO_SPACE:
        start += 1
    while end > start and s[end - 1] in _GO_SPACE:
        end -= 1
    return s[start:end]


def unquote(s: str) -> tuple[str, bool]:
    """Port of parser.go ``unquote``: ``(value, complete)`` for a trimmed buffer.

    >>> q = '"'
    >>> unquote(3 * q + 'a' + 3 * q), unquote(4 * q), unquote(q + 'a'), unquote('a' + q)
    (('a', True), ('', False), ('', False), ('a"', True))
    """
    if s.startswith('"""'):
        if len(s) >= 6 and s.endswith('"""'):
            return s[3:-3], True
        return "", False
    if s.startswith('"'):
        if len(s) >= 2 and s.endswith('"'):
            return s[1:-1], True
        return "", False
    return s, True


# ---------------------------------------------------------------------------------------
# The state machine (facts 1.2-1.7)

_NIL, _NAME, _VALUE, _PARAMETER, _MESSAGE, _COMMENT = range(6)


class _UnexpectedEOF(Exception):
    """parseRuneForState returned io.ErrUnexpectedEOF (reported with the buffer, no line)."""


class _InvalidCommand(Exception):
    """parseRuneForState returned errInvalidCommand (reported with a line number)."""


def _next_state(ch: str, state: int) -> tuple[int, str | None]:
    """Port of ``parseRuneForState``: the next state and the rune to keep (None for 0)."""
    if state == _NIL:
        if ch == "#":
            return _COMMENT, None
        if _is_space(ch) or _is_newline(ch):
            return _NIL, None
        return _NAME, ch
    if state == _NAME:
        if _is_alpha(ch):
            return _NAME, ch
        if _is_space(ch):
            return _VALUE, None
        raise _InvalidCommand
    if state == _VALUE:
        if _is_newline(ch) or _is_space(ch):
            return _NIL, ch
        return _VALUE, ch
    if state == _PARAMETER:
        if _is_alpha(ch) or _is_digit(ch) or ch == "_":
            return _PARAMETER, ch
        if _is_space(ch):
            return _VALUE, None
        raise _UnexpectedEOF
    if state == _MESSAGE:
        if _is_alpha(ch):
            return _MESSAGE, ch
        if _is_space(ch):
            return _VALUE, None
        raise _UnexpectedEOF
    # _COMMENT
    if _is_newline(ch):
        return _NIL, None
    return _COMMENT, None


def parse_modelfile(text: str) -> list[Command]:
    """Parse Modelfile text exactly as Ollama v0.32.15's ``parser.ParseFile`` does.

    Args:
        text: The decoded file. A leading U+FEFF is taken as the byte-order mark the
            decoder skips.

    Returns:
        The commands in file order.

    Raises:
        ModelfileError: With the exact text and line number Ollama would report.

    >>> parse_modelfile('FROM llama3 # note\\nsystem " hi "\\n')
    [Command(name='model', args='llama3 # note'), Command(name='system', args=' hi ')]
    """
    if text.startswith("\ufeff"):
        text = text[1:]
    commands: list[Command] = []
    state = _NIL
    line = 1
    buf: list[str] = []
    name = ""
    role = ""

    for ch in text:
        if _is_newline(ch):
            line += 1  # before the character is handled: the line-number quirk of 1.7
        try:
            nxt, keep = _next_state(ch, state)
        except _UnexpectedEOF:
            raise ModelfileError(f"{ERR_EOF}: {''.join(buf)}") from None
        except _InvalidCommand:
            raise ModelfileError(ERR_INVALID_COMMAND, line) from None

        if nxt != state:
            if state == _NAME:
                word = "".join(buf).lower()
                if word not in COMMANDS:
                    raise ModelfileError(ERR_INVALID_COMMAND, line)
                if word == "from":
                    name = "model"
                elif word == "parameter":
                    nxt = _PARAMETER  # the name is set when the parameter name ends
                elif word == "message":
                    nxt = _MESSAGE
                    name = word
                else:
                    name = word
            elif state == _PARAMETER:
                name = "".join(buf)
            elif state == _MESSAGE:
                role = "".join(buf)
                if role not in ROLES:
                    raise ModelfileError(ERR_INVALID_ROLE, line)
            elif state == _VALUE:
                value, complete = unquote(go_trim_space("".join(buf)))
                assert keep is not None
                if not complete or _is_space(keep):
                    buf.append(keep)  # blanks always, and newlines inside open values
                    continue
                if role:
                    value = f"{role}: {value}"
                    role = ""
                commands.append(Command(name, value))
            buf.clear()
            state = nxt

        if keep is not None and go_is_print(keep):
            buf.append(keep)

    if state == _VALUE:
        value, complete = unquote(go_trim_space("".join(buf)))
        if not complete:
            raise ModelfileError(ERR_EOF)
        if role:
            value = f"{role}: {value}"
        commands.append(Command(name, value))
    elif state not in (_NIL, _COMMENT):
        raise ModelfileError(ERR_EOF)

    if not any(c.name == "model" for c in commands):
        raise ModelfileError(ERR_NO_FROM)
    return commands


# ---------------------------------------------------------------------------------------
# Go number parsing (strconv.ParseInt base 10, ParseBool, ParseFloat bitSize 32)

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_GO_INT10 = re.compile(r"[+-]?[0-9]+")  # ASCII digits only; no '_' unless base 0


def go_parse_int(s: str) -> int:
    """Go ``strconv.ParseInt(s, 10, 64)``.

    Raises:
        ValueError: On a syntax or range error.

    >>> go_parse_int("+5"), go_parse_int("-007")
    (5, -7)
    """
    if not _GO_INT10.fullmatch(s):
        raise ValueError(f"invalid syntax: {s!r}")
    value = int(s)
    if not _INT64_MIN <= value <= _INT64_MAX:
        raise ValueError(f"out of range: {s!r}")
    return value


_GO_BOOLS = {
    **dict.fromkeys(("1", "t", "T", "TRUE", "true", "True"), True),
    **dict.fromkeys(("0", "f", "F", "FALSE", "false", "False"), False),
}


def go_parse_bool(s: str) -> bool:
    """Go ``strconv.ParseBool``.

    Raises:
        ValueError: For anything outside ``1 t T TRUE true True 0 f F FALSE false False``.
    """
    try:
        return _GO_BOOLS[s]
    except KeyError:
        raise ValueError(f"invalid syntax: {s!r}") from None


def _common_prefix_len_ignore_case(s: str, prefix: str) -> int:
    n = 0
    for a, b in zip(s, prefix):
        if a.lower() != b or not a.isascii():
            break
        n += 1
    return n


def _go_special(s: str) -> tuple[float, int] | None:
    """Port of strconv ``special``: infinities and NaN, and how many characters they use."""
    if not s:
        return None
    sign, nsign, rest = 1.0, 0, s
    if s[0] in "+-":
        sign = -1.0 if s[0] == "-" else 1.0
        nsign, rest = 1, s[1:]
    if s[0] in "+-iI":
        n = _common_prefix_len_ignore_case(rest, "infinity")
        if 3 < n < 8:
            n = 3
        if n in (3, 8):
            return sign * math.inf, nsign + n
        return None
    if s[0] in "nN" and _common_prefix_len_ignore_case(s, "nan") == 3:
        return math.nan, 3
    return None


def _go_underscore_ok(s: str) -> bool:
    """Port of strconv ``underscoreOK``: '_' only between digits or after a base prefix."""
    saw = "^"
    i = 0
    if s[:1] in ("-", "+"):
        s = s[1:]
    hexa = False
    if len(s) >= 2 and s[0] == "0" and s[1] in "bBoOxX":
        i, saw, hexa = 2, "0", s[1] in "xX"
    while i < len(s):
        c = s[i]
        if _is_digit(c) or (hexa and c in "abcdefABCDEF"):
            saw = "0"
        elif c == "_":
            if saw != "0":
                return False
            saw = "_"
        else:
            if saw == "_":
                return False
            saw = "!"
        i += 1
    return saw != "_"


def _go_read_float(s: str) -> tuple[bool, Fraction, int] | None:
    """Port of strconv ``readFloat``: sign, exact magnitude and characters consumed.

    Returns None where Go's ``ok`` is false. Unlike Go this keeps every digit exactly;
    Go's result is correctly rounded, so the rounding step gives the same number.
    """
    n = len(s)
    i = 0
    neg = False
    underscores = False
    if i >= n:
        return None
    if s[i] == "+":
        i += 1
    elif s[i] == "-":
        neg = True
        i += 1
    base, exp_chars, hexa = 10, "eE", False
    if i + 2 < n and s[i] == "0" and s[i + 1] in "xX":
        base, exp_chars, hexa = 16, "pP", True
        i += 2
    saw_dot = saw_digits = False
    mantissa = 0
    fraction_digits = 0
    while i < n:
        c = s[i]
        if c == "_":
            underscores = True
            i += 1
            continue
        if c == ".":
            if saw_dot:
                break
            saw_dot = True
            i += 1
            continue
        if _is_digit(c):
            digit = ord(c) - ord("0")
        elif hexa and c in "abcdefABCDEF":
            digit = int(c, 16)
        else:
            break
        saw_digits = True
        mantissa = mantissa * base + digit
        if saw_dot:
            fraction_digits += 1
        i += 1
    if not saw_digits:
        return None

    exponent = 0
    if i < n and s[i] in exp_chars:
        i += 1
        if i >= n:
            return None
        esign = 1
        if s[i] == "+":
            i += 1
        elif s[i] == "-":
            i += 1
            esign = -1
        if i >= n or not _is_digit(s[i]):
            return None
        while i < n and (_is_digit(s[i]) or s[i] == "_"):
            if s[i] == "_":
                underscores = True
            elif exponent < 10000:  # Go stops accumulating here
                exponent = exponent * 10 + ord(s[i]) - ord("0")
            i += 1
        exponent *= esign
    elif hexa:
        return None  # a hexadecimal mantissa needs a 'p' exponent

    if underscores and not _go_underscore_ok(s[:i]):
        return None

    if hexa:
        magnitude = Fraction(mantissa, 16**fraction_digits) * Fraction(2) ** exponent
    else:
        magnitude = Fraction(mantissa, 10**fraction_digits) * Fraction(10) ** exponent
    return neg, magnitude, i


_F32_MAX = Fraction((2**24 - 1) * 2**104)


def _round_to_float32(q: Fraction) -> Fraction:
    """Round a positive exact value to the nearest float32 (ties to even), unbounded above."""
    e = q.numerator.bit_length() - q.denominator.bit_length()
    if q < Fraction(2) ** e:
        e -= 1
    quantum = Fraction(2) ** (max(e, -126) - 23)
    return round(q / quantum) * quantum  # Fraction.__round__ rounds half to even


def go_parse_float32(s: str) -> float:
    """Go ``strconv.ParseFloat(s, 32)``, returned as the (exact) float32 value.

    Raises:
        ValueError: On a syntax error, or when the value is beyond float32 range.

    >>> go_parse_float32("0x1p-2"), go_parse_float32("1_0"), go_parse_float32("-Inf")
    (0.25, 10.0, -inf)
    """
    special = _go_special(s)
    if special is not None:
        value, used = special
        if used != len(s):
            raise ValueError(f"invalid syntax: {s!r}")
        return value
    read = _go_read_float(s)
    if read is None or read[2] != len(s):
        raise ValueError(f"invalid syntax: {s!r}")
    neg, magnitude, _ = read
    if magnitude == 0:
        return -0.0 if neg else 0.0
    rounded = _round_to_float32(magnitude)
    if rounded > _F32_MAX:
        raise ValueError(f"value out of range: {s!r}")
    return -float(rounded) if neg else float(rounded)


def float32_json_number(x: float) -> float:
    """The number a JSON reader gets from Go's encoding of ``float32(x)``.

    Go writes a float32 with the fewest digits that identify it, so ``0.7`` travels as
    ``0.7`` (not 0.699999988...).

    >>> float32_json_number(go_parse_float32("0.7"))
    0.7
    """
    if x == 0 or not math.isfinite(x):
        return x
    exact = Fraction(abs(x))
    for digits in range(1, 10):
        text = f"{abs(x):.{digits - 1}e}"
        if _round_to_float32(Fraction(text)) == exact:
            return math.copysign(float(text), x)
    raise AssertionError(f"{x!r} is not a float32 value")


# ---------------------------------------------------------------------------------------
# api.FormatParams (facts 2.1) and the deprecated names (facts 2.2)

FLOAT32_OPTIONS = frozenset(
    "temperature top_p min_p typical_p repeat_penalty presence_penalty frequency_penalty".split()
)
INT_OPTIONS = frozenset(
    "num_keep seed num_predict top_k repeat_last_n num_ctx num_batch num_gpu num_thread "
    "draft_num_predict main_gpu".split()
)
BOOL_OPTIONS = frozenset({"use_mmap"})
LIST_OPTIONS = frozenset({"stop"})
OPTIONS = FLOAT32_OPTIONS | INT_OPTIONS | BOOL_OPTIONS | LIST_OPTIONS  # the 20 keys of v0.32.15

DEPRECATED_PARAMETERS = (
    "penalize_newline",
    "low_vram",
    "f16_kv",
    "logits_all",
    "vocab_only",
    "use_mlock",
    "mirostat",
    "mirostat_tau",
    "mirostat_eta",
)


def format_params(params: dict[str, list[str]]) -> dict[str, t.Any]:
    """Port of ``api.FormatParams`` at v0.32.15: type each option's first value.

    Args:
        params: Option name to the values written for it (only the first is used,
            except for ``stop``, which keeps the whole list).

    Returns:
        Option name to its JSON value: float32 options as the number a JSON reader
        gets (inf and NaN stay as Python floats), ints as int, ``use_mmap`` as bool,
        ``stop`` as a list of strings.

    Raises:
        ModelfileError: ``unknown parameter '<name>'`` or ``invalid <kind> value [<v>]``.

    >>> format_params({"num_ctx": ["+4096"], "temperature": ["1e-3"], "stop": ["<|im_end|>"]})
    {'num_ctx': 4096, 'temperature': 0.001, 'stop': ['<|im_end|>']}
    """
    out: dict[str, t.Any] = {}
    for key, values in params.items():
        shown = "[" + " ".join(values) + "]"  # Go prints the []string with %s
        if key not in OPTIONS:
            raise ModelfileError(f"unknown parameter '{key}'")
        if key in LIST_OPTIONS:
            out[key] = list(values)
            continue
        try:
            if key in FLOAT32_OPTIONS:
                kind = "float"
                out[key] = float32_json_number(go_parse_float32(values[0]))
            elif key in INT_OPTIONS:
                kind = "int"
                out[key] = go_parse_int(values[0])
            else:
                kind = "bool"
                out[key] = go_parse_bool(values[0])
        except ValueError:
            raise ModelfileError(f"invalid {kind} value {shown}") from None
    return out


# ---------------------------------------------------------------------------------------
# golang.org/x/mod/semver IsValid (facts 1.11)


def _semver_int(v: str) -> str | None:
    """Port of semver ``parseInt``: the rest after one number without leading zeros."""
    i = 0
    while i < len(v) and _is_digit(v[i]):
        i += 1
    if i == 0 or (v[0] == "0" and i != 1):
        return None
    return v[i:]


def _semver_ident_char(c: str) -> bool:
    return _is_alpha(c) or _is_digit(c) or c == "-"


def _semver_bad_num(v: str) -> bool:
    return v.isascii() and v.isdigit() and len(v) > 1 and v[0] == "0"


def _semver_dotted(v: str, stop: str, numeric_rule: bool) -> str | None:
    """Port of ``parsePrerelease`` / ``parseBuild`` after the leading '-' or '+'."""
    i = start = 1
    while i < len(v) and v[i] not in stop:
        if not _semver_ident_char(v[i]) and v[i] != ".":
            return None
        if v[i] == ".":
            if start == i or (numeric_rule and _semver_bad_num(v[start:i])):
                return None
            start = i + 1
        i += 1
    if start == i or (numeric_rule and _semver_bad_num(v[start:i])):
        return None
    return v[i:]


def semver_is_valid(v: str) -> bool:
    """``semver.IsValid``: ``vMAJOR[.MINOR[.PATCH[-pre][+build]]]``, no leading zeros.

    >>> [semver_is_valid(v) for v in ("v1", "v0.14", "v0.14.0-rc1+b", "v01.2.3", "v0.14-rc1")]
    [True, True, True, False, False]
    """
    if not v.startswith("v"):
        return False
    rest = _semver_int(v[1:])
    if rest is None:
        return False
    for _ in range(2):  # minor, then patch; each may end the version
        if rest == "":
            return True
        if rest[0] != ".":
            return False
        rest = _semver_int(rest[1:])
        if rest is None:
            return False
    if rest.startswith("-"):
        rest = _semver_dotted(rest, "+", numeric_rule=True)
        if rest is None:
            return False
    if rest.startswith("+"):
        rest = _semver_dotted(rest, "", numeric_rule=False)
        if rest is None:
            return False
    return rest == ""


# ---------------------------------------------------------------------------------------
# Modelfile.CreateRequest (facts 1.9-1.10)


def expand_path(path: str, relative_dir: Path) -> Path:
    """Port of ``expandPath``: absolute, ``~``, ``~user`` or relative to the Modelfile folder.

    Raises:
        ModelfileError: ``failed to find user '<name>': ...`` for an unknown ``~name``.
    """
    if os.path.isabs(path) or path.startswith(("\\", "/")):
        return Path(_go_abs(path))
    if path.startswith("~"):
        if path == "~" or path.startswith("~/"):
            home = pwd.getpwuid(os.getuid()).pw_dir
            rest = path[1:]
        else:
            user, _, rest = path[1:].partition("/")
            try:
                home = pwd.getpwnam(user).pw_dir
            except KeyError:
                raise ModelfileError(
                    f"failed to find user '{user}': user: unknown user {user}"
                ) from None
        return Path(_go_abs(os.path.join(home, rest.lstrip("/")) if rest else home))
    return Path(_go_abs(os.path.join(str(relative_dir), path)))


def _go_abs(path: str) -> str:
    """Go ``filepath.Abs``: join with the working directory, then clean lexically."""
    cleaned = os.path.abspath(path)
    if cleaned.startswith("//"):  # Go's Clean keeps one leading slash; POSIX normpath two
        cleaned = "/" + cleaned.lstrip("/")
    return cleaned


def _digest_map(path: Path) -> dict[str, str]:
    """``fileDigestMap`` for one file: ``{basename: "sha256:<hex>"}``.

    Raises:
        FileNotFoundError: When nothing exists at ``path`` (Go's os.ErrNotExist).
        ModelfileError: For other stat failures, as Go's ``stat <path>: <reason>``.
        NotImplementedError: For a folder (Ollama picks its model files; not ported).
    """
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise
    except OSError as err:
        raise ModelfileError(f"stat {path}: {(err.strerror or str(err)).lower()}") from None
    if stat.S_ISDIR(info.st_mode):
        raise NotImplementedError(f"FROM/ADAPTER folder {path}: filesForModel is not ported")
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return {path.name: f"sha256:{digest.hexdigest()}"}


@dataclass
class _Request:
    from_: str = ""
    files: dict[str, str] = field(default_factory=dict)
    adapters: dict[str, str] = field(default_factory=dict)
    template: str = ""
    system: str = ""
    renderer: str = ""
    parser: str = ""
    requires: str = ""
    licenses: list[str] = field(default_factory=list)
    messages: list[dict[str, str]] = field(default_factory=list)
    parameters: dict[str, t.Any] = field(default_factory=dict)


def create_request(
    commands: t.Sequence[Command],
    modelfile_dir: Path,
    *,
    warnings: list[str] | None = None,
) -> dict[str, t.Any]:
    """Port of the Go CLI's ``Modelfile.CreateRequest`` (v0.32.15).

    Args:
        commands: Parsed commands, in file order.
        modelfile_dir: The folder of the Modelfile; relative FROM and ADAPTER paths are
            resolved against it.
        warnings: When given, the CLI's stdout warnings for deprecated parameters
            (``warning: parameter <name> is deprecated``) are appended to it.

    Returns:
        The JSON body the CLI sends to ``/api/create``, without ``model`` (and without
        ``stream``/``quantize``, which come from the command line). Empty fields are
        left out, as Go's ``omitempty`` does.

    Raises:
        ModelfileError: With the CLI's error text. Includes
            ``json: unsupported value: +Inf`` (or ``-Inf``, ``NaN``) when a float
            parameter is infinite or NaN: FormatParams accepts it, JSON encoding fails.
    """
    relative_dir = Path(_go_abs(str(modelfile_dir)))
    req = _Request()
    for cmd in commands:
        name, args = cmd.name, cmd.args
        if name == "model":
            try:
                files = _digest_map(expand_path(args, relative_dir))
            except FileNotFoundError:
                req.from_ = args
                continue
            req.files.update(files)
        elif name == "adapter":
            path = expand_path(args, relative_dir)
            try:
                req.adapters = _digest_map(path)  # replaced, not merged: last ADAPTER wins
            except FileNotFoundError:
                raise ModelfileError(f"stat {path}: no such file or directory") from None
        elif name in ("template", "system", "renderer", "parser"):
            setattr(req, name, args)
        elif name == "license":
            req.licenses.append(args)
        elif name == "requires":
            version = args if args.startswith("v") else "v" + args
            if not semver_is_valid(version):
                raise ModelfileError(ERR_REQUIRES)
            req.requires = version[1:]
        elif name == "message":
            role, _, content = args.partition(": ")
            req.messages.append({"role": role, "content": content})
        elif name == "draft":
            raise NotImplementedError("DRAFT (draft_files) is outside this reader's scope")
        elif name in DEPRECATED_PARAMETERS:
            if warnings is not None:
                warnings.append(f"warning: parameter {name} is deprecated")
        else:
            for key, value in format_params({name: [args]}).items():
                if isinstance(value, list) and isinstance(req.parameters.get(key), list):
                    req.parameters[key] = req.parameters[key] + value
                else:
                    req.parameters[key] = value

    for value in req.parameters.values():
        if isinstance(value, float) and not math.isfinite(value):
            shown = "NaN" if math.isnan(value) else ("+Inf" if value > 0 else "-Inf")
            raise ModelfileError(f"json: unsupported value: {shown}")

    body: dict[str, t.Any] = {}
    # Field order of api.CreateRequest; every field is omitempty.
    for key, value in (
        ("from", req.from_),
        ("files", req.files),
        ("adapters", req.adapters),
        ("template", req.template),
        ("license", req.licenses),
        ("system", req.system),
        ("parameters", req.parameters),
        ("messages", req.messages),
        ("renderer", req.renderer),
        ("parser", req.parser),
        ("requires", req.requires),
    ):
        if value:
            body[key] = value
    return body

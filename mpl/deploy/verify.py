"""Read `/api/show` back into a `ModelState` and compare it with what was compiled.

Consumes the raw `/api/show` JSON (fetched over plain HTTP: the Python client's
`ShowResponse` in ollama-python's `ollama/_types.py` drops `system`, `messages` and `requires`) and
an expected `ModelState`; produces the list of `Difference`s. The `parameters`
text is one line per value: the key padded to 30 characters, a space, then Go's
`%#v` of the value; lines come in random order, and a list gives one line per
element (§4.5):

    num_ctx                        16384
    stop                           "<|im_end|>"
    temperature                    0
"""

from __future__ import annotations

import math
import re
import typing as t
from dataclasses import dataclass

from mpl.catalog import ValueType, catalog
from mpl.targets.ollama import ModelState

_BLOB_DIGEST = re.compile(r"sha256[-:]([0-9a-fA-F]{64})\s*$")
_GO_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", "\\": "\\", '"': '"', "'": "'"}


def go_unquote(text: str) -> str:
    """Undo Go's `strconv.Quote` (`%#v` of a string).

    >>> go_unquote('"a\\\\tb\\\\x01\\\\u00a0\\\\"q\\\\""')
    'a\\tb\\x01\\xa0"q"'

    Raises:
        ValueError: The text is not a Go double-quoted string.
    """
    if len(text) < 2 or text[0] != '"' or text[-1] != '"':
        raise ValueError(f"not a Go string: {text!r}")
    body = text[1:-1]
    out: list[str] = []
    i = 0
    while i < len(body):
        ch = body[i]
        if ch != "\\":
            out.append(ch)
            i += 1
            continue
        kind = body[i + 1 : i + 2]
        if kind in _GO_ESCAPES:
            out.append(_GO_ESCAPES[kind])
            i += 2
        elif kind in ("x", "u", "U"):
            width = {"x": 2, "u": 4, "U": 8}[kind]
            digits = body[i + 2 : i + 2 + width]
            if not re.fullmatch(f"[0-9a-fA-F]{{{width}}}", digits) or int(digits, 16) > 0x10FFFF:
                raise ValueError(f"bad \\{kind} escape in {text!r}")
            out.append(chr(int(digits, 16)))
            i += 2 + width
        elif re.fullmatch("[0-7]{3}", body[i + 1 : i + 4]):  # octal \NNN (Unquote reads it; Quote never writes it)
            out.append(chr(int(body[i + 1 : i + 4], 8)))
            i += 4
        else:
            raise ValueError(f"unknown escape in {text!r}")
    return "".join(out)


def parse_parameters(text: str) -> dict[str, t.Any]:
    """The `parameters` text of `/api/show` as values in Ollama's JSON types.

    Numbers come back as Python numbers typed by the catalog (ints for int
    options), `stop` always as a list, in line order.

    >>> parse_parameters('num_ctx                        1e+06\\nstop                           "a"\\ntemperature                    0.7')
    {'num_ctx': 1000000, 'stop': ['a'], 'temperature': 0.7}
    """
    values: dict[str, list[t.Any]] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        key, _, raw = line.partition(" ")
        raw = raw.strip(" ")
        values.setdefault(key, []).append(_go_value(raw))
    return {key: _typed(key, items) for key, items in values.items()}


def _go_value(raw: str) -> t.Any:
    """One `%#v` value: a Go string, a bool, a float64 (`40`, `0.7`, `1e+06`, `+Inf`, `NaN`).

    Anything else (a value stored through the API with another JSON type, e.g. an
    object, prints as `map[string]interface {}{…}`) is kept as its text, so that it
    compares as different instead of failing the build.
    """
    try:
        if raw.startswith('"'):
            return go_unquote(raw)
        if raw in ("true", "false"):
            return raw == "true"
        if re.fullmatch(r"[+-]?(\d+(\.\d*)?([eE][+-]?\d+)?|Inf|NaN)", raw):
            return float(raw)
    except ValueError:
        pass
    return _Unparsed(raw)


class _Unparsed(str):
    """A `%#v` text that is not a string, bool or number; equal to nothing compiled."""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Unparsed) and str.__eq__(self, other)

    def __ne__(self, other: object) -> bool:
        return not self == other

    __hash__ = str.__hash__

    def __repr__(self) -> str:
        return str.__str__(self)


def _typed(key: str, items: list[t.Any]) -> t.Any:
    spec = catalog().option(key)
    kind = spec.type if spec is not None else None
    if kind is ValueType.STRING_LIST or len(items) > 1:
        return items
    value = items[0]
    if kind is ValueType.INT and isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def state_from_show(show: t.Mapping[str, t.Any]) -> ModelState:
    """The `ModelState` of a model as `/api/show` reports it.

    A field of another JSON type than Ollama sends counts as absent (a hostile or
    broken server gets differences reported, not a traceback); the architecture,
    which messages name, is made `visible`.

    >>> state_from_show({"details": "x", "messages": [1, {"role": "user"}], "model_info": {"general.architecture": "a\\x1b"}}).architecture
    'a\\\\x1b'
    """
    from mpl.deploy.untrusted import visible

    info = _mapping(show.get("model_info"))
    details = _mapping(show.get("details"))
    architecture = info.get("general.architecture") or details.get("family") or None
    adapters: list[str] = []
    model_digest = None
    for line in str(show.get("modelfile") or "").splitlines():
        match = _BLOB_DIGEST.search(line)
        if match is None:
            continue
        digest = "sha256:" + match.group(1).lower()
        if line.startswith("ADAPTER "):
            adapters.append(digest)
        elif line.startswith("FROM ") and model_digest is None:
            model_digest = digest
    messages = tuple((str(m.get("role", "")), str(m.get("content", ""))) for m in _list(show.get("messages")) if isinstance(m, dict))
    return ModelState(
        exists=True,
        architecture=visible(architecture, 80) if isinstance(architecture, str) else None,
        parameters=parse_parameters(str(show.get("parameters") or "")),
        system=str(show.get("system") or ""),
        template=str(show.get("template") or ""),
        license=str(show.get("license") or ""),
        messages=messages,
        adapters=tuple(adapters),
        requires=_string(show.get("requires")),
        parent=_string(details.get("parent_model")),
        model_digest=model_digest,
    )


def _mapping(value: t.Any) -> t.Mapping[str, t.Any]:
    return value if isinstance(value, dict) else {}


def _list(value: t.Any) -> list[t.Any]:
    return value if isinstance(value, list) else []


def _string(value: t.Any) -> str | None:
    return value if isinstance(value, str) and value else None


@dataclass(frozen=True, slots=True)
class Difference:
    """One way the model on the server differs: `field` ("parameters", "system", …), `key` for a parameter."""

    field: str
    key: str | None
    expected: t.Any
    got: t.Any

    def describe(self) -> str:
        if self.field == "architecture":
            return (f"its adapter is for architecture {self.got!r}, but the base pulled during the create is "
                    f"{self.expected!r}; the model will fail at load (`model arch and LoRA arch mismatch`)")
        from mpl.deploy.untrusted import visible

        what = f"parameter `{visible(self.key, 80)}`" if self.key else self.field  # a key may be the server's
        if self.got is _MISSING:
            return f"{what} is missing on the server (expected {_show(self.expected)})"
        if self.expected is _MISSING:
            return f"{what} is {_show(self.got)} on the server but was not compiled"
        return f"{what} is {_show(self.got)} on the server, expected {_show(self.expected)}"


_MISSING: t.Any = type("_Missing", (), {"__repr__": lambda self: "<missing>"})()


def _show(value: t.Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "…"


def compare(expected: ModelState, got: ModelState) -> list[Difference]:
    """Differences between the expected state and the server's.

    Where `expected` is not `complete` (its base was unknown), the server must
    hold at least the known parameters, end with the known licenses and carry
    the known adapters.
    """
    diffs: list[Difference] = []
    for key, value in expected.parameters.items():
        if key not in got.parameters:
            diffs.append(Difference("parameters", key, value, _MISSING))
        elif not same_value(value, got.parameters[key]):
            diffs.append(Difference("parameters", key, value, got.parameters[key]))
    if expected.complete:
        diffs += [Difference("parameters", key, _MISSING, value) for key, value in got.parameters.items() if key not in expected.parameters]
    for name in ("system", "template", "requires"):
        want = getattr(expected, name)
        have = getattr(got, name)
        if want is not None and want != (have or ""):
            diffs.append(Difference(name, None, want, have))
    if expected.messages is not None and expected.messages != got.messages:
        diffs.append(Difference("messages", None, list(expected.messages), list(got.messages or ())))
    if expected.license != got.license and (expected.complete or not got.license.endswith(expected.license)):
        diffs.append(Difference("license", None, expected.license, got.license))
    if expected.adapters != got.adapters and (expected.complete or not set(expected.adapters) <= set(got.adapters)):
        diffs.append(Difference("adapters", None, list(expected.adapters), list(got.adapters)))
    return diffs


def same_value(want: t.Any, got: t.Any) -> bool:
    """Equal as Ollama stores them: numbers as float64, bools apart from numbers, lists elementwise.

    >>> same_value(0.0, 0), same_value(True, 1.0), same_value(["a", "b"], ["b", "a"]), same_value(16384, 16384.0)
    (True, False, True, True)
    >>> same_value(["a", "a"], ["a", "b"])
    False
    """
    if isinstance(want, bool) or isinstance(got, bool):
        return isinstance(want, bool) and isinstance(got, bool) and want == got
    if isinstance(want, (int, float)) and isinstance(got, (int, float)):
        return float(want) == float(got) or (math.isnan(float(want)) and math.isnan(float(got)))
    if isinstance(want, (list, tuple)) and isinstance(got, (list, tuple)):
        # `/api/show` prints one line per element, and its lines come in random order
        # (`ShowHandler` in `server/routes.go` prints a map): a list is compared as a multiset. For `stop`,
        # the only list option, order has no meaning to Ollama either.
        if len(want) != len(got):
            return False
        rest = list(got)
        for a in want:
            match = next((i for i, b in enumerate(rest) if same_value(a, b)), None)
            if match is None:
                return False
            del rest[match]
        return True
    return want == got

"""A fake Ollama server for tests: real HTTP on a loopback port, behaving as Ollama v0.32.15 does.

It serves the model-management API that `mpl build --target ollama` uses (version, blobs,
create, show, tags, delete, pull), with the status codes, error texts, NDJSON progress
streams and inheritance rules of the shared `ollama-facts.md` §4, §6 and §1.12. Blobs live
on disk under a temporary "models" folder, and GGUF uploads are read with `gguf.GGUFReader`.

    with FakeOllama() as server:                      # or the `fake_ollama` fixture
        client = ollama.Client(host=server.url)
        digest = client.create_blob("adapter.gguf")
        client.create("m", from_="qwen2.5-coder:7b", adapters={"adapter.gguf": digest})

Fault injection: `fail_next`, `stream_error_after`, `delay_seconds`, `drop_connection_on`,
`answer_with` (any raw answer: garbage, huge, dripping, dripped headers, a redirect, any bytes on
the wire) and `cut_upload_after`
(see `FakeOllama`). `/api/chat` and `/api/generate` stream NDJSON as Ollama does, from a
deterministic stand-in for a model: its answer depends on the model, the messages and the
options (seed and temperature), so tests can tell arms and seeds apart; `answers`, an `echo`
model, `token_delay` and `chat_error_after` control it (see `FakeOllama`). Known gaps: no real
inference, no safetensors conversion, quantization only changes the reported level, no
`/api/copy` or `/api/push` (501).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import random
import re
import socket
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from mpl.catalog.characters import printable

__all__ = [
    "FakeOllama",
    "Layer",
    "ModelName",
    "QWEN_CODER_7B",
    "RecordedRequest",
    "RegistryModel",
    "StoredModel",
    "fake_ollama",
    "go_float",
    "go_quote",
    "parse_show_parameters",
]

# ---------------------------------------------------------------------------
# Go formatting helpers (fmt %v / %#v / %q, encoding/json)
# ---------------------------------------------------------------------------


def go_quote(s: str) -> str:
    """Go's `strconv.Quote` (also `%q` and `%#v` of a string).

    >>> go_quote('say "hi"\\n')
    '"say \\\\"hi\\\\"\\\\n"'
    >>> go_quote("<|eot_id|>")
    '"<|eot_id|>"'
    """
    out = ['"']
    short = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v"}
    for ch in s:
        if ch == '"' or ch == "\\":
            out.append("\\" + ch)
        elif printable(ch):  # Go's strconv.IsPrint, Unicode 15.0.0: L, M, N, P, S and U+0020
            out.append(ch)
        elif ch in short:
            out.append(short[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) < 0x10000:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    out.append('"')
    return "".join(out)


def _shortest_digits(x: float) -> tuple[str, int]:
    """Shortest round-trip decimal digits of abs(x) > 0 and the decimal point position."""
    mantissa, _, exp = repr(abs(x)).partition("e")
    int_part, _, frac = mantissa.partition(".")
    digits = str(int(int_part + frac))
    stripped = digits.rstrip("0")
    exp10 = (int(exp) if exp else 0) - len(frac) + (len(digits) - len(stripped))
    return stripped, len(stripped) + exp10


def go_float(x: float) -> str:
    """Go `%v` of a float64: shortest digits, exponent form below 1e-4 and from 1e6 up.

    >>> [go_float(v) for v in (40, 0.7, 1e6, 1234567, 1e-05, 0.0001, -2.5, 123456)]
    ['40', '0.7', '1e+06', '1.234567e+06', '1e-05', '0.0001', '-2.5', '123456']
    """
    x = float(x)
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "+Inf" if x > 0 else "-Inf"
    sign = "-" if math.copysign(1.0, x) < 0 else ""
    if x == 0:
        return sign + "0"
    digits, dp = _shortest_digits(x)
    exp = dp - 1
    if exp < -4 or exp >= 6:  # strconv 'g' with shortest precision uses eprec 6
        mant = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{sign}{mant}e{'-' if exp < 0 else '+'}{abs(exp):02d}"
    if dp <= 0:
        return f"{sign}0.{'0' * -dp}{digits}"
    if dp >= len(digits):
        return sign + digits + "0" * (dp - len(digits))
    return f"{sign}{digits[:dp]}.{digits[dp:]}"


def _go_json_float(x: float) -> str:
    """encoding/json's float64 form: 'f' unless < 1e-6 or >= 1e21, then 'e' with e-7 not e-07."""
    if math.isnan(x) or math.isinf(x):
        raise ValueError(f"json: unsupported value: {go_float(x)}")
    if x == 0:
        return "-0" if math.copysign(1.0, x) < 0 else "0"
    digits, dp = _shortest_digits(x)
    sign = "-" if x < 0 else ""
    if abs(x) < 1e-6 or abs(x) >= 1e21:
        exp = dp - 1
        mant = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{sign}{mant}e{'-' if exp < 0 else '+'}{abs(exp):02d}".replace("e-0", "e-")
    if dp <= 0:
        return f"{sign}0.{'0' * -dp}{digits}"
    if dp >= len(digits):
        return sign + digits + "0" * (dp - len(digits))
    return f"{sign}{digits[:dp]}.{digits[dp:]}"


def go_json(value: Any) -> str:
    """Serialize like Go's encoding/json: compact, HTML-escaped, floats without `.0`.

    Dict key order is kept (Go structs); pass `sorted` dicts where Go marshals a map.
    """
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _go_json_float(value)
    if isinstance(value, str):
        text = json.dumps(value, ensure_ascii=False)
        return (
            text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
        )
    if isinstance(value, Mapping):
        return "{" + ",".join(f"{go_json(str(k))}:{go_json(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(go_json(v) for v in value) + "]"
    raise TypeError(f"cannot encode {type(value).__name__}")


def _sorted_map(value: Any) -> Any:
    """Sort dict keys recursively, as Go marshals map[string]any."""
    if isinstance(value, Mapping):
        return {k: _sorted_map(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [_sorted_map(v) for v in value]
    return value


def _go_sharp_v(value: Any) -> str:
    """Go `%#v` of a value decoded from JSON into `any`."""
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return go_float(value)
    if isinstance(value, str):
        return go_quote(value)
    if isinstance(value, list):
        return "[]interface {}{" + ", ".join(_go_sharp_v(v) for v in value) + "}"
    if isinstance(value, Mapping):
        items = ", ".join(f"{go_quote(k)}:{_go_sharp_v(value[k])}" for k in sorted(value))
        return "map[string]interface {}{" + items + "}"
    return repr(value)


def _go_v(value: Any) -> str:
    """Go `%v` of a value decoded from JSON into `any`."""
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return go_float(value)
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "[" + " ".join(_go_v(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "map[" + " ".join(f"{k}:{_go_v(value[k])}" for k in sorted(value)) + "]"
    return str(value)


def _modelfile_quote(s: str) -> str:
    """parser.quote: wrap only for LF or edge spaces; triple quotes if it contains '"'."""
    if "\n" in s or s.startswith(" ") or s.endswith(" "):
        return f'"""{s}"""' if '"' in s else f'"{s}"'
    return s


def _rfc3339_nano(ns: int) -> str:
    """Go's time.Time JSON form in the local zone, e.g. 2026-01-05T10:11:12.123456789+01:00."""
    dt = datetime.fromtimestamp(ns // 1_000_000_000, tz=timezone.utc).astimezone()
    frac = f"{ns % 1_000_000_000:09d}".rstrip("0")
    offset = dt.utcoffset()
    seconds = int(offset.total_seconds()) if offset is not None else 0
    zone = "Z" if seconds == 0 else f"{'+' if seconds > 0 else '-'}{abs(seconds) // 3600:02d}:{abs(seconds) % 3600 // 60:02d}"
    return dt.strftime("%Y-%m-%dT%H:%M:%S") + (f".{frac}" if frac else "") + zone


def _human_number(n: int) -> str:
    """format.HumanNumber: 7615616512 -> "7.6B", 494032768 -> "494.03M", 135000 -> "135K"."""
    for unit, scale, decimals in (("B", 1_000_000_000, 1), ("M", 1_000_000, 2)):
        if n >= scale:
            value = n / scale
            return f"{value:.0f}{unit}" if value == math.floor(value) else f"{value:.{decimals}f}{unit}"
    if n >= 1000:
        return f"{n / 1000:.0f}K"
    return str(n)


def parse_show_parameters(text: str) -> dict[str, Any]:
    """Parse `/api/show` `parameters` text back into values (lists for repeated keys).

    >>> parse_show_parameters('num_ctx                        1e+06\\nstop                           "<|im_end|>"')
    {'num_ctx': 1000000.0, 'stop': '<|im_end|>'}
    """
    values: dict[str, list[Any]] = {}
    for line in text.splitlines():
        key, _, raw = line.partition(" ")
        raw = raw.lstrip(" ")
        if raw.startswith('"'):
            value: Any = json.loads(raw)  # Go quoting of printable text is JSON-compatible
        elif raw in ("true", "false"):
            value = raw == "true"
        else:
            value = float(raw)
        values.setdefault(key, []).append(value)
    return {k: v[0] if len(v) == 1 else v for k, v in values.items()}


# ---------------------------------------------------------------------------
# Model names (types/model/name.go)
# ---------------------------------------------------------------------------

_MISSING = "!MISSING!"


@dataclass(frozen=True)
class ModelName:
    """A parsed `[host/][namespace/]model[:tag]` with Ollama's defaults merged in."""

    host: str
    namespace: str
    model: str
    tag: str

    @classmethod
    def parse(cls, s: str) -> ModelName:
        """ParseName: split from the right, then fill empty parts with the defaults.

        >>> ModelName.parse("qwen2.5-coder:7b").display_shortest()
        'qwen2.5-coder:7b'
        >>> ModelName.parse("me/m").display_shortest(), ModelName.parse("a:b/c").is_valid()
        ('me/m:latest', False)
        """
        host = namespace = model = tag = ""

        def cut(text: str, sep: str) -> tuple[str, str, bool]:
            i = text.rfind(sep)
            if i < 0:
                return text, "", False
            return text[:i] or _MISSING, text[i + 1 :] or _MISSING, True

        if s.rfind(":") > s.rfind("/"):
            s, tag, _ = cut(s, ":")
        s, model, found = cut(s, "/")
        if not found:
            model = s
        else:
            s, namespace, found = cut(s, "/")
            if not found:
                namespace = s
            else:
                scheme, sep, rest = s.partition("://")
                host = rest if sep else scheme
        return cls(host or "registry.ollama.ai", namespace or "library", model, tag or "latest")

    def is_valid(self) -> bool:
        parts = (("host", self.host), ("namespace", self.namespace), ("model", self.model), ("tag", self.tag))
        return all(_valid_part(kind, part) for kind, part in parts)

    def display_shortest(self) -> str:
        if self.host.lower() != "registry.ollama.ai":
            return f"{self.host}/{self.namespace}/{self.model}:{self.tag}"
        if self.namespace.lower() != "library":
            return f"{self.namespace}/{self.model}:{self.tag}"
        return f"{self.model}:{self.tag}"

    def full(self) -> str:
        return f"{self.host}/{self.namespace}/{self.model}:{self.tag}"

    def fold(self) -> str:
        return self.full().lower()


def _valid_part(kind: str, s: str) -> bool:
    if not 1 <= len(s) <= (350 if kind == "host" else 80):
        return False
    for i, ch in enumerate(s):
        alnum = ch.isascii() and (ch.isalnum() or ch == "_")
        if i == 0:
            if not alnum:
                return False
        elif ch == ".":
            if kind == "namespace":
                return False
        elif ch == ":":
            if kind != "host":
                return False
        elif ch != "-" and not alnum:
            return False
    return True


def _valid_fs_path(name: str) -> bool:
    """Go io/fs.ValidPath: unrooted, slash-separated, no "", "." or ".." elements (but "." alone)."""
    if name == ".":
        return True
    return all(elem not in ("", ".", "..") for elem in name.split("/"))


# ---------------------------------------------------------------------------
# Stored state
# ---------------------------------------------------------------------------

MT_MODEL = "application/vnd.ollama.image.model"
MT_ADAPTER = "application/vnd.ollama.image.adapter"
MT_PROJECTOR = "application/vnd.ollama.image.projector"
MT_TEMPLATE = "application/vnd.ollama.image.template"
MT_SYSTEM = "application/vnd.ollama.image.system"
MT_LICENSE = "application/vnd.ollama.image.license"
MT_PARAMS = "application/vnd.ollama.image.params"
MT_MESSAGES = "application/vnd.ollama.image.messages"
MT_CONFIG = "application/vnd.docker.container.image.v1+json"
MT_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"

DEFAULT_TEMPLATE = "{{ .Prompt }}"
_DIGEST_RE = re.compile(r"^sha256[:-][0-9a-fA-F]{64}$")
_QUANT_TYPES = {"F32", "F16", "BF16", "Q4_K_S", "Q4_K_M", "Q4_K", "Q8_0"}
# general.file_type -> quantization_level (fs/ggml FileType.String); 0 or missing is "unknown"
_FILE_TYPES = {
    1: "F16", 2: "Q4_0", 3: "Q4_1", 7: "Q8_0", 8: "Q5_0", 9: "Q5_1", 10: "Q2_K", 11: "Q3_K_S",
    12: "Q3_K_M", 13: "Q3_K_L", 14: "Q4_K_S", 15: "Q4_K_M", 16: "Q5_K_S", 17: "Q5_K_M",
    18: "Q6_K", 24: "IQ1_S", 32: "BF16",
}


@dataclass
class Layer:
    """One manifest layer, e.g. {"mediaType": "application/vnd.ollama.image.adapter",
    "digest": "sha256:9f86d0…", "size": 23072, "from": "<models>/blobs/sha256-9f86d0…"}."""

    media_type: str
    digest: str
    size: int
    from_: str = ""

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"mediaType": self.media_type, "digest": self.digest, "size": self.size}
        if self.from_:
            out["from"] = self.from_
        return out


@dataclass
class StoredModel:
    """A local model: its manifest layers and config, plus decoded views for assertions."""

    name: str  # shortest display name, e.g. "mario:latest"
    layers: list[Layer]
    config: dict[str, Any]  # ConfigV2 as stored, e.g. {"model_format": "gguf", "model_family": "qwen2", ...}
    config_digest: str
    config_size: int
    digest: str  # sha256 hex of the manifest bytes, as /api/tags shows it
    modified_at_ns: int
    template: str | None = None
    system: str | None = None
    license: list[str] = field(default_factory=list)
    parameters: dict[str, Any] = field(default_factory=dict)
    messages: list[dict[str, Any]] = field(default_factory=list)

    @property
    def adapters(self) -> list[str]:
        """Digests of the adapter layers, in manifest order."""
        return [layer.digest for layer in self.layers if layer.media_type == MT_ADAPTER]

    @property
    def size(self) -> int:
        return sum(layer.size for layer in self.layers) + self.config_size

    @property
    def family(self) -> str:
        return self.config.get("model_family", "")

    def layer_digests(self, media_type: str) -> list[str]:
        return [layer.digest for layer in self.layers if layer.media_type == media_type]


@dataclass
class RegistryModel:
    """A model that a pull (or `from` of a missing model) can download from the fake registry.

    `model_info` holds extra GGUF key/values written into the generated model file;
    `parameter_count` overrides the count computed from its (tiny) tensors, so
    `parameter_size` can read like the real model's ("7.6B").
    """

    family: str = "qwen2"
    parameters: dict[str, Any] | None = None
    template: str | None = None
    system: str | None = None
    license: str | list[str] | None = None
    messages: list[dict[str, Any]] | None = None
    model_info: dict[str, Any] | None = None
    parameter_count: int | None = None
    file_type: int = 15
    context_length: int = 32768


#: `qwen2.5-coder:7b` as the registry serves it: the base most tests build from.
QWEN_CODER_7B = (
    "qwen2.5-coder:7b",
    RegistryModel(
        family="qwen2",
        parameter_count=7_615_616_512,
        template="{{ if .System }}<|im_start|>system\n{{ .System }}<|im_end|>\n{{ end }}{{ .Prompt }}",
        parameters={"stop": ["<|im_end|>", "<|endoftext|>"], "temperature": 0.2},
        license="Apache License 2.0",
    ),
)


@dataclass
class RecordedRequest:
    """One request as the fake saw it; `json` is the decoded body of JSON requests."""

    method: str
    path: str
    headers: dict[str, str]
    json: Any = None
    body_size: int = 0
    chunked: bool = False
    status: int | None = None


@dataclass
class _GGUFInfo:
    kv: dict[str, Any]
    parameter_count: int

    @property
    def architecture(self) -> str:
        value = self.kv.get("general.architecture", "")
        return value if isinstance(value, str) else ""

    @property
    def kind(self) -> str:
        value = self.kv.get("general.type", "")
        return value if isinstance(value, str) else ""

    @property
    def file_type(self) -> str:
        value = self.kv.get("general.file_type")
        return _FILE_TYPES.get(value, "unknown") if isinstance(value, int) and value > 0 else "unknown"

    def media_type(self) -> str:
        if self.kind == "adapter":
            return MT_ADAPTER
        if self.kind == "projector" or f"{self.architecture}.vision.block_count" in self.kv:
            return MT_PROJECTOR
        return MT_MODEL


class OllamaError(Exception):
    """An error as Ollama's create goroutine sends it: text plus an optional HTTP status."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.message = message
        self.status = status


# ---------------------------------------------------------------------------
# GGUF reading
# ---------------------------------------------------------------------------


def _sniff_gguf(head: bytes) -> bool:
    return head[:4] in (b"GGUF", b"FUGG")  # little- or big-endian magic


def _read_gguf(path: Path) -> _GGUFInfo:
    """Decode a GGUF header with gguf.GGUFReader and check tensor data against the file size."""
    import gguf
    import numpy as np

    class _HeaderReader(gguf.GGUFReader):
        tensor_infos: list[tuple[str, int, int, int]]

        def _build_tensors(self, start_offs: int, fields: list[Any]) -> None:  # no data views
            self.tensor_infos = []
            for f in fields:
                _name_len, name_data, _n_dims, dims, raw_dtype, offset_tensor = f.parts
                name = bytes(name_data).decode("utf-8", "replace")
                n_elements = math.prod(int(d) for d in dims)
                block_size, type_size = gguf.GGML_QUANT_SIZES[gguf.GGMLQuantizationType(int(raw_dtype[0]))]
                n_bytes = n_elements * type_size // block_size
                self.tensor_infos.append((name, n_elements, n_bytes, start_offs + int(offset_tensor[0])))
            self.tensors = []

    file_size = path.stat().st_size
    try:
        reader = _HeaderReader(path)
    except Exception as exc:  # truncated or malformed header
        raise OllamaError("unexpected EOF") from exc
    try:
        kv: dict[str, Any] = {}
        for key, fld in reader.fields.items():
            if key.startswith("GGUF."):
                continue
            value = fld.contents()
            if fld.types and fld.types[-1] == gguf.GGUFValueType.FLOAT32:
                # float32 -> its shortest decimal form, as Go marshals a float32
                value = [float(str(np.float32(v))) for v in value] if isinstance(value, list) else float(str(np.float32(value)))
            kv[key] = value
        for name, _n_elements, n_bytes, offset in reader.tensor_infos:
            if offset + n_bytes > file_size:
                raise OllamaError(f'tensor "{name}" offset+size ({offset + n_bytes}) exceeds file size ({file_size})')
        count = sum(info[1] for info in reader.tensor_infos)
    finally:
        del reader
    return _GGUFInfo(kv=kv, parameter_count=count)


# ---------------------------------------------------------------------------
# Request decoding (gin ShouldBindJSON + Go encoding/json)
# ---------------------------------------------------------------------------

_STR, _BOOL, _MAP_STR, _MAP_ANY, _ANY, _MESSAGES = "string", "bool", "map[string]string", "map[string]interface {}", "any", "[]api.Message"
_CREATE_FIELDS = {
    "model": _STR, "name": _STR, "from": _STR, "quantize": _STR, "quantization": _STR, "stream": _BOOL,
    "files": _MAP_STR, "adapters": _MAP_STR, "template": _STR, "license": _ANY, "system": _STR,
    "parameters": _MAP_ANY, "messages": _MESSAGES, "remote_host": _STR, "renderer": _STR, "parser": _STR,
    "info": _MAP_ANY, "requires": _STR, "draft_files": _MAP_STR, "draft_quantize": _STR,
}
_SHOW_FIELDS = {"model": _STR, "name": _STR, "system": _STR, "template": _STR, "verbose": _BOOL, "options": _MAP_ANY}
_DELETE_FIELDS = {"model": _STR, "name": _STR}
_PULL_FIELDS = {"model": _STR, "name": _STR, "insecure": _BOOL, "stream": _BOOL, "username": _STR, "password": _STR}


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _reject_constant(name: str) -> Any:
    raise ValueError(name)


def _decode_request(raw: bytes, struct: str, fields: Mapping[str, str]) -> dict[str, Any]:
    """Decode a JSON body into a dict of known fields, with Go's error texts."""
    text = raw.decode("utf-8", "replace").lstrip(" \t\r\n")
    if not text:
        raise OllamaError("missing request body", 400)
    try:
        doc, _end = json.JSONDecoder(parse_constant=_reject_constant).raw_decode(text)  # trailing data is ignored
    except json.JSONDecodeError as exc:
        if exc.pos >= len(text.rstrip()):
            raise OllamaError("unexpected EOF", 400) from None
        context = {
            "Expecting value": "looking for beginning of value",
            "Expecting ':' delimiter": "after object key",
            "Expecting ',' delimiter": "after object key:value pair",
            "Expecting property name enclosed in double quotes": "looking for beginning of object key string",
        }.get(exc.msg, "looking for beginning of value")
        raise OllamaError(f"invalid character {text[exc.pos]!r} {context}", 400) from None
    except ValueError:  # NaN / Infinity
        raise OllamaError("invalid character 'N' looking for beginning of value", 400) from None
    if not isinstance(doc, dict):
        raise OllamaError(f"json: cannot unmarshal {_json_kind(doc)} into Go value of type api.{struct}", 400)
    out: dict[str, Any] = {}
    first_error: str | None = None
    for key, value in doc.items():
        name = key if key in fields else next((f for f in fields if f.lower() == key.lower()), None)
        if name is None or value is None:
            continue
        kind = fields[name]
        ok = {
            _STR: isinstance(value, str),
            _BOOL: isinstance(value, bool),
            _MAP_STR: isinstance(value, dict) and all(isinstance(v, str) or v is None for v in value.values()),
            _MAP_ANY: isinstance(value, dict),
            _ANY: True,
            _MESSAGES: isinstance(value, list) and all(isinstance(m, dict) for m in value),
        }[kind]
        if kind == _MAP_STR and isinstance(value, dict) and ok:
            value = {k: v or "" for k, v in value.items()}
        if kind == _MESSAGES and ok:
            bad = [v for m in value for k, v in m.items() if k in ("role", "content") and not isinstance(v, str) and v is not None]
            if bad:
                ok = False
                first_error = first_error or f"json: cannot unmarshal {_json_kind(bad[0])} into Go struct field Message.{name}.content of type string"
        if not ok:
            shown = value
            if kind == _MAP_STR and isinstance(value, dict):
                shown = next(v for v in value.values() if not isinstance(v, str))
                kind_name = "string"
            else:
                kind_name = kind
            first_error = first_error or f"json: cannot unmarshal {_json_kind(shown)} into Go struct field {struct}.{name} of type {kind_name}"
            continue
        out[name] = value
    if first_error:
        raise OllamaError(first_error, 400)
    return out


# ---------------------------------------------------------------------------
# Template checking (a crude stand-in for text/template.Parse)
# ---------------------------------------------------------------------------

_BLOCK_KEYWORDS = ("if", "range", "with", "block", "define")


def _template_error(t: str) -> str | None:
    """Go template parse errors for the common mistakes, e.g. "template: :1: unclosed action"."""
    pos = 0
    stack: list[int] = []
    while (start := t.find("{{", pos)) >= 0:
        line = t.count("\n", 0, start) + 1
        inner = start + 2
        body_start = inner + 2 if t.startswith("- ", inner) else inner
        if t.startswith("/*", body_start):
            close = t.find("*/", body_start + 2)
            end = -1 if close < 0 else t.find("}}", close + 2)
        else:
            end = t.find("}}", inner)
        if end < 0:
            return f"template: :{line}: unclosed action"
        action = t[inner:end].strip().lstrip("-").rstrip("-").strip()
        keyword = action.split(None, 1)[0] if action else ""
        if keyword in _BLOCK_KEYWORDS:
            stack.append(line)
        elif keyword == "end":
            if not stack:
                return f"template: :{line}: unexpected {{{{end}}}}"
            stack.pop()
        elif keyword == "else" and not stack:
            return f"template: :{line}: unexpected {{{{else}}}}"
        pos = end + 2
    if stack:
        return f"template: :{t.count(chr(10)) + 1}: unexpected EOF"
    return None


def _template_vars(t: str) -> set[str]:
    names: set[str] = set()
    for action in re.findall(r"\{\{(.*?)\}\}", t, flags=re.S):
        names.update(m.lower() for m in re.findall(r"\.([A-Za-z_][A-Za-z0-9_]*)", action))
    return names


# ---------------------------------------------------------------------------
# HTTP plumbing
# ---------------------------------------------------------------------------

_MAX_UNREAD = 256 << 10  # Go discards up to 256 KiB of an unread body before closing


class _Body:
    """The request body, read lazily: Content-Length or chunked transfer encoding."""

    def __init__(self, rfile: Any, headers: Mapping[str, str]):
        self._rfile = rfile
        self.chunked = "chunked" in headers.get("Transfer-Encoding", "").lower()
        self._remaining = 0 if self.chunked else int(headers.get("Content-Length") or 0)
        self._chunk_left = 0
        self._done = not self.chunked and self._remaining == 0
        self.size = 0

    def chunks(self, size: int = 1 << 20) -> Iterator[bytes]:
        while not self._done:
            if self.chunked:
                if self._chunk_left == 0:
                    line = self._rfile.readline(65537)
                    if not line:
                        raise ConnectionError("client closed the connection mid-body")
                    n = int(line.split(b";", 1)[0].strip() or b"0", 16)
                    if n == 0:
                        while self._rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                            pass  # trailers
                        self._done = True
                        return
                    self._chunk_left = n
                data = self._rfile.read(min(size, self._chunk_left))
                if not data:
                    raise ConnectionError("client closed the connection mid-body")
                self._chunk_left -= len(data)
                if self._chunk_left == 0:
                    self._rfile.readline(3)  # CRLF after the chunk
            else:
                data = self._rfile.read(min(size, self._remaining))
                if not data:
                    raise ConnectionError("client closed the connection mid-body")
                self._remaining -= len(data)
                self._done = self._remaining == 0
            self.size += len(data)
            yield data

    def read_all(self) -> bytes:
        return b"".join(self.chunks())

    def drain(self) -> None:
        for _ in self.chunks():
            pass

    @property
    def pending(self) -> int:
        """Bytes known to be unread (chunked bodies count as large until finished)."""
        if self._done:
            return 0
        return self._remaining if not self.chunked else _MAX_UNREAD + 1


class _PacedBody:
    """A request body read 64 KiB at a time with a pause after each piece (`upload_pause`)."""

    def __init__(self, body: _Body, pause: float, stopping: threading.Event):
        self._body, self._pause, self._stopping = body, pause, stopping

    def chunks(self, size: int = 1 << 20) -> Iterator[bytes]:
        for chunk in self._body.chunks(min(size, 1 << 16)):
            yield chunk
            if self._stopping.wait(self._pause):
                raise ConnectionError("the fake is stopping")

    def __getattr__(self, name: str) -> Any:
        return getattr(self._body, name)


@dataclass
class _Response:
    status: int
    body: bytes = b""
    content_type: str | None = "application/json; charset=utf-8"
    stream: Iterator[bytes] | None = None  # NDJSON lines after a successful start
    close: bool = False


def _json_response(status: int, obj: Any) -> _Response:
    return _Response(status, go_json(obj).encode())


def _error_response(status: int, message: str) -> _Response:
    return _json_response(status, {"error": message})


# Every route Ollama v0.32.15 registers that matters for 404 vs 405; those without a
# handler here answer 501 so a test that wanders off the supported API fails loudly.
_ROUTES: list[tuple[str, str, str | None]] = [
    ("GET", "/", "root"), ("HEAD", "/", "root"),
    ("GET", "/api/version", "version"), ("HEAD", "/api/version", "version"),
    ("HEAD", "/api/blobs/:digest", "head_blob"), ("POST", "/api/blobs/:digest", "post_blob"),
    ("POST", "/api/create", "create"), ("POST", "/api/show", "show"),
    ("GET", "/api/tags", "tags"), ("HEAD", "/api/tags", "tags"),
    ("DELETE", "/api/delete", "delete"), ("POST", "/api/pull", "pull"), ("GET", "/api/ps", "ps"),
    ("POST", "/api/push", None), ("POST", "/api/copy", None), ("POST", "/api/generate", "generate"),
    ("POST", "/api/chat", "chat"), ("POST", "/api/embed", None), ("POST", "/api/embeddings", None),
    ("POST", "/api/me", None), ("POST", "/api/signout", None),
    ("POST", "/v1/chat/completions", None), ("POST", "/v1/completions", None),
    ("POST", "/v1/embeddings", None), ("GET", "/v1/models", None), ("GET", "/v1/models/:model", None),
]


def _match_route(pattern: str, path: str) -> dict[str, str] | None:
    p_parts, parts = pattern.split("/"), path.split("/")
    if len(p_parts) != len(parts):
        return None
    params = {}
    for want, got in zip(p_parts, parts):
        if want.startswith(":"):
            if not got:
                return None
            params[want[1:]] = urllib.parse.unquote(got)
        elif want != got:
            return None
    return params


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-ollama"
    timeout = 60

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass

    def setup(self) -> None:
        super().setup()
        self.server.connections.add(self.connection)  # type: ignore[attr-defined]

    def finish(self) -> None:
        self.server.connections.discard(self.connection)  # type: ignore[attr-defined]
        try:
            super().finish()
        except OSError:
            pass

    def _dispatch(self) -> None:
        self.server.fake._handle(self)  # type: ignore[attr-defined]

    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _dispatch


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeOllama
    connections: set[socket.socket]

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients that time out or hang up are part of the tests


# ---------------------------------------------------------------------------
# The fake
# ---------------------------------------------------------------------------


class FakeOllama:
    """A fake Ollama server on 127.0.0.1:<free port>.

    Attributes:
        url: "http://127.0.0.1:PORT" once started.
        version: what `/api/version` reports.
        registry: models a pull (or `from` a missing model) can download, by name.
        models: local models by shortest display name ("mario:latest").
        requests: every request received, in order.
        models_dir: the folder whose `blobs/` holds every blob (error texts show it).
        fail_next: one-shot failures, e.g. {"POST /api/create": (500, "boom")}; keys are
            "METHOD /exact/path" or "METHOD /route/:param" ("POST /api/blobs/:digest").
            The body is drained first, then `{"error": "boom"}` is sent with that status.
        stream_error_after: inject `{"error": stream_error_message}` right after the first
            progress line whose status starts with this text (create and pull), as an
            error without status: HTTP 200 + NDJSON line when streaming, 500 with
            `stream: false`. The operation stops there; nothing is stored unless the text
            matches "writing manifest" or later. Stays set until cleared.
        delay_seconds: sleep before answering every request (client timeout tests).
        drop_connection_on: keys as for `fail_next`; the request is fully processed, then
            the response is cut: a stream after its first line, anything else halfway
            through its bytes, and the socket is closed. Stays set until cleared.
        parameters_seed: seed for the shuffled `parameters`/`modelfile` order (None = random).
        answer_with: keys as for `fail_next`, each a function returning `(status,
            content_type, chunks)`: the request body is drained, then the chunks are sent
            as they come (chunked encoding; a generator may sleep between them to drip).
            See `dripping`, `silent`, `huge` and `raw`; `wire`, `dripping_headers` and
            `redirect` write the whole answer themselves (the function returns `(None, None,
            chunks)`), then close the connection.
            Nothing is processed. Stays set until cleared.
        cut_upload_after: close the connection once this many bytes of a blob upload
            have been read (nothing is stored); stays set until cleared.
        upload_pause: seconds to sleep after reading each 64 KiB of a blob upload (a slow
            server or link, for interrupting an upload midway); stays set until cleared.
        answers: canned answers of `/api/chat` and `/api/generate` by model name (as the
            request names it, or its shortest form "m:latest"): a string, or a function of
            the decoded request returning one. Without one, a model whose name starts with
            `echo` (or whose system text is `echo`) answers the last user turn (the prompt),
            and any other model a few words chosen by a hash of (model, messages, seed,
            temperature) — the seed only counts when the temperature is above 0.
        generations: `(path, model, options)` of every chat and generate request that reached
            a model, the options as the request sent them (None when it sent none).
        token_delay: seconds to sleep before each streamed token, by model name (a slow model).
        most_in_flight: the most chat and generate answers under way at once so far.
        chat_error_after: by model name, send `{"error": chat_error_message}` after this many
            streamed tokens (an error in the middle of a stream).

    The `fake_ollama` pytest fixture in this module yields a started instance (import it
    into a test module, or re-export it from conftest.py).
    """

    def __init__(self, version: str = "0.32.15", *, registry: Mapping[str, RegistryModel] | None = None):
        self.version = version
        self.registry: dict[str, RegistryModel] = dict(registry or {})
        self.models: dict[str, StoredModel] = {}
        self.requests: list[RecordedRequest] = []
        self.fail_next: dict[str, tuple[int, str]] = {}
        self.stream_error_after: str | None = None
        self.stream_error_message: str = "injected stream error"
        self.delay_seconds: float = 0.0
        self.drop_connection_on: set[str] = set()
        self.parameters_seed: int | None = None
        self.answer_with: dict[str, Any] = {}
        self.cut_upload_after: int | None = None
        self.upload_pause: float = 0.0
        self.answers: dict[str, Any] = {}
        self.generations: list[tuple[str, str, Any]] = []
        self.token_delay: dict[str, float] = {}
        self.chat_error_after: dict[str, int] = {}
        self.chat_error_message: str = "an error in the middle of the stream"
        self.most_in_flight = 0
        self._in_flight = 0
        self.url = ""
        self._tmp = tempfile.TemporaryDirectory(prefix="fake-ollama-", ignore_cleanup_errors=True)
        self.models_dir = Path(self._tmp.name) / "models"
        self.blobs_dir = self.models_dir / "blobs"
        self.blobs_dir.mkdir(parents=True)
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._gguf_cache: dict[str, _GGUFInfo] = {}
        self._param_count_override: dict[str, int] = {}
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------

    def start(self) -> FakeOllama:
        server = _Server(("127.0.0.1", 0), _Handler)
        server.fake = self
        server.connections = set()
        self._server = server
        self.url = f"http://127.0.0.1:{server.server_address[1]}"
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
            for conn in list(server.connections):
                try:
                    conn.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        self._tmp.cleanup()

    def __enter__(self) -> FakeOllama:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- blobs -------------------------------------------------------------

    @property
    def blobs(self) -> dict[str, Path]:
        """Stored blobs: {"sha256:<hex>": path on disk}."""
        return {"sha256:" + p.name[7:]: p for p in sorted(self.blobs_dir.glob("sha256-*"))}

    def blob_path(self, digest: str) -> Path:
        """Where Ollama would keep `digest` (GetBlobsPath: ":" becomes "-", case kept)."""
        return self.blobs_dir / digest.replace(":", "-")

    def blob_bytes(self, digest: str) -> bytes:
        return self.blob_path(digest).read_bytes()

    def add_blob(self, data: bytes | str | os.PathLike[str]) -> str:
        """Store a blob directly (no HTTP); returns its digest "sha256:<hex>"."""
        if isinstance(data, bytes):
            digest, _created = self._put_blob(data)
            return digest
        with open(data, "rb") as src:
            return self._store_stream(iter(lambda: src.read(1 << 20), b""))[0]

    def _put_blob(self, data: bytes) -> tuple[str, bool]:
        """Store bytes; returns (digest, created) where created is False if it existed."""
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        path = self.blob_path(digest)
        with self._lock:
            if path.exists():
                return digest, False
            tmp = path.with_name(path.name + ".partial")
            tmp.write_bytes(data)
            tmp.replace(path)
        return digest, True

    def _store_stream(self, chunks: Iterator[bytes]) -> tuple[str, int]:
        """Stream chunks to disk while hashing; returns (real digest, size)."""
        fd, tmp_name = tempfile.mkstemp(prefix="upload-", suffix=".partial", dir=self.blobs_dir)
        sha = hashlib.sha256()
        size = 0
        try:
            with os.fdopen(fd, "wb") as out:
                for chunk in chunks:
                    sha.update(chunk)
                    out.write(chunk)
                    size += len(chunk)
            digest = "sha256:" + sha.hexdigest()
            with self._lock:
                final = self.blob_path(digest)
                if final.exists():
                    os.unlink(tmp_name)
                else:
                    os.replace(tmp_name, final)
        except BaseException:
            if os.path.exists(tmp_name):
                os.unlink(tmp_name)
            raise
        return digest, size

    def _gguf_info(self, digest: str) -> _GGUFInfo:
        with self._lock:
            cached = self._gguf_cache.get(digest)
        if cached is None:
            cached = _read_gguf(self.blob_path(digest))
            with self._lock:
                self._gguf_cache[digest] = cached
        return cached

    def _parameter_count(self, digest: str) -> int:
        return self._param_count_override.get(digest, self._gguf_info(digest).parameter_count)

    # -- models ------------------------------------------------------------

    def get_model(self, name: str) -> StoredModel | None:
        """Look a model up as show/delete do: case-insensitively, defaults filled in."""
        return self._find(ModelName.parse(name), fold=True)

    def _find(self, name: ModelName, *, fold: bool) -> StoredModel | None:
        with self._lock:
            for key, model in self.models.items():
                stored = ModelName.parse(key)
                if (stored.fold() == name.fold()) if fold else (stored.full() == name.full()):
                    return model
        return None

    def add_model(
        self,
        name: str,
        *,
        family: str = "qwen2",
        parameters: Mapping[str, Any] | None = None,
        system: str | None = None,
        template: str | None = None,
        license: str | Sequence[str] | None = None,  # noqa: A002 - Ollama's field name
        messages: Sequence[Mapping[str, Any]] | None = None,
        adapters: Sequence[str | os.PathLike[str] | bytes] = (),
        model_info: Mapping[str, Any] | None = None,
        parameter_count: int | None = None,
        file_type: int = 15,
        context_length: int = 32768,
    ) -> StoredModel:
        """Preload a local model, as if it had been pulled; `adapters` are GGUF paths or bytes."""
        spec = RegistryModel(
            family=family, parameters=dict(parameters) if parameters else None, template=template,
            system=system, license=list(license) if isinstance(license, (list, tuple)) else license,
            messages=[dict(m) for m in messages] if messages else None,
            model_info=dict(model_info) if model_info else None, parameter_count=parameter_count,
            file_type=file_type, context_length=context_length,
        )
        layers = [Layer(mt, digest, size) for mt, digest, size in self._materialize(spec)]
        for adapter in adapters:
            digest = self.add_blob(adapter)
            layers.insert(1 + len([x for x in layers if x.media_type == MT_ADAPTER]),
                          Layer(self._gguf_info(digest).media_type(), digest, self.blob_path(digest).stat().st_size))
        parsed = ModelName.parse(name)
        if not parsed.is_valid():
            raise ValueError(f"invalid model name {name!r}")
        existing = self._find(parsed, fold=True)
        return self._commit(existing.name if existing else parsed.display_shortest(), layers, {})

    def _materialize(self, spec: RegistryModel) -> list[tuple[str, str, int]]:
        """Write a registry model's blobs; returns [(media type, digest, size)] in manifest order."""
        try:
            from gguf_files import write_model  # sibling helper in tests/
        except ImportError:
            sys.path.insert(0, str(Path(__file__).resolve().parent))
            from gguf_files import write_model

        gguf_path = Path(self._tmp.name) / f"gen-{time.monotonic_ns()}-{threading.get_ident()}.gguf"
        write_model(gguf_path, architecture=spec.family, context_length=spec.context_length,
                    file_type=spec.file_type, extra_kv=spec.model_info)
        data = gguf_path.read_bytes()
        gguf_path.unlink()
        out: list[tuple[str, bytes]] = [(MT_MODEL, data)]
        if spec.template:
            out.append((MT_TEMPLATE, spec.template.encode()))
        if spec.system:
            out.append((MT_SYSTEM, spec.system.encode()))
        licenses = [spec.license] if isinstance(spec.license, str) else list(spec.license or [])
        out += [(MT_LICENSE, text.encode()) for text in licenses]
        if spec.parameters:
            out.append((MT_PARAMS, (go_json(_sorted_map(_floats(spec.parameters))) + "\n").encode()))
        if spec.messages:
            out.append((MT_MESSAGES, (go_json([_message(m) for m in spec.messages]) + "\n").encode()))
        result = []
        for media_type, content in out:
            digest, _created = self._put_blob(content)
            result.append((media_type, digest, len(content)))
        if spec.parameter_count is not None:
            self._param_count_override[result[0][1]] = spec.parameter_count
        return result

    def _commit(self, name: str, layers: list[Layer], base_config: Mapping[str, Any]) -> StoredModel:
        """Write the config blob and manifest for `name`, replacing any model of that name."""
        config: dict[str, Any] = {"model_format": "", "model_family": "", "model_families": None,
                                  "model_type": "", "file_type": ""}
        for layer in layers:
            if layer.media_type in (MT_MODEL, MT_ADAPTER, MT_PROJECTOR):
                info = self._gguf_info(layer.digest)
                config["model_format"] = config["model_format"] or "gguf"
                config["model_family"] = config["model_family"] or info.architecture
                config["model_type"] = config["model_type"] or _human_number(self._parameter_count(layer.digest))
                config["file_type"] = config["file_type"] or info.file_type
                config["model_families"] = (config["model_families"] or []) + [info.architecture]
        for key in ("renderer", "parser", "requires", "capabilities"):
            if base_config.get(key):
                config[key] = base_config[key]
        if base_config.get("file_type_override"):
            config["file_type"] = base_config["file_type_override"]
        config.update({"architecture": "amd64", "os": "linux",
                       "rootfs": {"type": "layers", "diff_ids": [layer.digest for layer in layers]}})
        config_bytes = (go_json(config) + "\n").encode()
        config_digest, _created = self._put_blob(config_bytes)
        manifest = {
            "schemaVersion": 2, "mediaType": MT_MANIFEST,
            "config": {"mediaType": MT_CONFIG, "digest": config_digest, "size": len(config_bytes)},
            "layers": [layer.to_json() for layer in layers],
        }
        manifest_bytes = (go_json(manifest) + "\n").encode()

        def text(media_type: str) -> str | None:
            found = [layer for layer in layers if layer.media_type == media_type]
            return self.blob_bytes(found[-1].digest).decode() if found else None

        params = text(MT_PARAMS)
        msgs = text(MT_MESSAGES)
        model = StoredModel(
            name=name, layers=list(layers), config=config, config_digest=config_digest,
            config_size=len(config_bytes), digest=hashlib.sha256(manifest_bytes).hexdigest(),
            modified_at_ns=time.time_ns(), template=text(MT_TEMPLATE), system=text(MT_SYSTEM),
            license=[self.blob_bytes(layer.digest).decode() for layer in layers if layer.media_type == MT_LICENSE],
            parameters=json.loads(params) if params else {}, messages=json.loads(msgs) if msgs else [],
        )
        with self._lock:
            old = self._find(ModelName.parse(name), fold=True)
            if old is not None:
                del self.models[old.name]
            self.models[name] = model
            if old is not None:
                self._prune(old)
        return model

    def _prune(self, removed: StoredModel) -> None:
        """Delete the blobs of a removed manifest that no remaining manifest uses."""
        with self._lock:
            in_use = {d for m in self.models.values() for d in [m.config_digest, *(x.digest for x in m.layers)]}
            for digest in {removed.config_digest, *(x.digest for x in removed.layers)} - in_use:
                self.blob_path(digest).unlink(missing_ok=True)

    # -- request handling --------------------------------------------------

    def _handle(self, h: _Handler) -> None:
        method = h.command
        path = urllib.parse.urlsplit(h.path).path
        body = _Body(h.rfile, h.headers)
        record = RecordedRequest(method, path, {k.lower(): v for k, v in h.headers.items()}, chunked=body.chunked)
        with self._lock:
            self.requests.append(record)

        route: tuple[str, str, str | None] | None = None
        params: dict[str, str] = {}
        path_known = False
        for r_method, pattern, action in _ROUTES:
            matched = _match_route(pattern, path)
            if matched is None:
                continue
            path_known = True
            if r_method == method:
                route, params = (r_method, pattern, action), matched
                break

        response: _Response
        if route is None:
            body.drain()
            text = b"405 method not allowed" if path_known else b"404 page not found"
            response = _Response(405 if path_known else 404, text, "text/plain")
        else:
            keys = (f"{method} {path}", f"{method} {route[1]}")
            with self._lock:
                custom = next((self.answer_with[k] for k in keys if k in self.answer_with), None)
            if custom is not None:
                body.drain()
                status, content_type, chunks = custom()
                record.status = status
                if status is None:  # `wire`: the bytes are the whole answer, status line and headers included
                    self._write_wire(h, chunks)
                    return
                self._write(h, _Response(status, content_type=content_type, stream=iter(chunks)), head=False, body=body)
                return
            if route[2] == "post_blob" and self.cut_upload_after is not None:
                received = 0
                for chunk in body.chunks(1 << 14):
                    received += len(chunk)
                    if received >= self.cut_upload_after:
                        break
                record.body_size = received
                h.close_connection = True
                try:
                    h.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                return
            if route[2] != "post_blob":
                raw = body.read_all()
                try:
                    record.json = json.loads(raw) if raw.strip() else None
                except ValueError:
                    record.json = None
            if self.delay_seconds:
                self._stopping.wait(self.delay_seconds)
            with self._lock:
                failure = next((self.fail_next.pop(k) for k in keys if k in self.fail_next), None)
            if failure is not None:
                body.drain()
                response = _error_response(*failure)
            elif route[2] is None:
                response = _error_response(501, f"fake ollama: {method} {route[1]} is not implemented")
            elif route[2] == "post_blob":
                response = self._post_blob(params["digest"], _PacedBody(body, self.upload_pause, self._stopping) if self.upload_pause else body)
            else:
                try:
                    response = getattr(self, "_api_" + route[2])(h, raw, params)
                except OllamaError as exc:
                    response = _error_response(exc.status or 500, exc.message)
            if any(k in self.drop_connection_on for k in keys):
                record.body_size = body.size
                record.status = response.status
                self._write_dropped(h, response)
                return
        record.body_size = body.size
        record.status = response.status
        self._write(h, response, head=method == "HEAD", body=body)

    def _write(self, h: _Handler, r: _Response, *, head: bool, body: _Body) -> None:
        close = r.close or h.close_connection
        lines = [f"HTTP/1.1 {r.status} {HTTPStatus(r.status).phrase}", f"Date: {h.date_time_string()}"]
        if r.content_type:
            lines.append(f"Content-Type: {r.content_type}")
        if r.stream is not None:
            lines.append("Transfer-Encoding: chunked")
        else:
            lines.append(f"Content-Length: {len(r.body)}")
        if close:
            lines.append("Connection: close")
        h.wfile.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        if r.stream is not None:
            for chunk in r.stream:
                if chunk:  # an empty chunk would end the body
                    h.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            h.wfile.write(b"0\r\n\r\n")
        elif not head:
            h.wfile.write(r.body)
        if body.pending:
            body.drain()  # after answering, like Go discarding an unread body
        h.close_connection = close

    def _write_dropped(self, h: _Handler, r: _Response) -> None:
        if r.stream is not None:
            head = f"HTTP/1.1 {r.status} {HTTPStatus(r.status).phrase}\r\nContent-Type: {r.content_type}\r\nTransfer-Encoding: chunked\r\n\r\n"
            first = next(r.stream, b"")
            h.wfile.write(head.encode() + f"{len(first):x}\r\n".encode() + first + b"\r\n")
            for _ in r.stream:  # the server finishes the work; only the response is cut
                pass
        else:
            raw = f"HTTP/1.1 {r.status} {HTTPStatus(r.status).phrase}\r\nContent-Type: {r.content_type}\r\nContent-Length: {len(r.body)}\r\n\r\n".encode() + r.body
            h.wfile.write(raw[: max(1, len(raw) // 2)])
        h.close_connection = True
        try:
            h.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _write_wire(self, h: _Handler, chunks: Iterator[bytes]) -> None:
        h.close_connection = True
        try:
            for chunk in chunks:
                h.wfile.write(chunk)
                h.wfile.flush()
            h.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass  # the client hung up, as it should on a hostile answer

    # -- raw answers for `answer_with` --------------------------------------

    def wire(self, data: bytes, *, drip_from: int | None = None, interval: float = 1.0) -> Any:
        """An `answer_with` value: exactly these bytes on the socket (status line and headers
        included), then the connection is closed; from byte `drip_from` on, one byte every
        `interval` seconds (until the fake stops or the client hangs up)."""

        def answer() -> tuple[None, None, Iterator[bytes]]:
            def chunks() -> Iterator[bytes]:
                cut = len(data) if drip_from is None else drip_from
                yield data[:cut]
                for i in range(cut, len(data)):
                    if self._stopping.wait(interval):
                        return
                    yield data[i : i + 1]

            return None, None, chunks()

        return answer

    def dripping_headers(self, interval: float, headers: int = 10) -> Any:
        """An `answer_with` value: a status line at once, then header bytes one every `interval` seconds."""
        head = b"HTTP/1.1 200 OK\r\n" + b"".join(b"X-Drip-%d: %s\r\n" % (i, b"y" * 20) for i in range(headers))
        return self.wire(head + b"\r\n{}", drip_from=len(b"HTTP/1.1 200 OK\r\n"), interval=interval)

    def redirect(self, location: str, status: int = 307) -> Any:
        """An `answer_with` value: a redirect to `location` (any text, sent as the header's bytes)."""
        phrase = HTTPStatus(status).phrase.encode()
        head = b"HTTP/1.1 %d %s\r\nLocation: %s\r\nContent-Length: 0\r\n\r\n" % (status, phrase, location.encode("utf-8", "surrogateescape"))
        return self.wire(head)

    def dripping(self, data: bytes, interval: float, status: int = 200, content_type: str = "application/x-ndjson") -> Any:
        """An `answer_with` value: `data` one byte every `interval` seconds (until the fake stops)."""

        def answer() -> tuple[int, str, Iterator[bytes]]:
            def chunks() -> Iterator[bytes]:
                for i in range(len(data)):
                    if self._stopping.wait(interval):
                        return
                    yield data[i : i + 1]

            return status, content_type, chunks()

        return answer

    def silent(self, seconds: float) -> Any:
        """An `answer_with` value: no answer at all (not even the status line) for `seconds`."""

        def answer() -> tuple[int, str, Iterator[bytes]]:
            self._stopping.wait(seconds)
            return 200, "application/json; charset=utf-8", iter([b"{}"])

        return answer

    @staticmethod
    def huge(size: int, fill: bytes = b"x", prefix: bytes = b"", status: int = 200,
             content_type: str = "application/json; charset=utf-8") -> Any:
        """An `answer_with` value: `prefix` then `size` bytes of `fill` (no line break unless `fill` has one), sent fast."""

        def answer() -> tuple[int, str, Iterator[bytes]]:
            def chunks() -> Iterator[bytes]:
                yield prefix
                block = fill * (1 << 16)
                left = size
                while left > 0:
                    yield block[:left]
                    left -= len(block)

            return status, content_type, chunks()

        return answer

    @staticmethod
    def raw(body: bytes, status: int = 200, content_type: str = "application/json; charset=utf-8") -> Any:
        """An `answer_with` value: exactly these bytes (garbage JSON, HTML, an empty body)."""
        return lambda: (status, content_type, iter([body] if body else []))

    # -- progress streams --------------------------------------------------

    def _progress_response(self, events: Iterator[dict[str, Any]], stream: bool) -> _Response:
        """streamResponse / waitForStream: errors before the first line get their own status."""
        events = self._inject_errors(events)
        if not stream:
            last: dict[str, Any] = {}
            try:
                for event in events:
                    last = event
            except OllamaError as exc:
                return _error_response(exc.status or 500, exc.message)
            return _json_response(200, last)
        try:
            first = next(events)
        except StopIteration:
            return _json_response(200, {})
        except OllamaError as exc:
            return _error_response(exc.status or 500, exc.message)

        def lines() -> Iterator[bytes]:
            # Wire sample: {"status":"parsing GGUF"}\n ... {"status":"success"}\n
            yield (go_json(first) + "\n").encode()
            try:
                for event in events:
                    yield (go_json(event) + "\n").encode()
            except OllamaError as exc:
                yield (go_json({"error": exc.message}) + "\n").encode()

        return _Response(200, content_type="application/x-ndjson", stream=lines())

    def _inject_errors(self, events: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        for event in events:
            yield event
            after = self.stream_error_after
            if after is not None and str(event.get("status", "")).startswith(after):
                events.close()  # type: ignore[attr-defined]
                raise OllamaError(self.stream_error_message)

    # -- endpoints ---------------------------------------------------------

    def _api_root(self, h: _Handler, raw: bytes, params: dict[str, str]) -> _Response:
        return _Response(200, b"Ollama is running", "text/plain; charset=utf-8")

    def _api_version(self, h: _Handler, raw: bytes, params: dict[str, str]) -> _Response:
        return _json_response(200, {"version": self.version})

    def _api_ps(self, h: _Handler, raw: bytes, params: dict[str, str]) -> _Response:
        return _json_response(200, {"models": []})

    def _api_head_blob(self, h: _Handler, raw: bytes, params: dict[str, str]) -> _Response:
        digest = params["digest"]
        if not _DIGEST_RE.match(digest):
            return _error_response(400, "invalid digest format")
        if not self.blob_path(digest).is_file():
            return _error_response(404, f"blob {go_quote(digest)} not found")
        return _Response(200, content_type=None)

    def _post_blob(self, digest: str, body: _Body) -> _Response:
        if not _DIGEST_RE.match(digest):
            return _error_response(400, "invalid digest format")
        if self.blob_path(digest).is_file():
            # 200 without reading the body; Go closes the connection if much is left unread
            return _Response(200, content_type=None, close=body.pending > _MAX_UNREAD)
        real, _size = self._store_stream(body.chunks())
        if real != digest:
            return _error_response(400, f"digest mismatch, expected {go_quote(digest)}, got {go_quote(real)}")
        return _Response(201, content_type=None)

    def _api_tags(self, h: _Handler, raw: bytes, params: dict[str, str]) -> _Response:
        with self._lock:
            models = sorted(self.models.values(), key=lambda m: ModelName.parse(m.name).full())
        # newest first by whole seconds, stable over the manifest walk order (as Go sorts)
        models.sort(key=lambda m: -(m.modified_at_ns // 1_000_000_000))
        entries = []
        for m in models:
            entry = {
                "name": m.name, "model": m.name, "modified_at": _rfc3339_nano(m.modified_at_ns),
                "size": m.size, "digest": m.digest, "details": self._details(m, parent=""),
            }
            entries.append(entry)
        return _json_response(200, {"models": entries})

    def _details(self, m: StoredModel, *, parent: str) -> dict[str, Any]:
        return {
            "parent_model": parent, "format": m.config.get("model_format", ""),
            "family": m.config.get("model_family", ""), "families": m.config.get("model_families"),
            "parameter_size": m.config.get("model_type", ""), "quantization_level": m.config.get("file_type", ""),
        }

    def _api_show(self, h: _Handler, raw: bytes, params: dict[str, str]) -> _Response:
        req = _decode_request(raw, "ShowRequest", _SHOW_FIELDS)
        name_text = req.get("model") or req.get("name") or ""
        if not name_text:
            return _error_response(400, "model is required")
        name = ModelName.parse(name_text)
        if not name.is_valid():
            return _error_response(400, "invalid model name")
        m = self._find(name, fold=True)
        if m is None:
            return _error_response(404, f"model '{name.display_shortest()}' not found")
        return _json_response(200, self._show(m, req))

    def _show(self, m: StoredModel, req: Mapping[str, Any]) -> dict[str, Any]:
        # Response sample (keys in this order, empty ones left out): {"license": "Apache…",
        #   "modelfile": "# Modelfile generated by \"ollama show\"\n…", "parameters":
        #   "stop                           \"<|im_end|>\"\ntemperature                    0.2",
        #   "template": "{{ .Prompt }}", "system": "Be brief.", "details": {"parent_model":
        #   "qwen2.5-coder:7b", "format": "gguf", "family": "qwen2", "families": ["qwen2",
        #   "qwen2"], "parameter_size": "7.6B", "quantization_level": "Q4_K_M"}, "messages": [],
        #   "model_info": {"general.architecture": "qwen2", …}, "capabilities": ["completion"],
        #   "modified_at": "2026-01-05T10:11:12.123456789Z", "requires": "0.14.0"}
        rng = random.Random(self.parameters_seed)
        model_layers = [layer for layer in m.layers if layer.media_type == MT_MODEL]
        model_layer = model_layers[-1] if model_layers else None  # GetModel keeps the last one
        info = self._gguf_info(model_layer.digest) if model_layer else _GGUFInfo({}, 0)
        template = m.template if m.template is not None else DEFAULT_TEMPLATE
        system = req.get("system") or m.system or ""

        keys = list(m.parameters)
        rng.shuffle(keys)  # Go map order: random per call
        param_lines = []
        for key in keys:
            values = m.parameters[key] if isinstance(m.parameters[key], list) else [m.parameters[key]]
            param_lines += [f"{key:<30} {_go_sharp_v(v)}" for v in values]

        blob = lambda digest: str(self.blob_path(digest.replace(":", "-")))  # noqa: E731
        mf = ['# Modelfile generated by "ollama show"',
              "# To build a new Modelfile based on this, replace FROM with:",
              f"# FROM {m.name}", ""]
        mf.append(f"FROM {blob(model_layer.digest) if model_layer else ''}")
        mf += [f"ADAPTER {_modelfile_quote(blob(d))}" for d in m.adapters]
        mf += [f"FROM {blob(d)}" for d in m.layer_digests(MT_PROJECTOR)]
        mf.append(f"TEMPLATE {_modelfile_quote(template)}")
        if system:
            mf.append(f"SYSTEM {_modelfile_quote(system)}")
        for key in ("renderer", "parser"):
            if m.config.get(key):
                mf.append(f"{key.upper()} {_modelfile_quote(m.config[key])}")
        keys = list(m.parameters)
        rng.shuffle(keys)
        for key in keys:
            values = m.parameters[key] if isinstance(m.parameters[key], list) else [m.parameters[key]]
            mf += [f"PARAMETER {key} {_modelfile_quote(_go_v(v))}" for v in values]
        mf += [f"LICENSE {_modelfile_quote(text)}" for text in m.license]
        mf += [f"MESSAGE {msg.get('role', '')} {_modelfile_quote(msg.get('content', ''))}" for msg in m.messages]

        model_info = {k: v for k, v in info.kv.items() if k not in ("general.name", "tokenizer.chat_template")}
        if model_layer is not None:
            model_info["general.parameter_count"] = self._parameter_count(model_layer.digest)
        if not req.get("verbose"):
            model_info = {k: ([] if isinstance(v, list) and len(v) > 5 else v) for k, v in model_info.items()}

        out: dict[str, Any] = {}
        if m.license:
            out["license"] = "\n".join(m.license)
        out["modelfile"] = "\n".join(mf) + "\n"
        if param_lines:
            out["parameters"] = "\n".join(param_lines)
        out["template"] = template
        if system:
            out["system"] = system
        parent = model_layer.from_ if model_layer and not model_layer.from_.startswith("/") else ""
        out["details"] = self._details(m, parent=parent)
        if m.messages:
            out["messages"] = [{"role": msg.get("role", ""), "content": msg.get("content", "")} for msg in m.messages]
        out["model_info"] = _sorted_map(model_info)
        out["capabilities"] = self._capabilities(m, info, template)
        out["modified_at"] = _rfc3339_nano(m.modified_at_ns)
        if m.config.get("requires"):
            out["requires"] = m.config["requires"]
        return out

    def _capabilities(self, m: StoredModel, info: _GGUFInfo, template: str) -> list[str]:
        names = _template_vars(template)
        caps = ["embedding" if f"{info.architecture}.pooling_type" in info.kv else "completion"]
        if "tools" in names:
            caps.append("tools")
        if "suffix" in names:
            caps.append("insert")
        if m.layer_digests(MT_PROJECTOR):
            caps.append("vision")
        if "think" in names or "thinking" in names:
            caps.append("thinking")
        return caps + [c for c in m.config.get("capabilities") or [] if c not in caps]

    def _api_delete(self, h: _Handler, raw: bytes, params: dict[str, str]) -> _Response:
        req = _decode_request(raw, "DeleteRequest", _DELETE_FIELDS)
        given = req.get("model") or req.get("name") or ""
        name = ModelName.parse(given)
        if not name.is_valid():
            return _error_response(400, f"name {go_quote(given)} is invalid")
        with self._lock:
            m = self._find(name, fold=True)
            if m is None:
                return _error_response(404, f"model '{given}' not found")
            del self.models[m.name]
            self._prune(m)
        return _Response(200, content_type=None)

    def _api_pull(self, h: _Handler, raw: bytes, params: dict[str, str]) -> _Response:
        req = _decode_request(raw, "PullRequest", _PULL_FIELDS)
        name = ModelName.parse(req.get("model") or req.get("name") or "")
        if not name.is_valid():
            return _error_response(400, "invalid model name")
        existing = self._find(name, fold=True)
        target = ModelName.parse(existing.name) if existing else name
        return self._progress_response(self._pull_flow(target), req.get("stream", True))

    def _pull_flow(self, name: ModelName) -> Iterator[dict[str, Any]]:
        """PullModel: pulling manifest, per-layer download lines, verify, write, success."""
        yield {"status": "pulling manifest"}
        spec = next((s for key, s in self.registry.items() if ModelName.parse(key).fold() == name.fold()), None)
        if spec is None:
            raise OllamaError("pull model manifest: file does not exist")
        existed_before = set(self.blobs)
        layers = self._materialize(spec)  # the "registry" copy; stands in for the download
        for _media_type, digest, size in layers:
            short = digest[7:19]
            if digest not in existed_before:
                yield {"status": f"pulling {short}", "digest": digest, "total": size}
            yield {"status": f"pulling {short}", "digest": digest, "total": size, "completed": size}
        yield {"status": "verifying sha256 digest"}
        self._commit(name.display_shortest(), [Layer(mt, d, s) for mt, d, s in layers], {})
        yield {"status": "writing manifest"}
        yield {"status": "success"}

    def _api_create(self, h: _Handler, raw: bytes, params: dict[str, str]) -> _Response:
        # Request sample (ollama-python 0.6.3): {"model": "meton", "stream": true,
        #   "from": "qwen2.5-coder:7b", "adapters": {"meton-lora.gguf": "sha256:5f1124…"},
        #   "system": "Be brief.", "parameters": {"num_ctx": 8192, "stop": ["<|im_end|>"]}}
        req = _decode_request(raw, "CreateRequest", _CREATE_FIELDS)
        for key in req.get("files") or {}:
            if not _valid_fs_path(key):
                raise OllamaError("file path must be relative", 400)
        for mapping in (req.get("files"), req.get("adapters")):
            if any(digest == "" for digest in (mapping or {}).values()):
                raise OllamaError("invalid digest format", 400)
        name = ModelName.parse(req.get("model") or req.get("name") or "")
        if not name.is_valid():
            raise OllamaError("invalid model name", 400)
        existing = self._find(name, fold=True)
        target = existing.name if existing else name.display_shortest()
        return self._progress_response(self._create_flow(req, target), req.get("stream", True))

    def _create_flow(self, r: dict[str, Any], target: str) -> Iterator[dict[str, Any]]:
        """CreateHandler's goroutine: base, adapters, createModel, success."""
        base: list[Layer] = []
        base_config: dict[str, Any] = {}
        if r.get("from"):
            from_name = ModelName.parse(r["from"])
            if not from_name.is_valid():
                raise OllamaError("invalid model name", 400)
            # parseFromModel reads the manifest file by path: case-sensitive on Linux
            m = self._find(from_name, fold=False)
            if m is None:
                yield from self._pull_flow(from_name)
                m = self._find(from_name, fold=False)
                assert m is not None
            base = [Layer(x.media_type, x.digest, x.size, from_=m.name) for x in m.layers]
            base_config = {k: m.config.get(k) for k in ("renderer", "parser", "requires", "capabilities")}
        elif r.get("files") is not None:
            base = yield from self._convert(r["files"], adapter=False)
        else:
            raise OllamaError("neither 'from' or 'files' was specified", 400)

        if r.get("adapters") is not None:
            try:
                base += yield from self._convert(r["adapters"], adapter=True)
            except OllamaError as exc:
                raise OllamaError(exc.message, 400) from None
        for key in ("renderer", "parser", "requires"):
            if r.get(key):
                base_config[key] = r[key]

        # -- createModel
        layers = list(base)
        statuses = {id(x): f"using existing layer {x.digest}" for x in layers}
        quant = (r.get("quantize") or r.get("quantization") or "").upper()
        if quant:
            if quant not in _QUANT_TYPES:
                raise OllamaError(f"unsupported quantization type {quant} - supported types are F32, F16, Q4_K_S, Q4_K_M, Q8_0")
            for layer in layers:
                if layer.media_type != MT_MODEL:
                    continue
                current = self._gguf_info(layer.digest).file_type
                if current not in ("F16", "BF16", "F32"):
                    raise OllamaError("quantization is only supported for F16, BF16 and F32 models")
                if current != quant:
                    yield {"status": f"quantizing {current} model to {quant}"}
                    yield {"status": "verifying conversion"}
                    base_config["file_type_override"] = "Q4_K_M" if quant == "Q4_K" else quant

        def new_layer(media_type: str, content: bytes) -> Layer:
            digest, created = self._put_blob(content)
            layer = Layer(media_type, digest, len(content))
            statuses[id(layer)] = f"{'creating new' if created else 'using existing'} layer {digest}"
            return layer

        if r.get("template"):
            layers = [x for x in layers if x.media_type != MT_TEMPLATE]
            error = _template_error(r["template"])
            if error:
                raise OllamaError(f"template error: {error}", 400)
            layers.append(new_layer(MT_TEMPLATE, r["template"].encode()))
        if r.get("system"):
            layers = [x for x in layers if x.media_type != MT_SYSTEM]
            layers.append(new_layer(MT_SYSTEM, r["system"].encode()))
        if "license" in r:
            lic = r["license"]
            if isinstance(lic, str):
                texts = [lic] if lic else []
            elif isinstance(lic, list) and all(isinstance(x, str) for x in lic):
                texts = lic
            else:
                kind = _json_kind(next((x for x in lic if not isinstance(x, str)), lic) if isinstance(lic, list) else lic)
                raise OllamaError(f"json: cannot unmarshal {kind} into Go value of type {'string' if isinstance(lic, list) else '[]string'}")
            layers += [new_layer(MT_LICENSE, text.encode()) for text in texts]

        merged = dict(_floats(r.get("parameters") or {}))
        for x in layers:
            if x.media_type == MT_PARAMS:
                for key, value in json.loads(self.blob_bytes(x.digest)).items():
                    merged.setdefault(key, value)
        if merged:
            layers = [x for x in layers if x.media_type != MT_PARAMS]
            layers.append(new_layer(MT_PARAMS, (go_json(_sorted_map(merged)) + "\n").encode()))
        if r.get("messages"):
            layers = [x for x in layers if x.media_type != MT_MESSAGES]
            layers.append(new_layer(MT_MESSAGES, (go_json([_message(m) for m in r["messages"]]) + "\n").encode()))

        for layer in layers:
            yield {"status": statuses[id(layer)]}
        self._commit(target, layers, base_config)
        yield {"status": "writing manifest"}
        yield {"status": "success"}

    def _convert(self, files: Mapping[str, str], *, adapter: bool) -> Iterator[dict[str, Any]]:
        """convertModelFromFiles for GGUF: type by file name or magic, then one layer per file."""
        kind = ""
        for key, digest in files.items():
            if key.endswith(".safetensors"):
                kind = "safetensors"
                break
            if key.endswith(".gguf"):
                kind = "gguf"
                break
            path = self.blob_path(digest) if _DIGEST_RE.match(digest) else None
            if path is None or not path.is_file():
                break
            with open(path, "rb") as f:
                if _sniff_gguf(f.read(4)):
                    kind = "gguf"
                    break
        if kind == "safetensors":
            yield {"status": "converting adapter" if adapter else "converting model"}
            raise OllamaError("fake ollama: safetensors conversion is not implemented")
        if kind != "gguf":
            raise OllamaError("unknown type", 400)
        if adapter and len(files) > 1:
            raise OllamaError("only one adapter is currently supported", 400)
        layers: list[Layer] = []
        for digest in files.values():
            yield {"status": "parsing GGUF"}
            if not _DIGEST_RE.match(digest):
                raise OllamaError("invalid digest format")
            path = self.blob_path(digest)
            if not path.is_file():
                raise OllamaError(f"open {path}: no such file or directory")
            with open(path, "rb") as f:
                if not _sniff_gguf(f.read(512)):
                    raise OllamaError("supplied file was not in GGUF format", 400)
            normalized = "sha256:" + digest[7:]
            info = self._gguf_info(normalized)
            media_type = info.media_type()
            size = path.stat().st_size
            if media_type == MT_MODEL and not adapter and _version_at_least(self.version, (0, 30, 0)):
                yield {"status": "validating GGUF model", "digest": "0000000000000000000", "total": size, "completed": size}
                yield {"status": "verifying conversion"}
            layers.append(Layer(media_type, normalized, size, from_=str(path)))
        return layers

    # -- inference: /api/chat and /api/generate ----------------------------------

    def _api_chat(self, h: _Handler, raw: bytes, params: dict[str, str]) -> _Response:
        # Request sample (ollama-python 0.6.3): {"model": "qwen2.5-coder:7b", "messages":
        #   [{"role": "user", "content": "hi"}], "stream": true, "options": {"seed": 1}}
        req = _decode_request(raw, "ChatRequest", _CHAT_FIELDS)
        return self._inference("/api/chat", req, list(req.get("messages") or []))

    def _api_generate(self, h: _Handler, raw: bytes, params: dict[str, str]) -> _Response:
        req = _decode_request(raw, "GenerateRequest", _GENERATE_FIELDS)
        messages = [{"role": "system", "content": req["system"]}] if req.get("system") else []
        if req.get("prompt"):
            messages.append({"role": "user", "content": req["prompt"]})
        return self._inference("/api/generate", req, messages)

    def _inference(self, path: str, req: dict[str, Any], messages: list[dict[str, Any]]) -> _Response:
        """ChatHandler / GenerateHandler: the model, its options, then a stream of tokens."""
        name_text = req.get("model") or ""
        name = ModelName.parse(name_text)
        if not name_text or not name.is_valid():
            return _error_response(400, "model is required" if not name_text else f"model {go_quote(name_text)} not found")
        m = self._find(name, fold=True)
        if m is None:
            return _error_response(404, f"model {go_quote(name_text)} not found, try pulling it first")
        options = req.get("options")
        if options is not None and not isinstance(options, dict):
            return _error_response(400, f"json: cannot unmarshal {_json_kind(options)} into Go struct field options of type map[string]interface {{}}")
        effective = dict(m.parameters)
        for source in (m.parameters, options or {}):  # the model's stored options, then the request's
            problem = _options_problem(source)
            if problem:
                return _error_response(500, problem)
        effective.update({k: v for k, v in (options or {}).items() if v is not None})
        with self._lock:
            self.generations.append((path, name_text, None if options is None else dict(options)))
        stream = req.get("stream", True)
        chat = path == "/api/chat"
        if not any(msg.get("role") == "user" for msg in messages) and not (chat and messages):
            load = {"model": name_text, "created_at": _now(), **({"message": {"role": "assistant", "content": ""}} if chat else {"response": ""}),
                    "done_reason": "load", "done": True}
            return _json_response(200, load)
        text = self._answer(m, name_text, req, messages, effective)
        tokens, reason = _tokens(text, effective)
        stats = _timings(m.name, messages, tokens)
        fail_after = self._by_model(self.chat_error_after, name_text, m)
        delay = self._by_model(self.token_delay, name_text, m) or 0.0

        def part(content: str, done: bool) -> dict[str, Any]:
            body: dict[str, Any] = {"model": name_text, "created_at": _now()}
            body.update({"message": {"role": "assistant", "content": content}} if chat else {"response": content})
            body["done"] = done
            return body

        def final(content: str) -> dict[str, Any]:
            body = part(content, True)
            body["done_reason"] = reason
            if not chat:
                body["context"] = [len(tok) for tok in tokens][:8]
            body.update(stats)
            return body

        if not stream:
            if fail_after is not None:
                return _error_response(500, self.chat_error_message)
            return _json_response(200, final("".join(tokens)))

        def lines() -> Iterator[bytes]:
            # Wire sample: {"model":"m","created_at":"…","message":{"role":"assistant","content":"The"},"done":false}
            with self._lock:
                self._in_flight += 1
                self.most_in_flight = max(self.most_in_flight, self._in_flight)
            try:
                for i, token in enumerate(tokens):
                    if fail_after is not None and i >= fail_after:
                        yield (go_json({"error": self.chat_error_message}) + "\n").encode()
                        return
                    if delay and self._stopping.wait(delay):
                        return
                    yield (go_json(part(token, False)) + "\n").encode()
                yield (go_json(final("")) + "\n").encode()
            finally:
                with self._lock:
                    self._in_flight -= 1

        return _Response(200, content_type="application/x-ndjson", stream=lines())

    def _by_model(self, table: Mapping[str, Any], name_text: str, m: StoredModel) -> Any:
        return table.get(name_text, table.get(m.name))

    def _answer(self, m: StoredModel, name_text: str, req: Mapping[str, Any], messages: list[dict[str, Any]],
                options: Mapping[str, Any]) -> str:
        canned = self._by_model(self.answers, name_text, m)
        if canned is not None:
            return str(canned(dict(req)) if callable(canned) else canned)
        system = next((msg.get("content") for msg in messages if msg.get("role") == "system"), m.system)
        last_user = next((msg.get("content") or "" for msg in reversed(messages) if msg.get("role") == "user"), "")
        if ModelName.parse(m.name).model.startswith("echo") or system == "echo":
            return last_user
        temperature = float(options.get("temperature", 0.8))
        seed = options.get("seed", -1) if temperature > 0 else None
        key = go_json([m.name, [[msg.get("role"), msg.get("content")] for msg in messages], seed, temperature])
        digest = hashlib.sha256(key.encode()).digest()
        count = 4 + digest[0] % 9
        return " ".join(_WORDS[b % len(_WORDS)] for b in digest[1:1 + count]) + "."




_CHAT_FIELDS = {
    "model": _STR, "messages": _MESSAGES, "stream": _BOOL, "format": _ANY, "options": _ANY, "keep_alive": _ANY,
    "tools": _ANY, "think": _ANY, "template": _STR, "logprobs": _BOOL, "top_logprobs": _ANY,
}
_GENERATE_FIELDS = {
    "model": _STR, "prompt": _STR, "suffix": _STR, "system": _STR, "template": _STR, "context": _ANY, "stream": _BOOL,
    "raw": _BOOL, "format": _ANY, "images": _ANY, "options": _ANY, "keep_alive": _ANY, "think": _ANY,
    "logprobs": _BOOL, "top_logprobs": _ANY,
}
#: The runtime options of v0.32.15 (`api.Options` with its `Runner`) and the JSON kind `FromMap` takes.
_OPTION_KINDS = {
    **{k: "integer" for k in ("num_keep", "seed", "num_predict", "top_k", "repeat_last_n", "num_ctx", "num_batch",
                              "num_gpu", "main_gpu", "num_thread", "draft_num_predict")},
    **{k: "float32" for k in ("top_p", "min_p", "typical_p", "temperature", "repeat_penalty", "presence_penalty",
                              "frequency_penalty")},
    "use_mmap": "boolean", "stop": "array",
}
_WORDS = ("the", "model", "answers", "with", "a", "short", "reply", "about", "code", "tests", "profile", "seed",
          "quickly", "carefully", "function", "returns", "value", "list", "error", "fixed")


def _options_problem(options: Mapping[str, Any]) -> str | None:
    """`Options.FromMap`'s error for a wrongly typed value (unknown keys are ignored), or None."""
    for key, value in options.items():
        kind = _OPTION_KINDS.get(key)
        if kind is None or value is None:
            continue
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        if kind in ("integer", "float32") and not number:
            return f'option "{key}" must be of type {kind}'
        if kind == "boolean" and not isinstance(value, bool):
            return f'option "{key}" must be of type boolean'
        if kind == "array":
            if not isinstance(value, list):
                return f'option "{key}" must be of type array'
            if not all(isinstance(v, str) for v in value):
                return f'option "{key}" must be of an array of strings'
    return None


def _tokens(text: str, options: Mapping[str, Any]) -> tuple[list[str], str]:
    """The answer cut into streamed tokens (words with their spaces), with `stop` and `num_predict` applied."""
    reason = "stop"
    for stop in options.get("stop") or []:
        if stop and stop in text:
            text = text[:text.index(stop)]
    tokens = re.findall(r"\s*\S+|\s+", text)
    limit = options.get("num_predict")
    if isinstance(limit, (int, float)) and not isinstance(limit, bool) and 0 <= limit < len(tokens):
        tokens, reason = tokens[:int(limit)], "length"
    return tokens, reason


def _timings(model: str, messages: Sequence[Mapping[str, Any]], tokens: Sequence[str]) -> dict[str, int]:
    """The final object's durations (ns) and counts: a fixed speed per model, so arms differ."""
    per_token = 10_000_000 + int(hashlib.sha256(model.encode()).hexdigest()[:4], 16) % 20 * 1_000_000
    prompt_tokens = sum(len(str(msg.get("content") or "").split()) for msg in messages) + 4
    load, prompt_eval, evaluation = 1_500_000, prompt_tokens * 500_000, len(tokens) * per_token
    return {"total_duration": load + prompt_eval + evaluation, "load_duration": load, "prompt_eval_count": prompt_tokens,
            "prompt_eval_duration": prompt_eval, "eval_count": len(tokens), "eval_duration": evaluation}


def _now() -> str:
    return _rfc3339_nano(time.time_ns())

def _version_at_least(version: str, minimum: tuple[int, int, int]) -> bool:
    parts = re.findall(r"\d+", version)[:3]
    return tuple(int(p) for p in parts + ["0"] * (3 - len(parts))) >= minimum


def _floats(params: Mapping[str, Any]) -> dict[str, Any]:
    """JSON numbers decoded into Go `any` are float64."""

    def conv(v: Any) -> Any:
        if isinstance(v, bool) or not isinstance(v, (int, float, list, dict)):
            return v
        if isinstance(v, list):
            return [conv(x) for x in v]
        if isinstance(v, dict):
            return {k: conv(x) for k, x in v.items()}
        return float(v)

    return {k: conv(v) for k, v in params.items()}


def _message(m: Mapping[str, Any]) -> dict[str, Any]:
    """api.Message as stored: role and content always, the rest only when set."""
    out: dict[str, Any] = {"role": m.get("role") or "", "content": m.get("content") or ""}
    for key in ("thinking", "images", "tool_calls", "tool_name"):
        if m.get(key):
            out[key] = m[key]
    return out


try:  # a fixture for tests that `from fake_ollama import fake_ollama`
    import pytest

    @pytest.fixture
    def fake_ollama() -> Iterator[FakeOllama]:
        """A started FakeOllama (v0.32.15, empty registry), stopped after the test."""
        with FakeOllama() as server:
            yield server

    @pytest.fixture
    def server() -> Iterator[FakeOllama]:
        """A started FakeOllama whose registry serves `qwen2.5-coder:7b` (not local until pulled)."""
        name, model = QWEN_CODER_7B
        with FakeOllama(registry={name: model}) as fake:
            yield fake

except ImportError:  # pragma: no cover - pytest is always there in tests
    pass

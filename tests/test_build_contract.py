"""`mpl build` against a second, minimal Ollama fake written only from ollama-facts.md §4.

Differential testing: `tests/fake_ollama.py` and `mpl/deploy` were written together,
so anything they agree on but the facts do not would go unnoticed. The `Contract`
server below is independent of both (it imports neither) and follows §4 to the
letter where `mpl build` depends on it:

* §4.3 blobs: the digest format `^sha256[:-][0-9a-fA-F]{64}$`, HEAD 200/404, POST
  200 when present / 201 when the body's SHA-256 equals the digest *string*
  `sha256:<lowercase hex>` / 400 `digest mismatch`.
* §4.1 create: fields `model` (alias `name`), `from`, `files`, `adapters`, `template`,
  `system`, `license` (string or list, appended), `parameters` (stored as given and
  merged key by key), `messages` (replace when non-empty), `requires` (stored and
  inherited); a pull of a missing `from` (`pulling manifest` … `success` in the middle
  of the stream); §4.1.1 progress lines; errors before any line as an HTTP status with
  `{"error"}`, after as a last `{"error"}` line with HTTP 200.
* §4.5 show: the parameters text (key padded to 30, Go `%#v` of the float64 value,
  strings through `strconv.Quote`, one line per list element, random order), license
  joined with `\\n`, default template `{{ .Prompt }}`, optional keys left out when
  empty, `model_info` always present, 404 `model 'x:latest' not found`.
* §4.6 tags (`name` and `model`, a digest without `sha256:`), §4.7 delete, §4.4 version.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import re
import shutil
import threading
import time
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from helpers import EXAMPLES
from mpl.cli import app
from mpl.catalog.characters import printable

ADAPTER = EXAMPLES / "adapters" / "meton-lora.gguf"
DIGEST_FORMAT = re.compile(r"^sha256[:-][0-9a-fA-F]{64}$")
NAME_PART = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,79}$")
# Where the server says its blobs live: the models folder of a Linux service install.
BLOBS = "/usr/share/ollama/.ollama/models/blobs"


# -- Go formatting, from the facts -----------------------------------------------------


def go_float(x: float) -> str:
    """Go's `%v`/`%#v` of a float64: `strconv.FormatFloat(x, 'g', -1, 64)` (exponent when < 1e-4 or >= 1e6)."""
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "+Inf" if x > 0 else "-Inf"
    if x == 0:
        return "-0" if math.copysign(1, x) < 0 else "0"
    sign, digits, exp = Decimal(repr(float(x))).as_tuple()
    ds = "".join(map(str, digits)).rstrip("0") or "0"
    exp += len("".join(map(str, digits))) - len(ds)
    dp = len(ds) + exp  # position of the decimal point
    neg = "-" if sign else ""
    e = dp - 1
    if e < -4 or e >= 6:
        mant = ds[0] + ("." + ds[1:] if len(ds) > 1 else "")
        return f"{neg}{mant}e{'+' if e >= 0 else '-'}{abs(e):02d}"
    if dp <= 0:
        return f"{neg}0.{'0' * -dp}{ds}"
    if dp >= len(ds):
        return neg + ds + "0" * (dp - len(ds))
    return f"{neg}{ds[:dp]}.{ds[dp:]}"


def go_quote(s: str) -> str:
    """Go's `strconv.Quote`: printable runes as they are, else \\a \\b \\f \\n \\r \\t \\v, \\xNN, \\uNNNN, \\UNNNNNNNN."""
    out = ['"']
    for ch in s:
        o = ord(ch)
        if ch in '"\\':
            out.append("\\" + ch)
        elif printable(ch):  # Go's strconv.IsPrint, Unicode 15.0.0
            out.append(ch)
        elif ch in "\a\b\f\n\r\t\v":
            out.append({"\a": r"\a", "\b": r"\b", "\f": r"\f", "\n": r"\n", "\r": r"\r", "\t": r"\t", "\v": r"\v"}[ch])
        elif o < 0x20 or o == 0x7F:
            out.append(f"\\x{o:02x}")
        elif o < 0x10000:
            out.append(f"\\u{o:04x}")
        else:
            out.append(f"\\U{o:08x}")
    return "".join(out) + '"'


def go_sharp_v(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return go_float(float(value))  # JSON numbers decode as float64
    if isinstance(value, str):
        return go_quote(value)
    if isinstance(value, dict):  # stored through the API unchecked (§4.1); Go sorts map keys when printing
        return "map[string]interface {}{" + ", ".join(f"{go_quote(k)}:{go_sharp_v(v)}" for k, v in sorted(value.items())) + "}"
    if value is None:
        return "<nil>"
    raise AssertionError(value)


def modelfile_quote(s: str) -> str:
    if "\n" in s or s.startswith(" ") or s.endswith(" "):
        return f'"""{s}"""' if '"' in s else f'"{s}"'
    return s


# -- model names (§4.8) --------------------------------------------------------------


def split_name(name: str) -> tuple[str, str, str, str] | None:
    rest, tag = name, "latest"
    if rest.rfind(":") > rest.rfind("/"):
        rest, tag = rest[: rest.rfind(":")], rest[rest.rfind(":") + 1 :]
    parts = rest.split("/")
    if len(parts) > 3:
        return None
    host, namespace, model = (["registry.ollama.ai", "library", *parts] if len(parts) == 1 else
                              ["registry.ollama.ai", *parts] if len(parts) == 2 else parts)
    if not (NAME_PART.match(model) and NAME_PART.match(tag) and NAME_PART.match(namespace) and "." not in namespace):
        return None
    return host, namespace, model, tag


def shortest(name: str) -> str:
    host, namespace, model, tag = split_name(name) or ("", "", name, "latest")
    if host == "registry.ollama.ai":
        return f"{model}:{tag}" if namespace == "library" else f"{namespace}/{model}:{tag}"
    return f"{host}/{namespace}/{model}:{tag}"


# -- the server ----------------------------------------------------------------------


class Failure(Exception):
    def __init__(self, message: str, status: int = 500):
        super().__init__(message)
        self.status = status


class Contract:
    """A minimal Ollama server built from ollama-facts.md §4 (see the module docstring).

    Args:
        version: what `/api/version` reports.
        registry: models a `from` can pull: name -> {"family", "parameters", "template", "license", "system"}.
    Modes (set as attributes):
        reject: (status, text): every create answers that before streaming.
        fail_after_base: text: an error right after the base and adapters are read (after a pull's `success`).
        end_after_base: the stream just ends there (no error, no final `success`).
    """

    def __init__(self, version: str = "0.32.15", registry: dict[str, dict[str, Any]] | None = None):
        self.version = version
        self.registry = {shortest(k).lower(): v for k, v in (registry or {}).items()}
        self.blobs: dict[str, bytes] = {}
        self.models: dict[str, dict[str, Any]] = {}
        self.requests: list[tuple[str, str, Any, int]] = []  # method, path, body (json or byte count), status
        self.streamed: dict[str, list[dict[str, Any]]] = {}  # model -> lines sent
        self.reject: tuple[int, str] | None = None
        self.fail_after_base: str | None = None
        self.end_after_base = False
        self.lock = threading.Lock()
        contract = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                contract.handle(self, "GET")

            def do_HEAD(self) -> None:
                contract.handle(self, "HEAD")

            def do_POST(self) -> None:
                contract.handle(self, "POST")

            def do_DELETE(self) -> None:
                contract.handle(self, "DELETE")

        class Quiet(ThreadingHTTPServer):
            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # a client that hangs up after an error line resets the connection

        self.httpd = Quiet(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def __enter__(self) -> Contract:
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    # -- state helpers for tests --

    def add_local(self, name: str, family: str = "qwen2", **config: Any) -> None:
        data = f"model weights of {name}".encode()
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        self.blobs[digest] = data
        self.models[shortest(name).lower()] = {
            "name": shortest(name), "model_digest": digest, "family": family, "adapters": [],
            "template": config.get("template", ""), "system": config.get("system", ""),
            "license": list(config.get("license", [])), "parameters": dict(config.get("parameters", {})),
            "messages": list(config.get("messages", [])), "requires": config.get("requires", ""),
            "parent": "", "modified": time.time_ns(),
        }

    def model(self, name: str) -> dict[str, Any] | None:
        return self.models.get(shortest(name).lower())

    def of(self, method: str, prefix: str) -> list[tuple[str, str, Any, int]]:
        return [r for r in self.requests if r[0] == method and r[1].startswith(prefix)]

    # -- HTTP --

    def read_body(self, h: BaseHTTPRequestHandler) -> bytes:
        if h.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = b""
            while True:
                size = int(h.rfile.readline().split(b";")[0], 16)
                if size == 0:
                    h.rfile.readline()
                    return data
                data += h.rfile.read(size)
                h.rfile.readline()
        return h.rfile.read(int(h.headers.get("Content-Length") or 0))

    def handle(self, h: BaseHTTPRequestHandler, method: str) -> None:
        raw = self.read_body(h)
        path = h.path.split("?")[0]
        status, body, ctype, stream = self.route(method, path, raw)
        try:
            recorded: Any = json.loads(raw) if raw and not path.startswith("/api/blobs/") else len(raw)
        except ValueError:
            recorded = raw
        with self.lock:
            self.requests.append((method, path, recorded, status))
        h.send_response(status)
        h.send_header("Content-Type", ctype)
        if stream is not None:
            h.send_header("Transfer-Encoding", "chunked")
            h.end_headers()
            for line in stream:
                data = json.dumps(line, ensure_ascii=False).encode() + b"\n"
                h.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                h.wfile.flush()
            h.wfile.write(b"0\r\n\r\n")
            return
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        if method != "HEAD":
            h.wfile.write(body)

    def route(self, method: str, path: str, raw: bytes) -> tuple[int, bytes, str, Any]:
        routes = {
            "/api/version": ("GET", "HEAD"), "/api/create": ("POST",), "/api/show": ("POST",),
            "/api/tags": ("GET", "HEAD"), "/api/delete": ("DELETE",),
        }
        if path.startswith("/api/blobs/"):
            if method not in ("HEAD", "POST"):
                return 405, b"405 method not allowed", "text/plain", None
            return self.blob(method, path.removeprefix("/api/blobs/"), raw)
        if path not in routes:
            return 404, b"404 page not found", "text/plain", None
        if method not in routes[path]:
            return 405, b"405 method not allowed", "text/plain", None
        if path == "/api/version":
            return self.json(200, {"version": self.version})
        if path == "/api/tags":
            return self.json(200, {"models": [self.tag(m) for m in sorted(self.models.values(), key=lambda m: -m["modified"])]})
        if not raw:
            return self.json(400, {"error": "missing request body"})
        try:
            request = json.loads(raw)
        except ValueError as exc:
            return self.json(400, {"error": str(exc)})
        if path == "/api/show":
            return self.show(request)
        if path == "/api/delete":
            given = request.get("model") or request.get("name") or ""
            if self.models.pop(shortest(given).lower(), None) is None:
                return self.json(404, {"error": f"model '{given}' not found"})
            return 200, b"", "text/plain", None
        return self.create(request)

    def json(self, status: int, obj: Any) -> tuple[int, bytes, str, Any]:
        return status, json.dumps(obj).encode(), "application/json; charset=utf-8", None

    def blob(self, method: str, digest: str, raw: bytes) -> tuple[int, bytes, str, Any]:
        if not DIGEST_FORMAT.match(digest):
            return self.json(400, {"error": "invalid digest format"})
        exists = digest.replace("-", ":", 1) in self.blobs and digest == digest.replace("-", ":", 1).lower()
        if method == "HEAD":
            return (200, b"", "text/plain", None) if exists else self.json(404, {"error": f'blob "{digest}" not found'})
        if exists:
            return 200, b"", "text/plain", None
        real = "sha256:" + hashlib.sha256(raw).hexdigest()
        self.blobs[real] = raw  # kept under its real digest either way
        if real != digest:  # an exact string comparison (§4.3)
            return self.json(400, {"error": f'digest mismatch, expected "{digest}", got "{real}"'})
        return 201, b"", "text/plain", None

    def tag(self, m: dict[str, Any]) -> dict[str, Any]:
        return {"name": m["name"], "model": m["name"], "modified_at": "2026-01-01T00:00:00.000000000Z",
                "size": len(self.blobs.get(m["model_digest"], b"")), "digest": hashlib.sha256(m["name"].encode()).hexdigest(),
                "details": {"format": "gguf", "family": m["family"], "families": [m["family"]],
                            "parameter_size": "7.6B", "quantization_level": "Q4_K_M"}}

    def show(self, request: dict[str, Any]) -> tuple[int, bytes, str, Any]:
        name = request.get("model") or request.get("name") or ""
        if not name:
            return self.json(400, {"error": "model is required"})
        m = self.model(name)
        if m is None:
            return self.json(404, {"error": f"model '{shortest(name)}' not found"})
        lines = []
        for key, value in m["parameters"].items():
            for v in value if isinstance(value, list) else [value]:
                lines.append(f"{key:<30} {go_sharp_v(v)}")
        random.shuffle(lines)
        modelfile = ['# Modelfile generated by "ollama show"', "# To build a new Modelfile based on this, replace FROM with:",
                     f"# FROM {m['name']}", "", f"FROM {BLOBS}/{m['model_digest'].replace(':', '-')}"]
        modelfile += [f"ADAPTER {BLOBS}/{d.replace(':', '-')}" for d in m["adapters"]]
        if m["template"]:
            modelfile.append(f"TEMPLATE {modelfile_quote(m['template'])}")
        if m["system"]:
            modelfile.append(f"SYSTEM {modelfile_quote(m['system'])}")
        modelfile += [f"PARAMETER {line.split(' ', 1)[0]} {modelfile_quote(line.split(' ', 1)[1].strip())}" for line in lines]
        modelfile += [f"LICENSE {modelfile_quote(text)}" for text in m["license"]]
        modelfile += [f"MESSAGE {msg['role']} {modelfile_quote(msg['content'])}" for msg in m["messages"]]
        details = {"format": "gguf", "family": m["family"], "families": [m["family"]],
                   "parameter_size": "7.6B", "quantization_level": "Q4_K_M"}
        if m["parent"]:
            details = {"parent_model": m["parent"], **details}
        answer: dict[str, Any] = {
            "modelfile": "\n".join(modelfile) + "\n",
            "template": m["template"] or "{{ .Prompt }}",
            "details": details,
            "model_info": {"general.architecture": m["family"], "general.parameter_count": 7615616512},
            "capabilities": ["completion"],
            "modified_at": "2026-01-01T00:00:00.123456789Z",
        }
        if lines:
            answer["parameters"] = "\n".join(lines)
        if m["license"]:
            answer["license"] = "\n".join(m["license"])
        if m["system"]:
            answer["system"] = m["system"]
        if m["messages"]:
            answer["messages"] = m["messages"]
        if m["requires"]:
            answer["requires"] = m["requires"]
        return self.json(200, answer)

    def create(self, r: dict[str, Any]) -> tuple[int, bytes, str, Any]:
        name = r.get("model") or r.get("name") or ""
        for key, digest in {**(r.get("files") or {}), **(r.get("adapters") or {})}.items():
            if key.startswith("/") or ".." in key.split("/") or key.startswith("./") or key.endswith("/") or not key:
                return self.json(400, {"error": "file path must be relative"})
            if not digest:
                return self.json(400, {"error": "invalid digest format"})
        if split_name(name) is None:
            return self.json(400, {"error": "invalid model name"})
        if self.reject is not None:
            return self.json(self.reject[0], {"error": self.reject[1]})
        lines = self.create_flow(r, name)
        try:
            first = next(lines)
        except Failure as exc:  # nothing written yet: a real HTTP status
            return self.json(exc.status, {"error": str(exc)})
        sent = self.streamed.setdefault(shortest(name), [])

        def stream() -> Any:
            line: dict[str, Any] | None = first
            while line is not None:
                sent.append(line)
                yield line
                try:
                    line = next(lines)
                except StopIteration:
                    line = None
                except Failure as exc:
                    sent.append({"error": str(exc)})
                    yield {"error": str(exc)}  # HTTP 200 already; the last line
                    line = None

        if r.get("stream") is False:
            events = list(stream())
            if "error" in events[-1]:
                return self.json(500, events[-1])
            return self.json(200, events[-1])
        return 200, b"", "application/x-ndjson", stream()

    def create_flow(self, r: dict[str, Any], name: str) -> Any:
        config: dict[str, Any]
        if r.get("from"):
            source = r["from"]
            if split_name(source) is None:
                raise Failure("invalid model name", 400)
            base = self.model(source)
            if base is None:
                yield {"status": "pulling manifest"}
                spec = self.registry.get(shortest(source).lower())
                if spec is None:
                    raise Failure("pull model manifest: file does not exist")
                self.add_local(source, **spec)
                base = self.model(source)
                assert base is not None
                size = len(self.blobs[base["model_digest"]])
                yield {"status": f"pulling {base['model_digest'][7:19]}", "digest": base["model_digest"], "total": size, "completed": size}
                yield {"status": "verifying sha256 digest"}
                yield {"status": "writing manifest"}
                yield {"status": "success"}  # the pull's, not the create's
            config = {**base, "parent": base["name"], "adapters": list(base["adapters"]),
                      "license": list(base["license"]), "parameters": dict(base["parameters"])}
        elif r.get("files"):
            (key, digest), *_ = r["files"].items()
            yield {"status": "parsing GGUF"}
            if digest not in self.blobs:
                raise Failure(f"open {BLOBS}/{digest.replace(':', '-')}: no such file or directory")
            if self.blobs[digest][:4] not in (b"GGUF", b"FUGG"):
                raise Failure("supplied file was not in GGUF format", 400)
            config = {"model_digest": digest, "family": "llama", "adapters": [], "template": "", "system": "",
                      "license": [], "parameters": {}, "messages": [], "requires": "", "parent": ""}
        else:
            raise Failure("neither 'from' or 'files' was specified", 400)
        adapters = r.get("adapters") or {}
        if len(adapters) > 1:
            raise Failure("only one adapter is currently supported", 400)
        for digest in adapters.values():
            yield {"status": "parsing GGUF"}
            if digest not in self.blobs:
                raise Failure(f"open {BLOBS}/{digest.replace(':', '-')}: no such file or directory", 400)
            if self.blobs[digest][:4] not in (b"GGUF", b"FUGG"):
                raise Failure("supplied file was not in GGUF format", 400)
            config["adapters"].append(digest)
        if self.fail_after_base is not None:
            raise Failure(self.fail_after_base)
        if self.end_after_base:
            return
        if r.get("template"):
            if r["template"].count("{{") != r["template"].count("}}"):
                raise Failure("template error: template: :1: unclosed action", 400)
            config["template"] = r["template"]
        if r.get("system"):
            config["system"] = r["system"]
        licenses = r.get("license") or []
        config["license"] += [licenses] if isinstance(licenses, str) else list(licenses)
        config["parameters"].update(r.get("parameters") or {})
        if r.get("messages"):
            config["messages"] = [{"role": m["role"], "content": m["content"]} for m in r["messages"]]
        if r.get("requires"):
            config["requires"] = r["requires"]
        for digest in [config["model_digest"], *config["adapters"]]:
            yield {"status": f"using existing layer {digest}"}
        for part in ("template", "system", "parameters", "messages", "license"):
            if config[part]:
                data = json.dumps(config[part]).encode()
                digest = "sha256:" + hashlib.sha256(data).hexdigest()
                verb = "using existing" if digest in self.blobs else "creating new"
                self.blobs[digest] = data
                yield {"status": f"{verb} layer {digest}"}
        yield {"status": "writing manifest"}
        self.models[shortest(name).lower()] = {**config, "name": shortest(name), "modified": time.time_ns()}
        yield {"status": "success"}


# -- helpers -------------------------------------------------------------------------

QWEN = {"family": "qwen2", "template": "{{ .System }} {{ .Prompt }}", "license": ["Apache License 2.0"],
        "parameters": {"stop": ["<|im_end|>", "<|endoftext|>"], "temperature": 0.2}}


def build(*args: str, code: int) -> Any:
    result = CliRunner().invoke(app, ["build", *args])
    assert "Traceback" not in result.output, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code == code, result.output
    return result


def creates(server: Contract) -> list[dict[str, Any]]:
    return [r[2] for r in server.of("POST", "/api/create")]


def source(tmp_path: Path, text: str, *, adapter: bool = False) -> Path:
    if adapter:
        shutil.copy(ADAPTER, tmp_path / "lora.gguf")
    path = tmp_path / "m.mprof"
    path.write_text(text, encoding="utf-8")
    return path


# -- the Go formatting of this file is itself right ------------------------------------


@pytest.mark.parametrize(("x", "text"), [
    (40, "40"), (0.7, "0.7"), (1e6, "1e+06"), (1234567, "1.234567e+06"), (999999, "999999"), (1e-5, "1e-05"),
    (0.0001, "0.0001"), (-1, "-1"), (0.1, "0.1"), (1e21, "1e+21"), (16384, "16384"), (0.95, "0.95"), (1.5e-7, "1.5e-07"),
])
def test_go_float(x, text):
    assert go_float(x) == text


def test_go_quote():
    assert go_quote('a\n"b"\t\\ \u00a0«é» \x01\x7f\u200b\U0001F600') == '"a\\n\\"b\\"\\t\\\\ \\u00a0«é» \\x01\\x7f\\u200b😀"'
    assert go_quote("\a\b\f\v\r") == '"\\a\\b\\f\\v\\r"'


# -- builds ----------------------------------------------------------------------------


def test_meton_custom_uploads_once_creates_verifies_then_is_up_to_date():
    with Contract(registry={"qwen2.5-coder:7b": QWEN}) as server:
        first = build("--target", "ollama", "meton-custom", "-f", str(EXAMPLES / "meton.mprof"), "--host", server.url, code=0)
        assert "meton-custom: created and verified" in first.stdout
        assert "MPL601" in first.stderr  # the file pins 0.12; the server runs 0.32.15
        digest = "sha256:" + hashlib.sha256(ADAPTER.read_bytes()).hexdigest()
        assert [r[3] for r in server.of("HEAD", "/api/blobs/")] == [404]
        assert server.of("POST", "/api/blobs/") == [("POST", f"/api/blobs/{digest}", ADAPTER.stat().st_size, 201)]
        (request,) = creates(server)
        assert request["model"] == "meton-custom" and request["from"] == "qwen2.5-coder:7b" and request["stream"] is True
        assert request["adapters"] == {"meton-lora.gguf": digest} and "files" not in request
        params = request["parameters"]
        ints = {k: v for k, v in params.items() if type(v) is int}
        floats = {k: v for k, v in params.items() if type(v) is float}
        assert ints == {"num_ctx": 16384, "num_predict": 2048, "seed": -1, "top_k": 40}
        assert floats == {"temperature": 0.0, "min_p": 0.1, "repeat_penalty": 1.1}
        assert params["stop"] == ["<|im_end|>"]
        assert request["system"].startswith("You are Meton") and "license" not in request
        assert request["messages"] == [{"role": "user", "content": "Is Toronto in Canada?"}, {"role": "assistant", "content": "yes"}]
        assert any(line.get("status") == "success" for line in server.streamed["meton-custom:latest"][:-1])  # the pull's
        model = server.model("meton-custom")
        assert model["adapters"] == [digest] and model["license"] == ["Apache License 2.0"]
        assert model["parameters"]["stop"] == ["<|im_end|>"]  # replaced, not extended

        server.requests.clear()
        second = build("meton-custom", "-f", str(EXAMPLES / "meton.mprof"), "--host", server.url, code=0)
        assert "meton-custom: up to date" in second.stdout
        assert not server.of("POST", "/api/blobs/") and not creates(server)


def test_finetune_all_builds_the_chain_and_is_then_up_to_date():
    with Contract(registry={"qwen2.5-coder:1.5b": QWEN}) as server:
        result = build("--all", "-f", str(EXAMPLES / "finetune.mprof"), "--host", server.url, code=0)
        assert "coder-lora:latest: created and verified" in result.stdout
        assert "coder-chat: created and verified" in result.stdout
        lora, chat = creates(server)
        assert lora["model"] == "coder-lora:latest" and lora["requires"] == "0.5.5" and lora["license"] == ["Apache-2.0"]
        assert lora["parameters"]["stop"] == ["```", "\n\n\n", "<|endoftext|>"] and type(lora["parameters"]["num_ctx"]) is int
        assert chat["from"] == "coder-lora:latest" and "adapters" not in chat and len(chat["messages"]) == 2
        assert len(server.of("POST", "/api/blobs/")) == 1
        stored = server.model("coder-chat")
        assert stored["adapters"] == server.model("coder-lora")["adapters"] and stored["requires"] == "0.5.5"
        assert stored["license"] == ["Apache License 2.0", "Apache-2.0"]
        server.requests.clear()
        again = build("--all", "-f", str(EXAMPLES / "finetune.mprof"), "--host", server.url, code=0)
        assert again.stdout.count("up to date") == 2 and not creates(server)


def test_go_quoted_stop_strings_and_exponent_numbers_verify(tmp_path):
    stops = ["\n\n", 'say "hi"', "a\tb", "«fin» 終", "nb\u00a0sp", "back\\slash", "\u200b"]
    text = "".join(f"  stop {json.dumps(s)}\n" for s in stops)
    path = source(tmp_path, f'model m from "base:1b" <\n{text}  num_ctx 1000000\n  seed 1234567\n  min_p 0.00001\n  top_p 0.95\n>\n')
    with Contract() as server:
        server.add_local("base:1b", parameters={"stop": ["x"], "num_ctx": 2048, "repeat_last_n": 64})
        build("m", "-f", str(path), "--host", server.url, code=0)
        (request,) = creates(server)
        assert request["parameters"] == {"stop": stops, "num_ctx": 1000000, "seed": 1234567, "min_p": 0.00001, "top_p": 0.95}
        assert [type(request["parameters"][k]) for k in ("num_ctx", "seed", "min_p")] == [int, int, float]
        show = server.show({"model": "m"})[1].decode()
        assert "1e+06" in show and "1.234567e+06" in show and "1e-05" in show and "\\u00a0" in show and "\\u200b" in show
        server.requests.clear()
        assert "m: up to date" in build("m", "-f", str(path), "--host", server.url, code=0).stdout


def test_an_error_line_mid_stream_fails_the_build(tmp_path):
    path = source(tmp_path, 'model m from "base:1b" < adapter "./lora.gguf"; temperature 0.5 >\n', adapter=True)
    with Contract() as server:
        server.add_local("base:1b")
        server.fail_after_base = f"open {BLOBS}/sha256-00: input/output error"
        result = build("m", "-f", str(path), "--host", server.url, code=1)
        assert f"creating `m`: open {BLOBS}/sha256-00: input/output error; `m` was not created" in result.stderr
        assert "created and verified" not in result.output


def test_a_pulls_success_line_is_not_the_end(tmp_path):
    path = source(tmp_path, 'model m from "qwen2.5-coder:7b" < temperature 0.5 >\n')
    with Contract(registry={"qwen2.5-coder:7b": QWEN}) as server:
        server.fail_after_base = "only one adapter is currently supported"
        result = build("m", "-f", str(path), "--host", server.url, code=1)
        assert server.streamed["m:latest"][-2] == {"status": "success"}
        assert "creating `m`: only one adapter is currently supported; `m` was not created" in result.stderr


def test_a_stream_that_ends_after_the_pulls_success_is_a_failure(tmp_path):
    path = source(tmp_path, 'model m from "qwen2.5-coder:7b" < temperature 0.5 >\n')
    with Contract(registry={"qwen2.5-coder:7b": QWEN}) as server:
        server.end_after_base = True
        result = build("m", "-f", str(path), "--host", server.url, code=1)
        assert server.streamed["m:latest"][-1] == {"status": "success"}
        assert "creating `m`: the server ended the stream without `success`" in result.stderr


def test_a_from_model_the_registry_does_not_have(tmp_path):
    path = source(tmp_path, 'model m from "nosuch:1b" < temperature 0.5 >\n')
    with Contract() as server:
        result = build("m", "-f", str(path), "--host", server.url, code=1)
        assert server.streamed["m:latest"] == [{"status": "pulling manifest"}, {"error": "pull model manifest: file does not exist"}]
        assert "creating `m`: pull model manifest: file does not exist; `m` was not created" in result.stderr


def test_an_http_400_before_the_stream(tmp_path):
    path = source(tmp_path, 'model m from "base:1b" < temperature 0.5 >\n')
    with Contract() as server:
        server.add_local("base:1b")
        server.reject = (400, "template error: template: :1: unclosed action")
        result = build("m", "-f", str(path), "--host", server.url, code=1)
        assert "creating `m`: template error: template: :1: unclosed action (HTTP 400); `m` was not created" in result.stderr


def test_a_server_on_0_34_1_is_warned_about_and_still_takes_a_gguf_adapter():
    with Contract(version="0.34.1", registry={"qwen2.5-coder:7b": QWEN}) as server:
        server.add_local("qwen2.5-coder:7b", **QWEN)
        result = build("meton-custom", "-f", str(EXAMPLES / "meton.mprof"), "--host", server.url, code=0)
        assert "warning[MPL608]" in result.stderr and "is not known" in result.stderr
        assert server.of("POST", "/api/blobs/") and creates(server)


def test_a_development_build_is_treated_as_unknown_and_may_take_adapters(tmp_path):
    path = source(tmp_path, 'model m from "base:1b" < adapter "./lora.gguf"; temperature 0.5 >\n', adapter=True)
    with Contract(version="0.0.0") as server:
        server.add_local("base:1b")
        result = build("m", "-f", str(path), "--host", server.url, code=0)
        assert "the server reports version `0.0.0`" in result.stderr and "m: created and verified" in result.stdout


def test_odd_values_a_base_stored_through_the_api_do_not_break_verification(tmp_path):
    path = source(tmp_path, 'model m from "base:1b" < temperature 0.5 >\n')
    with Contract() as server:
        server.add_local("base:1b", parameters={"weird": {"a": 1}, "nothing": None, "stop": "x", "use_mmap": True, "top_k": 1e6})
        build("m", "-f", str(path), "--host", server.url, code=0)
        assert "m: up to date" in build("m", "-f", str(path), "--host", server.url, code=0).stdout


def test_names_with_the_default_namespace_are_up_to_date(tmp_path):
    path = source(tmp_path, 'model m from "registry.ollama.ai/library/base:1b" < temperature 0.5 >\n')
    with Contract() as server:
        server.add_local("base:1b")
        build("m", "-f", str(path), "--host", server.url, code=0)
        assert server.model("m")["parent"] == "base:1b"
        assert "m: up to date" in build("m", "-f", str(path), "--host", server.url, code=0).stdout


def test_only_a_success_after_every_pull_counts():
    from mpl.deploy.server import Server, ServerError

    server = Server("http://127.0.0.1:9")
    pulled = [{"status": "pulling manifest"}, {"status": "pulling 0a1b", "digest": "sha256:0a1b", "total": 2, "completed": 2},
              {"status": "verifying sha256 digest"}, {"status": "writing manifest"}, {"status": "success"}]
    try:
        for lines, ok in [
            (pulled, False), (pulled + [{"status": "writing manifest"}], False),
            (pulled + [{"status": "using existing layer sha256:00"}, {"status": "success"}], True),
            ([{"status": "parsing GGUF"}, {"status": "writing manifest"}, {"status": "success"}], True), ([], False),
        ]:
            server._create_client = lambda request, lines=lines: iter(lines)  # type: ignore[method-assign]
            try:
                server.create({"model": "m", "from": "b"}, lambda line: None)
                assert ok, lines
            except ServerError as exc:
                assert not ok and "without `success`" in str(exc), lines
        server._create_client = lambda request: iter([{"status": "parsing GGUF"}, ["not", "an", "object"]])  # type: ignore[method-assign]
        with pytest.raises(ServerError, match="not a JSON object"):
            server.create({"model": "m", "from": "b"}, lambda line: None)

        def client_fails(request):  # what the client's own `part.get("error")` does on such a line
            yield {"status": "parsing GGUF"}
            raise AttributeError("'list' object has no attribute 'get'")

        server._create_client = client_fails  # type: ignore[method-assign]
        with pytest.raises(ServerError, match="could not be read"):
            server.create({"model": "m", "from": "b"}, lambda line: None)
    finally:
        server.close()

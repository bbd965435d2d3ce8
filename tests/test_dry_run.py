"""`mpl build --dry-run --ollama X.Y` plans against that version without a server."""

from __future__ import annotations

import json
import socket
import time

from gguf_files import write_adapter
from test_build import build, source

BASE = "qwen2.5-coder:7b"


def _closed_port() -> str:
    """An address where nothing listens (a port just released by the OS)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def test_dry_run_with_a_version_needs_no_server(tmp_path):
    write_adapter(tmp_path / "lora.gguf")
    path = source(tmp_path, f'model m from "{BASE}" <\n  adapter "./lora.gguf"\n  num_ctx 4096\n>\n')
    host = _closed_port()
    started = time.monotonic()
    result = build("m", "-f", str(path), "--host", host, "--ollama", "0.12", "--dry-run", expect=0)
    assert time.monotonic() - started < 20
    plan = json.loads(result.stdout)
    assert plan["offline"] is True and plan["server_version"] is None and plan["checked_against"] == "0.12.0"
    (item,) = plan["models"]
    assert item["action"] == "create" and item["request"]["from"] == BASE
    assert item["request"]["parameters"] == {"num_ctx": 4096} and item["request"]["adapters"]
    (upload,) = item["uploads"]
    assert upload["digest"].startswith("sha256:") and upload["on_server"] is None
    assert "not on the server" not in result.stderr  # nothing is claimed about a server not asked


def test_dry_run_with_a_version_sends_no_request(server, tmp_path):
    path = source(tmp_path, f'model m from "{BASE}" < num_ctx 4096 >\n')
    build("m", "-f", str(path), "--host", server.url, "--ollama", "0.6", "--dry-run", expect=0)
    assert server.requests == []


def test_dry_run_with_a_version_still_stops_on_errors(tmp_path):
    path = source(tmp_path, f'model m from "{BASE}" < mirostat 2 >\n')
    result = build("m", "-f", str(path), "--host", _closed_port(), "--ollama", "0.12", "--dry-run", expect=1)
    assert "MPL403" in result.stderr and "build stopped before anything was sent" in result.stderr


def test_dry_run_without_a_version_still_asks_the_server(tmp_path):
    path = source(tmp_path, f'model m from "{BASE}" < num_ctx 4096 >\n')
    result = build("m", "-f", str(path), "--host", _closed_port(), "--dry-run", "--timeout", "5", expect=1)
    assert result.stderr.startswith("mpl: error:")

"""Faults: a broken server at each stage of `mpl build`, a broken disk or a killed `mpl compile`.

A server fault ends in one `mpl: error:` line, exit 1, within a bound set by
`--timeout`, and an account of what exists on the server that the fake confirms.
A hostile server (escape sequences and forged lines in its texts, dripped headers,
huge answers, redirects, odd JSON shapes) gets the same, its text shown escaped and cut.
An output fault leaves every output the old or the new complete file.
"""

from __future__ import annotations

import functools

import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fake_ollama import QWEN_CODER_7B, FakeOllama
from gguf_files import write_adapter, write_large_adapter
from helpers import ROOT
from mpl.cli import app
from mpl.output import OutputError, TEMPORARY, write_all
from mpl.targets.base import OutputFile

BASE, QWEN = QWEN_CODER_7B


@pytest.fixture
def local(server):
    server.add_model(BASE, family="qwen2", parameters=QWEN.parameters, template=QWEN.template, license=QWEN.license)
    server.base_blobs = set(server.blobs)  # the base model's layers; `_new_blobs` is what a build left
    return server


def _new_blobs(fake: FakeOllama) -> set[str]:
    return set(fake.blobs) - fake.base_blobs


def build(*args: str) -> tuple[int, str, float]:
    start = time.monotonic()
    result = CliRunner().invoke(app, ["build", *args])
    elapsed = time.monotonic() - start
    assert "Traceback" not in result.output, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result.exit_code, result.stderr, elapsed


def one_error(stderr: str) -> str:
    """The single `mpl: error:` line (and there is exactly one, on one line)."""
    errors = [line for line in stderr.splitlines() if line.startswith("mpl: error:")]
    assert len(errors) == 1, stderr
    return errors[0]


def source(tmp_path: Path, adapter: bool = False) -> Path:
    if adapter:
        write_adapter(tmp_path / "lora.gguf", tensor_bytes=64 * 1024)
    path = tmp_path / "m.mprof"
    body = 'adapter "./lora.gguf"' if adapter else "seed 1"
    path.write_text(f'model m from "{BASE}" <\n  {body}\n>\n', encoding="utf-8")
    return path


# -- the server, stage by stage -------------------------------------------------------


def test_connection_refused(tmp_path):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code, err, elapsed = build("m", "-f", str(source(tmp_path)), "--host", f"127.0.0.1:{port}")
    assert code == 1 and "cannot connect to Ollama" in one_error(err) and elapsed < 10


@pytest.mark.parametrize("stage", ["GET /api/version", "POST /api/show", "GET /api/tags", "HEAD /api/blobs/:digest"])
def test_no_answer_at_each_stage_fails_within_the_timeout(local, tmp_path, stage):
    local.answer_with = {stage: local.silent(30)}  # not even the status line comes in time
    path = source(tmp_path, adapter=stage.startswith("HEAD"))
    code, err, elapsed = build("m", "-f", str(path), "--host", local.url, "--timeout", "0.5")
    assert code == 1 and "within 0.5 s (see --timeout)" in one_error(err)
    assert elapsed < 5
    assert "m" not in local.models and not _posts(local)


@pytest.mark.parametrize("stage", ["GET /api/version", "POST /api/show", "POST /api/create"])
def test_a_dripping_answer_is_cut_by_the_timeout(local, tmp_path, stage):
    body = b'{"status":"parsing GGUF"}\n{"status":"success"}\n' if stage == "POST /api/create" else b'{"version":"0.32.15"}'
    local.answer_with = {stage: local.dripping(body, interval=0.2)}
    code, err, elapsed = build("m", "-f", str(source(tmp_path)), "--host", local.url, "--timeout", "1")
    line = one_error(err)
    what = "no complete answer line" if stage == "POST /api/create" else "no complete answer"
    assert code == 1 and f"sent {what} within 1 s (see --timeout)" in line, line
    assert elapsed < 6
    assert "m" not in local.models
    if stage == "POST /api/create":  # asked afterwards: the fake processed nothing
        assert line.endswith("`m` was not created")


@pytest.mark.parametrize("stage", ["GET /api/version", "POST /api/show", "POST /api/create"])
def test_a_huge_answer_is_cut(local, tmp_path, stage):
    local.answer_with = {stage: FakeOllama.huge(40 * 1024 * 1024)}
    code, err, elapsed = build("m", "-f", str(source(tmp_path)), "--host", local.url)
    says = "more than 1 MiB without a line break" if stage == "POST /api/create" else "the answer holds more than 32 MiB;"
    assert code == 1 and says in one_error(err)
    assert elapsed < 30 and "m" not in local.models


@pytest.mark.parametrize(
    ("stage", "body", "says"),
    [
        ("GET /api/version", b"{not json", "does not look like an Ollama server"),
        ("GET /api/version", b"", "does not look like an Ollama server"),
        ("POST /api/show", b"<html>proxy error</html>", "not JSON"),
        ("GET /api/tags", b'{"models": 7}', "not a model list"),
        ("POST /api/create", b'{"status":"parsing GGUF"}\nnot json at all\n', "not JSON"),
        ("POST /api/create", b'[1, 2]\n', "could not be read"),
    ],
)
def test_garbage_json_is_one_line(local, tmp_path, stage, body, says):
    content_type = "application/x-ndjson" if stage == "POST /api/create" else "application/json; charset=utf-8"
    local.answer_with = {stage: FakeOllama.raw(body, content_type=content_type)}
    code, err, _ = build("m", "-f", str(source(tmp_path)), "--host", local.url)
    line = one_error(err)
    assert code == 1 and says in line, line
    assert "m" not in local.models
    if stage == "POST /api/create":
        assert line.endswith("`m` was not created")


@pytest.mark.parametrize(
    ("stage", "says"),
    [
        ("POST /api/blobs/:digest", "uploading"),
        ("POST /api/show", "reading model"),
        ("POST /api/create", "creating `m`"),
        ("GET /api/tags", "listing the server's models"),
    ],
)
def test_500_with_ollamas_error_at_each_stage(local, tmp_path, stage, says):
    local.fail_next = {stage: (500, "something broke inside")}
    code, err, _ = build("m", "-f", str(source(tmp_path, adapter=True)), "--host", local.url)
    line = one_error(err)
    assert code == 1 and says in line and "something broke inside (HTTP 500)" in line, line
    assert "m" not in local.models
    if stage in ("POST /api/blobs/:digest", "POST /api/create"):
        assert line.endswith("`m` was not created")
    if stage == "POST /api/blobs/:digest":
        assert not _new_blobs(local) and "POST /api/create" not in _posts(local)


def test_error_mid_create_stream_leaves_no_model(local, tmp_path):
    local.stream_error_after = "parsing GGUF"
    code, err, _ = build("m", "-f", str(source(tmp_path, adapter=True)), "--host", local.url)
    assert code == 1 and one_error(err).endswith("injected stream error; `m` was not created")
    assert "m" not in local.models
    assert len(_new_blobs(local)) == 1  # the adapter blob was uploaded and stays (unused) on the server


def test_connection_closed_mid_upload(local, tmp_path):
    local.cut_upload_after = 16 * 1024
    code, err, elapsed = build("m", "-f", str(source(tmp_path, adapter=True)), "--host", local.url, "--timeout", "2")
    line = one_error(err)
    assert code == 1 and line.startswith("mpl: error: uploading ") and line.endswith("`m` was not created"), line
    assert elapsed < 10
    assert "m" not in local.models and not _new_blobs(local) and "POST /api/create" not in _posts(local)


def test_connection_closed_mid_create_stream_is_accounted_for(local, tmp_path):
    local.drop_connection_on = {"POST /api/create"}
    code, err, _ = build("m", "-f", str(source(tmp_path)), "--host", local.url)
    assert code == 1 and "which was not verified" in one_error(err)
    assert "m:latest" in local.models  # as the account says


@pytest.mark.parametrize(
    ("version", "code", "says"),
    [
        ("0.0.0", 0, "development build"),
        ("not-a-version", 0, "development build"),
        ("", 0, "development build"),
        ("0.5.4", 1, "needs 0.5.5 or later"),
        ("v0.32.15", 0, None),
        ("0.32.15-rc1+local", 0, None),
        ("99.0.0", 0, None),
    ],
)
def test_odd_versions(tmp_path, version, code, says):
    with FakeOllama(version=version, registry={BASE: QWEN}) as fake:
        fake.add_model(BASE, family="qwen2", parameters=QWEN.parameters, template=QWEN.template, license=QWEN.license)
        got, err, _ = build("m", "-f", str(source(tmp_path)), "--host", fake.url)
        assert got == code, err
        if says:
            assert says in err
        assert ("m:latest" in fake.models) == (code == 0)


def test_ctrl_c_during_an_upload_ends_cleanly(local, tmp_path):
    write_large_adapter(tmp_path / "lora.gguf", 24 * 1024 * 1024)
    path = tmp_path / "m.mprof"
    path.write_text(f'model m from "{BASE}" < adapter "./lora.gguf" >\n', encoding="utf-8")
    local.upload_pause = 0.02  # about 3 MiB/s: the upload takes several seconds
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "mpl", "build", "m", "-f", str(path), "--host", local.url],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        deadline = time.monotonic() + 60
        while not any(r.method == "POST" and r.path.startswith("/api/blobs/") for r in local.requests):
            assert time.monotonic() < deadline and proc.poll() is None, proc.communicate()
            time.sleep(0.05)
        time.sleep(0.5)
        sent = time.monotonic()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert time.monotonic() - sent < 15
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    (line,) = [x for x in err.splitlines() if x.startswith("mpl: interrupted")]
    assert "`m` was not created (its upload was cut" in line
    time.sleep(0.2)
    assert "m:latest" not in local.models and not _new_blobs(local)


# -- hostile servers: what the server says is shown safely, every read is bounded ----------

EVIL = "bad\x1b[2J\x1b]0;pwned\x07\nmpl: ok: model created\u202e" + "y" * 5000


def shown_safely(stderr: str) -> str:
    """The one `mpl: error:` line, after checking that no server text reached the terminal raw."""
    lines = stderr.splitlines()
    assert all(line.isprintable() for line in lines), repr(stderr[:3000])
    assert not any(line.startswith("mpl: ok") for line in lines), stderr[:3000]
    line = one_error(stderr)
    assert len(line) < 1000, line[:3000]
    return line


def _ndjson(*lines: object) -> bytes:
    import json

    return b"".join(json.dumps(line).encode() + b"\n" for line in lines)


_EVIL_AT = {
    "version 500": lambda f: f.fail_next.update({"GET /api/version": (500, EVIL)}),
    "show 500": lambda f: f.fail_next.update({"POST /api/show": (500, EVIL)}),
    "tags 500": lambda f: f.fail_next.update({"GET /api/tags": (500, EVIL)}),
    "upload 500": lambda f: f.fail_next.update({"POST /api/blobs/:digest": (500, EVIL)}),
    "create 500": lambda f: f.fail_next.update({"POST /api/create": (500, EVIL)}),
    "create stream error": lambda f: setattr(f, "stream_error_after", "parsing GGUF") or setattr(f, "stream_error_message", EVIL),
    "version not JSON": lambda f: f.answer_with.update({"GET /api/version": FakeOllama.raw(EVIL.encode())}),
    "show not an object": lambda f: f.answer_with.update({"POST /api/show": FakeOllama.raw(_ndjson([EVIL]))}),
    "tags not a list": lambda f: f.answer_with.update({"GET /api/tags": FakeOllama.raw(EVIL.encode())}),
    "create status": lambda f: f.answer_with.update(
        {"POST /api/create": FakeOllama.raw(_ndjson({"status": EVIL}, {"status": "success"}), content_type="application/x-ndjson")}),
    "20 MB error": lambda f: f.answer_with.update(
        {"POST /api/create": FakeOllama.raw(_ndjson({"error": "x" * 20_000_000}), status=500)}),
}


@pytest.mark.parametrize("stage", list(_EVIL_AT))
def test_server_text_reaches_the_terminal_escaped_and_cut(local, tmp_path, stage):
    """Every ServerError message (and a create status line) shows the server's text made `visible`."""
    _EVIL_AT[stage](local)
    code, err, _ = build("m", "-f", str(source(tmp_path, adapter=True)), "--host", local.url)
    line = shown_safely(err)
    assert code == 1, err
    assert "more characters not shown" in line or stage == "create status", line
    if stage not in ("20 MB error", "show not an object"):  # that one shows the JSON text, escaped by JSON already
        assert "bad\\x1b[2J\\x1b]0;pwned\\x07\\nmpl: ok: model created\\u202e" in err, err[:3000]
    assert "m:latest" not in local.models


def test_the_servers_version_is_shown_escaped(local, tmp_path):
    local.version = "0.0.0-" + EVIL  # a development build: warned about, then built
    code, err, _ = build("m", "-f", str(source(tmp_path)), "--host", local.url)
    assert code == 0, err
    (warning,) = [x for x in err.splitlines() if x.startswith("mpl: warning: the server reports version")]
    assert "0.0.0-bad\\x1b[2J" in warning and "more characters not shown" in warning and len(warning) < 500
    assert all(x.isprintable() for x in err.splitlines()) and "\nmpl: ok" not in err


def test_a_server_error_is_one_escaped_line_whatever_it_is_given():
    from mpl.deploy.server import ServerError

    message = str(ServerError("doing: " + EVIL * 10))
    assert message.isprintable() and len(message) < 2100 and message.endswith("more characters not shown)")


def test_a_parameter_name_from_the_server_is_escaped_in_a_difference():
    from mpl.deploy.verify import Difference

    text = Difference("parameters", EVIL, 1, 2).describe()
    assert text.isprintable() and text.startswith("parameter `bad\\x1b[2J") and len(text) < 300


_ODD_SHOWS = [
    ({"details": "x"}, "`details` that is not an object"),
    ({"model_info": [1]}, "`model_info` that is not an object"),
    ({"messages": "ab"}, "`messages` that is not a list of objects"),
    ({"messages": [1]}, "`messages` that is not a list of objects"),
    ({"details": {"parent_model": 5}}, "`details.parent_model` that is not a string"),
    ({"template": 5}, "`template` that is not a string"),
    ({"parameters": ["x"]}, "`parameters` that is not a string"),
    ({"license": ["MIT"]}, "`license` that is not a string"),
    ({"requires": 5}, "`requires` that is not a string"),
]


@pytest.mark.parametrize(("show", "says"), _ODD_SHOWS)
@pytest.mark.parametrize("command", ["build", "import"])
def test_a_show_answer_of_odd_shapes_is_one_line(local, tmp_path, show, says, command):
    """A field mpl reads, of another JSON type than Ollama sends: one line naming it, not a traceback."""
    import json

    local.answer_with = {"POST /api/show": FakeOllama.raw(json.dumps(show).encode())}
    if command == "build":
        code, err, _ = build("m", "-f", str(source(tmp_path)), "--host", local.url)
        assert code == 1, err
    else:
        result = CliRunner().invoke(app, ["import", "--from-server", BASE, "--host", local.url])
        assert isinstance(result.exception, SystemExit) and result.exit_code == 2, repr(result.exception)
        err = result.stderr
    line = shown_safely(err)
    assert f"reading model `qwen2.5-coder:7b`: the server's answer has a {says}" in line, line


def test_odd_show_shapes_are_read_as_fields_absent():
    from mpl.deploy.verify import state_from_show

    state = state_from_show({"details": "x", "model_info": [1], "messages": [1, "a", {"role": "user", "content": "hi"}], "requires": 5})
    assert state.architecture is None and state.messages == (("user", "hi"),) and state.requires is None


def test_the_servers_architecture_is_escaped_in_a_diagnostic(local, tmp_path):
    import json

    local.answer_with = {"POST /api/show": FakeOllama.raw(json.dumps({"model_info": {"general.architecture": EVIL}}).encode())}
    code, err, _ = build("m", "-f", str(source(tmp_path, adapter=True)), "--host", local.url)
    assert code == 1 and "build stopped before anything was sent" in shown_safely(err)
    assert "but its base `qwen2.5-coder:7b` is \"bad\\x1b[2J\\x1b]0;pwned\\x07\\nmpl: ok: model created\\u202eyyy" in err, err


def test_live_progress_shows_statuses_escaped_and_without_markup():
    import io

    from mpl.deploy.display import Display

    out = io.StringIO()
    with Display(out, live=True) as display:
        display.status("m", {"status": "[bold]x[/bold] " + EVIL, "total": "many", "completed": -1})
    text = out.getvalue()
    assert "[bold]x[/bold] bad\\x1b[2J\\x1b]0;pwned\\x07" in text and "pwned\x07" not in text
    assert "\x1b]0;" not in text and "\nmpl: ok" not in text


@pytest.mark.parametrize("fault", ["error", "redirect", "huge"])
def test_import_from_server_reads_as_build_does(local, fault):
    """`mpl import --from-server` reads /api/show through `Server`: escaped text, refused redirects, bounded size."""
    if fault == "error":
        local.fail_next = {"POST /api/show": (500, EVIL)}
    elif fault == "redirect":
        local.answer_with = {"POST /api/show": local.redirect("http://localhost:1/\x1b[2J")}
    else:
        local.answer_with = {"POST /api/show": FakeOllama.huge(100 * 1024 * 1024, fill=b"x" * 63 + b"\n")}
    result = CliRunner().invoke(app, ["import", "--from-server", BASE, "--host", local.url])
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit), repr(result.exception)
    line = shown_safely(result.stderr)
    says = {"error": "bad\\x1b[2J", "redirect": "redirect (HTTP 307) to `http://localhost:1/\\x1b[2J`",
            "huge": "the answer holds more than 32 MiB"}[fault]
    assert says in line, line


def test_import_from_server_escapes_the_details_it_writes_into_a_comment(local):
    local.add_model("odd:latest", family="qwen2\nmodel evil from \"x\" < seed 1 >\x1b[2J", parameters={"seed": 1})
    result = CliRunner().invoke(app, ["import", "--from-server", "odd", "--host", local.url])
    assert result.exit_code == 0, result.output
    assert "model evil" not in "\n".join(x for x in result.stdout.splitlines() if not x.startswith("#"))
    assert all(x.isprintable() for x in result.stdout.splitlines())


def test_import_from_server_never_writes_a_role_it_cannot_hold(local):
    """A message role is the server's text: one the language has no role for is reported, not written."""
    messages = [{"role": "user", "content": "hi"}, {"role": "user\nmodel evil from \"x\" < seed 1 >", "content": "x"},
                {"role": "\x1b[2J", "content": "y"}, {"role": 7, "content": "z"}, {"role": "assistant", "content": "yes"}]
    local.add_model("odd:latest", parameters={"seed": 1}, messages=messages)
    result = CliRunner().invoke(app, ["import", "--from-server", "odd", "--host", local.url])
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code == 0, result.output
    assert 'message user "hi"' in result.stdout and 'message assistant "yes"' in result.stdout
    assert "model evil" not in result.stdout and result.stdout.count("message ") == 2
    assert result.stderr.count("warning[MPL540]") == 3 and "role `\\x1b[2J`" in result.stderr
    assert all(x.isprintable() for x in result.stderr.splitlines())


@pytest.mark.parametrize("stage", ["GET /api/version", "POST /api/show", "GET /api/tags", "POST /api/blobs/:digest", "POST /api/create"])
def test_dripped_headers_are_cut_by_the_timeout(local, tmp_path, stage):
    """httpx's read timeout is per read: the status line and headers have a deadline of their own."""
    local.answer_with = {stage: local.dripping_headers(0.2, headers=3)}  # 18 s of headers, a byte at a time
    code, err, elapsed = build("m", "-f", str(source(tmp_path, adapter=True)), "--host", local.url, "--timeout", "1")
    line = shown_safely(err)
    assert code == 1 and "did not answer within 1 s (see --timeout)" in line, line
    assert elapsed < 5  # about twice the timeout, not 20 s
    assert "m:latest" not in local.models


@pytest.mark.parametrize("stage", ["GET /api/version", "POST /api/show", "GET /api/tags", "POST /api/create"])
def test_a_huge_answer_with_line_breaks_is_cut_as_a_whole(local, tmp_path, stage):
    """The 32 MiB bound holds for a whole answer, line breaks or not; a failed create's body is an answer too."""
    status = 500 if stage == "POST /api/create" else 200
    local.answer_with = {stage: FakeOllama.huge(100 * 1024 * 1024, fill=b"x" * 63 + b"\n", status=status)}
    code, err, elapsed = build("m", "-f", str(source(tmp_path)), "--host", local.url)
    line = shown_safely(err)
    assert code == 1 and "the answer holds more than 32 MiB; is http" in line, line
    assert elapsed < 30 and "m:latest" not in local.models


def test_a_long_create_stream_is_read_line_by_line(local, tmp_path):
    """A create stream may be long (each line bounded), as long as it keeps completing lines."""
    lines = _ndjson(*({"status": f"pulling {i:04}", "total": 10, "completed": i % 10} for i in range(40000)))
    local.answer_with = {"POST /api/create": FakeOllama.raw(lines + _ndjson({"status": "success"}), content_type="application/x-ndjson")}
    code, err, _ = build("m", "-f", str(source(tmp_path)), "--host", local.url)
    assert code == 1 and "reported `success` creating `m`, but has no such model" in shown_safely(err), err[-2000:]


@pytest.mark.parametrize(
    ("stage", "where"),
    [
        ("POST /api/blobs/:digest", "same"),  # a 307 keeps the body, which a streamed upload cannot send twice
        ("GET /api/version", "other"),
        ("POST /api/show", "other"),
        ("GET /api/tags", "other"),
        ("POST /api/create", "other"),
        ("HEAD /api/blobs/:digest", "other"),
    ],
)
def test_a_redirect_is_refused_and_named(local, tmp_path, stage, where):
    with FakeOllama(registry={BASE: QWEN}) as other:
        target = (local.url if where == "same" else other.url.replace("127.0.0.1", "localhost")) + "/x\x1b[2J"
        local.answer_with = {stage: local.redirect(target)}
        code, err, elapsed = build("m", "-f", str(source(tmp_path, adapter=True)), "--host", local.url, "--timeout", "2")
        line = shown_safely(err)
        assert code == 1 and f"answered with a redirect (HTTP 307) to `{target[:-4]}\\x1b[2J`, which mpl does not follow" in line, line
        assert elapsed < 5 and not other.requests and "m:latest" not in local.models and "m:latest" not in other.models


def test_a_redirect_of_the_raw_create_is_refused(local, tmp_path):
    """A create with `requires` goes over plain HTTP, not the client: refused the same way."""
    path = tmp_path / "m.mprof"
    path.write_text(f'model m from "{BASE}" <\n  seed 1\n  requires "0.5.0"\n>\n', encoding="utf-8")
    local.answer_with = {"POST /api/create": local.redirect("http://localhost:1/api/create")}
    code, err, _ = build("m", "-f", str(path), "--host", local.url)
    assert code == 1 and "redirect (HTTP 307) to `http://localhost:1/api/create`" in shown_safely(err), err


def _example(folder: Path, temperature: str) -> Path:
    """A copy of examples/meton.mprof (and the adapter it uses) with another temperature."""
    import shutil

    folder.mkdir(parents=True, exist_ok=True)
    shutil.copytree(ROOT / "examples" / "adapters", folder / "adapters", dirs_exist_ok=True)
    path = folder / "meton.mprof"
    path.write_text((ROOT / "examples" / "meton.mprof").read_text().replace("temperature 0.7", f"temperature {temperature}"))
    return path


def _posts(fake: FakeOllama) -> list[str]:
    return [f"{r.method} {r.path.split('/sha256:')[0]}" for r in fake.requests if r.method == "POST" and r.path != "/api/show"]


# -- outputs: all or nothing ------------------------------------------------------------


def _files(tag: str) -> list[OutputFile]:
    return [OutputFile(name, f"{name} {tag}\n" * 50) for name in ("a.json", "b.yaml", "c.Modelfile")]


def test_a_folder_in_the_way_changes_nothing_and_is_named(tmp_path):
    write_all(tmp_path, _files("old"))
    (tmp_path / "b.yaml").unlink()
    (tmp_path / "b.yaml").mkdir()
    with pytest.raises(OutputError, match=r"b\.yaml: a folder is in the way; no output was changed"):
        write_all(tmp_path, _files("new"))
    assert (tmp_path / "a.json").read_text() == _files("old")[0].content
    assert (tmp_path / "c.Modelfile").read_text() == _files("old")[2].content
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json", "b.yaml", "c.Modelfile"]


def test_mpl_compile_with_a_folder_in_the_way(tmp_path):
    out = tmp_path / "out"
    first = CliRunner().invoke(app, ["compile", str(ROOT / "examples" / "meton.mprof"), "-o", str(out)])
    assert first.exit_code == 0, first.output
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    victim = next(p for p in out.iterdir() if p.name.endswith(".Modelfile"))
    victim.unlink()
    victim.mkdir()
    result = CliRunner().invoke(app, ["compile", str(_example(tmp_path / "src", "0.6")), "-o", str(out)])
    assert result.exit_code == 2
    assert f"mpl: error: cannot write {victim}: a folder is in the way; no output was changed" in result.stderr
    for p in out.iterdir():
        if p != victim:
            assert p.read_bytes() == before[p.name], p


def test_a_failing_rename_is_rolled_back(tmp_path, monkeypatch):
    write_all(tmp_path, _files("old"))
    real = os.replace

    def flaky(src, dst):
        if str(dst).endswith("c.Modelfile"):
            raise OSError(28, "No space left on device")
        return real(src, dst)

    monkeypatch.setattr(os, "replace", flaky)
    new = _files("new")
    files = [new[0], new[1], OutputFile("d.txt", "a new file\n"), new[2]]  # a, b and d are renamed before c fails
    with pytest.raises(OutputError, match=r"cannot write .*c\.Modelfile: No space left on device; no output was changed"):
        write_all(tmp_path, files)
    monkeypatch.setattr(os, "replace", real)
    for item in _files("old"):
        assert (tmp_path / item.path).read_text() == item.content
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json", "b.yaml", "c.Modelfile"]


def test_a_failing_write_among_many_changes_nothing_and_is_named(tmp_path, monkeypatch):
    # From 16 outputs on the temporaries are written by threads; one failing must still
    # leave every output as it was and no temporary behind, and name that output.
    import mpl.output

    names = [f"m{i}.Modelfile" for i in range(40)]
    write_all(tmp_path, [OutputFile(n, "old\n") for n in names])
    real = mpl.output._write_new

    def full(path, data, mode):
        if ".m17.Modelfile." in str(path):
            raise OSError(28, "No space left on device")
        return real(path, data, mode)

    monkeypatch.setattr(mpl.output, "_write_new", full)
    with pytest.raises(OutputError, match=r"cannot write .*m17\.Modelfile: No space left on device; no output was changed"):
        write_all(tmp_path, [OutputFile(n, "new\n") for n in names])
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(names)
    assert {p.read_text() for p in tmp_path.iterdir()} == {"old\n"}


def test_stale_temporaries_are_removed_and_others_kept(tmp_path):
    (tmp_path / ".a.json.mpl-0123abcd.new").write_text("stale")
    (tmp_path / ".a.json.mpl-0123abcd.old").write_text("stale")
    (tmp_path / ".notes.tmp").write_text("mine")
    write_all(tmp_path, _files("new"))
    assert sorted(p.name for p in tmp_path.iterdir()) == [".notes.tmp", "a.json", "b.yaml", "c.Modelfile"]


def test_modes_and_hard_links_of_the_previous_files(tmp_path):
    write_all(tmp_path, _files("old"))
    os.link(tmp_path / "a.json", tmp_path / "elsewhere.json")
    write_all(tmp_path, _files("new"))
    assert (tmp_path / "elsewhere.json").read_text() == _files("old")[0].content  # a link elsewhere keeps the old text
    umask = os.umask(0)
    os.umask(umask)
    assert (tmp_path / "a.json").stat().st_mode & 0o777 == 0o666 & ~umask


_SLOW_WRITER = textwrap.dedent(
    """
    import os, sys, time
    sys.path.insert(0, {root!r})
    from mpl.output import write_all
    from mpl.targets.base import OutputFile
    real = os.replace
    def slow(src, dst):
        time.sleep(0.01)
        real(src, dst)
        time.sleep(0.01)
    os.replace = slow
    tag = sys.argv[2]
    print("ready", flush=True)
    write_all(__import__("pathlib").Path(sys.argv[1]), [OutputFile(n, f"{{n}} {{tag}}\\n" * 2000) for n in ("a.json", "b.yaml", "c.Modelfile")])
    """
)


def _assert_old_or_new(out: Path, contents: dict[str, set[bytes]]) -> None:
    for name, allowed in contents.items():
        assert (out / name).read_bytes() in allowed, name


def test_sigkill_during_writes_leaves_old_or_new_files(tmp_path):
    """A writer slowed between renames, killed at random moments: every output stays whole."""
    out = tmp_path / "out"
    script = tmp_path / "writer.py"
    script.write_text(_SLOW_WRITER.format(root=str(ROOT)))
    names = ("a.json", "b.yaml", "c.Modelfile")
    contents = {n: {f"{n} {tag}\n".encode() * 2000 for tag in ("0", "1")} for n in names}
    subprocess.run([sys.executable, str(script), str(out), "0"], check=True, capture_output=True, timeout=60)
    rng = random.Random(12)
    mixes = 0
    for i in range(12):
        proc = subprocess.Popen([sys.executable, str(script), str(out), str(i % 2)], stdout=subprocess.PIPE)
        assert proc.stdout is not None and proc.stdout.readline() == b"ready\n"
        time.sleep(rng.uniform(0.0, 0.08))
        proc.kill()
        proc.wait(timeout=30)
        _assert_old_or_new(out, contents)
        mixes += len({(out / n).read_bytes()[-2:] for n in names}) > 1
    subprocess.run([sys.executable, str(script), str(out), "1"], check=True, capture_output=True, timeout=60)
    assert sorted(p.name for p in out.iterdir()) == sorted(names)  # the next run cleaned every temporary
    assert all((out / n).read_bytes() in {f"{n} 1\n".encode() * 2000} for n in names)


def test_sigkill_of_mpl_compile_leaves_old_or_new_files(tmp_path):
    """`mpl compile` itself, killed at random moments over a bounded number of runs."""
    sources = [_example(tmp_path / f"s{tag}", tag) for tag in ("0.61", "0.62")]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    compile_ = [sys.executable, "-m", "mpl", "compile"]
    contents: dict[str, set[bytes]] = {}
    for src in sources:  # the two complete outputs every file must equal
        ref = tmp_path / f"ref-{src.parent.name}"  # beside `out`, so relative paths are the same
        subprocess.run([*compile_, str(src), "-o", str(ref)], check=True, capture_output=True, timeout=60, env=env)
        for p in ref.iterdir():
            contents.setdefault(p.name, set()).add(p.read_bytes())
    out = tmp_path / "out"
    subprocess.run([*compile_, str(sources[0]), "-o", str(out)], check=True, capture_output=True, timeout=60, env=env)
    start = time.monotonic()
    subprocess.run([*compile_, str(sources[1]), "-o", str(tmp_path / "timing")], check=True, capture_output=True, timeout=60, env=env)
    span = time.monotonic() - start
    rng = random.Random(7)
    for i in range(8):
        proc = subprocess.Popen([*compile_, str(sources[i % 2]), "-o", str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        time.sleep(rng.uniform(0.5, 1.0) * span)
        proc.kill()
        proc.wait(timeout=30)
        _assert_old_or_new(out, contents)
        assert all(TEMPORARY.match(p.name) or p.name in contents for p in out.iterdir())
    subprocess.run([*compile_, str(sources[1]), "-o", str(out)], check=True, capture_output=True, timeout=60, env=env)
    assert sorted(p.name for p in out.iterdir()) == sorted(contents)


@functools.lru_cache(maxsize=1)
def _gzip_bomb() -> bytes:
    """An HTTP answer whose 4 MiB of gzip unpack to 4 GiB of zeros."""
    import zlib

    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = bytes(1 << 20)
    body = b"".join(packer.compress(block) for _ in range(4096)) + packer.flush()
    head = (f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode()
    return head + body


@pytest.mark.parametrize("stage", ["GET /api/version", "POST /api/show", "GET /api/tags"])
def test_a_compressed_answer_is_refused_before_it_is_unpacked(local, tmp_path, stage):
    """mpl asks for no compression (`Accept-Encoding: identity`); a gzip bomb sent anyway is never unpacked."""
    local.answer_with = {stage: local.wire(_gzip_bomb())}
    code, err, elapsed = build("m", "-f", str(source(tmp_path)), "--host", local.url)
    line = shown_safely(err)
    assert code == 1 and "the answer is compressed (Content-Encoding: gzip), which mpl does not unpack" in line, line
    assert elapsed < 30
    assert all(r.headers.get("accept-encoding") == "identity" for r in local.requests)


@pytest.mark.parametrize("stage", ["GET /api/version", "POST /api/show", "GET /api/tags", "POST /api/create"])
def test_json_nested_too_deep_is_one_line(local, tmp_path, stage):
    status = 500 if stage == "POST /api/create" else 200
    local.answer_with = {stage: FakeOllama.raw(b"[" * 100_000 + b"]" * 100_000, status=status)}
    code, err, _ = build("m", "-f", str(source(tmp_path)), "--host", local.url)
    line = shown_safely(err)
    assert code == 1, line
    assert "m:latest" not in local.models


def test_a_create_stream_line_nested_too_deep_is_one_line(local, tmp_path):
    local.answer_with = {"POST /api/create": FakeOllama.raw(b'{"status":"ok"}\n' + b"[" * 100_000 + b"\n", content_type="application/x-ndjson")}
    code, err, _ = build("m", "-f", str(source(tmp_path)), "--host", local.url)
    line = shown_safely(err)
    assert code == 1 and "nests too deeply" in line, line

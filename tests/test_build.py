"""`mpl build --target ollama` against the fake Ollama server: requests, checks, verification, up-to-date."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fake_ollama import QWEN_CODER_7B, FakeOllama
from gguf_files import write_adapter, write_model, write_not_gguf
from helpers import EXAMPLES, ROOT
from mpl.cli import app

BASE, QWEN = QWEN_CODER_7B


@pytest.fixture
def local(server):
    """The same fake with the base already pulled."""
    server.add_model(BASE, family="qwen2", parameters=QWEN.parameters, template=QWEN.template,
                     license=QWEN.license, system="You are Qwen.")
    return server


def build(*args: str, expect: int | None = None):
    result = CliRunner().invoke(app, ["build", *args])
    assert "Traceback" not in result.output, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    if expect is not None:
        assert result.exit_code == expect, result.output
    return result


def source(tmp_path: Path, text: str, *, adapter: dict | None = None) -> Path:
    """Write `m.mprof` (and `lora.gguf` when `adapter` gives its arguments) into tmp_path."""
    if adapter is not None:
        write_adapter(tmp_path / "lora.gguf", **adapter)
    path = tmp_path / "m.mprof"
    path.write_text(text, encoding="utf-8")
    return path


def paths(server: FakeOllama) -> list[str]:
    return [f"{r.method} {r.path.split('/sha256:')[0]}" for r in server.requests]


def creates(server: FakeOllama) -> list[dict]:
    return [r.json for r in server.requests if r.path == "/api/create"]


# -- the example, end to end -------------------------------------------------------


def test_meton_example_builds_verifies_and_is_then_up_to_date(server):
    first = build("--target", "ollama", "meton-custom", "-f", str(EXAMPLES / "meton.mprof"), "--host", server.url, expect=0)
    assert "meton-custom: created and verified" in first.stdout
    assert "warning[MPL601]" in first.stderr and "meton.mprof:8:8" in first.stderr  # pinned 0.12, server 0.32.15
    assert "warning[MPL610]" in first.stderr  # the base is pulled during the create
    (request,) = creates(server)
    params = request["parameters"]
    assert params["num_ctx"] == 16384 and type(params["num_ctx"]) is int
    assert params["temperature"] == 0.0 and type(params["temperature"]) is float
    assert params["stop"] == ["<|im_end|>"] and params["seed"] == -1
    assert request["from"] == BASE and list(request["adapters"]) == ["meton-lora.gguf"]
    assert request["messages"] == [{"role": "user", "content": "Is Toronto in Canada?"}, {"role": "assistant", "content": "yes"}]
    model = server.get_model("meton-custom")
    assert model.adapters == [request["adapters"]["meton-lora.gguf"]]
    assert model.parameters["num_ctx"] == 16384.0 and model.system.startswith("You are Meton")

    uploads = [r for r in server.requests if r.method == "POST" and r.path.startswith("/api/blobs/")]
    assert len(uploads) == 1 and uploads[0].status == 201
    assert not uploads[0].chunked and uploads[0].body_size == (EXAMPLES / "adapters" / "meton-lora.gguf").stat().st_size
    server.requests.clear()
    second = build("meton-custom", "-f", str(EXAMPLES / "meton.mprof"), "--host", server.url, expect=0)
    assert "meton-custom: up to date" in second.stdout
    assert not [r for r in server.requests if r.method in ("POST",) and r.path != "/api/show"]


def test_meton_example_through_a_real_process(server):
    cmd = [sys.executable, "-m", "mpl", "build", "meton-custom", "--host", server.url]
    result = subprocess.run(cmd, cwd=EXAMPLES, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "meton-custom: created and verified\n"
    assert "meton-custom: success" in result.stderr and "Traceback" not in result.stderr
    again = subprocess.run(cmd + ["--force"], cwd=EXAMPLES, capture_output=True, text=True, timeout=60)
    assert again.stdout == "meton-custom: re-created and verified\n"


def test_force_recreates_and_uploads_nothing_new(local, tmp_path):
    path = source(tmp_path, f'model m from "{BASE}" < adapter "./lora.gguf"; temperature 0.5 >\n', adapter={})
    build("m", "-f", str(path), "--host", local.url, expect=0)
    local.requests.clear()
    result = build("m", "-f", str(path), "--host", local.url, "--force", expect=0)
    assert "m: re-created and verified" in result.stdout
    assert "POST /api/create" in paths(local) and "POST /api/blobs" not in paths(local)


def test_a_changed_source_is_not_up_to_date(local, tmp_path):
    path = source(tmp_path, f'model m from "{BASE}" < temperature 0.5 >\n')
    build("m", "-f", str(path), "--host", local.url, expect=0)
    path.write_text(f'model m from "{BASE}" < temperature 0.6 >\n')
    assert "m: re-created and verified" in build("m", "-f", str(path), "--host", local.url, expect=0).stdout


def test_chain_of_two_models_builds_the_base_first(local, tmp_path):
    path = source(tmp_path, (
        f'model coder from "{BASE}" < num_ctx 8192; system "Be brief." >\n'
        'model reviewer from "coder" < temperature 0.1; stop "END"; license "MIT" >\n'
    ))
    result = build("reviewer", "-f", str(path), "--host", local.url, expect=0)
    assert result.stdout == "coder: created and verified\nreviewer: created and verified\n"
    assert [r["model"] for r in creates(local)] == ["coder", "reviewer"]
    assert creates(local)[1]["from"] == "coder"
    reviewer = local.get_model("reviewer")
    assert reviewer.parameters == {"num_ctx": 8192.0, "stop": ["END"], "temperature": 0.1}
    assert reviewer.system == "Be brief." and reviewer.license[-1] == "MIT"
    assert "warning[MPL603]" in result.stderr  # MIT is added to the base's Apache licence
    again = build("reviewer", "-f", str(path), "--host", local.url, expect=0)
    assert again.stdout == "coder: up to date (not re-created; --force to re-create)\nreviewer: up to date (not re-created; --force to re-create)\n"


def test_independent_models_build_concurrently(local, tmp_path):
    path = source(tmp_path, "".join(f'model m{i} from "{BASE}" < seed {i} >\n' for i in range(4)))
    result = build("--all", "-f", str(path), "--host", local.url, "--jobs", "4", expect=0)
    assert sorted(result.stdout.splitlines()) == [f"m{i}: created and verified" for i in range(4)]


def test_local_gguf_base_goes_in_files(server, tmp_path):
    write_model(tmp_path / "base.gguf", architecture="qwen2")
    path = source(tmp_path, 'model g from "./base.gguf" < adapter "./lora.gguf"; top_k 20 >\n', adapter={})
    build("g", "-f", str(path), "--host", server.url, expect=0)
    (request,) = creates(server)
    assert list(request["files"]) == ["base.gguf"] and "from" not in request
    assert "g: up to date" in build("g", "-f", str(path), "--host", server.url, expect=0).stdout


def test_requires_goes_over_plain_http(local, tmp_path):
    path = source(tmp_path, f'model r from "{BASE}" < requires "v0.14.0" >\n')
    build("r", "-f", str(path), "--host", local.url, expect=0)
    assert creates(local)[0]["requires"] == "0.14.0"
    assert "r: up to date" in build("r", "-f", str(path), "--host", local.url, expect=0).stdout


def test_dry_run_prints_requests_and_sends_nothing(server, tmp_path):
    path = source(tmp_path, f'model m from "{BASE}" < adapter "./lora.gguf"; num_ctx 4096 >\n', adapter={})
    result = build("m", "-f", str(path), "--host", server.url, "--dry-run", expect=0)
    plan = json.loads(result.stdout)
    (item,) = plan["models"]
    assert item["action"] == "create" and item["request"]["parameters"] == {"num_ctx": 4096}
    assert item["uploads"][0]["on_server"] is False and item["uploads"][0]["digest"].startswith("sha256:")
    assert all(r.method in ("GET", "HEAD") or r.path == "/api/show" for r in server.requests)
    assert not server.models


# -- checks before anything is sent -------------------------------------------------


def test_adapter_architecture_mismatch_is_refused_before_sending(local, tmp_path):
    path = source(tmp_path, f'model m from "{BASE}" <\n  adapter "./lora.gguf"\n>\n', adapter={"architecture": "llama"})
    result = build("m", "-f", str(path), "--host", local.url, expect=1)
    assert f"{path}:2:11: error[MPL607]" in result.stderr and '"llama"' in result.stderr
    assert "build stopped before anything was sent" in result.stderr
    assert paths(local) == ["GET /api/version", "POST /api/show"]


def test_adapter_architecture_mismatch_with_a_gguf_base(server, tmp_path):
    write_model(tmp_path / "base.gguf", architecture="llama")
    path = source(tmp_path, 'model m from "./base.gguf" < adapter "./lora.gguf" >\n', adapter={})
    result = build("m", "-f", str(path), "--host", server.url, expect=1)
    assert f"{path}:1:38: error[MPL607]" in result.stderr
    assert paths(server) == ["GET /api/version"]


@pytest.mark.parametrize(
    ("adapter", "code", "text"),
    [
        ({"general_type": "model"}, "MPL606", 'general.type "model"'),
        ({"general_type": None}, "MPL606", "general.type (missing)"),
        ({"adapter_type": "ia3"}, "MPL606", 'adapter.type "ia3"'),
    ],
)
def test_adapter_that_is_not_a_lora(local, tmp_path, adapter, code, text):
    path = source(tmp_path, f'model m from "{BASE}" < adapter "./lora.gguf" >\n', adapter=adapter)
    result = build("m", "-f", str(path), "--host", local.url, expect=1)
    assert f"{path}:1:43: error[{code}]" in result.stderr and text in result.stderr
    assert "POST /api/blobs" not in paths(local)


def test_adapter_that_is_not_gguf(local, tmp_path):
    write_not_gguf(tmp_path / "lora.gguf")
    path = source(tmp_path, f'model m from "{BASE}" < adapter "./lora.gguf" >\n')
    result = build("m", "-f", str(path), "--host", local.url, expect=1)
    assert f"{path}:1:43: error[MPL605]" in result.stderr and "GGUF magic" in result.stderr


def test_truncated_adapter_is_not_gguf(local, tmp_path):
    full = write_adapter(tmp_path / "full.gguf").read_bytes()
    (tmp_path / "lora.gguf").write_bytes(full[:100])
    path = source(tmp_path, f'model m from "{BASE}" < adapter "./lora.gguf" >\n')
    result = build("m", "-f", str(path), "--host", local.url, expect=1)
    assert "error[MPL605]" in result.stderr and "header cannot be read" in result.stderr


def test_server_reported_to_refuse_adapters_is_warned_about_and_still_built(tmp_path):
    # The v0.34.1 refusal is said of `ollama create`, unknown for /api/create: a warning
    # that says what is known and what to do, and the build goes on.
    path = source(tmp_path, f'model m from "{BASE}" <\n  adapter "./lora.gguf"\n>\n', adapter={})
    with FakeOllama(version="0.34.1", registry={BASE: QWEN}) as fake:
        result = build("m", "-f", str(path), "--host", fake.url, expect=0)
        assert f"{path}:2:3: warning[MPL608]" in result.stderr and "error[" not in result.stderr
        assert "may refuse" in result.stderr and "llama-export-lora" in result.stderr and "#1651" not in result.stderr
        assert "MPL405" not in result.stderr
        assert "POST /api/blobs" in paths(fake) and "POST /api/create" in paths(fake)


def test_unset_of_an_inherited_parameter(local, tmp_path):
    path = source(tmp_path, f'profile p < temperature 0.3 >\nmodel m from "{BASE}" <\n  use p\n  unset temperature\n>\n')
    result = build("m", "-f", str(path), "--host", local.url, expect=1)
    assert f"{path}:4:9: error[MPL602]" in result.stderr and "`unset temperature` cannot remove" in result.stderr


def test_empty_system_over_a_base_with_one(local, tmp_path):
    path = source(tmp_path, f'model m from "{BASE}" <\n  system ""\n>\n')
    result = build("m", "-f", str(path), "--host", local.url, expect=1)
    assert f"{path}:2:3: error[MPL602]" in result.stderr and "warning[MPL505]" in result.stderr


def test_limits_over_a_model_of_the_same_file_without_a_server(tmp_path):
    from mpl.pipeline import analyze
    from helpers import labels

    write_adapter(tmp_path / "lora.gguf")
    text = (
        'model a from "qwen2.5-coder:7b" <\n  adapter "./lora.gguf"\n  seed 1\n  system "x"\n  license "A"\n>\n'
        'model b from "a" <\n  adapter "./lora.gguf"\n  unset seed\n  system ""\n  license "B"\n>\n'
    )
    got = labels(analyze(source(tmp_path, text), targets=("ollama",)))
    assert {"MPL604@8:3", "MPL602@9:9", "MPL602@10:3", "MPL603@11:3"} <= set(got), got


def test_removed_parameter_stops_the_build(local, tmp_path):
    path = source(tmp_path, f'model m from "{BASE}" < mirostat 2 >\n')
    result = build("m", "-f", str(path), "--host", local.url, expect=1)
    assert "error[MPL403]" in result.stderr and "`mpl build` stops" in result.stderr
    assert "POST /api/create" not in paths(local)
    ok = build("m", "-f", str(path), "--host", local.url, "--ollama", "0.6", "--dry-run", expect=0)
    assert json.loads(ok.stdout)["checked_against"] == "0.6.0"


def test_verification_reports_a_difference(local, tmp_path, monkeypatch):
    path = source(tmp_path, f'model m from "{BASE}" <\n  num_ctx 4096\n  system "Be brief."\n>\n')
    show = local._show
    monkeypatch.setattr(local, "_show", lambda m, req: {**show(m, req), "system": "Something else."})
    result = build("m", "-f", str(path), "--host", local.url, expect=1)
    assert f"{path}:3:3: error[MPL609]" in result.stderr
    assert "`m` was created, but differs from what was compiled" in result.stderr


# -- failures -------------------------------------------------------------------


def test_connection_refused(tmp_path):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    path = source(tmp_path, f'model m from "{BASE}"\n')
    result = build("m", "-f", str(path), "--host", f"127.0.0.1:{port}", expect=1)
    assert result.stderr == f"mpl: error: cannot connect to Ollama at http://127.0.0.1:{port} (asking the server for its version): is `ollama serve` running there?\n"


def test_timeout(local, tmp_path):
    local.delay_seconds = 2
    path = source(tmp_path, f'model m from "{BASE}"\n')
    result = build("m", "-f", str(path), "--host", local.url, "--timeout", "0.3", expect=1)
    assert result.stderr.strip() == f"mpl: error: asking the server for its version: Ollama at {local.url} did not answer within 0.3 s (see --timeout)"


def test_http_error_before_the_stream(local, tmp_path):
    local.fail_next = {"POST /api/create": (500, "boom")}
    path = source(tmp_path, f'model m from "{BASE}" < seed 1 >\n')
    result = build("m", "-f", str(path), "--host", local.url, expect=1)
    assert "mpl: error: creating `m`: boom (HTTP 500); `m` was not created" in result.stderr


def test_error_line_mid_stream(local, tmp_path):
    local.stream_error_after = "parsing GGUF"
    path = source(tmp_path, f'model m from "{BASE}" < adapter "./lora.gguf" >\n', adapter={})
    result = build("m", "-f", str(path), "--host", local.url, expect=1)
    assert "mpl: error: creating `m`: injected stream error; `m` was not created" in result.stderr


def test_broken_stream_reports_the_half_created_model(local, tmp_path):
    local.drop_connection_on = {"POST /api/create"}
    path = source(tmp_path, f'model m from "{BASE}" < seed 1 >\n')
    result = build("m", "-f", str(path), "--host", local.url, expect=1)
    assert "creating `m`: the connection to" in result.stderr and "broke" in result.stderr
    assert "the server now has a model `m`, which was not verified" in result.stderr


def test_missing_from_model(server, tmp_path):
    path = source(tmp_path, 'model m from "nosuch:1b" < seed 1 >\n')
    result = build("m", "-f", str(path), "--host", server.url, expect=1)
    assert "mpl: error: creating `m`: pull model manifest: file does not exist; `m` was not created" in result.stderr


def test_upload_error_names_the_file(local, tmp_path):
    local.fail_next = {"POST /api/blobs/:digest": (400, 'digest mismatch, expected "sha256:00", got "sha256:11"')}
    path = source(tmp_path, f'model m from "{BASE}" < adapter "./lora.gguf" >\n', adapter={})
    result = build("m", "-f", str(path), "--host", local.url, expect=1)
    assert f"mpl: error: uploading {tmp_path / 'lora.gguf'}: digest mismatch" in result.stderr
    assert "`m` was not created" in result.stderr


def test_a_failed_base_skips_its_dependents(local, tmp_path):
    local.fail_next = {"POST /api/create": (500, "boom")}
    path = source(tmp_path, f'model a from "{BASE}" < seed 1 >\nmodel b from "a" < seed 2 >\n')
    result = build("b", "-f", str(path), "--host", local.url, expect=1)
    assert "`b` was not built: it is built from `a`, which failed" in result.stderr


def test_server_too_old_for_structured_create(tmp_path):
    path = source(tmp_path, f'model m from "{BASE}"\n')
    with FakeOllama(version="0.5.4") as fake:
        result = build("m", "-f", str(path), "--host", fake.url, expect=1)
    assert "needs 0.5.5 or later" in result.stderr


# -- usage errors ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nosuch"], "no model `nosuch`"),
        (["meton-custon"], "did you mean `meton-custom`?"),
        ([], "name the model(s) to build, or pass --all"),
        (["meton-custom", "--host", "ftp://x"], "the scheme must be http or https"),
        (["meton-custom", "--host", "h:99999"], "port out of range"),
        (["meton-custom", "--ollama", "latest"], "--ollama: invalid Ollama version"),
        (["meton-custom", "--host", "http://[::1"], "`http://[::1`: invalid ipv6 url"),
        (["meton-custom", "--host", "h\x1b[2J"], "`h\\x1b[2J`: a host cannot contain control characters"),
        (["meton-custom", "--host", "http://\u2603.com"], "Invalid IDNA hostname"),
        (["meton-custom", "--host", "http://a..b:1"], "`a..b` is not a host name"),
        (["meton-custom", "--host", "xn--zz"], "Invalid A-label"),
        (["meton-custom", "--timeout", "0"], "--timeout must be a number of seconds above 0 and at most 86400, not `0`"),
        (["meton-custom", "--timeout=-1"], "not `-1`"),
        (["meton-custom", "--timeout", "inf"], "not `inf`"),
        (["meton-custom", "--timeout", "nan"], "not `nan`"),
        (["meton-custom", "--timeout", "1e400"], "not `inf`"),
        (["meton-custom", "--timeout", "1e10"], "not `1e+10`"),
    ],
)
def test_usage_errors_exit_2(args, message):
    result = build("-f", str(EXAMPLES / "meton.mprof"), *args, expect=2)
    assert message in result.stderr and result.stderr.startswith("mpl: error: ")
    assert result.stderr.count("\n") == 1 and result.stderr[:-1].isprintable()  # one line, no control character


def test_an_unusable_host_from_the_environment_is_a_usage_error(monkeypatch):
    monkeypatch.setenv("OLLAMA_HOST", "http://[::1")
    result = build("meton-custom", "-f", str(EXAMPLES / "meton.mprof"), expect=2)
    assert result.stderr == "mpl: error: --host / OLLAMA_HOST `http://[::1`: invalid ipv6 url\n"


@pytest.mark.parametrize("where", ["option", "environment"])
def test_import_from_server_with_an_unusable_host_is_a_usage_error(monkeypatch, where):
    args = ["import", "--from-server", "x"]
    if where == "option":
        args += ["--host", "http://[::1"]
    else:
        monkeypatch.setenv("OLLAMA_HOST", "http://[::1")
    result = CliRunner().invoke(app, args)
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code == 2 and result.stderr == "mpl: error: `http://[::1`: invalid ipv6 url\n", result.output


def test_host_from_the_environment(server, tmp_path, monkeypatch):
    path = source(tmp_path, f'model m from "{BASE}" < seed 1 >\n')
    monkeypatch.setenv("OLLAMA_HOST", server.url.removeprefix("http://"))
    assert "m: created and verified" in build("m", "-f", str(path), expect=0).stdout


def test_the_file_defaults_to_the_one_mprof_here(server, tmp_path, monkeypatch):
    source(tmp_path, f'model m from "{BASE}" < seed 1 >\n')
    monkeypatch.chdir(tmp_path)
    assert build("m", "--host", server.url, expect=0).exit_code == 0
    (tmp_path / "other.mprof").write_text("model m from \"x\"\n")
    assert "several .mprof files" in build("m", "--host", server.url, expect=2).stderr
    (tmp_path / "empty").mkdir()
    monkeypatch.chdir(tmp_path / "empty")
    assert "no .mprof file" in build("m", "--host", server.url, expect=2).stderr


def test_source_errors_stop_before_connecting(tmp_path):
    path = source(tmp_path, 'model m from "x" < temperature "hot" >\n')
    result = build("m", "-f", str(path), "--host", "http://127.0.0.1:9", "--ollama", "0.12", expect=1)
    assert "error[MPL302]" in result.stderr


def test_build_is_documented():
    text = (ROOT / "docs" / "build.md").read_text(encoding="utf-8")
    for option in ("--file", "--all", "--host", "--dry-run", "--force", "--ollama", "--timeout", "--jobs"):
        assert option in text

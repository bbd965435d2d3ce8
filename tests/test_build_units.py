"""The pieces of `mpl build` on their own: host parsing, hashing, GGUF headers, reading `/api/show` back."""

from __future__ import annotations

import hashlib
import subprocess
import sys

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fake_ollama import FakeOllama, go_float, go_quote
from gguf_files import write_adapter, write_model, write_not_gguf
from helpers import EXAMPLES
from mpl.compiler.modelinfo import NotGGUF, read_header
from mpl.targets.blobs import hash_file
from mpl.deploy.host import HostError, parse_host
from mpl.deploy.plan import parse_server_version
from mpl.deploy.verify import compare, go_unquote, parse_parameters, same_value, state_from_show
from mpl.pipeline import analyze
from mpl.targets.ollama import GGUF_BASE, create_request, expected_state


@pytest.mark.parametrize(
    "host",
    ["", "1.2.3.4", ":56789", "1.2.3.4:56789", "http://1.2.3.4", "https://1.2.3.4:56789", "example.com/path",
     "example.com:56789/path/", "[0001:002:003:0004::1]:56789", "https://[::1]", "0.0.0.0", "localhost:11435"],
)
def test_host_parsing_matches_the_official_client(host):
    from ollama._client import _parse_host

    assert parse_host(host) == _parse_host(host)


@pytest.mark.parametrize("host", ["ftp://h", "h:99999", "h:abc", "a b", "::1"])
def test_bad_hosts(host):
    with pytest.raises(HostError):
        parse_host(host)


def test_hash_matches_hashlib_and_reports_progress(tmp_path):
    data = bytes(range(256)) * 40_000  # ~10 MiB: several chunks
    (tmp_path / "f").write_bytes(data)
    seen: list[int] = []
    blob = hash_file(tmp_path / "f", seen.append)
    assert blob.digest == "sha256:" + hashlib.sha256(data).hexdigest() and blob.size == len(data) == sum(seen)
    assert len(seen) > 1


def test_gguf_headers(tmp_path):
    assert read_header(write_adapter(tmp_path / "a.gguf", architecture="llama")).architecture == "llama"
    header = read_header(write_model(tmp_path / "m.gguf", architecture="gemma2"))
    assert (header.architecture, header.general_type, header.adapter_type) == ("gemma2", "model", None)
    with pytest.raises(NotGGUF, match="GGUF magic"):
        read_header(write_not_gguf(tmp_path / "x.gguf"))
    (tmp_path / "empty.gguf").write_bytes(b"")
    with pytest.raises(NotGGUF, match="an empty file"):
        read_header(tmp_path / "empty.gguf")


@pytest.mark.parametrize(("text", "version"), [("0.32.15", (0, 32, 15)), ("v0.5.5", (0, 5, 5)), ("0.0.0", None), ("dev", None)])
def test_server_versions(text, version):
    parsed = parse_server_version(text)
    assert (None if parsed is None else (parsed.major, parsed.minor, parsed.patch)) == version


@given(st.text())
def test_go_quote_round_trips(text):
    assert go_unquote(go_quote(text)) == text


@given(st.floats(allow_nan=False, allow_infinity=False, width=64))
def test_go_floats_read_back_exactly(x):
    assert parse_parameters(f"{'temperature':<30} {go_float(x)}")["temperature"] == x


def test_show_parameters_in_any_order():
    tabbed = go_quote("tab\there")
    text = "\n".join([
        f"{'stop':<30} {go_quote('<|im_end|>')}", f"{'num_ctx':<30} 1e+06", f"{'stop':<30} {tabbed}",
        f"{'use_mmap':<30} false", f"{'temperature':<30} 0",
    ])
    assert parse_parameters(text) == {"stop": ["<|im_end|>", "tab\there"], "num_ctx": 1_000_000, "use_mmap": False, "temperature": 0}


def test_same_value_keeps_bools_apart_from_numbers():
    assert same_value(4096, 4096.0) and same_value(0.0, 0) and not same_value(True, 1.0) and not same_value(["a"], "a")


def test_state_from_a_real_show_answer_matches_the_request(tmp_path):
    analysis = analyze(EXAMPLES / "meton.mprof", targets=("ollama",))
    program = analysis.program
    model = program.model("meton-custom")
    blob = hash_file(model.adapter.path)
    request = create_request(program, model, {model.adapter.path: blob})
    with FakeOllama() as fake:
        fake.add_model("qwen2.5-coder:7b", parameters={"top_p": 0.5, "stop": ["x"]}, license="L")
        fake.add_blob(model.adapter.path)
        with httpx.Client(base_url=fake.url) as http:
            assert http.post("/api/create", json={**request, "stream": False}).status_code == 200
            base = state_from_show(http.post("/api/show", json={"model": "qwen2.5-coder:7b"}).json())
            got = state_from_show(http.post("/api/show", json={"model": "meton-custom"}).json())
    expected = expected_state(request, base)
    assert compare(expected, got) == []
    assert got.adapters == (blob.digest,) and got.architecture == "qwen2" and got.license == "L"
    assert got.parameters["stop"] == ["<|im_end|>"]  # a new stop replaces the base's
    changed = expected_state({**request, "system": "other"}, base)
    assert [d.field for d in compare(changed, got)] == ["system"]
    diffs = compare(expected_state(request, GGUF_BASE), got)  # the base's top_p and licence are extra
    assert [(d.field, d.key) for d in diffs] == [("parameters", "top_p"), ("license", None)]


def test_build_and_check_do_not_import_each_other():
    code = "import sys; import mpl.cli, mpl.targets.ollama; print(sorted(m for m in ('ollama', 'httpx', 'rich', 'gguf', 'numpy') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_live_display_draws_bars_and_statuses():
    import io

    from mpl.deploy.display import Display

    stream = io.StringIO()
    with Display(stream, live=True) as display:
        transfer = display.transfer("uploading", "lora.gguf", 2048)
        transfer.advance(2048)
        transfer.finish()
        display.status("m", {"status": "pulling 8eeb52dfb3bb", "total": 10, "completed": 5})
        display.status("m", {"status": "success"})
        display.message("done")
    text = stream.getvalue()
    assert "uploaded lora.gguf" in text and "m: success" in text and "done" in text

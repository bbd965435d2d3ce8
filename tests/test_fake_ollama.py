"""Tests for the fake Ollama server, driven through the real `ollama.Client` and httpx."""

from __future__ import annotations

import hashlib
import importlib.util
import re
from pathlib import Path

import httpx
import ollama
import pytest
from fake_ollama import QWEN_CODER_7B, go_float, parse_show_parameters
from gguf_files import write_adapter, write_large_adapter, write_model, write_not_gguf

ROOT = Path(__file__).resolve().parent.parent
BASE, QWEN = QWEN_CODER_7B


@pytest.fixture
def client(server):
    return ollama.Client(host=server.url, timeout=10)


@pytest.fixture
def adapter(tmp_path):
    return write_adapter(tmp_path / "lora.gguf")


def statuses(parts) -> list[str]:
    return [p.status for p in parts]


def show_raw(server, name: str) -> dict:
    """/api/show over httpx: the Python client drops `system` and `messages`."""
    r = httpx.post(f"{server.url}/api/show", json={"model": name})
    assert r.status_code == 200, r.text
    return r.json()


# -- plain routes --------------------------------------------------------------


def test_version_get_and_head(fake_ollama):
    r = httpx.get(f"{fake_ollama.url}/api/version")
    assert (r.status_code, r.json()) == (200, {"version": "0.32.15"})
    head = httpx.head(f"{fake_ollama.url}/api/version")
    assert (head.status_code, head.content) == (200, b"")


def test_unknown_path_404_and_wrong_method_405(fake_ollama):
    r = httpx.get(f"{fake_ollama.url}/api/nothing")
    assert (r.status_code, r.text) == (404, "404 page not found")
    r = httpx.get(f"{fake_ollama.url}/api/create")
    assert (r.status_code, r.text) == (405, "405 method not allowed")
    r = httpx.get(f"{fake_ollama.url}/api/blobs/sha256:{'0' * 64}")
    assert r.status_code == 405
    with pytest.raises(ollama.ResponseError) as err:
        ollama.Client(host=fake_ollama.url)._request_raw("POST", "/api/nothing")
    assert (err.value.error, err.value.status_code) == ("404 page not found", 404)


# -- blobs ---------------------------------------------------------------------


def test_create_blob_then_head(fake_ollama, adapter):
    client = ollama.Client(host=fake_ollama.url)
    digest = client.create_blob(adapter)
    assert digest == "sha256:" + hashlib.sha256(adapter.read_bytes()).hexdigest()
    assert fake_ollama.blob_bytes(digest) == adapter.read_bytes()
    uploads = [r for r in fake_ollama.requests if r.method == "POST" and r.path.startswith("/api/blobs/")]
    assert [(r.status, r.body_size) for r in uploads] == [(201, adapter.stat().st_size)]

    assert httpx.head(f"{fake_ollama.url}/api/blobs/{digest}").status_code == 200
    missing = httpx.head(f"{fake_ollama.url}/api/blobs/sha256:{'a' * 64}")
    assert (missing.status_code, missing.content) == (404, b"")
    assert httpx.head(f"{fake_ollama.url}/api/blobs/sha256:xyz").status_code == 400
    # An existing blob answers 200 without being stored again.
    again = httpx.post(f"{fake_ollama.url}/api/blobs/{digest}", content=b"ignored")
    assert again.status_code == 200


@pytest.mark.parametrize("form", ["upper", "dash"])
def test_digest_must_be_lowercase_colon_form(fake_ollama, form):
    data = b"some bytes"
    hexdigest = hashlib.sha256(data).hexdigest()
    sent = f"sha256:{hexdigest.upper()}" if form == "upper" else f"sha256-{hexdigest}"
    r = httpx.post(f"{fake_ollama.url}/api/blobs/{sent}", content=data)
    assert r.status_code == 400
    assert r.json() == {"error": f'digest mismatch, expected "{sent}", got "sha256:{hexdigest}"'}
    assert f"sha256:{hexdigest}" in fake_ollama.blobs  # kept under its real digest
    if form == "dash":  # the dash form names the same file, so now it "exists"
        assert httpx.post(f"{fake_ollama.url}/api/blobs/{sent}", content=data).status_code == 200


def test_bad_digest_format(fake_ollama):
    r = httpx.post(f"{fake_ollama.url}/api/blobs/md5:abc", content=b"x")
    assert (r.status_code, r.json()) == (400, {"error": "invalid digest format"})


def test_chunked_upload(fake_ollama):
    parts = [b"GGUF", b"x" * 70_000, b"tail"]
    digest = "sha256:" + hashlib.sha256(b"".join(parts)).hexdigest()
    r = httpx.post(f"{fake_ollama.url}/api/blobs/{digest}", content=iter(parts))
    assert r.status_code == 201
    assert fake_ollama.requests[-1].chunked
    assert fake_ollama.blob_bytes(digest) == b"".join(parts)
    # the connection stays usable after a chunked body
    with httpx.Client() as c:
        assert c.post(f"{fake_ollama.url}/api/blobs/{digest}", content=iter(parts)).status_code == 200
        assert c.get(f"{fake_ollama.url}/api/version").status_code == 200


def test_large_adapter_streams_to_disk(fake_ollama, tmp_path):
    path = write_large_adapter(tmp_path / "big.gguf", 8 << 20, max_tensor_bytes=1 << 20)
    assert abs(path.stat().st_size - (8 << 20)) < 64 << 10
    client = ollama.Client(host=fake_ollama.url)
    digest = client.create_blob(path)
    fake_ollama.add_model(BASE)
    done = client.create("big", from_=BASE, adapters={"big.gguf": digest})
    assert done.status == "success"
    assert fake_ollama.get_model("big").adapters == [digest]


# -- create --------------------------------------------------------------------


def test_create_with_adapter_streams_progress(server, client, adapter):
    base = server.add_model(BASE, template=QWEN.template, parameters=QWEN.parameters)
    digest = client.create_blob(adapter)
    parts = list(client.create("meton", from_=BASE, adapters={"lora.gguf": digest}, system="Be brief.",
                               parameters={"num_ctx": 8192}, stream=True))
    model = server.get_model("meton")
    system_layer, params_layer = model.layers[-2:]
    assert statuses(parts) == [
        "parsing GGUF",
        *(f"using existing layer {layer.digest}" for layer in base.layers if layer.media_type != "application/vnd.ollama.image.params"),
        f"using existing layer {digest}",
        f"creating new layer {system_layer.digest}",
        f"creating new layer {params_layer.digest}",
        "writing manifest",
        "success",
    ]
    assert model.adapters == [digest]
    assert model.parameters == {"num_ctx": 8192, "stop": ["<|im_end|>", "<|endoftext|>"], "temperature": 0.2}
    shown = show_raw(server, "meton")
    assert shown["system"] == "Be brief."
    assert shown["details"]["parent_model"] == BASE
    assert shown["details"]["families"] == ["qwen2", "qwen2"]
    assert re.search(rf"^ADAPTER .*/blobs/sha256-{digest[7:]}$", shown["modelfile"], re.M)


def test_create_stream_false_returns_last_object(server, client, adapter):
    server.add_model(BASE)
    result = client.create("m", from_=BASE, adapters={"lora.gguf": client.create_blob(adapter)})
    assert result.status == "success"
    assert server.requests[-1].json["stream"] is False


def test_injected_mid_stream_error_is_status_minus_one(server, client, adapter):
    server.add_model(BASE)
    server.stream_error_after = "parsing GGUF"
    digest = client.create_blob(adapter)
    seen = []
    with pytest.raises(ollama.ResponseError) as err:
        for part in client.create("m", from_=BASE, adapters={"a.gguf": digest}, stream=True):
            seen.append(part.status)
    assert (seen, err.value.error, err.value.status_code) == (["parsing GGUF"], "injected stream error", -1)
    assert server.get_model("m") is None
    with pytest.raises(ollama.ResponseError) as err:  # stream=false: no status -> 500
        client.create("m", from_=BASE, adapters={"a.gguf": digest})
    assert err.value.status_code == 500


def test_adapter_errors_arrive_mid_stream_or_as_400(server, client, tmp_path):
    server.add_model(BASE)
    bad = client.create_blob(write_not_gguf(tmp_path / "x.gguf"))
    with pytest.raises(ollama.ResponseError) as err:
        list(client.create("m", from_=BASE, adapters={"x.gguf": bad}, stream=True))
    assert (err.value.error, err.value.status_code) == ("supplied file was not in GGUF format", -1)
    with pytest.raises(ollama.ResponseError) as err:
        client.create("m", from_=BASE, adapters={"x.gguf": bad})
    assert (err.value.error, err.value.status_code) == ("supplied file was not in GGUF format", 400)
    with pytest.raises(ollama.ResponseError) as err:  # not .gguf and not GGUF: decided before streaming
        list(client.create("m", from_=BASE, adapters={"x.bin": bad}, stream=True))
    assert (err.value.error, err.value.status_code) == ("unknown type", 400)
    missing = "sha256:" + "b" * 64
    with pytest.raises(ollama.ResponseError) as err:
        client.create("m", from_=BASE, adapters={"y.gguf": missing})
    assert err.value.error == f"open {server.models_dir}/blobs/sha256-{'b' * 64}: no such file or directory"
    two = {"a.gguf": client.create_blob(write_adapter(tmp_path / "a.gguf")),
           "b.gguf": client.create_blob(write_adapter(tmp_path / "b.gguf", seed=1))}
    with pytest.raises(ollama.ResponseError) as err:
        client.create("m", from_=BASE, adapters=two)
    assert (err.value.error, err.value.status_code) == ("only one adapter is currently supported", 400)


def test_truncated_adapter_fails_size_check(server, client, adapter, tmp_path):
    server.add_model(BASE)
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(adapter.read_bytes()[:-100])
    with pytest.raises(ollama.ResponseError) as err:
        client.create("m", from_=BASE, adapters={"cut.gguf": client.create_blob(cut)})
    assert re.fullmatch(r'tensor "blk\.0\.attn_q\.weight\.lora_b" offset\+size \(\d+\) exceeds file size \(\d+\)', err.value.error)


def test_adapter_classification_and_arch_mismatch(server, client, tmp_path):
    server.add_model(BASE)
    llama = client.create_blob(write_adapter(tmp_path / "llama.gguf", architecture="llama"))
    assert client.create("mismatch", from_=BASE, adapters={"l.gguf": llama}).status == "success"
    assert client.show("mismatch").details.families == ["qwen2", "llama"]
    untyped = client.create_blob(write_adapter(tmp_path / "untyped.gguf", general_type=None))
    assert client.create("broken", from_=BASE, adapters={"u.gguf": untyped}).status == "success"
    broken = server.get_model("broken")
    assert broken.adapters == []  # a second model layer instead
    assert f"FROM {server.blob_path(untyped)}\n" in client.show("broken").modelfile


def test_pull_failure_path(fake_ollama):
    client = ollama.Client(host=fake_ollama.url)
    seen = []
    with pytest.raises(ollama.ResponseError) as err:
        for part in client.create("m", from_="mymodel.gguf", stream=True):
            seen.append(part.status)
    assert seen == ["pulling manifest"]
    assert (err.value.error, err.value.status_code) == ("pull model manifest: file does not exist", -1)
    with pytest.raises(ollama.ResponseError) as err:
        client.create("m", from_="mymodel.gguf")
    assert (err.value.error, err.value.status_code) == ("pull model manifest: file does not exist", 500)


def test_pull_from_registry_then_create(server, client):
    got = statuses(client.create("coder", from_=BASE, system="hi", stream=True))
    assert got[0] == "pulling manifest"
    assert got[got.index("verifying sha256 digest"):got.index("verifying sha256 digest") + 3] == [
        "verifying sha256 digest", "writing manifest", "success"]
    assert got[-2:] == ["writing manifest", "success"]
    pulls = [s for s in got if s.startswith("pulling ") and s != "pulling manifest"]
    assert pulls and all(re.fullmatch(r"pulling [0-9a-f]{12}", s) for s in pulls)
    assert {m.model for m in client.list().models} == {"coder:latest", BASE}


def test_create_pre_stream_errors(server, client):
    url = f"{server.url}/api/create"
    cases = [
        (b"", "missing request body"),
        (b"{", "unexpected EOF"),
        (b'{"model": "m"}', "neither 'from' or 'files' was specified"),
        (b'{"model": "bad name!", "from": "x"}', "invalid model name"),
        (b'{"model": "m", "from": "./missing.gguf"}', "invalid model name"),
        (b'{"model": "m", "files": {"/abs.gguf": "sha256:00"}}', "file path must be relative"),
        (b'{"model": "m", "files": {"a.gguf": ""}}', "invalid digest format"),
        (b'{"model": "m", "stream": "yes", "from": "x"}', "json: cannot unmarshal string into Go struct field CreateRequest.stream of type bool"),
    ]
    for body, message in cases:
        r = httpx.post(url, content=body)
        assert (r.status_code, r.json()) == (400, {"error": message}), body


def test_template_error_status_depends_on_what_was_streamed(server, client, adapter):
    server.add_model(BASE)
    with pytest.raises(ollama.ResponseError) as err:  # nothing streamed yet: a real 400
        list(client.create("m", from_=BASE, template="{{ .Prompt ", stream=True))
    assert (err.value.error, err.value.status_code) == ("template error: template: :1: unclosed action", 400)
    with pytest.raises(ollama.ResponseError) as err:  # after "parsing GGUF": an NDJSON line
        list(client.create("m", from_=BASE, template="{{ .Prompt ", adapters={"a.gguf": client.create_blob(adapter)}, stream=True))
    assert err.value.status_code == -1


def test_create_from_files(server, client, tmp_path):
    digest = client.create_blob(write_model(tmp_path / "model.gguf", architecture="llama"))
    got = statuses(client.create("local", files={"model.gguf": digest}, stream=True))
    assert got == ["parsing GGUF", "validating GGUF model", "verifying conversion",
                   f"using existing layer {digest}", "writing manifest", "success"]
    shown = client.show("local")
    assert (shown.details.family, shown.details.quantization_level, shown.details.parent_model) == ("llama", "Q4_K_M", "")
    assert shown.modelinfo["llama.context_length"] == 32768
    assert shown.template == "{{ .Prompt }}"
    # a key without .gguf is sniffed for the magic
    assert client.create("sniffed", files={"weights": digest}).status == "success"


def test_inheritance_rules(server, client, adapter, tmp_path):
    server.add_model(BASE, parameters={"stop": ["a", "b"], "temperature": 0.5}, system="base system",
                     license="L1", messages=[{"role": "user", "content": "hi"}])
    client.create("child", from_=BASE, parameters={"stop": ["c"]}, system="", license=["L2"],
                  adapters={"a.gguf": client.create_blob(adapter)})
    child = server.get_model("child")
    assert child.parameters == {"stop": ["c"], "temperature": 0.5}
    assert (child.system, child.license, child.messages) == ("base system", ["L1", "L2"], [{"role": "user", "content": "hi"}])
    second = client.create_blob(write_adapter(tmp_path / "b.gguf", seed=7))
    client.create("grandchild", from_="child", adapters={"b.gguf": second})
    assert len(server.get_model("grandchild").adapters) == 2
    assert client.show("grandchild").license == "L1\nL2"


# -- show, list, delete ----------------------------------------------------------


def test_show_parameters_text_round_trips(server, client):
    params = {"num_ctx": 1000000, "temperature": 0.7, "stop": ["<|im_end|>", "\n"], "seed": 42,
              "penalize_newline": True, "min_p": 0.00001}
    server.add_model("p", parameters=params)
    text = client.show("p").parameters
    lines = text.split("\n")
    assert all(re.fullmatch(r"\S+ {1,30}\S.*", line) and line[30] == " " for line in lines)
    assert "num_ctx                        1e+06" in lines
    assert 'stop                           "\\n"' in lines
    assert "min_p                          1e-05" in lines
    back = parse_show_parameters(text)
    assert back == {"num_ctx": 1e6, "temperature": 0.7, "stop": ["<|im_end|>", "\n"], "seed": 42,
                    "penalize_newline": True, "min_p": 1e-05}
    modelfile = client.show("p").modelfile
    assert modelfile.startswith('# Modelfile generated by "ollama show"\n# To build a new Modelfile based on this, '
                                "replace FROM with:\n# FROM p:latest\n\nFROM ")
    assert "PARAMETER num_ctx 1e+06\n" in modelfile
    assert 'PARAMETER stop "\n"\n' in modelfile


def test_show_errors(server, client):
    with pytest.raises(ollama.ResponseError) as err:
        client.show("nope")
    assert (err.value.error, err.value.status_code) == ("model 'nope:latest' not found", 404)
    r = httpx.post(f"{server.url}/api/show", json={})
    assert (r.status_code, r.json()) == (400, {"error": "model is required"})


def test_show_shape_and_case_insensitive_names(server, client):
    server.add_model("Mario", system="hello", parameter_count=494_032_768)
    shown = show_raw(server, "MARIO")
    assert set(shown) >= {"modelfile", "template", "system", "details", "model_info", "capabilities", "modified_at"}
    assert shown["details"]["parameter_size"] == "494.03M"
    assert shown["model_info"]["general.parameter_count"] == 494_032_768
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?(Z|[+-]\d\d:\d\d)", shown["modified_at"])
    client.create("mario", from_="Mario", system="again")  # overwrites Mario, keeping its spelling
    assert list(server.models) == ["Mario:latest"]


def test_list_entries(server, client):
    server.add_model("a")
    server.add_model("team/b:v1")
    models = httpx.get(f"{server.url}/api/tags").json()["models"]
    assert sorted(m["name"] for m in models) == ["a:latest", "team/b:v1"]
    for m in models:
        assert m["name"] == m["model"] and re.fullmatch(r"[0-9a-f]{64}", m["digest"])
        assert m["size"] == server.get_model(m["name"]).size
        assert m["details"]["format"] == "gguf"
    assert httpx.head(f"{server.url}/api/tags").status_code == 200


def test_delete(server, client):
    model = server.add_model("gone", system="bye")
    assert client.delete("GONE").status == "success"
    assert server.get_model("gone") is None
    assert model.layers[-1].digest not in server.blobs  # unused blobs pruned
    with pytest.raises(ollama.ResponseError) as err:
        client.delete("Gone")
    assert (err.value.error, err.value.status_code) == ("model 'Gone' not found", 404)
    r = httpx.request("DELETE", f"{server.url}/api/delete", json={"model": "a:b/c"})
    assert (r.status_code, r.json()) == (400, {"error": 'name "a:b/c" is invalid'})


# -- fault injection ---------------------------------------------------------------


def test_fail_next_is_one_shot(server, client):
    server.fail_next["POST /api/show"] = (500, "boom")
    server.add_model("x")
    with pytest.raises(ollama.ResponseError) as err:
        client.show("x")
    assert (err.value.error, err.value.status_code) == ("boom", 500)
    assert client.show("x").details.family == "qwen2"


def test_delay_makes_client_time_out(server):
    server.delay_seconds = 5
    with pytest.raises(httpx.ReadTimeout):
        ollama.Client(host=server.url, timeout=0.1).list()


def test_dropped_connection_breaks_the_stream(server, client):
    server.add_model(BASE)
    server.drop_connection_on.add("POST /api/create")
    with pytest.raises(httpx.RemoteProtocolError):
        list(client.create("m", from_=BASE, system="s", stream=True))
    assert server.get_model("m") is not None  # the server finished the work


# -- GGUF helpers and the example adapter ------------------------------------------


def test_go_float_forms():
    assert [go_float(v) for v in (40, 0.7, 1e6, 1e-05)] == ["40", "0.7", "1e+06", "1e-05"]


def test_example_adapter_is_deterministic_and_accepted(server, client, tmp_path):
    spec = importlib.util.spec_from_file_location("make_example_adapter", ROOT / "scripts" / "make_example_adapter.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    fresh = module.write_example_adapter(tmp_path / "meton-lora.gguf")
    committed = ROOT / "examples" / "adapters" / "meton-lora.gguf"
    assert fresh.read_bytes() == committed.read_bytes()
    assert committed.stat().st_size < 64 << 10
    server.add_model(BASE)
    digest = client.create_blob(committed)
    assert client.create("meton", from_=BASE, adapters={"meton-lora.gguf": digest}).status == "success"
    assert server.get_model("meton").adapters == [digest]


# -- /api/chat and /api/generate ------------------------------------------------------------


def _chat_lines(server, body: dict) -> list[dict]:
    import json

    r = httpx.post(f"{server.url}/api/chat", json=body)
    assert r.status_code == 200 and r.headers["content-type"] == "application/x-ndjson", r.text
    return [json.loads(line) for line in r.text.splitlines()]


def test_chat_streams_ndjson_and_ends_with_ollamas_final_object(fake_ollama):
    fake_ollama.add_model("m1")
    lines = _chat_lines(fake_ollama, {"model": "m1", "messages": [{"role": "user", "content": "hi"}], "options": {"seed": 3}})
    *parts, final = lines
    assert parts and all(p["done"] is False and p["message"]["role"] == "assistant" and set(p) == {"model", "created_at", "message", "done"} for p in parts)
    assert list(final) == ["model", "created_at", "message", "done", "done_reason", "total_duration", "load_duration",
                           "prompt_eval_count", "prompt_eval_duration", "eval_count", "eval_duration"]
    assert final["done"] is True and final["done_reason"] == "stop" and final["eval_count"] == len(parts)
    assert final["total_duration"] == final["load_duration"] + final["prompt_eval_duration"] + final["eval_duration"]
    assert fake_ollama.generations == [("/api/chat", "m1", {"seed": 3})]


def test_answers_depend_on_the_model_the_messages_and_the_seed(fake_ollama):
    for name in ("m1", "m2"):
        fake_ollama.add_model(name)
    client = ollama.Client(host=fake_ollama.url)

    def answer(model: str, prompt: str = "hi", **options) -> str:
        return client.chat(model, [{"role": "user", "content": prompt}], options=options).message.content

    assert answer("m1", seed=1) == answer("m1", seed=1)
    assert len({answer("m1", seed=1), answer("m1", seed=2), answer("m2", seed=1), answer("m1", "ho", seed=1)}) == 4
    assert answer("m1", seed=1, temperature=0) == answer("m1", seed=2, temperature=0)  # greedy: the seed is moot


def test_generate_streams_the_response_and_its_context(fake_ollama):
    fake_ollama.add_model("m1")
    parts = list(ollama.Client(host=fake_ollama.url).generate("m1", "hi", system="be brief", stream=True))
    assert parts[-1].done and parts[-1].done_reason == "stop" and parts[-1].context
    assert "".join(p.response for p in parts) and fake_ollama.generations[0][0] == "/api/generate"


def test_echo_canned_answers_stop_and_num_predict(fake_ollama):
    for name in ("echo", "m1", "plain"):
        fake_ollama.add_model(name, system="echo" if name == "plain" else None)
    client = ollama.Client(host=fake_ollama.url)
    user = [{"role": "user", "content": "say it back"}]
    assert client.chat("echo", user).message.content == "say it back"
    assert client.chat("plain", user).message.content == "say it back"  # a model whose system says echo
    fake_ollama.answers["m1"] = lambda request: request["messages"][-1]["content"].upper()
    assert client.chat("m1", user).message.content == "SAY IT BACK"
    assert client.chat("echo", user, options={"stop": [" back"]}).message.content == "say it"
    short = client.chat("echo", user, options={"num_predict": 2})
    assert short.message.content == "say it" and short.done_reason == "length"


def test_an_unknown_model_and_a_wrongly_typed_option_are_ollamas_errors(fake_ollama):
    fake_ollama.add_model("m1")
    r = httpx.post(f"{fake_ollama.url}/api/chat", json={"model": "x", "messages": [{"role": "user", "content": "hi"}]})
    assert (r.status_code, r.json()) == (404, {"error": 'model "x" not found, try pulling it first'})
    r = httpx.post(f"{fake_ollama.url}/api/generate", json={"model": "m1", "prompt": "hi", "options": {"stop": "x"}})
    assert (r.status_code, r.json()) == (500, {"error": 'option "stop" must be of type array'})
    r = httpx.post(f"{fake_ollama.url}/api/chat", json={"model": "m1", "messages": [], "options": {"mirostat": 2}})
    assert r.status_code == 200 and r.json()["done_reason"] == "load"  # no messages: the model is loaded; unknown keys ignored


def test_an_error_in_the_middle_of_a_chat_stream(fake_ollama):
    fake_ollama.add_model("m1")
    fake_ollama.chat_error_after["m1"] = 1
    lines = _chat_lines(fake_ollama, {"model": "m1", "messages": [{"role": "user", "content": "hi"}]})
    assert len(lines) == 2 and lines[-1] == {"error": fake_ollama.chat_error_message}
    with pytest.raises(ollama.ResponseError) as caught:
        list(ollama.Client(host=fake_ollama.url).chat("m1", [{"role": "user", "content": "hi"}], stream=True))
    assert caught.value.status_code == -1

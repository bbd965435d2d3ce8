"""The transport: diagnostics converted for the editor once; a hostile client in raw bytes; the framer alone."""

from __future__ import annotations

import json

import pytest

from fuzz_lsp import HEALTH_URI, Server, frame, hover, open_health_document
from mpl.compiler.chunks import ChunkParser
from mpl.lsp import features, transport
from mpl.lsp.document import MAX_DOCUMENT_BYTES, analyze_document, document_size
from mpl.lsp.positions import PositionMap
from mpl.lsp.transport import Framer, Malformed, Message, Oversized
from mpl.source import SourceFile

TEXT = "profile a < min_pp 0.1 >\nprofile b < top_kk 1 >\nprofile c extends a < temperature 0.5 >\n"


def test_converted_diagnostics_equal_a_fresh_conversion_and_reuse_unmoved_ones():
    parser, converted = ChunkParser(), features.ConvertedDiagnostics()
    first = analyze_document("untitled:a", TEXT, parser=parser)
    before = converted.convert(first)
    assert before == features.lsp_diagnostics(first) and len(before) >= 2
    # typing on the first line moves the second line's offsets, not its line and column
    edited = analyze_document("untitled:a", TEXT.replace("0.1", "0.15"), parser=parser)
    after = converted.convert(edited)
    assert after == features.lsp_diagnostics(edited)
    second_line = [d for d in after if d.range.start.line == 1]
    assert second_line and all(any(d is b for b in before) for d in second_line)
    # a new line above moves it: converted anew, at its new line
    moved = analyze_document("untitled:a", "\n" + TEXT, parser=parser)
    again = converted.convert(moved)
    assert again == features.lsp_diagnostics(moved)
    assert not any(d is b for d in again for b in after)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16", "utf-32"])
def test_ascii_and_other_texts_give_the_same_positions(encoding):
    text = "ab\ncd é😀x\r\nef"
    plain = PositionMap(SourceFile("a", text.replace("é😀", "zz")), encoding)
    other = PositionMap(SourceFile("a", text), encoding)
    assert [plain.line_character(o) for o in range(6)] == [other.line_character(o) for o in range(6)]
    assert plain.line_character(len(text) + 5) == (2, 2)
    assert other.line_character(text.index("x")) == (1, {"utf-8": 9, "utf-16": 6, "utf-32": 5}[encoding])


# -- a hostile client, in raw bytes over the server's pipes (`fuzz_lsp.Server`) -------------

HOVER = {"textDocument": {"uri": HEALTH_URI}, "position": {"line": 1, "character": 14}}


@pytest.fixture(scope="module")
def wire():
    """One server for the module; every test leaves it answering (which is what they test)."""
    with Server() as server:
        server.initialize()
        server.expected = open_health_document(server)
        yield server
        assert server.stop() == 0


def request(ident, method="textDocument/hover", params=HOVER) -> dict:
    return {"jsonrpc": "2.0", "id": ident, "method": method, "params": params}


def answers_hover(server: Server, ident) -> None:
    assert hover(server, ident)["result"] == server.expected


@pytest.mark.parametrize(
    "params, problem",
    [
        ({"textDocument": {"uri": HEALTH_URI}}, "required field missing @ $.params.position"),
        ({"textDocument": {"uri": HEALTH_URI}, "position": "x"}, "$.params.position"),
        ({"textDocument": {"uri": HEALTH_URI}, "position": {"line": -1, "character": 0}}, "$.params.position"),
        ({"textDocument": "x", "position": {"line": 0, "character": 0}}, "$.params.textDocument"),
        (None, "textDocument/hover"),
        ([1, 2], "textDocument/hover"),
    ],
)
def test_a_request_with_invalid_parameters_gets_invalid_params(wire: Server, params, problem):
    wire.send(request("bad", params=params))
    error = wire.response("bad")["error"]
    assert error["code"] == -32602 and problem in error["message"], error
    answers_hover(wire, "after")


def test_requests_on_unknown_documents_and_methods_are_answered(wire: Server):
    for method in ("textDocument/completion", "textDocument/hover", "textDocument/definition", "textDocument/formatting"):
        params = {"textDocument": {"uri": "file:///nowhere/unknown.mprof"}, "position": {"line": 0, "character": 0}, "options": {"tabSize": 2, "insertSpaces": True}}
        assert wire.request(method, method, params) == {"jsonrpc": "2.0", "id": method, "result": None}
    assert wire.request("m", "foo/bar", {})["error"]["code"] == -32601
    answers_hover(wire, "after")


@pytest.mark.parametrize(
    "body",
    [
        {"jsonrpc": "2.0", "id": 1.5, "method": "textDocument/hover", "params": HOVER},
        {"jsonrpc": "2.0", "id": {"a": 1}, "method": "textDocument/hover", "params": HOVER},
        {"jsonrpc": "2.0", "id": True, "method": "textDocument/hover", "params": HOVER},
        {"jsonrpc": "2.0", "id": None, "method": "textDocument/hover", "params": HOVER},
        {"id": 9, "method": "textDocument/hover", "params": HOVER},
        {"jsonrpc": "2.0", "id": 9, "method": 5, "params": HOVER},
        [request(3), request(4)],
        5,
        "x",
    ],
)
def test_what_is_not_a_json_rpc_request_gets_invalid_request(wire: Server, body):
    wire.send(body)
    ident = body.get("id") if isinstance(body, dict) and body.get("id") == 9 else None
    error = wire.response(ident)["error"]
    assert error["code"] == -32600, error
    answers_hover(wire, "after")


def test_a_huge_id_is_answered_with_itself(wire: Server):
    ident = 2**80
    assert wire.request(ident, "textDocument/hover", HOVER)["result"] == wire.expected


def test_a_short_content_length_costs_its_own_message_only(wire: Server):
    """The header announces fewer bytes than the body: that request gets a parse error, the next ones answers."""
    wire.write(frame(request(41), delta=-5) + frame(request(42)))
    error = wire.response(41)["error"]
    assert error["code"] == -32700 and "not JSON" in error["message"]
    assert wire.response(42)["result"] == wire.expected
    answers_hover(wire, "after")


def test_a_long_content_length_is_cut_at_the_next_header(wire: Server):
    """The header announces more bytes than the body: the next message is read as soon as it comes."""
    wire.write(frame(request(43), delta=+30) + frame(request(44)))
    assert wire.response(43)["error"]["code"] == -32700
    assert wire.response(44)["result"] == wire.expected


@pytest.mark.parametrize(
    "junk",
    [
        b"Content-Length: abc\r\n\r\n" + json.dumps(request(45)).encode(),  # not a number
        json.dumps(request(45)).encode(),  # no header at all
        b"Content-Length 5\r\n\r\n{}",  # no colon
        b"garbage\r\n\r\n{}",
        b"X" * 10_000,  # a header line without end
        b"Content-Length: 4\r\n\r\n\xff\xfe{}",  # not UTF-8
        b"Content-Length: 200014\r\n\r\n" + b"[" * 100_000 + b"]" * 100_000 + b"{}{}",  # nested too deep
    ],
)
def test_malformed_framing_is_skipped_to_the_next_header(wire: Server, junk: bytes):
    wire.write(junk + frame(request(46)))
    assert wire.response(46)["result"] == wire.expected
    error = wire.response(None)["error"]  # reported once, with no id to give
    assert error["code"] == -32700, error


def test_a_message_over_the_limit_is_skipped_unread(wire: Server):
    """A 20 MB `didOpen` is not buffered: its document gets one MPL005 diagnostic, the server stays small."""
    uri = "untitled:huge.mprof"
    text = "profile p < top_kk 1 >\n" * (20_000_000 // 23)
    message = {"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {"textDocument": {"uri": uri, "languageId": "mprof", "version": 4, "text": text}}}
    wire.send(message)
    answers_hover(wire, "meanwhile")
    published = wire.notification("textDocument/publishDiagnostics", uri=uri)["params"]
    (diagnostic,) = published["diagnostics"]
    assert diagnostic["code"] == "MPL005" and published["version"] == 4
    assert diagnostic["range"]["start"] == {"line": 0, "character": 0}
    assert diagnostic["message"].startswith(f"the document came in a message of {len(json.dumps(message))} bytes; ")
    # a request too large to read is answered with its id
    wire.send({"jsonrpc": "2.0", "id": 47, "method": "textDocument/hover", "params": {"x": "y" * (transport.MAX_MESSAGE_BYTES + 1)}})
    assert wire.response(47)["error"]["code"] == -32600
    # the document's later (smaller) text is analysed as usual
    wire.send({"jsonrpc": "2.0", "method": "textDocument/didChange", "params": {"textDocument": {"uri": uri, "version": 5}, "contentChanges": [{"text": "profile p < top_kk 1 >\n"}]}})
    published = wire.notification("textDocument/publishDiagnostics", uri=uri)["params"]
    assert [d["code"] for d in published["diagnostics"]] == ["MPL301"] and published["version"] == 5
    peak_kib = int(next(line for line in open(f"/proc/{wire.process.pid}/status") if line.startswith("VmHWM")).split()[1])
    assert peak_kib < 200 * 1024, f"the server grew to {peak_kib // 1024} MiB"


def test_a_document_over_the_limit_is_not_analysed(wire: Server):
    uri = "file:///tmp/big%20profiles.mprof"  # percent-encoded, as VS Code writes a space
    text = "profile p < min_pp 1 >\n" * (MAX_DOCUMENT_BYTES // 23 + 1)
    wire.send({"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {"textDocument": {"uri": uri, "languageId": "mprof", "version": 1, "text": text}}})
    (diagnostic,) = wire.notification("textDocument/publishDiagnostics", uri=uri)["params"]["diagnostics"]
    assert diagnostic["code"] == "MPL005" and diagnostic["range"]["start"] == {"line": 0, "character": 0}
    assert "`mpl check` reads files up to 16777216 bytes" in diagnostic["message"]
    position = {"textDocument": {"uri": uri}, "position": {"line": 0, "character": 13}}
    for method in ("textDocument/hover", "textDocument/completion", "textDocument/definition", "textDocument/documentSymbol"):
        assert wire.request(method, method, position)["result"] is None
    answers_hover(wire, "meanwhile")
    wire.send({"jsonrpc": "2.0", "method": "textDocument/didChange", "params": {"textDocument": {"uri": uri, "version": 2}, "contentChanges": [{"text": text[:23]}]}})
    published = wire.notification("textDocument/publishDiagnostics", uri=uri)["params"]
    assert published["version"] == 2 and {d["code"] for d in published["diagnostics"]} == {"MPL301"}
    assert wire.request("h", "textDocument/hover", position)["result"] is not None


def test_a_percent_encoded_uri_is_analysed():
    with Server() as server:
        server.initialize()
        uri = "file:///tmp/my%20profiles.mprof"
        server.send({"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {"textDocument": {"uri": uri, "languageId": "mprof", "version": 1, "text": "profile p < min_pp 1 >\n"}}})
        published = server.notification("textDocument/publishDiagnostics", uri=uri)["params"]
        assert [d["code"] for d in published["diagnostics"]] == ["MPL301"]
        hovered = server.request(1, "textDocument/hover", {"textDocument": {"uri": uri}, "position": {"line": 0, "character": 13}})
        assert "min_pp" in json.dumps(hovered["result"])
        assert server.stop() == 0


def test_requests_after_shutdown_get_an_error():
    with Server() as server:
        server.initialize()
        assert server.request(1, "shutdown")["result"] is None
        error = server.request(2, "textDocument/hover", HOVER)["error"]
        assert error["code"] == -32600 and "shut down" in error["message"]
        server.send({"jsonrpc": "2.0", "method": "exit"})
        assert server.process.wait(10) == 0


# -- the framer alone ------------------------------------------------------------------------


def _framed(data: bytes, piece: int) -> list:
    framer, frames = Framer(max_message=1000), []
    for at in range(0, len(data), piece):
        frames += framer.feed(data[at : at + piece])
    return frames


@pytest.mark.parametrize("piece", [1, 7, 100_000])
def test_the_framer_gives_the_same_frames_however_the_bytes_arrive(piece):
    good = {"jsonrpc": "2.0", "id": 2, "method": "b", "params": {"t": "Content-Length: 5"}}
    data = (
        frame(request(1), delta=-5) + frame(good)  # short
        + frame(request(3), delta=+9) + frame(good)  # long, by less than the next header
        + b"Content-Length: 9999999999\r\n\r\n" + json.dumps(request(4)).encode() + frame(good)  # oversized, cut short
        + frame({"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {"textDocument": {"uri": "untitled:a", "languageId": "mprof", "version": 3, "text": "x" * 2000}}, "id": 5})
        + frame(good)
    )
    shapes = [(type(f).__name__, f.reason.split(":")[0], f.id) if isinstance(f, Malformed) else f for f in _framed(data, piece)]
    assert shapes == [
        ("Malformed", "the message is not JSON", 1), Message(good),
        ("Malformed", "a message ended before its `Content-Length`", 3), Message(good),
        ("Malformed", "a message ended before its `Content-Length`", 4), Message(good),
        Oversized(2161, 5, "textDocument/didOpen", "untitled:a", 3, "mprof"), Message(good),
    ]


def test_the_framer_keeps_no_more_than_a_message_of_an_endless_one():
    framer = Framer(max_message=1000)
    assert framer.feed(b"Content-Length: 99999999999999999999\r\n\r\n") == []
    for _ in range(200):
        assert framer.feed(b"x" * 100_000) == []
        assert len(framer.buffer) + len(framer.head) + len(framer.tail) <= transport.HEAD_BYTES + transport.TAIL_BYTES + 100
    assert framer.feed(frame(request(7))) == [Malformed("a message ended before its `Content-Length`"), Message(request(7))]


def test_document_size_counts_utf8_bytes():
    assert document_size("a" * 10) == 10 and document_size("é😀") == 6
    assert document_size("é" * (MAX_DOCUMENT_BYTES // 2 + 1)) > MAX_DOCUMENT_BYTES


def test_exit_without_shutdown_ends_the_server_with_exit_code_1():
    with Server() as server:
        server.initialize()
        server.send({"jsonrpc": "2.0", "method": "exit"})
        assert server.process.wait(10) == 1

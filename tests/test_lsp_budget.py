"""The language server's bound on what it keeps: at most `MAX_OPEN_BYTES` of open documents analysed at once."""

from __future__ import annotations

import sys

from fuzz_lsp import Server
from mpl.lsp.document import MAX_OPEN_BYTES

HEAD = "profile p < temperature 0.5 >\n"
HOVER_AT = {"line": 0, "character": 14}  # on `temperature`


def roomy(size: int, seed: int) -> str:
    """A document of `size` bytes that is quick to analyse: one profile, then a long comment."""
    return HEAD + ("# " + f"{seed} " * size)[: size - len(HEAD) - 1] + "\n"


def dense(size: int) -> str:
    """A document of about `size` bytes that is slow to analyse and large to keep: a profile a line."""
    lines = []
    total = 0
    while total < size:
        lines.append(f"profile q{len(lines)} < temperature 0.2; top_k 5 >\n")
        total += len(lines[-1])
    return "".join(lines)


def open_document(server: Server, uri: str, text: str, version: int = 1) -> None:
    server.send({"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {
        "textDocument": {"uri": uri, "languageId": "mprof", "version": version, "text": text}}})


def hover(server: Server, uri: str, ident: str, timeout: float = 60) -> object:
    position = {"textDocument": {"uri": uri}, "position": HOVER_AT}
    return server.request(ident, "textDocument/hover", position, timeout=timeout)["result"]


def codes(server: Server, uri: str, timeout: float = 60) -> list[dict]:
    return server.notification("textDocument/publishDiagnostics", timeout=timeout, uri=uri)["params"]["diagnostics"]


def test_documents_past_the_budget_wait_for_room_and_every_request_is_answered(tmp_path):
    size = 1_000_000
    count = MAX_OPEN_BYTES // size + 1  # the last one does not fit
    uris = [f"{tmp_path.as_uri()}/d{n}.mprof" for n in range(count)]
    with Server() as server:
        server.initialize()
        for n, uri in enumerate(uris):
            open_document(server, uri, roomy(size, n))
        for uri in uris[:-1]:
            assert codes(server, uri) == []
        (diagnostic,) = codes(server, uris[-1])
        assert diagnostic["code"] == "MPL005" and diagnostic["range"]["start"] == {"line": 0, "character": 0}
        assert diagnostic["message"].startswith(
            "the language server analyses at most 8 MiB of open documents at a time; "
            f"the others analysed come to {size * (count - 1)} bytes and this one is {size} bytes"
        )
        assert "close some documents" in diagnostic["message"]
        # every document is answered: the analysed ones as usual, the waiting one with nothing
        for n, uri in enumerate(uris):
            result = hover(server, uri, f"h{n}")
            assert (result is None) == (uri == uris[-1]), (uri, result)
        assert server.request("s", "textDocument/documentSymbol", {"textDocument": {"uri": uris[-1]}})["result"] is None
        # a change of the waiting document still finds no room, and says so again
        server.send({"jsonrpc": "2.0", "method": "textDocument/didChange", "params": {
            "textDocument": {"uri": uris[-1], "version": 2}, "contentChanges": [{"text": roomy(size, 99)}]}})
        assert [d["code"] for d in codes(server, uris[-1])] == ["MPL005"]
        # closing one makes room: the waiting document is analysed and served
        server.send({"jsonrpc": "2.0", "method": "textDocument/didClose", "params": {"textDocument": {"uri": uris[3]}}})
        assert codes(server, uris[3]) == []
        published = server.notification("textDocument/publishDiagnostics", uri=uris[-1])["params"]
        assert published["diagnostics"] == [] and published["version"] == 2
        assert "temperature" in str(hover(server, uris[-1], "after"))
        # the others are as they were; a document opened now waits in turn
        assert "temperature" in str(hover(server, uris[0], "first"))
        open_document(server, uris[3], roomy(size, 3))
        assert [d["code"] for d in codes(server, uris[3])] == ["MPL005"]
        # a document that grows past the 1 MiB limit of one document makes room too
        server.send({"jsonrpc": "2.0", "method": "textDocument/didChange", "params": {
            "textDocument": {"uri": uris[0], "version": 2}, "contentChanges": [{"text": roomy(2 * size, 0)}]}})
        assert "up to 1048576 bytes" in codes(server, uris[0])[0]["message"]
        assert codes(server, uris[3]) == []
        assert "temperature" in str(hover(server, uris[3], "admitted"))
        assert server.stop() == 0


#: Run the server with a budget of 1 MiB, so that a few seconds of analysis fill it.
SMALL_BUDGET = [
    sys.executable, "-c",
    "import mpl.lsp.document as d; d.MAX_OPEN_BYTES = 1024 * 1024; from mpl.lsp import serve; serve()",
]


def test_the_server_keeps_at_most_the_budget_of_analyses_however_many_documents_are_open(tmp_path):
    """16 dense documents of 256 KiB (each keeps some 15 MiB analysed): the server keeps four of them, not all."""
    text = dense(256 * 1024 - 100)
    count = 16
    with Server(SMALL_BUDGET) as server:
        server.initialize()
        for n in range(count):
            open_document(server, f"{tmp_path.as_uri()}/m{n}.mprof", text)
        answered = [hover(server, f"{tmp_path.as_uri()}/m{n}.mprof", f"m{n}", timeout=300) for n in range(count)]
        kept = rss_mib(server)
        assert kept < 180, f"the server keeps {kept} MiB"  # 119 MiB measured; 339 MiB with no budget
        assert sum(result is not None for result in answered) == 4
        assert server.stop() == 0


def rss_mib(server: Server) -> int:
    status = dict(line.split(":", 1) for line in open(f"/proc/{server.process.pid}/status"))
    return int(status["VmRSS"].split()[0]) // 1024


def test_the_text_of_a_document_too_large_to_analyse_is_not_kept(tmp_path):
    """Ten documents of 15 MB (under the 16 MiB message limit, over the 1 MiB document limit): their size is said, their text dropped."""
    text = "profile p < top_kk 1 >\n" * (15_000_000 // 23)
    with Server() as server:
        server.initialize()
        for n in range(10):
            open_document(server, f"{tmp_path.as_uri()}/big{n}.mprof", text)
            assert [d["code"] for d in codes(server, f"{tmp_path.as_uri()}/big{n}.mprof")] == ["MPL005"]
        assert hover(server, f"{tmp_path.as_uri()}/big9.mprof", "big") is None
        kept = rss_mib(server)
        assert kept < 130, f"the server keeps {kept} MiB"  # 50 MiB measured; 194 MiB when it kept their text
        # a change that brings one under the limit is analysed as usual
        server.send({"jsonrpc": "2.0", "method": "textDocument/didChange", "params": {
            "textDocument": {"uri": f"{tmp_path.as_uri()}/big0.mprof", "version": 2}, "contentChanges": [{"text": text[:23]}]}})
        assert [d["code"] for d in codes(server, f"{tmp_path.as_uri()}/big0.mprof")] == ["MPL301"]
        assert server.stop() == 0


def test_profiles_without_when_tasks_share_one_empty_set():
    """What an analysis keeps for each profile: no set of its own when it has no `when` tasks."""
    from mpl.lsp.document import analyze_document

    doc = analyze_document("untitled:a.mprof", dense(2000) + "tasks t\nprofile w for t < when task is t < top_k 2 > >\n")
    profiles = doc.analysis.program.profiles
    empty = [p.when_tasks for name, p in profiles.items() if name != "w"]
    assert len(empty) > 10 and all(s == frozenset() for s in empty)
    assert len({id(s) for s in empty}) == 1
    assert profiles["w"].when_tasks == {"t"}

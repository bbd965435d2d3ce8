"""Fuzzing the language server: hostile messages never silence `mpl lsp`, desynchronise it or end it.

`mpl lsp` runs as editors run it, a subprocess spoken to over pipes, here in raw
bytes (`Server`). Batches of generated messages go in (`messages()`):

- requests from a corpus of valid LSP messages, with mutated parameters: keys
  dropped, values of the wrong type, positions out of range or negative, odd
  URIs, nested junk;
- notifications likewise (documents opened with mutated `.mprof` sources from
  `tests/fuzz.py`, some too large to analyse; changes, closes, settings);
- unknown methods, envelopes that are not JSON-RPC (no `jsonrpc`, ids that are
  floats, booleans, objects or 40-digit numbers, bodies that are arrays,
  numbers or not JSON, batches);
- broken framing: a `Content-Length` shorter or longer than the body, not a
  number, missing, a header line of junk, stray blank lines, a body that is
  not UTF-8 or nests 100,000 deep, a message over the server's 16 MiB limit.

After each batch the verdict (`check_batch`): the server is alive, answers a
hover on a document of its own exactly as it did before the first batch within
`TIME_BOUND` seconds, and has answered every well-framed request of the batch
(a result or a JSON-RPC error, never silence). At the end, `shutdown` and `exit`
end it with exit code 0. `tests/test_fuzz.py` runs a short budget with the
suite; the long run is

    python -m tests.fuzz_lsp --minutes 10 [--seed N]

which prints how many batches, messages and requests were sent and what failed.
"""

from __future__ import annotations

import json
import queue
import random
import subprocess
import sys
import tempfile
import threading
import time
import typing as t
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for folder in (ROOT, ROOT / "tests"):  # mpl, and `tests/fuzz.py` beside this file
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

#: Seconds the server may take to answer after a batch (a batch's analyses take well under 1 s).
TIME_BOUND = 10.0
#: The server's limit on one message (`mpl.lsp.transport.MAX_MESSAGE_BYTES`).
MAX_MESSAGE = 16 * 1024 * 1024
HEALTH_URI = "untitled:fuzz-health.mprof"
HEALTH_TEXT = 'ollama "0.6"\nprofile p < temperature 0.5 >\n'
HEALTH_POSITION = {"line": 1, "character": 14}
#: Ids of the requests whose answers are awaited (the mutated ones use other ids).
TRACKED_FROM = 10**9


class ServerFailed(AssertionError):
    pass


class Server:
    """`mpl lsp` in a subprocess, written to in raw bytes; its answers and notifications are collected."""

    def __init__(self, command: t.Sequence[str] | None = None) -> None:
        self.stderr = tempfile.TemporaryFile()
        self.process = subprocess.Popen(
            list(command or [sys.executable, "-m", "mpl", "lsp"]),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.stderr, cwd=ROOT,
        )
        self.responses: dict[t.Any, dict] = {}
        self.notifications: queue.Queue[dict] = queue.Queue()
        self.broken: str | None = None  # what was wrong with the server's output
        self.arrived = threading.Condition()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    # -- what the server says ---------------------------------------------------------
    def _read(self) -> None:
        stream = self.process.stdout
        assert stream is not None
        try:
            while True:
                length = None
                while True:
                    line = stream.readline()
                    if not line:
                        return
                    if line == b"\r\n":
                        break
                    name, _, value = line.decode("ascii").partition(":")
                    if name.lower() == "content-length":
                        length = int(value)
                if length is None:
                    raise ValueError("a message without Content-Length")
                body = stream.read(length)
                message = json.loads(body)
                self._take(message)
        except Exception as exc:  # the server's own output is malformed: that is a failure
            self.broken = f"{type(exc).__name__}: {exc}"
        finally:
            with self.arrived:
                self.arrived.notify_all()

    def _take(self, message: dict) -> None:
        if not isinstance(message, dict) or message.get("jsonrpc") != "2.0":
            raise ValueError(f"not a JSON-RPC message: {message!r}")
        if "method" in message:
            self.notifications.put(message)  # a notification, or a request of the server's
            return
        if ("result" in message) == ("error" in message):
            raise ValueError(f"a response needs one of result and error: {message!r}")
        if "error" in message and not isinstance(message["error"].get("code"), int):
            raise ValueError(f"an error without a code: {message!r}")
        with self.arrived:
            self.responses[json.dumps(message.get("id"))] = message
            self.arrived.notify_all()

    def response(self, ident: t.Any, timeout: float = TIME_BOUND) -> dict:
        """The answer to request `ident`; raises ServerFailed after `timeout` seconds of silence."""
        key = json.dumps(ident)
        deadline = time.monotonic() + timeout
        with self.arrived:
            while key not in self.responses:
                left = deadline - time.monotonic()
                if left <= 0 or self.broken or self.process.poll() is not None:
                    raise ServerFailed(self._why(f"no answer to request {ident!r} within {timeout:g} s"))
                self.arrived.wait(min(left, 0.5))
            return self.responses.pop(key)

    def notification(self, method: str, timeout: float = TIME_BOUND, **match: t.Any) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            try:
                message = self.notifications.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                raise ServerFailed(self._why(f"no {method} within {timeout:g} s")) from None
            params = message.get("params") or {}
            if message["method"] == method and all(params.get(k) == v for k, v in match.items()):
                return message

    def _why(self, what: str) -> str:
        if self.broken:
            what += f"; the server's output is malformed: {self.broken}"
        if self.process.poll() is not None:
            what += f"; the server ended with exit code {self.process.returncode}"
            self.stderr.seek(0)
            what += "\n" + self.stderr.read().decode("utf-8", "replace")[-3000:]
        return what

    # -- what is sent -----------------------------------------------------------------
    def write(self, data: bytes) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(data)
        self.process.stdin.flush()

    def send(self, message: t.Any) -> None:
        self.write(frame(message))

    def request(self, ident: t.Any, method: str, params: t.Any = None, timeout: float = TIME_BOUND) -> dict:
        self.send({"jsonrpc": "2.0", "id": ident, "method": method, **({} if params is None else {"params": params})})
        return self.response(ident, timeout)

    def initialize(self) -> None:
        self.request(0, "initialize", {"processId": None, "rootUri": None, "capabilities": {}})
        self.send({"jsonrpc": "2.0", "method": "initialized", "params": {}})

    def stop(self, timeout: float = TIME_BOUND) -> int:
        """`shutdown`, `exit`; the exit code (the process is killed if it does not end in time)."""
        try:
            if self.process.poll() is None:
                self.request("shutdown", "shutdown", timeout=timeout)
                self.send({"jsonrpc": "2.0", "method": "exit"})
                assert self.process.stdin is not None
                self.process.stdin.close()
            return self.process.wait(timeout)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()
            self.stderr.close()

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: t.Any) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def frame(message: t.Any, delta: int = 0) -> bytes:
    """A message with its header (`delta` added to the true length)."""
    body = message if isinstance(message, bytes) else json.dumps(message).encode()
    return b"Content-Length: %d\r\n\r\n" % (len(body) + delta) + body


# -- the corpus and its mutations ------------------------------------------------------

URIS = ["untitled:fuzz-a.mprof", "untitled:fuzz-b.mprof", "file:///tmp/fuzz%20c.mprof", "untitled:Modelfile"]
ODD_URIS = ["", "x", "file://", "file:///%", "file://host/a.mprof", "untitled:", "file:///" + "a/" * 500, "\u0000", 42, None, {}]
REQUESTS = [
    "textDocument/hover", "textDocument/completion", "textDocument/definition", "textDocument/references",
    "textDocument/documentHighlight", "textDocument/documentSymbol", "textDocument/prepareRename",
    "textDocument/rename", "textDocument/formatting", "textDocument/foldingRange", "textDocument/signatureHelp",
    "workspace/symbol", "textDocument/codeAction",
]
NOTIFICATIONS = [
    "textDocument/didOpen", "textDocument/didChange", "textDocument/didClose", "textDocument/didSave",
    "workspace/didChangeConfiguration", "$/cancelRequest", "$/setTrace", "initialized",
]


def _junk(rng: random.Random, depth: int = 0) -> t.Any:
    """A JSON value of any type, nested a little."""
    kind = rng.randrange(12 if depth < 3 else 8)
    if kind == 0:
        return None
    if kind == 1:
        return rng.choice([True, False])
    if kind == 2:
        return rng.choice([0, -1, 1, 2**31, 2**53 + 1, -(2**63), 10**30, rng.randrange(-1000, 1000)])
    if kind == 3:
        return rng.choice([0.5, -1e308, 1e308, 3.0])
    if kind == 4:
        return rng.choice(["", "x", "\u0000", "😀" * 3, "a" * rng.choice([10, 5000]), "\ud800"])
    if kind in (5, 6, 7):
        return rng.choice(ODD_URIS)
    if kind in (8, 9):
        return [_junk(rng, depth + 1) for _ in range(rng.randrange(4))]
    return {rng.choice(["uri", "line", "character", "position", "textDocument", "x", ""]): _junk(rng, depth + 1) for _ in range(rng.randrange(4))}


def _position(rng: random.Random) -> t.Any:
    if rng.random() < 0.7:
        return {"line": rng.choice([0, 1, 2, 5, 1000, 2**31 - 1]), "character": rng.choice([0, 3, 14, 80, 2**31 - 1])}
    return rng.choice([{"line": -1, "character": 0}, {"line": 0}, {"line": "0", "character": 0}, {"line": 2**40, "character": 0}, [], "x", None, {"line": 0.5, "character": 1}])


def _params(rng: random.Random, method: str, sources: list[str]) -> t.Any:
    uri = rng.choice(URIS)
    document = {"uri": uri}
    if method == "textDocument/didOpen":
        text = rng.choice(sources)
        if rng.random() < 0.03:
            text = "profile p < top_kk 1 >\n" * (1024 * 1024 // 23 + 1)  # over the server's 1 MiB: refused
        return {"textDocument": {"uri": uri, "languageId": rng.choice(["mprof", "modelfile", "", "x"]), "version": rng.randrange(100), "text": text}}
    if method == "textDocument/didChange":
        return {"textDocument": {"uri": uri, "version": rng.randrange(100)}, "contentChanges": [{"text": rng.choice(sources)}]}
    if method in ("textDocument/didClose", "textDocument/didSave", "textDocument/documentSymbol", "textDocument/formatting"):
        return {"textDocument": document, "options": {"tabSize": 2, "insertSpaces": True}}
    if method == "workspace/didChangeConfiguration":
        return {"settings": rng.choice([{"mpl": {"ollamaVersion": rng.choice(["0.6", "0.12", "", "x", 5])}}, None, {}, {"mpl": {"debounceMs": rng.choice([0, 10, -5, 1e9, "x"])}}])}
    if method == "$/cancelRequest":
        return {"id": rng.choice([1, "x", None, 10**30])}
    if method == "$/setTrace":
        return {"value": rng.choice(["off", "verbose", "x"])}
    if method == "workspace/symbol":
        return {"query": rng.choice(["", "p", 5])}
    params: dict[str, t.Any] = {"textDocument": document, "position": _position(rng)}
    if method == "textDocument/references":
        params["context"] = {"includeDeclaration": rng.choice([True, False])}
    if method == "textDocument/rename":
        params["newName"] = rng.choice(["q", "", "1x", "a b", "x" * 300])
    if method == "textDocument/codeAction":
        params = {"textDocument": document, "range": {"start": _position(rng), "end": _position(rng)}, "context": {"diagnostics": []}}
    return params


def _mutate_params(rng: random.Random, params: t.Any) -> t.Any:
    """Drop a key, put junk in a value, or replace the whole, somewhere in the parameters."""
    if not isinstance(params, dict) or not params or rng.random() < 0.1:
        return _junk(rng)
    params = dict(params)
    key = rng.choice(sorted(params))
    choice = rng.randrange(4)
    if choice == 0:
        del params[key]
    elif choice == 1 or not isinstance(params[key], dict):
        params[key] = _junk(rng)
    else:
        params[key] = _mutate_params(rng, params[key])
    if rng.random() < 0.2:
        params[rng.choice(["extra", "workDoneToken", "partialResultToken"])] = _junk(rng)
    return params


class Sent(t.NamedTuple):
    data: bytes
    tracked: t.Any  # the id whose answer is owed (a well-framed request), or None


def messages(rng: random.Random, sources: list[str], next_id: t.Callable[[], int]) -> t.Iterator[Sent]:
    """Generated and mutated messages, framed (or not), each with the id whose answer it owes."""
    while True:
        kind = rng.randrange(20)
        if kind < 7:  # a request from the corpus, its parameters mutated or not
            method = rng.choice(REQUESTS)
            params = _params(rng, method, sources)
            if rng.random() < 0.6:
                params = _mutate_params(rng, params)
            ident = next_id()
            yield Sent(frame({"jsonrpc": "2.0", "id": ident, "method": method, "params": params}), ident)
        elif kind < 12:  # a notification, likewise
            method = rng.choice(NOTIFICATIONS)
            params = _params(rng, method, sources)
            if rng.random() < 0.4:
                params = _mutate_params(rng, params)
            yield Sent(frame({"jsonrpc": "2.0", "method": method, "params": params}), None)
        elif kind == 12:  # an unknown method
            ident = next_id()
            method = rng.choice(["foo/bar", "", "$/x", "textDocument/" + "x" * 300, "exit/", "shutdownx"])
            if rng.random() < 0.5:
                yield Sent(frame({"jsonrpc": "2.0", "id": ident, "method": method, "params": _junk(rng)}), ident)
            else:
                yield Sent(frame({"jsonrpc": "2.0", "method": method, "params": _junk(rng)}), None)
        elif kind < 15:  # an envelope that is not JSON-RPC
            yield Sent(frame(_bad_envelope(rng)), None)
        else:  # broken framing
            yield Sent(_bad_framing(rng, sources), None)


def _bad_envelope(rng: random.Random) -> t.Any:
    body: dict[str, t.Any] = {"jsonrpc": "2.0", "id": 1, "method": "textDocument/hover", "params": {"textDocument": {"uri": URIS[0]}, "position": {"line": 0, "character": 0}}}
    choice = rng.randrange(8)
    if choice == 0:
        del body["jsonrpc"]
    elif choice == 1:
        body["jsonrpc"] = rng.choice(["1.0", 2, None])
    elif choice == 2:
        body["id"] = rng.choice([1.5, True, None, {"a": 1}, [1], 10**40, -(10**25), "x" * 2000])
    elif choice == 3:
        body["method"] = rng.choice([5, None, ["textDocument/hover"], {}])
    elif choice == 4:
        return rng.choice([[], [body, body], 5, "x", None, True, {}])
    elif choice == 5:
        del body["method"]  # a response the server never asked for
        body["result"] = _junk(rng)
    elif choice == 6:
        body["params"] = {"jsonrpc": "2.0", "id": 3, "method": "shutdown"}  # a message nested in one
    else:
        body["params"] = _junk(rng)
    return body


def _bad_framing(rng: random.Random, sources: list[str]) -> bytes:
    message = {"jsonrpc": "2.0", "id": rng.randrange(1000), "method": rng.choice(REQUESTS), "params": _params(rng, "textDocument/hover", sources)}
    body = json.dumps(message).encode()
    choice = rng.randrange(14)
    if choice == 0:  # the header says less than the body
        return frame(body, -rng.randint(1, len(body)))
    if choice == 1:  # the header says more than the body (the next message comes early)
        return frame(body, rng.randint(1, 40))
    if choice == 2:
        return b"Content-Length: " + rng.choice([b"abc", b"-5", b"", b"1e3", b"0x10", b"\xff", b"99999999999999999999999999999999999"]) + b"\r\n\r\n" + body
    if choice == 3:  # no header at all
        return body
    if choice == 4:  # a header line of junk, or a very long one
        return rng.choice([b"garbage\r\n", b"X" * 10_000, b"Content-Length 5\r\n", b": \r\n", b"\x00\x01\r\n"]) + frame(body)
    if choice == 5:  # stray blank lines, other headers, odd spellings
        return rng.choice([b"\r\n\r\n", b"\n", b"Content-Type: application/vscode-jsonrpc; charset=utf-8\r\n", b"content-length: %d\r\n" % len(body)]) + frame(body)
    if choice == 6:  # not UTF-8, not JSON
        return frame(rng.choice([b"\xff\xfe{", b"{\"jsonrpc\": \"2.0\", \"id\": 4, \"method\": \"x\", \"params\": \"\xc3\"}", b"{", b"", b"nul", b"{\"id\":5" + b" " * 100]))
    if choice == 7:  # nested deep
        depth = rng.choice([1000, 100_000])
        return frame(b'{"jsonrpc":"2.0","id":6,"method":"textDocument/hover","params":' + b"[" * depth + b"]" * depth + b"}")
    if choice == 8:  # huge numbers
        return frame(b'{"jsonrpc":"2.0","id":' + b"9" * rng.choice([30, 5000]) + b',"method":"textDocument/hover","params":{}}')
    if choice == 9:  # a body cut short, at the end of the batch's stream the next header arrives
        return frame(body)[: rng.randint(1, len(body))]
    if choice == 10 and rng.random() < 0.15:  # over the server's limit: skipped, not read
        text = "x" * (MAX_MESSAGE + 1000)
        return frame({"jsonrpc": "2.0", "id": 7, "method": "textDocument/didOpen", "params": {"textDocument": {"uri": "untitled:fuzz-huge.mprof", "languageId": "mprof", "version": 1, "text": text}}})
    if choice == 11:  # a header announcing more than the limit, then little
        return b"Content-Length: %d\r\n\r\n" % (MAX_MESSAGE * rng.choice([2, 10**9])) + body
    if choice == 12:  # a header split by junk
        return b"Content-Len" + b"\r\n" + frame(body)
    return b"Content-Length: %d\r\nContent-Length: %d\r\n\r\n" % (len(body) + 3, len(body)) + body


# -- the verdict -------------------------------------------------------------------------


def open_health_document(server: Server) -> dict:
    """Open the document the verdict hovers on; the hover's answer before any batch."""
    server.send({"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {"textDocument": {"uri": HEALTH_URI, "languageId": "mprof", "version": 1, "text": HEALTH_TEXT}}})
    server.notification("textDocument/publishDiagnostics", uri=HEALTH_URI)
    answer = hover(server, "health-0")
    assert answer.get("result") and "temperature" in json.dumps(answer["result"]), answer
    return answer["result"]


def hover(server: Server, ident: t.Any) -> dict:
    return server.request(ident, "textDocument/hover", {"textDocument": {"uri": HEALTH_URI}, "position": HEALTH_POSITION})


def check_batch(server: Server, batch: list[Sent], expected: dict, number: int) -> None:
    """Send a batch; the server must answer a hover as before, and every well-framed request of the batch."""
    server.write(b"".join(sent.data for sent in batch))
    answer = hover(server, f"health-{number}")
    if answer.get("result") != expected:
        raise ServerFailed(f"the hover after batch {number} changed: {answer!r}")
    for sent in batch:
        if sent.tracked is not None:
            server.response(sent.tracked)
    if server.process.poll() is not None or server.broken:
        raise ServerFailed(server._why("the server broke"))


def sources() -> list[str]:
    """Small `.mprof` texts, mutated as `tests/fuzz.py` mutates them, decoded as editors would."""
    from fuzz import mutants, seeds

    rng = random.Random(7)
    pool = [s for s in seeds() if len(s) < 20_000]
    texts = [s.decode("utf-8", "replace") for s in pool[:40]]
    texts += [m.decode("utf-8", "replace") for m, _ in zip(mutants(rng, pool), range(60)) if len(m) < 50_000]
    return texts


def fuzz(seconds: float, seed: int | None = None, out: t.TextIO = sys.stdout, batch_size: int = 12) -> dict[str, int]:
    """Send batches for about `seconds` to one server; returns the counts."""
    seed = random.randrange(2**32) if seed is None else seed
    rng = random.Random(seed)
    counts = {"batches": 0, "messages": 0, "requests answered": 0, "failures": 0, "slowest batch ms": 0}
    ids = iter(range(TRACKED_FROM, 2**62))
    texts = sources()
    generated = messages(rng, texts, lambda: next(ids))
    server = Server()
    try:
        server.initialize()
        expected = open_health_document(server)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            batch = [next(generated) for _ in range(rng.randint(1, batch_size))]
            start = time.monotonic()
            try:
                check_batch(server, batch, expected, counts["batches"] + 1)
            except ServerFailed as exc:
                counts["failures"] += 1
                out.write(f"batch {counts['batches'] + 1} failed (seed {seed}):\n{exc}\n")
                for sent in batch:
                    out.write(f"  {sent.data[:300]!r}\n")
                break
            counts["batches"] += 1
            counts["messages"] += len(batch)
            counts["requests answered"] += sum(sent.tracked is not None for sent in batch)
            counts["slowest batch ms"] = max(counts["slowest batch ms"], int((time.monotonic() - start) * 1000))
        if not counts["failures"]:
            code = server.stop()
            if code != 0:
                counts["failures"] += 1
                out.write(f"shutdown and exit ended the server with exit code {code}\n")
    finally:
        if server.process.poll() is None:
            server.process.kill()
            server.process.wait()
    out.write(f"seed {seed}: " + ", ".join(f"{k} {v}" for k, v in counts.items()) + "\n")
    return counts


def main(argv: list[str] | None = None) -> int:
    from fuzz import long_run

    return long_run("python -m tests.fuzz_lsp", __doc__, fuzz, argv, "the generator's seed")


if __name__ == "__main__":
    sys.exit(main())

"""The language server's framing: bytes from the client in, JSON-RPC messages (or what went wrong) out.

A message is headers (`Content-Length: N`, optionally `Content-Type: …`), a
blank line, and N bytes of JSON. `Framer` reads that, bounded, from whatever a
client sends, and never loses its place for good:

- a message over `MAX_MESSAGE_BYTES` is not buffered: its first `HEAD_BYTES`
  and last `TAIL_BYTES` are kept (to tell the client which request or document
  it was) and the rest is skipped as it arrives;
- a header line over `MAX_HEADER_BYTES`, a non-numeric or missing
  `Content-Length`, a line that is no header, or a body that is not JSON is
  reported once (`Malformed`) and skipped, up to the next `Content-Length:`
  header;
- a body shorter than its `Content-Length` says is found out as soon as the
  next header shows inside it (valid JSON never holds a raw CR LF after
  `Content-Length: N`, so the header cannot be part of the body), and
  reading resumes at that header: a wrong length costs its own message only.

The framer is plain code over bytes (no pygls, no I/O), fed by `mpl.lsp.server`.
"""

from __future__ import annotations

import json
import re
import typing as t
from dataclasses import dataclass

#: The largest message read whole (the server analyses documents up to `mpl.lsp.document.MAX_DOCUMENT_BYTES`).
MAX_MESSAGE_BYTES = 16 * 1024 * 1024
#: The longest header line.
MAX_HEADER_BYTES = 4096
#: What is kept of the start and the end of a message too large to read, to tell what it was.
HEAD_BYTES = 64 * 1024
TAIL_BYTES = 4096

# `Content-Length: N` then CR LF, anywhere: where reading resumes after a malformed stretch.
_HEADER = re.compile(rb"content-length:[ \t]*(\d{1,30})[ \t]*\r\n", re.IGNORECASE)
# What may still become a `_HEADER` once more bytes come (see `_partial_header`).
_NAME = b"content-length:"
_PARTIAL_VALUE = re.compile(rb"[ \t]*\d{0,30}[ \t]*\r?\Z")
_HEADER_LINE = re.compile(rb"([A-Za-z0-9!#$%&'*+.^_`|~-]+):[ \t]*(.*?)[ \t]*", re.DOTALL)  # a name (a token), its value
# The request id and method at the start of a body, before any nested value (as clients write them).
_LEADING = re.compile(
    rb'\s*\{(?:\s*"(?:jsonrpc|id|method)"\s*:\s*(?:"[^"\\]{0,200}"|-?\d{1,16})\s*,)*'
)
_ID = re.compile(rb'"id"\s*:\s*(-?\d{1,16}|"[^"\\]{0,200}")')
_METHOD = re.compile(rb'"method"\s*:\s*"([^"\\]{1,200})"')
# A document's identity, as it comes first in `params.textDocument`.
_URI = re.compile(rb'"textDocument"\s*:\s*\{\s*"uri"\s*:\s*"((?:[^"\\]|\\.){1,8000})"')
_TEXT_DOCUMENT_FIELD = re.compile(rb'"(languageId|version)"\s*:\s*("[^"\\]{0,200}"|-?\d{1,16})')
_FINAL_ID = re.compile(rb',\s*"id"\s*:\s*(-?\d{1,16}|"[^"\\]{0,200}")\s*\}\s*\Z')


@dataclass(frozen=True, slots=True)
class Message:
    """A body that is JSON (any JSON: whether it is a valid JSON-RPC message is the server's to judge)."""

    content: t.Any


@dataclass(frozen=True, slots=True)
class Malformed:
    """A stretch of bytes that is not a message, skipped; `id` is the request's, if its start shows one."""

    reason: str
    id: int | str | None = None


@dataclass(frozen=True, slots=True)
class Oversized:
    """A message over `MAX_MESSAGE_BYTES`, skipped; what its start and end show of it."""

    length: int
    id: int | str | None
    method: str | None
    uri: str | None
    version: int | None
    language_id: str | None


Frame = t.Union[Message, Malformed, Oversized]


class Framer:
    """Messages out of a stream of bytes, fed in pieces of any size.

    >>> framer = Framer()
    >>> framer.feed(b'Content-Length: 2\\r\\n\\r\\n{}Content-Len')
    [Message(content={})]
    >>> framer.feed(b'gth: abc\\r\\n\\r\\n{}Content-Length: 4\\r\\n\\r\\nnull')
    [Malformed(reason='`Content-Length: abc` is not a number of bytes', id=None), Message(content=None)]
    """

    def __init__(self, max_message: int = MAX_MESSAGE_BYTES) -> None:
        self.max_message = max_message
        self.buffer = bytearray()
        self.state: t.Callable[[], Frame | bool | None] = self._headers
        self.length: int | None = None  # the announced length of the message being read
        self.seen_header = False
        self.bad_length: bytes | None = None
        self.scanned = 0  # how far the body has been searched for a header
        self.waiting_at = 0  # where what may be a header starts, while it arrives
        self.reported = False  # a malformed stretch is reported once
        # an oversized message being skipped
        self.remaining = 0
        self.head = bytearray()
        self.tail = bytearray()

    def feed(self, data: bytes) -> list[Frame]:
        """The frames the bytes so far complete."""
        self.buffer += data
        frames: list[Frame] = []
        while True:
            step = self.state()
            if step is None:  # more bytes needed
                return frames
            if isinstance(step, Malformed):
                if self.reported and step.id is None:
                    continue  # one report for a stretch of junk
                self.reported = True
            if not isinstance(step, bool):
                frames.append(step)

    # -- states: each returns a frame, True to go on, or None to wait for bytes ----------
    def _headers(self) -> Frame | bool | None:
        end = self.buffer.find(b"\n", 0, MAX_HEADER_BYTES)
        if end < 0:
            if len(self.buffer) < MAX_HEADER_BYTES:
                return None
            return self._resync("a header line is longer than %d bytes" % MAX_HEADER_BYTES)
        line = bytes(self.buffer[: end + 1]).rstrip(b"\r\n")
        found = _HEADER.search(self.buffer, 1, end + 1)
        if found is not None:  # junk before a header on its line: skip the junk
            del self.buffer[: found.start()]
            self._reset_headers()
            return Malformed("bytes that are not a message: %r" % _shown(line))
        if not line:
            del self.buffer[: end + 1]
            if not self.seen_header:
                return True  # a stray blank line between messages
            if self.bad_length is not None:
                return self._resync("`Content-Length: %s` is not a number of bytes" % self.bad_length.decode("utf-8", "replace"))
            if self.length is None:
                return self._resync("a message without a `Content-Length` header")
            self.seen_header, self.scanned, self.reported = False, 0, False
            if self.length > self.max_message:
                self.remaining, self.head, self.tail = self.length, bytearray(), bytearray()
                self.state = self._skip
            else:
                self.state = self._body
            return True
        header = _HEADER_LINE.fullmatch(line)
        if header is None:
            del self.buffer[: end + 1]
            return self._resync("bytes that are not a message: %r" % _shown(line))
        del self.buffer[: end + 1]
        self.seen_header = True
        if header.group(1).lower() == b"content-length":
            value = header.group(2)
            if value.isdigit() and value.isascii():
                self.length, self.bad_length = int(value), None
            else:
                self.length, self.bad_length = None, value[:40]
        return True

    def _body(self) -> Frame | bool | None:
        assert self.length is not None
        found = self._header_inside(self.length)
        if found is not None:
            return found if isinstance(found, Malformed) else None
        if len(self.buffer) < self.length:
            return None
        body = bytes(self.buffer[: self.length])
        del self.buffer[: self.length]
        self.state = self._headers
        self._reset_headers()
        try:
            return Message(json.loads(body))
        except (ValueError, RecursionError) as exc:  # not JSON, not UTF-8, too deep, too many digits
            return Malformed("the message is not JSON: %s" % _reason(exc), _leading_id(body))

    def _skip(self) -> Frame | bool | None:
        found = self._header_inside(self.remaining)
        if isinstance(found, Malformed):
            return found
        taken = min(len(self.buffer), self.remaining, self.waiting_at if found is not None else len(self.buffer))
        if taken == 0:
            return None
        piece = self.buffer[:taken]
        if len(self.head) < HEAD_BYTES:
            self.head += piece[: HEAD_BYTES - len(self.head)]
        self.tail = (self.tail + piece)[-TAIL_BYTES:]
        del self.buffer[:taken]
        self.scanned = 0
        self.remaining -= taken
        if self.remaining:
            return None
        self.state = self._headers
        length = self.length or 0
        self._reset_headers()
        return _oversized(length, bytes(self.head), bytes(self.tail))

    def _header_inside(self, limit: int) -> Malformed | bool | None:
        """Whether a header starts within the first `limit` bytes (the body was cut short).

        A malformed frame when one does (the bytes before it are skipped); True
        when what may be one is still arriving (it starts at `waiting_at`); None
        when none does.
        """
        stop = min(len(self.buffer), limit + 7)
        position = self.scanned
        while True:
            at = self.buffer.find(b"ontent-", position, stop)
            if at < 0:
                break
            if at == 0:
                position = 1
                continue
            if _HEADER.match(self.buffer, at - 1) is not None:
                what = bytes(self.head if self.state == self._skip else b"") + bytes(self.buffer[: min(at - 1, HEAD_BYTES)])
                del self.buffer[: at - 1]
                self.state = self._headers
                self._reset_headers()
                return Malformed("a message ended before its `Content-Length`", _leading_id(what))
            if _partial_header(self.buffer, at - 1):
                self.waiting_at = at - 1
                self.scanned = max(self.scanned, at - 9)
                return True
            position = at + 1
        self.scanned = max(self.scanned, stop - 8)
        size = len(self.buffer)
        for start in range(max(0, size - 64), min(size, limit)):  # a header's first bytes, the rest to come
            if self.buffer[start] in b"Cc" and _partial_header(self.buffer, start):
                self.waiting_at = start
                return True
        return None

    def _resync(self, reason: str) -> Malformed:
        """Skip to the next `Content-Length:` header."""
        self.state = self._scan
        self._reset_headers()
        return Malformed(reason)

    def _scan(self) -> Frame | bool | None:
        at = 0
        while True:
            at = self.buffer.find(b"ontent-", at + 1)
            if at < 1:
                break
            if _HEADER.match(self.buffer, at - 1) or _partial_header(self.buffer, at - 1):
                del self.buffer[: at - 1]
                if _HEADER.match(self.buffer):
                    self.state = self._headers
                    return True
                return None  # the rest of the header is still to come
        del self.buffer[: max(0, len(self.buffer) - 8)]  # keep what may start `Content-`
        return None

    def _reset_headers(self) -> None:
        self.length, self.bad_length, self.seen_header, self.scanned = None, None, False, 0


def _partial_header(buffer: bytearray, start: int) -> bool:
    """Whether the bytes from `start` to the end may still become a `Content-Length:` header."""
    rest = bytes(buffer[start : start + 64]).lower()
    if len(buffer) - start > 64:
        return False
    if len(rest) <= len(_NAME):
        return _NAME.startswith(rest)
    return rest.startswith(_NAME) and _PARTIAL_VALUE.match(rest, len(_NAME)) is not None


def _shown(line: bytes) -> bytes:
    return line[:60] + (b"..." if len(line) > 60 else b"")


def _reason(exc: Exception) -> str:
    return str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__


def _json_scalar(raw: bytes | None) -> t.Any:
    if raw is None:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return None


def _leading_id(body: bytes) -> int | str | None:
    """The id of a request, from the start of its body (what clients write before `params`)."""
    lead = _LEADING.match(body)
    if lead is None:
        return None
    found = _ID.search(body, 0, lead.end() + 230)
    return _json_scalar(found.group(1)) if found is not None and found.start() <= lead.end() else None


def _oversized(length: int, head: bytes, tail: bytes) -> Oversized:
    """What an oversized message's start (method, id, document) and end (an id written last) show of it."""
    found = _LEADING.match(head)
    lead = found.end() if found is not None else 0
    method = _METHOD.search(head, 0, lead + 230)
    ident = _leading_id(head)
    if ident is None and (last := _FINAL_ID.search(tail)) is not None:
        ident = _json_scalar(last.group(1))
    uri = version = language = None
    if (document := _URI.search(head)) is not None:
        uri = _json_scalar(b'"' + document.group(1) + b'"')
        fields = {m.group(1): _json_scalar(m.group(2)) for m in _TEXT_DOCUMENT_FIELD.finditer(head, document.end(), document.end() + 600)}
        version = fields.get(b"version") if isinstance(fields.get(b"version"), int) else None
        language = fields.get(b"languageId") if isinstance(fields.get(b"languageId"), str) else None
    return Oversized(length, ident, method.group(1).decode("utf-8", "replace") if method else None, uri, version, language)

"""Bounds on what the server may send: every answer ends, or fails, in bounded time and size.

httpx's read timeout bounds each read, so a server that sends one byte every few
seconds would never time out, and a server that sends without end would fill the
memory. `BoundedTransport` wraps the HTTP transport of both clients `Server`
uses and cuts an answer that goes `timeout` seconds without completing a line
(an NDJSON progress line, or a whole JSON answer, which has no line break) or
that holds more than `MAX_LINE` bytes without a line break. A failure therefore
comes within about twice `--timeout` (the read timeout, then this check).
"""

from __future__ import annotations

import time
import typing as t

import httpx

#: The most bytes an answer may hold without a line break (a `show` answer is well under 1 MiB).
MAX_LINE = 32 * 1024 * 1024


class AnswerTooLarge(httpx.ReadError):
    """The server sent more than `MAX_LINE` bytes without a line break."""


class StalledAnswer(httpx.ReadTimeout):
    """The server kept sending but completed no line within the timeout."""


class BoundedTransport(httpx.BaseTransport):
    """An HTTP transport whose answers are cut when they stall or grow without a line break."""

    def __init__(self, timeout: float, *, max_line: int = MAX_LINE, inner: httpx.BaseTransport | None = None) -> None:
        self.timeout = timeout
        self.max_line = max_line
        self.inner = inner or httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        response.stream = _BoundedStream(response.stream, self.timeout, self.max_line, request)  # type: ignore[arg-type]
        return response

    def close(self) -> None:
        self.inner.close()


class _BoundedStream(httpx.SyncByteStream):
    def __init__(self, inner: t.Any, timeout: float, max_line: int, request: httpx.Request) -> None:
        self.inner = inner
        self.timeout = timeout
        self.max_line = max_line
        self.request = request

    def __iter__(self) -> t.Iterator[bytes]:
        last_line = time.monotonic()
        pending = 0
        for chunk in self.inner:
            now = time.monotonic()
            newline = chunk.rfind(b"\n")
            if newline >= 0:
                last_line = now
                pending = len(chunk) - newline - 1
            else:
                pending += len(chunk)
            if pending > self.max_line:
                raise AnswerTooLarge(f"the answer holds more than {self.max_line >> 20} MiB without a line break", request=self.request)
            if now - last_line > self.timeout:
                raise StalledAnswer(f"no complete answer line within {self.timeout:g} s", request=self.request)
            yield chunk

    def close(self) -> None:
        close = getattr(self.inner, "close", None)
        if close is not None:
            close()

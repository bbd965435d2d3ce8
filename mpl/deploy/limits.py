"""Bounds on what the server may send: every answer ends, or fails, in bounded time and size.

httpx's read timeout bounds each read, so a server that sends one byte every few
seconds (of its headers or of its body) would never time out, and a server that
sends without end would fill the memory. `BoundedTransport` wraps the HTTP
transport of both clients `Server` uses:

- the status line and headers must arrive within `timeout` seconds of the first
  read for them (after the request, upload included, was sent);
- a whole answer (version, show, tags, an error) must arrive within `timeout`
  seconds after its headers and hold at most `MAX_ANSWER` bytes, line breaks or not;
- a progress stream (the create's NDJSON, `lines=True`) must complete each line
  within `timeout` seconds of the previous one, and a line may hold at most
  `MAX_LINE` bytes; the stream itself may run as long as it keeps reporting;
- a redirect is refused (`Redirected`): the server named by `--host` is the only
  one mpl talks to, and a request body (a blob upload) cannot be sent twice.

The time limits are enforced on the socket itself: every read of the thread that
waits for an answer is given at most the time left before its deadline
(`_DeadlineStream`). A failure therefore comes within about twice `--timeout`
(the headers, then the body or line).
"""

from __future__ import annotations

import contextlib
import threading
import time
import typing as t

import httpcore
import httpx

#: The most bytes a whole answer may hold (a `show` answer is well under 1 MiB).
MAX_ANSWER = 32 * 1024 * 1024
#: The most bytes one line of a progress stream may hold (a progress line is under 1 KiB).
MAX_LINE = 1024 * 1024
#: The longest `--timeout`, in seconds (a day): longer ones overflow the socket's clock.
MAX_TIMEOUT = 86400.0


class AnswerTooLarge(httpx.ReadError):
    """The server sent more than `MAX_ANSWER` bytes, or a stream line of more than `MAX_LINE`."""


class CompressedAnswer(AnswerTooLarge):
    """The server compressed its answer although mpl asked for none: a few MiB of gzip can unpack to GiB
    that no bound on the bytes received would see, and Ollama never compresses."""


class StalledAnswer(httpx.ReadTimeout):
    """The server kept sending but completed no answer, or no line of a stream, within the timeout."""


class Redirected(httpx.TransportError):
    """The server answered with a redirect; `location` is its `Location` header as sent."""

    def __init__(self, status: int, location: str, request: httpx.Request) -> None:
        super().__init__(f"HTTP {status} to {location}", request=request)
        self.status = status
        self.location = location


def check_timeout(seconds: float) -> None:
    """Raise ValueError unless `seconds` is a usable `--timeout` (more than 0, at most `MAX_TIMEOUT`; not NaN).

    >>> check_timeout(0.5)
    >>> check_timeout(float("inf"))
    Traceback (most recent call last):
    ...
    ValueError: --timeout must be a number of seconds above 0 and at most 86400, not `inf`
    """
    if not 0 < seconds <= MAX_TIMEOUT:  # False for NaN too
        raise ValueError(f"--timeout must be a number of seconds above 0 and at most {MAX_TIMEOUT:g}, not `{seconds:g}`")


class BoundedTransport(httpx.BaseTransport):
    """An HTTP transport whose answers are cut when they stall, grow too large or redirect.

    Args:
        timeout: Seconds for the headers, then for the whole body (or each line of it).
        lines: The answer is a progress stream read line by line: the time and
            size limits apply to each line (a failed answer, status 400 or more,
            is still read whole, and bounded as a whole).
    """

    def __init__(self, timeout: float, *, lines: bool = False, max_answer: int = MAX_ANSWER, max_line: int = MAX_LINE) -> None:
        self.timeout = timeout
        self.lines = lines
        self.max_answer = max_answer
        self.max_line = max_line
        self.inner = httpx.HTTPTransport()
        # httpx has no option for the network backend; its pool takes one.
        self.inner._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(), network_backend=_DeadlineBackend(httpcore.SyncBackend()),
            max_connections=100, max_keepalive_connections=20, keepalive_expiry=5.0,  # httpx's defaults
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.headers["Accept-Encoding"] = "identity"  # the size bounds count the bytes received
        with _reads_within(self.timeout, from_first_read=True):
            response = self.inner.handle_request(request)
        encoding = response.headers.get("content-encoding", "identity").strip().lower()
        if encoding not in ("", "identity"):
            response.close()
            raise CompressedAnswer(f"the answer is compressed (Content-Encoding: {encoding}), which mpl does not unpack",
                                   request=request)
        if 300 <= response.status_code < 400 and "location" in response.headers:
            response.close()
            raise Redirected(response.status_code, response.headers["location"], request)
        by_line = self.lines and response.status_code < 400
        response.stream = _BoundedStream(response.stream, self.timeout, self.max_line if by_line else self.max_answer, by_line, request)
        return response

    def close(self) -> None:
        self.inner.close()


class _BoundedStream(httpx.SyncByteStream):
    def __init__(self, inner: t.Any, timeout: float, limit: int, by_line: bool, request: httpx.Request) -> None:
        self.inner = inner
        self.timeout = timeout
        self.limit = limit
        self.by_line = by_line
        self.request = request

    def __iter__(self) -> t.Iterator[bytes]:
        deadline = time.monotonic() + self.timeout
        pending = 0  # bytes since the last line break (by line), or in all (whole)
        chunks = iter(self.inner)
        while True:
            try:
                with _reads_within(deadline - time.monotonic()):
                    chunk = next(chunks, None)
            except httpx.ReadTimeout:
                if time.monotonic() < deadline:
                    raise  # the read timeout itself, before the deadline
                what = "no complete answer line" if self.by_line else "no complete answer"
                raise StalledAnswer(f"{what} within {self.timeout:g} s", request=self.request) from None
            if chunk is None:
                return
            newline = chunk.rfind(b"\n") if self.by_line else -1
            if newline >= 0:
                deadline = time.monotonic() + self.timeout
                pending = len(chunk) - newline - 1
            else:
                pending += len(chunk)
            if pending > self.limit:
                what = f"more than {self.limit >> 20} MiB without a line break" if self.by_line else f"more than {self.limit >> 20} MiB"
                raise AnswerTooLarge(f"the answer holds {what}", request=self.request)
            yield chunk

    def close(self) -> None:
        close = getattr(self.inner, "close", None)
        if close is not None:
            close()


# -- deadlines on the socket ------------------------------------------------------------

_clock = threading.local()  # .deadline: monotonic time the current reads must end by; .start_in: set at the first read


@contextlib.contextmanager
def _reads_within(seconds: float, *, from_first_read: bool = False) -> t.Iterator[None]:
    """Reads of this thread inside the block end within `seconds` (from now, or from the first read)."""
    saved = getattr(_clock, "deadline", None), getattr(_clock, "start_in", None)
    _clock.deadline, _clock.start_in = (None, seconds) if from_first_read else (time.monotonic() + seconds, None)
    try:
        yield
    finally:
        _clock.deadline, _clock.start_in = saved


class _DeadlineStream(httpcore.NetworkStream):
    """A network stream whose reads get no more time than the thread's deadline leaves."""

    def __init__(self, inner: t.Any) -> None:
        self.inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        import httpcore

        start_in = getattr(_clock, "start_in", None)
        if start_in is not None:
            _clock.deadline, _clock.start_in = time.monotonic() + start_in, None
        deadline = getattr(_clock, "deadline", None)
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise httpcore.ReadTimeout("the answer did not complete in time")
            timeout = left if timeout is None else min(timeout, left)
        return self.inner.read(max_bytes, timeout)

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self.inner.write(buffer, timeout)

    def close(self) -> None:
        self.inner.close()

    def start_tls(self, *args: t.Any, **kwargs: t.Any) -> _DeadlineStream:
        return _DeadlineStream(self.inner.start_tls(*args, **kwargs))

    def get_extra_info(self, info: str) -> t.Any:
        return self.inner.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    """httpcore's network backend, its streams wrapped in `_DeadlineStream`."""

    def __init__(self, inner: t.Any) -> None:
        self.inner = inner

    def connect_tcp(self, *args: t.Any, **kwargs: t.Any) -> _DeadlineStream:
        return _DeadlineStream(self.inner.connect_tcp(*args, **kwargs))

    def connect_unix_socket(self, *args: t.Any, **kwargs: t.Any) -> _DeadlineStream:
        return _DeadlineStream(self.inner.connect_unix_socket(*args, **kwargs))

    def sleep(self, seconds: float) -> None:
        self.inner.sleep(seconds)

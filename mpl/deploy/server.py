"""The Ollama server as `mpl build` talks to it: version, blobs, create, show, list.

Wraps the official `ollama.Client` (create) and its underlying httpx client (what
the Python client cannot do: `GET /api/version`, `HEAD` on blobs, a streamed upload,
a raw `/api/show` that keeps `system`/`messages`/`requires`, a create that carries
`requires`, and `/api/tags` read without the client's strict `ListResponse`). Every failure becomes a `ServerError` whose message is
one line a user can act on; nothing here prints. Whatever the server says is untrusted: every
text of it in a message goes through `mpl.deploy.untrusted.visible` (no terminal controls, no
line break, a bounded length), and `ServerError` itself escapes what it is given.
"""

from __future__ import annotations

import json
import typing as t
from pathlib import Path

from mpl.deploy.untrusted import visible
from mpl.targets.blobs import CHUNK, Blob

Progress = t.Callable[[int], None]
Status = t.Callable[[t.Mapping[str, t.Any]], None]


class ServerError(Exception):
    """A failed exchange with the server, worded as one line; `status` is the HTTP status if any.

    The message is made `visible` whole (a last guard: the server's parts of it were cut already).
    """

    def __init__(self, message: str, status: int | None = None) -> None:
        from mpl.deploy.untrusted import MESSAGE, visible

        super().__init__(visible(message, MESSAGE))
        self.status = status


class Interrupted(ServerError):
    """The build was interrupted (Ctrl-C) while this exchange was under way."""


class Server:
    """One Ollama server at a base URL (already parsed by `mpl.deploy.host.parse_host`).

    Args:
        url: The base URL, e.g. `http://127.0.0.1:11434`.
        timeout: Seconds for connecting, for each answer, for each chunk of an
            upload to be taken, and between two progress lines of a create
            stream; headers and whole answers that drip, answers past
            `limits.MAX_ANSWER`, stream lines past `limits.MAX_LINE` and
            redirects are cut (`mpl.deploy.limits`). So every exchange fails
            within about twice this time, and a long create that keeps
            reporting progress is not cut.
    """

    def __init__(self, url: str, timeout: float = 30.0) -> None:
        import threading

        import httpx
        import ollama

        from mpl.deploy.limits import BoundedTransport

        self.url = url
        self.timeout = timeout
        #: Set (by Ctrl-C) to stop uploads and create streams at their next chunk or line.
        self.cancelled = threading.Event()
        self.client = ollama.Client(host=url, timeout=httpx.Timeout(timeout), transport=BoundedTransport(timeout), follow_redirects=False)
        self.http: httpx.Client = self.client._client  # base URL, headers and connection pool of the client
        # The create stream: bounded line by line, not as a whole.
        self._streaming = ollama.Client(host=url, timeout=httpx.Timeout(timeout), transport=BoundedTransport(timeout, lines=True),
                                        follow_redirects=False)
        self._stream_timeout = httpx.Timeout(timeout)

    def close(self) -> None:
        self.client.close()
        self._streaming.close()

    @property
    def streaming(self) -> t.Any:
        """The `ollama.Client` for streamed answers: bounded line by line (`limits.BoundedTransport(lines=True)`)."""
        return self._streaming

    def explain(self, doing: str, exc: BaseException) -> ServerError:
        """One line for any failure of the client or of httpx, as every exchange here words it."""
        return self._explain(doing, exc)

    # -- read-only -------------------------------------------------------------

    def version(self) -> str:
        """`GET /api/version` (the client has no method for it)."""
        response = self._call("asking the server for its version", "GET", "/api/version")
        try:
            return str(response.json()["version"])
        except (ValueError, KeyError, TypeError, RecursionError):
            raise ServerError(f"{self.url} does not look like an Ollama server: /api/version answered `{visible(response.text, 80)}`") from None

    def has_blob(self, digest: str) -> bool:
        """`HEAD /api/blobs/<digest>`: 200 if the server has it, 404 if not."""
        response = self._call(f"checking blob {digest[:19]}…", "HEAD", f"/api/blobs/{digest}", ok=(200, 404))
        return response.status_code == 200

    def show(self, name: str) -> dict[str, t.Any] | None:
        """The raw `/api/show` answer for a model, or None when the server does not have it."""
        response = self._call(f"reading model `{name}`", "POST", "/api/show", json={"model": name}, ok=(200, 404))
        if response.status_code == 404:
            return None
        try:
            show = response.json()
        except (ValueError, RecursionError):  # RecursionError: JSON nested too deep to read
            raise ServerError(f"reading model `{name}`: the server answered something that is not JSON") from None
        if not isinstance(show, dict):
            raise ServerError(f"reading model `{name}`: the server answered `{visible(response.text, 80)}`, not a JSON object")
        _check_show(name, show)
        return show

    def model_names(self) -> set[str]:
        """Lower-cased names of the server's models (`GET /api/tags`, §4.6).

        Read over plain HTTP: only `model` (or the older `name`) of each entry is
        needed, and the client's `ListResponse` would reject an entry whose other
        fields it does not expect.
        """
        doing = "listing the server's models"
        response = self._call(doing, "GET", "/api/tags")
        try:
            models = response.json()["models"] or []
            return {str(m.get("model") or m.get("name")).lower() for m in models if m.get("model") or m.get("name")}
        except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
            raise ServerError(f"{doing}: the server answered `{visible(response.text, 80)}`, not a model list") from None

    # -- changes -----------------------------------------------------------------

    def upload_blob(self, blob: Blob, progress: Progress | None = None) -> None:
        """`POST /api/blobs/<digest>` with the file streamed from disk in chunks.

        The body is a generator with an explicit Content-Length, so memory stays
        flat whatever the file size (the client's `create_blob` reads the file twice).
        """
        doing = f"uploading {blob.path}"
        headers = {"Content-Type": "application/octet-stream", "Content-Length": str(blob.size)}
        response = self._call(
            doing, "POST", f"/api/blobs/{blob.digest}", content=self._until_cancelled(read_chunks(blob.path, progress)),
            headers=headers, timeout=self._stream_timeout, ok=(200, 201),
        )
        del response

    def create(self, request: t.Mapping[str, t.Any], on_status: Status) -> None:
        """`POST /api/create`, streaming: every progress line goes to `on_status`.

        Raises:
            ServerError: An HTTP error before the stream, an `{"error": …}` line in
                it (HTTP 200, `server/create.go`), a broken stream, or a stream
                that ends without `success`.
        """
        doing = f"creating `{request['model']}`"
        lines = self._create_raw(request) if "requires" in request else self._create_client(request)
        last = None
        pulls = successes = 0
        try:
            for line in lines:
                if self.cancelled.is_set():
                    raise Interrupted(f"{doing}: interrupted")
                if not isinstance(line, dict):
                    raise ServerError(f"{doing}: the server sent a line that is not a JSON object (`{visible(line, 80)}`)")
                if line.get("error"):
                    raise ServerError(f"{doing}: {visible(line['error'])}")
                on_status(line)
                last = line.get("status")
                pulls += last == "pulling manifest"
                successes += last == "success"
        except ServerError:
            raise
        except Exception as exc:  # noqa: BLE001 - every transport error becomes one line
            raise self._explain(doing, exc) from None
        # A pull of a missing `from` (`pulling manifest` … `success`) sends its own
        # `success` in the middle of the stream (`server/create.go`, `server/images.go`):
        # the create's is the last line, after every pull's.
        if last != "success" or successes <= pulls:
            raise ServerError(f"{doing}: the server ended the stream without `success`")

    def _create_client(self, request: t.Mapping[str, t.Any]) -> t.Iterator[dict[str, t.Any]]:
        fields = {k: v for k, v in request.items() if k not in ("model", "from")}
        stream = self._streaming.create(request["model"], from_=request.get("from"), stream=True, **fields)
        for part in stream:
            yield part.model_dump(exclude_none=True)

    def _create_raw(self, request: t.Mapping[str, t.Any]) -> t.Iterator[dict[str, t.Any]]:
        """The same request over plain HTTP, for fields the client cannot send (`requires`)."""
        import ollama

        with self._streaming._client.stream("POST", "/api/create", json={**request, "stream": True}, timeout=self._stream_timeout) as response:
            if response.status_code >= 400:
                response.read()
                raise ollama.ResponseError(response.text, response.status_code)
            for raw in response.iter_lines():
                if raw.strip():
                    yield json.loads(raw)

    # -- plumbing ----------------------------------------------------------------

    def _until_cancelled(self, chunks: t.Iterator[bytes]) -> t.Iterator[bytes]:
        for chunk in chunks:
            if self.cancelled.is_set():
                raise Interrupted("interrupted")
            yield chunk

    def _call(self, doing: str, method: str, path: str, *, ok: tuple[int, ...] = (200,), **kwargs: t.Any) -> t.Any:
        try:
            response = self.http.request(method, path, **kwargs)
        except Exception as exc:  # noqa: BLE001
            raise self._explain(doing, exc) from None
        if response.status_code not in ok:
            raise ServerError(f"{doing}: {error_text(response.text, response.status_code)}", response.status_code)
        return response

    def _explain(self, doing: str, exc: BaseException) -> ServerError:
        """One line for any failure of the client or of httpx."""
        import httpx
        import ollama

        from mpl.deploy.limits import AnswerTooLarge, Redirected, StalledAnswer

        if isinstance(exc, ServerError):
            return exc
        if isinstance(exc, Redirected):
            return ServerError(f"{doing}: {self.url} answered with a redirect (HTTP {exc.status}) to `{visible(exc.location)}`, "
                               "which mpl does not follow; if the server moved, pass its address as --host", exc.status)
        if isinstance(exc, AnswerTooLarge):
            return ServerError(f"{doing}: {exc}; is {self.url} an Ollama server?")
        if isinstance(exc, StalledAnswer):
            return ServerError(f"{doing}: Ollama at {self.url} sent {exc} (see --timeout)")
        if isinstance(exc, ollama.ResponseError):
            if exc.status_code == -1:
                return ServerError(f"{doing}: {visible(exc.error)}")
            return ServerError(f"{doing}: {visible(exc.error)} (HTTP {exc.status_code})", exc.status_code)
        if isinstance(exc, (ConnectionError, httpx.ConnectError)):
            return ServerError(f"cannot connect to Ollama at {self.url} ({doing}): is `ollama serve` running there?")
        if isinstance(exc, httpx.TimeoutException):
            return ServerError(f"{doing}: Ollama at {self.url} did not answer within {self.timeout:g} s (see --timeout)")
        if isinstance(exc, (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)):
            return ServerError(f"{doing}: the connection to {self.url} broke ({visible(exc) or type(exc).__name__})")
        if isinstance(exc, RecursionError):  # JSON nested deeper than the decoder goes
            return ServerError(f"{doing}: the server's answer nests too deeply to read; is {self.url} an Ollama server?")
        if isinstance(exc, json.JSONDecodeError):  # a stream line that is not JSON
            return ServerError(f"{doing}: the server sent a line that is not JSON ({visible(exc)})")
        if isinstance(exc, (ValueError, AttributeError, TypeError, KeyError)):
            # an answer of an unexpected shape, as the client reads it (a pydantic
            # ValidationError, `.get` on a line that is not an object, …)
            first = str(exc).splitlines()[0] if str(exc) else ""
            return ServerError(f"{doing}: the server's answer could not be read ({type(exc).__name__}: {visible(first)})")
        if isinstance(exc, OSError):
            return ServerError(f"{doing}: {visible(exc.strerror or exc)}")
        if isinstance(exc, (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError)):
            return ServerError(f"{doing}: {type(exc).__name__}: {visible(exc)}")
        raise exc


#: The `/api/show` fields mpl reads, with their JSON types (`ShowResponse` and `ModelDetails` in Ollama's `api/types.go`).
_SHOW_FIELDS: dict[str, type] = {
    "details": dict, "model_info": dict, "messages": list, "parameters": str, "template": str,
    "system": str, "license": str, "modelfile": str, "requires": str,
}
_DETAILS_FIELDS = ("parent_model", "format", "family", "parameter_size", "quantization_level")
_KINDS: dict[type, str] = {dict: "an object", list: "a list of objects", str: "a string"}


def _check_show(name: str, show: dict[str, t.Any]) -> None:
    """Raise ServerError when a field mpl reads has another JSON type than Ollama sends."""
    details = show.get("details")
    if not isinstance(details, dict):
        details = {}
    fields: list[tuple[str, t.Any, type]] = [(key, show.get(key), kind) for key, kind in _SHOW_FIELDS.items()]
    fields += [(f"details.{key}", details.get(key), str) for key in _DETAILS_FIELDS]
    for key, value, kind in fields:
        if value is None:
            continue
        if not isinstance(value, kind) or (key == "messages" and not all(isinstance(m, dict) for m in t.cast(list[t.Any], value))):
            raise ServerError(f"reading model `{name}`: the server's answer has a `{key}` that is not {_KINDS[kind]} "
                              f"(`{visible(json.dumps(value, ensure_ascii=False), 80)}`)")


def error_text(body: str, status: int) -> str:
    """Ollama's `{"error": …}` text of a failed answer (or the raw body), with the status.

    >>> error_text('{"error":"model \\'x:latest\\' not found"}', 404)
    "model 'x:latest' not found (HTTP 404)"
    >>> error_text("", 500)
    'HTTP 500 with an empty body'
    >>> error_text('{"error":"bad\\\\u001b[2J\\\\nmpl: ok"}', 500)
    'bad\\\\x1b[2J\\\\nmpl: ok (HTTP 500)'
    """
    text = body.strip()
    try:
        decoded = json.loads(text)
        if isinstance(decoded, dict) and isinstance(decoded.get("error"), str):
            text = decoded["error"]
    except (ValueError, RecursionError):
        pass
    return f"{visible(text)} (HTTP {status})" if text else f"HTTP {status} with an empty body"


def read_chunks(path: Path, progress: t.Callable[[int], None] | None = None) -> t.Iterator[bytes]:
    """The file's bytes in `CHUNK`-sized pieces, for a streamed upload body."""
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            if progress is not None:
                progress(len(chunk))
            yield chunk

"""Where the Ollama server is: `--host`, else `OLLAMA_HOST`, else `http://127.0.0.1:11434`.

`parse_host` reproduces the official Python client's `_parse_host` exactly
(ollama-python's `ollama/_client.py`) and adds the checks the client leaves to httpx (or to
a traceback): a scheme other than http/https, a port that is not a number in range, a bracket
left open, spaces and control characters.
"""

from __future__ import annotations

import ipaddress
import urllib.parse

class HostError(ValueError):
    """A host that no request could be sent to; a usage error (exit 2)."""


def parse_host(host: str | None) -> str:
    """The base URL the official client would use for `host`.

    Args:
        host: `--host` or `OLLAMA_HOST` as given; empty or None means the default.

    Returns:
        `scheme://host:port[/path]`, as `ollama._client._parse_host` returns it.

    Raises:
        HostError: The scheme is not http or https, the port is not a number from
            0 to 65535 (a bare IPv6 address without brackets is read as one), the
            address is not one a URL can hold (`http://[::1`), or the text contains
            spaces or control characters.

    >>> parse_host(None), parse_host(":56789"), parse_host("https://h"), parse_host("h:1/path/")
    ('http://127.0.0.1:11434', 'http://127.0.0.1:56789', 'https://h:443', 'http://h:1/path')
    >>> parse_host("[::1]:5"), parse_host("0.0.0.0")
    ('http://[::1]:5', 'http://0.0.0.0:11434')
    >>> parse_host("ftp://h")
    Traceback (most recent call last):
    ...
    mpl.deploy.host.HostError: `ftp://h`: the scheme must be http or https, not `ftp`
    >>> parse_host("http://[::1")
    Traceback (most recent call last):
    ...
    mpl.deploy.host.HostError: `http://[::1`: invalid ipv6 url
    """
    from mpl.deploy.untrusted import visible

    text = host or ""
    if any(ch.isspace() for ch in text):
        raise HostError(f"`{visible(text)}`: a host cannot contain spaces")
    if not text.isprintable():
        raise HostError(f"`{visible(text)}`: a host cannot contain control characters")
    port = 11434
    scheme, _, hostport = text.partition("://")
    if not hostport:
        scheme, hostport = "http", text
    elif scheme == "http":
        port = 80
    elif scheme == "https":
        port = 443
    else:
        raise HostError(f"`{text}`: the scheme must be http or https, not `{scheme}`")
    try:
        split = urllib.parse.urlsplit(f"{scheme}://{hostport}")
        name = split.hostname or "127.0.0.1"
        port = split.port or port
    except ValueError as exc:
        raise HostError(f"`{text}`: {str(exc).lower()}") from None
    try:
        if isinstance(ipaddress.ip_address(name), ipaddress.IPv6Address):
            name = f"[{name}]"
        address = True
    except ValueError:
        address = False
    url = f"{scheme}://{name}:{port}"
    if path := split.path.strip("/"):
        url += f"/{path}"
    _check_name(text, url, address)
    return url


def _check_name(text: str, url: str, address: bool) -> None:
    """Raise HostError unless httpx and the resolver can both use the host name of `url`.

    >>> _check_name("h", "http://a..b:1", False)
    Traceback (most recent call last):
    ...
    mpl.deploy.host.HostError: `h`: `a..b` is not a host name (a label is empty or longer than 63 characters)
    """
    import httpx

    from mpl.deploy.untrusted import visible

    try:
        parsed = httpx.URL(url)
        host = parsed.host  # decodes `xn--` labels: a bad one raises
    except (httpx.InvalidURL, ValueError) as exc:  # IDNA errors are UnicodeErrors, hence ValueErrors
        raise HostError(f"`{visible(text)}`: {visible(exc)}") from None
    if not address:
        try:
            host.encode("idna")  # what the resolver is given
        except UnicodeError:
            raise HostError(f"`{visible(text)}`: `{visible(host)}` is not a host name (a label is empty or longer than 63 characters)") from None


def is_loopback(url: str) -> bool:
    """Whether a server URL (as `parse_host` returns it) is on this machine.

    >>> is_loopback("http://127.0.0.1:11434"), is_loopback("http://localhost:1"), is_loopback("http://[::1]:5")
    (True, True, True)
    >>> is_loopback("http://10.0.0.2:11434"), is_loopback("https://ollama.example:443"), is_loopback("http://0.0.0.0:1")
    (False, False, False)
    >>> is_loopback("http://evil.localhost:11434")  # a resolver may send it out
    False
    """
    try:
        name = urllib.parse.urlsplit(url).hostname or ""
    except ValueError:
        return False
    if name.lower() == "localhost":  # not `*.localhost`: a resolver may send those names out
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False

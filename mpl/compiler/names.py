"""Names: did-you-mean suggestions, Ollama's model-name rules, and source paths.

Shared by the resolver, the targets, `mpl build` and the language server; it
depends on nothing else in the compiler.
"""

from __future__ import annotations

import re
import typing as t
from pathlib import Path

__all__ = [
    "canonical_model_name",
    "did_you_mean",
    "expand_path",
    "looks_like_path",
    "suggest",
    "valid_model_name",
    "windows_absolute",
]


def suggest(name: str, candidates: t.Iterable[str]) -> str | None:
    """The nearest candidate to a misspelt name, if one is near enough.

    >>> suggest("precize", ["precise", "creative"])
    'precise'
    """
    pool = list(candidates)
    lowered = {c.lower(): c for c in pool}
    if name.lower() in lowered:
        return lowered[name.lower()]
    import difflib  # only on the error path

    found = difflib.get_close_matches(name, pool, n=1, cutoff=0.6)
    return found[0] if found else None


def did_you_mean(name: str, candidates: t.Iterable[str]) -> str | None:
    near = suggest(name, candidates)
    return f"did you mean `{near}`?" if near else None


# -- model names (Ollama's types/model/name.go) ---------------------------------

_PART = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]{0,79}")
_NAMESPACE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_\-]{0,79}")
_HOST = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-:]{0,349}")
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]{0,79}")


def valid_model_name(name: str) -> bool:
    """Whether Ollama accepts a model name (`[host/][namespace/]model[:tag]`).

    >>> [valid_model_name(n) for n in ("meton-custom", "qwen2.5-coder:7b", "user/m:tag", "-x", "a b")]
    [True, True, True, False, False]

    A scheme before the host is Ollama's too (`ParseNameBare` cuts it off); an address with more parts is not a name:

    >>> valid_model_name("https://hf.co/bartowski/Llama-GGUF:Q4_K_M"), valid_model_name("https://h.co/a/b/resolve/main/m.gguf")
    (True, False)
    """
    rest, tag = name, None
    slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > slash:
        rest, tag = name[:colon], name[colon + 1 :]
        if not _TAG.fullmatch(tag):
            return False
    host_first = rest.rsplit("/", 2)
    if len(host_first) == 3 and "://" in host_first[0]:
        rest = "/".join([host_first[0].split("://", 1)[1], *host_first[1:]])
    parts = rest.split("/")
    if len(parts) > 3 or not parts[-1]:
        return False
    if not _PART.fullmatch(parts[-1]):
        return False
    if len(parts) >= 2 and not _NAMESPACE.fullmatch(parts[-2]):
        return False
    if len(parts) == 3 and not _HOST.fullmatch(parts[0]):
        return False
    return True


def canonical_model_name(name: str) -> str:
    """A model name as Ollama matches and shows it (`types/model/name.go`).

    Lower-cased, `:latest` added, the default host `registry.ollama.ai` and
    namespace `library` dropped: the shortest display form, as `/api/tags` and
    `details.parent_model` show it.

    >>> canonical_model_name("Mario"), canonical_model_name("registry.ollama.ai/library/Qwen")
    ('mario:latest', 'qwen:latest')
    >>> canonical_model_name("library/q:7b"), canonical_model_name("u/m"), canonical_model_name("registry.ollama.ai/u/m:1")
    ('q:7b', 'u/m:latest', 'u/m:1')
    >>> canonical_model_name("hf.co/library/m:q4")
    'hf.co/library/m:q4'
    """
    lowered = name.lower()
    if lowered.rfind(":") <= lowered.rfind("/"):
        lowered += ":latest"
    parts = lowered.split("/")
    if len(parts) == 3 and parts[0] == "registry.ollama.ai":
        parts = parts[1:]
    if len(parts) == 2 and parts[0] == "library":
        parts = parts[1:]
    return "/".join(parts)


_WINDOWS_ABSOLUTE = re.compile(r"[A-Za-z]:[\\/]")
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://")


def looks_like_path(text: str) -> bool:
    """A `from` source that names a file rather than a registry model.

    A Windows path (`C:\\models\\x.gguf`, `c:/Users/me/model`) is a path; an address
    (`https://…/model.gguf`) is not: Ollama sends it as a model name.

    >>> [looks_like_path(p) for p in ("./m", "x.gguf", "C:\\\\Backup\\\\m.gguf", "c:/Users/me/model", "https://h/m.gguf", "llama3")]
    [True, True, True, True, False, False]
    """
    if _WINDOWS_ABSOLUTE.match(text):
        return True
    if _URL.match(text):
        return False
    return (
        text.lower().endswith(".gguf")
        or text.startswith(("/", "./", "../", "~", "\\"))
        or text in (".", "..")
    )


def windows_absolute(text: str) -> bool:
    """Whether a path is absolute only on Windows (`C:\\…`, `c:/…`): elsewhere Ollama joins it to the Modelfile's folder."""
    return bool(_WINDOWS_ABSOLUTE.match(text))


def expand_path(text: str, base_dir: Path) -> Path:
    """Resolve a path as written in the source, relative to the source's folder."""
    path = Path(text).expanduser() if text.startswith("~") else Path(text)
    if not path.is_absolute():
        path = base_dir / path
    return Path(path.resolve(strict=False)) if exists(path) else Path(_normpath(path))


def exists(path: Path) -> bool:
    """Whether a path exists; False for a path the system cannot even look up (a name too long, a NUL)."""
    try:
        return path.exists()
    except (OSError, ValueError):
        return False


def _normpath(path: Path) -> str:
    import os

    return os.path.normpath(str(path))

"""Project configuration: `mpl.toml`, or a `[tool.mpl]` table in `pyproject.toml`.

Discovery works as ruff's and pytest's does: from the folder of the files a
command is given (their common folder; the current directory when it is given
none) upwards, the first `mpl.toml`, or `pyproject.toml` holding a `[tool.mpl]`
table, is the configuration (a `pyproject.toml` without one is passed over).
Paths in it are relative to its folder; command-line flags override it.

The file is validated with pydantic, imported only when a configuration file is
found; the validated form is cached (keyed by the file's bytes) so that a
`mpl check` in a configured project starts as quickly as one without. Errors
are `MPL006` diagnostics at the key's line of the TOML text.
"""

from __future__ import annotations

import os
import re
import typing as t
from pathlib import Path

import msgspec

from mpl.source import MAX_BYTES, read_file

if t.TYPE_CHECKING:
    from mpl.diagnostics import Diagnostic
    from mpl.source import SourceFile

from mpl import targets as registry  # noqa: E402  (each target's table is declared there)
from mpl.targets import DEFAULT_TARGETS  # noqa: E402
DEFAULT_OUTPUT = "mpl-out"

# Could this pyproject.toml hold a [tool.mpl] table? (Only then is it parsed.)
_TOOL_MPL = re.compile(r'^\s*\[\s*"?tool"?\s*\.\s*"?mpl"?\s*[\].]|^\s*\[\s*"?tool"?\s*\]|^\s*tool\s*\.\s*mpl\b', re.M)


class Config(msgspec.Struct, frozen=True):
    """The validated configuration. `path` is None when no file was found.

    Relative paths (`sources`, `output`, per-target places) are kept as
    written; `resolve` makes them relative to the configuration's folder.
    """

    path: Path | None = None
    text: str = ""
    sources: tuple[str, ...] | None = None
    targets: tuple[str, ...] | None = None
    target_settings: dict[str, dict[str, str | bool]] = {}
    output: str | None = None
    ollama: str | None = None
    hosts: tuple[str, ...] = ()
    select: tuple[str, ...] | None = None
    ignore: tuple[str, ...] = ()
    per_file_ignores: dict[str, tuple[str, ...]] = {}
    format: str | None = None
    docs_url: str | None = None

    @property
    def root(self) -> Path:
        return self.path.parent if self.path is not None else Path.cwd()

    @property
    def in_pyproject(self) -> bool:
        return self.path is not None and self.path.name == "pyproject.toml"

    def resolve(self, relative: str) -> Path:
        """A path of the configuration, relative to its folder (as written when absolute)."""
        return self.root / os.path.expanduser(relative)

    def setting(self, target: str, key: str) -> str | None:
        """A text or path key of `[targets.TARGET]` as written (`key` as in TOML or as its field), if set."""
        value = self.target_settings.get(target, {}).get(key.replace("-", "_"))
        return value if isinstance(value, str) else None

    def switched_on(self, target: str, key: str) -> bool:
        """Whether a boolean key of `[targets.TARGET]` is set to true."""
        return self.target_settings.get(target, {}).get(key.replace("-", "_")) is True

    def silenced(self) -> list[str]:
        """The codes made moot by boolean target keys set to true (`[targets.meton] complete-presets`: MPL509)."""
        codes: list[str] = []
        for info in registry.REGISTRY:
            codes.extend(c for key in info.table if self.switched_on(info.name, key.name) for c in key.silences)
        return codes

    def key_name(self, *keys: str) -> str:
        """A key as the user writes it: `tool.mpl.targets` in pyproject.toml, `targets` in mpl.toml."""
        return ".".join((("tool", "mpl") if self.in_pyproject else ()) + keys)

    def origin(self, *keys: str) -> str | None:
        """`FILE:LINE` of a key, or None when the file does not set it."""
        if self.path is None:
            return None
        prefix = ("tool", "mpl") if self.in_pyproject else ()
        found = key_span(self.text, prefix + keys, exact=True)
        if found is None:
            return None
        return f"{_shown(self.path)}:{self.text.count(chr(10), 0, found[0]) + 1}"

    def sources_paths(self) -> list[Path]:
        """The files `sources` names (globs expanded, sorted), relative to the configuration."""
        import glob

        out: list[Path] = []
        for pattern in self.sources or ():
            full = self.resolve(pattern)
            if glob.has_magic(pattern):
                # pathlib's `**` does not descend into linked folders, as `glob.glob` does: a repository's
                # links to `.` would make `**` walk the same folders without end.
                base = Path(full.anchor) if full.is_absolute() else Path()
                found = base.glob(str(full.relative_to(full.anchor) if full.is_absolute() else full))
                out.extend(sorted(p for p in found if p.is_file()))
            elif full.is_dir():
                out.extend(sorted(p for p in full.rglob("*.mprof") if p.is_file()))
            else:
                out.append(full)
        return [relative_to_cwd(p) for p in out]

    def lint_filter(self, file: str) -> t.Callable[[Diagnostic], bool] | None:
        """Whether to keep a diagnostic of `file` under `select`/`ignore`/`per-file-ignores`.

        Errors are always kept. None when the configuration selects everything. Codes
        a target key set to true makes moot (`silenced`) do not apply.
        """
        ignore = list(self.ignore)
        if self.per_file_ignores:
            ignore.extend(self._file_ignores(file))
        ignore.extend(self.silenced())
        select = self.select if self.select is not None else ("ALL",)
        if not ignore and "ALL" in select:
            return None
        from mpl.diagnostics import Severity

        def keep(diag: Diagnostic) -> bool:
            if diag.severity is Severity.ERROR:
                return True
            chosen = _specificity(diag.code, select)
            if chosen is None:
                return False
            dropped = _specificity(diag.code, ignore)
            return dropped is None or chosen > dropped

        return keep

    def _file_ignores(self, file: str) -> list[str]:
        import fnmatch

        absolute = Path(os.path.abspath(file))
        try:
            relative = absolute.relative_to(self.root.resolve()).as_posix()
        except ValueError:
            relative = absolute.as_posix()
        out: list[str] = []
        for pattern, selectors in self.per_file_ignores.items():
            pat = pattern.removeprefix("./")
            if fnmatch.fnmatch(relative, pat) or ("/" not in pat and fnmatch.fnmatch(absolute.name, pat)):
                out.extend(selectors)
        return out


def _specificity(code: str, selectors: t.Iterable[str]) -> int | None:
    """How specifically the best of `selectors` names `code` (None: none does)."""
    from mpl.diagnostics import CODES

    best: int | None = None
    for sel in selectors:
        if sel == "ALL":
            score = 0
        elif sel == code or CODES[code].name == sel:
            score = 10
        elif code.startswith(sel):
            score = len(sel)
        else:
            continue
        best = score if best is None else max(best, score)
    return best


def check_selector(text: str) -> str:
    """A lint selector: `ALL`, a code (`MPL711`), a code prefix (`MPL7`) or a name (`greedy-ignores-filters`)."""
    from mpl.diagnostics import CODES

    if text == "ALL" or text in CODES or any(spec.name == text for spec in CODES.values()):
        return text
    upper = text.upper()
    if re.fullmatch(r"MPL\d{0,3}", upper) and any(code.startswith(upper) for code in CODES):
        if upper != text:
            raise ValueError(f"write `{upper}`: codes are upper case")
        return text
    from mpl.compiler.names import suggest

    near = None if re.fullmatch(r"(?i)mpl\d*", text) else suggest(text, [spec.name for spec in CODES.values()])
    hint = f"; did you mean `{near}`?" if near else "; `mpl explain --list` lists the codes and names"
    raise ValueError(f"`{text}` is no diagnostic code, code prefix or name{hint}")


# -- discovery ------------------------------------------------------------------


class ConfigError(Exception):
    """The configuration file is invalid; `diagnostics` say where (MPL006)."""

    def __init__(self, source: SourceFile, diagnostics: list[Diagnostic]) -> None:
        super().__init__(f"{source.path}: invalid configuration")
        self.source = source
        self.diagnostics = diagnostics


def find_config(start: Path) -> Path | None:
    """The first `mpl.toml`, or `pyproject.toml` with a `[tool.mpl]` table, from `start` upwards."""
    folder = Path(os.path.abspath(start))
    if not os.path.isdir(folder):  # os.path's tests are False, never an error, for names too long to look up
        folder = folder.parent
    while True:
        candidate = folder / "mpl.toml"
        if os.path.isfile(candidate):
            return candidate
        candidate = folder / "pyproject.toml"
        if os.path.isfile(candidate) and _has_tool_mpl(candidate):
            return candidate
        if folder.parent == folder:
            return None
        folder = folder.parent


def config_table_in(path: Path) -> bool:
    """Whether `path` is a pyproject.toml holding a `[tool.mpl]` table."""
    return os.path.isfile(path) and _has_tool_mpl(path)


def _has_tool_mpl(path: Path) -> bool:
    try:
        data = read_file(path)  # at most the limit and a byte: a huge pyproject.toml is not read whole
    except OSError:
        return False
    text = data.decode("utf-8", errors="replace")
    if not _TOOL_MPL.search(text):
        return False
    if len(data) > MAX_BYTES:
        return True  # `load_config` says it is too large to read
    import tomllib

    try:
        table = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return "[tool.mpl]" in text  # report its syntax error rather than pass over it
    tool = table.get("tool")
    return isinstance(tool, dict) and "mpl" in tool


def configured_targets(path: Path | None) -> tuple[str, ...]:
    """The targets `mpl check` checks for the file at `path`: its configuration's, else the default two.

    An unreadable or invalid configuration counts as none (the commands report it).
    """
    if path is None:
        return DEFAULT_TARGETS
    try:
        targets = load_config([path]).targets
    except (ConfigError, OSError):
        return DEFAULT_TARGETS
    return tuple(targets) if targets is not None else DEFAULT_TARGETS


def start_folder(files: t.Sequence[str | Path]) -> Path:
    """Where discovery starts: the common folder of the files given, else the current directory."""
    folders = [os.path.dirname(os.path.abspath(f)) for f in files if str(f) != "-"]
    if not folders:
        return Path.cwd()
    return Path(os.path.commonpath(folders))


def load_config(files: t.Sequence[str | Path] = (), *, explicit: Path | None = None) -> Config:
    """The configuration for a command given `files` (or the one at `explicit`).

    Raises `ConfigError` for an invalid file and `OSError` when `explicit` cannot be read.
    """
    path = explicit if explicit is not None else find_config(start_folder(files))
    if path is None:
        return Config()
    try:
        data = read_file(path, whole=True)
    except OSError as exc:
        exc.filename = str(path)  # the caller names the file, given or found
        raise
    return load_config_bytes(Path(path), data)


def load_config_bytes(path: Path, data: bytes) -> Config:
    text = data.decode("utf-8", errors="replace")
    cached = _cache_read(path, data)
    if cached is not None:
        return _build(path, text, cached)
    settings = _validate(path, text)
    _cache_write(path, data, settings)
    return _build(path, text, settings)


def _build(path: Path, text: str, s: dict[str, t.Any]) -> Config:
    targets = s.get("targets")
    target_settings: dict[str, dict[str, str | bool]] = {}
    if isinstance(targets, dict):
        target_settings = {k: {kk: vv for kk, vv in v.items() if vv is not None} for k, v in targets.items() if v is not None}
        targets = tuple(target_settings)
    elif targets is not None:
        targets = tuple(targets)
    host = s.get("host")
    hosts = (host,) if isinstance(host, str) else tuple(host or ())
    lint = s.get("lint") or {}
    return Config(
        path=path,
        text=text,
        sources=tuple(s["sources"]) if s.get("sources") is not None else None,
        targets=targets,
        target_settings=target_settings,
        output=s.get("output"),
        ollama=s.get("ollama"),
        hosts=hosts,
        select=tuple(lint["select"]) if lint.get("select") is not None else None,
        ignore=tuple(lint.get("ignore") or ()),
        per_file_ignores={k: tuple(v) for k, v in (lint.get("per_file_ignores") or {}).items()},
        format=s.get("format"),
        docs_url=s.get("docs_url"),
    )


# -- validation (pydantic, imported only here) -----------------------------------


def _validate(path: Path, text: str) -> dict[str, t.Any]:
    import tomllib

    from mpl.diagnostics import Sink
    from mpl.source import SourceFile, Span

    source = SourceFile(_shown(path), text)
    sink = Sink(source)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        offset = _toml_error_offset(text, str(exc))
        message = re.sub(r"\s*\(at (line \d+, column \d+|end of document)\)$", "", str(exc))
        sink.report("MPL006", Span(offset, min(len(text), offset + 1)), f"invalid TOML: {message}",
                    help="see https://toml.io for the syntax")
        raise ConfigError(source, sink.sorted()) from None
    prefix: tuple[str, ...] = ()
    if path.name == "pyproject.toml":
        prefix = ("tool", "mpl")
        data = data.get("tool", {}).get("mpl", {})
        if not isinstance(data, dict):
            span = key_span(text, prefix) or (0, 0)
            sink.report("MPL006", Span(*span), "`tool.mpl` must be a table", help="write `[tool.mpl]` and keys under it")
            raise ConfigError(source, sink.sorted())
    model, _ = _model()
    from pydantic import ValidationError

    try:
        settings = model.model_validate(data)
    except ValidationError as exc:
        for error in _union_errors(data, [dict(e) for e in exc.errors()]):
            _report(sink, text, prefix, error)
        raise ConfigError(source, sink.sorted()) from None
    return settings.model_dump(exclude_none=False)


def _report(sink: t.Any, text: str, prefix: tuple[str, ...], error: dict[str, t.Any]) -> None:
    from mpl.source import Span

    loc = tuple(error["loc"])
    # pydantic names the union member it tried (`list[...]`, `Targets`) in the location: drop those
    keys = tuple(k for k in loc if not _is_type_name(k))
    shown_keys = tuple(str(k) for k in keys if not isinstance(k, int))
    dotted = ".".join(prefix + shown_keys) or "tool.mpl"
    kind = error["type"]
    help = None
    if kind == "extra_forbidden":
        parent = shown_keys[:-1]
        name = shown_keys[-1] if shown_keys else ""
        message = f"unknown key `{dotted}`"
        from mpl.compiler.names import suggest

        near = suggest(name, _keys_under(parent))
        help = f"did you mean `{near}`?" if near else f"known keys here: {', '.join(f'`{k}`' for k in _keys_under(parent))}"
        span = key_span(text, prefix + shown_keys, key=True)
    else:
        raw = error.get("msg", "invalid value")
        raw = raw.removeprefix("Value error, ")
        raw = raw[:1].lower() + raw[1:]
        message = f"`{dotted}`: {raw}"
        help = _HELP.get(shown_keys[0]) if shown_keys else None
        if "; " in raw and ("did you mean" in raw or "lists the codes" in raw):
            raw, _, help = raw.partition("; ")
            message = f"`{dotted}`: {raw}"
        span = key_span(text, prefix + shown_keys)
        index = next((k for k in reversed(keys) if isinstance(k, int)), None)
        if span is not None and index is not None:
            span = _item_span(text, span, index) or span
    if span is None:
        span = key_span(text, prefix) or (0, 0)
    sink.report("MPL006", Span(*span), message, help=help)


def _is_type_name(key: t.Any) -> bool:
    """Whether a pydantic location part names a union member rather than a key."""
    return isinstance(key, str) and ("[" in key or key.startswith("function-") or key in ("Targets", "str"))


def _member_kind(member: str) -> str:
    return "list" if member.startswith("list[") else "table" if member == "Targets" else "scalar"


def _value_kind(value: t.Any) -> str:
    return "list" if isinstance(value, list) else "table" if isinstance(value, dict) else "scalar"


def _union_errors(data: dict[str, t.Any], errors: list[dict[str, t.Any]]) -> list[dict[str, t.Any]]:
    """Of the errors of a union-typed key, those of the member the value's TOML type meant."""
    out: list[dict[str, t.Any]] = []
    groups: dict[t.Any, list[dict[str, t.Any]]] = {}
    for error in errors:
        groups.setdefault(error["loc"][0] if error["loc"] else None, []).append(error)
    for key, group in groups.items():
        members = {e["loc"][1] for e in group if len(e["loc"]) > 1 and _is_type_name(e["loc"][1])}
        if len(members) < 2:
            out.extend(group)
            continue
        want = _value_kind(data.get(key))
        chosen = [e for e in group if len(e["loc"]) > 1 and _member_kind(str(e["loc"][1])) == want]
        if chosen:
            out.extend(chosen)
        else:
            kind = {"list": "an array", "table": "a table", "scalar": f"a {type(data.get(key)).__name__}"}[want]
            out.append({"loc": (key,), "type": "wrong_type", "msg": f"wrong type: {kind} is not accepted here"})
    return out


_HELP = {
    "ollama": 'write the version in quotes, e.g. `ollama = "0.6"`',
    "targets": 'a list of target names (`targets = ["options", "modelfile"]`) or `[targets.NAME]` tables',
    "format": "one of `text`, `json`, `sarif`",
    "host": 'a server URL, or a list of them: `host = "http://127.0.0.1:11434"`',
    "docs-url": "an http(s) address; `{code}` stands for the lower-case code (`mpl301`)",
}

def _keys_under(parent: tuple[str, ...]) -> tuple[str, ...]:
    """The keys of a table, as written in TOML."""
    return _model()[1].get(parent, ())


_MODEL: t.Any = None


def _model() -> tuple[t.Any, dict[tuple[str, ...], tuple[str, ...]]]:
    """The pydantic model of the configuration, and the keys of each of its tables (built on first use).

    `[targets.NAME]` tables are built from the target registry's declarations
    (`mpl.targets.Key`), so that a target's keys are declared once, beside it.
    """
    global _MODEL
    if _MODEL is not None:
        return _MODEL
    from typing import Annotated, Literal, Optional, Union

    from pydantic import AfterValidator, BaseModel, ConfigDict, Field, create_model

    class Table(BaseModel):
        model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True)

    def version(text: str) -> str:
        from mpl.catalog import Version

        Version.parse(text)
        return text

    def url(text: str) -> str:
        if not re.match(r"^https?://[^\s/]+", text):
            raise ValueError(f"`{text}` is not an http(s) address")
        return text

    def name(text: str) -> str:
        if not text.strip():
            raise ValueError("must not be empty")
        return text

    Selector = Annotated[str, AfterValidator(check_selector)]
    NonEmpty = Annotated[str, AfterValidator(name)]
    kinds: dict[str, t.Any] = {"path": NonEmpty, "text": NonEmpty, "bool": bool}

    def keys(model: type[BaseModel]) -> tuple[str, ...]:
        return tuple(f.alias or n for n, f in model.model_fields.items())

    tables: dict[tuple[str, ...], tuple[str, ...]] = {}
    per_target: dict[str, t.Any] = {}
    for info in registry.REGISTRY:
        if not info.files:
            continue
        fields: dict[str, t.Any] = {
            key.field: (Optional[kinds[key.kind]], Field(default=None, alias=key.name if key.name != key.field else None))
            for key in info.table
        }
        table = create_model(f"targets.{info.name}", __base__=Table, **fields)
        tables["targets", info.name] = keys(table)
        per_target[info.name] = (Optional[table], None)
    Targets = create_model("Targets", __base__=Table, **per_target)
    known = tuple(per_target)

    class Lint(Table):
        select: Optional[list[Selector]] = None
        ignore: list[Selector] = []
        per_file_ignores: dict[str, list[Selector]] = Field(default={}, alias="per-file-ignores")

    class Settings(Table):
        sources: Optional[list[NonEmpty]] = None
        targets: Optional[Union[list[Literal[known]], Targets]] = None  # type: ignore[valid-type]
        output: Optional[NonEmpty] = None
        ollama: Optional[Annotated[str, AfterValidator(version)]] = None
        host: Optional[Union[Annotated[str, AfterValidator(url)], list[Annotated[str, AfterValidator(url)]]]] = None
        lint: Optional[Lint] = None
        format: Optional[Literal["text", "json", "sarif"]] = None
        docs_url: Optional[Annotated[str, AfterValidator(url)]] = Field(default=None, alias="docs-url")

    tables.update({(): keys(Settings), ("targets",): keys(Targets), ("lint",): keys(Lint)})
    _MODEL = (Settings, tables)
    return _MODEL


# -- where a key is in the TOML text ---------------------------------------------

# Patterns of the lines of a TOML file, compiled on first use (`re` keeps them): only
# a configuration error needs them, and `mpl check` starts without.
_HEADER = r"^[ \t]*\[\[?\s*([^\]]+?)\s*\]\]?[ \t]*(?:#.*)?$"
_KEY = r'^[ \t]*((?:[A-Za-z0-9_-]+|"[^"]*"|\'[^\']*\')(?:[ \t]*\.[ \t]*(?:[A-Za-z0-9_-]+|"[^"]*"|\'[^\']*\'))*)[ \t]*=[ \t]*'


def _split_key(text: str) -> tuple[str, ...]:
    parts = re.findall(r'"([^"]*)"|\'([^\']*)\'|([A-Za-z0-9_-]+)', text)
    return tuple(a or b or c for a, b, c in parts)


def key_span(text: str, keys: t.Sequence[str], *, key: bool = False, exact: bool = False) -> tuple[int, int] | None:
    """The span of the value (or, with `key`, the key) of a dotted key in TOML text.

    Finds `[a.b]` headers and `c = ...` lines; a key inside an inline table
    resolves to its table's line. Without `exact`, the nearest enclosing key
    that is found stands in for one that is not.

    >>> text = '[tool.mpl]\\nollama = 6\\n[tool.mpl.targets.options]\\npath = "x"\\n'
    >>> s = key_span(text, ("tool", "mpl", "ollama")); text[s[0]:s[1]]
    '6'
    >>> s = key_span(text, ("tool", "mpl", "targets", "options", "path"), key=True); text[s[0]:s[1]]
    'path'
    """
    wanted = tuple(k.replace("_", "-") if k in ("per_file_ignores", "docs_url") else k for k in keys)
    best: tuple[int, tuple[int, int]] | None = None
    table: tuple[str, ...] = ()
    offset = 0
    for line in text.splitlines(keepends=True):
        stripped = line.rstrip("\r\n")
        header = re.match(_HEADER, stripped)
        if header:
            table = _split_key(header.group(1))
            start = offset + stripped.index(header.group(1))
            span = (start, start + len(header.group(1)))
            best = _better(best, table, wanted, span, key)
        else:
            m = re.match(_KEY, stripped)
            if m:
                full = table + _split_key(m.group(1))
                key_start = offset + m.start(1)
                value_start = offset + m.end()
                value_end = offset + len(re.sub(r"\s+#[^\"']*$", "", stripped).rstrip())
                span = (key_start, key_start + len(m.group(1))) if key else (value_start, max(value_start, value_end))
                best = _better(best, full, wanted, span, key)
        offset += len(line)
    if best is None or (exact and best[0] < len(wanted) - 0.5):
        return None
    return best[1]


def _better(best, found: tuple[str, ...], wanted: tuple[str, ...], span, key: bool):
    if found == wanted:
        depth = float(len(wanted))
    elif found[: len(wanted)] == wanted:
        depth = len(wanted) - 0.5  # a table below the key: the key is written as tables
    elif wanted[: len(found)] == found:
        depth = float(len(found))
    else:
        return best
    if best is None or depth > best[0]:
        return (depth, span)
    return best


def _item_span(text: str, span: tuple[int, int], index: int) -> tuple[int, int] | None:
    """The `index`-th item of a one-line array value at `span`."""
    value = text[span[0]:span[1]]
    items = list(re.finditer(r'"(?:[^"\\]|\\.)*"|\'[^\']*\'|[^,\[\]\s{}=]+', value))
    if value.lstrip().startswith("[") and index < len(items):
        m = items[index]
        return (span[0] + m.start(), span[0] + m.end())
    return None


def _toml_error_offset(text: str, message: str) -> int:
    m = re.search(r"line (\d+), column (\d+)", message)
    if not m:
        return max(0, len(text) - 1)
    line, col = int(m.group(1)), int(m.group(2))
    lines = text.splitlines(keepends=True)
    return min(len(text), sum(len(x) for x in lines[: line - 1]) + col - 1)


# -- the cache of validated files ------------------------------------------------


# An entry is named by a CRC of the file (`zlib` is loaded anyway; `hashlib` would
# load OpenSSL, some 2 ms of every `mpl check`) and holds the file's own text, which
# a read compares (as Latin-1, which any bytes are): two files with the same CRC
# only cost a validation.


def _cache_key(path: Path, data: bytes) -> bytes:
    from mpl import __version__

    return f"{__version__}\0{path.name}\0".encode() + data


def _cache_path(key: bytes) -> Path | None:
    configured = os.environ.get("MPL_CACHE_DIR")
    if configured == "":
        return None
    import zlib

    folder = configured or os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "mpl")
    return Path(folder) / "config" / f"{zlib.crc32(key):08x}-{len(key)}.json"


def _cache_read(path: Path, data: bytes) -> dict[str, t.Any] | None:
    key = _cache_key(path, data)
    cache = _cache_path(key)
    if cache is None:
        return None
    try:
        entry = msgspec.json.decode(cache.read_bytes())
    except (OSError, msgspec.DecodeError):
        return None
    if not isinstance(entry, dict) or entry.get("key") != key.decode("latin-1"):
        return None
    settings = entry.get("settings")
    return settings if isinstance(settings, dict) else None


def _cache_write(path: Path, data: bytes, settings: dict[str, t.Any]) -> None:
    key = _cache_key(path, data)
    cache = _cache_path(key)
    if cache is None:
        return
    from mpl.output import write_atomic

    entry = {"key": key.decode("latin-1"), "settings": settings}
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(cache, msgspec.json.encode(entry), follow_links=False)
    except OSError:
        pass


# -- helpers ----------------------------------------------------------------------


def _shown(path: Path) -> str:
    return str(relative_to_cwd(path))


def relative_to_cwd(path: Path) -> Path:
    """`path` relative to the current directory when it is under it, else absolute."""
    absolute = Path(os.path.abspath(path))
    try:
        return absolute.relative_to(Path.cwd())
    except ValueError:
        return absolute


# -- `mpl check --show-config` --------------------------------------------------------


def show_config(config: Config, flags: dict[str, t.Any] | None = None) -> str:
    """The settings in force, one per line in TOML's syntax, each with where it comes from.

    `flags` are the settings given on the command line (they override the file).
    """
    flags = flags or {}
    lines = [f"# configuration: {_shown(config.path) if config.path else 'none found (defaults)'}"]

    def toml(value: t.Any) -> str:
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, (list, tuple)):
            return "[" + ", ".join(toml(v) for v in value) + "]"
        if isinstance(value, dict):
            return "{ " + ", ".join(f"{toml(k)} = {toml(v)}" for k, v in value.items()) + " }"
        return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'

    unset = {
        "sources": "(not set: commands need files named)",
        "ollama": "(not set: each file's `ollama` line, else the newest release known)",
        "host": "(not set: $OLLAMA_HOST, else http://127.0.0.1:11434)",
        "docs-url": "(not set: diagnostics point to `mpl explain CODE`)",
    }

    def row(key: str, value: t.Any, flag: str | None, keys: tuple[str, ...], default: t.Any = None) -> None:
        if flag is not None and flag in flags:
            value, origin = flags[flag], "command line"
        elif value is not None and config.path is not None:
            origin = config.origin(*keys) or _shown(config.path)
        elif default is not None:
            value, origin = default, "default"
        else:
            lines.append(f"# {key} {unset.get(key, '(not set)')}")
            return
        text = f"{key} = {toml(value)}"
        lines.append(f"{text:<48} # {origin}")

    row("sources", list(config.sources) if config.sources is not None else None, None, ("sources",))
    row("targets", list(config.targets) if config.targets is not None else None, "targets", ("targets",), list(DEFAULT_TARGETS))
    row("output", config.output, "output", ("output",), DEFAULT_OUTPUT)
    row("ollama", config.ollama, "ollama", ("ollama",))
    row("host", list(config.hosts) if config.hosts else None, None, ("host",))
    row("format", config.format, "format", ("format",), "text")
    row("docs-url", config.docs_url, None, ("docs-url",))
    row("lint.select", list(config.select) if config.select is not None else None, None, ("lint", "select"), ["ALL"])
    row("lint.ignore", list(config.ignore) if config.ignore else None, None, ("lint", "ignore"), [])
    if config.per_file_ignores:
        row("lint.per-file-ignores", {k: list(v) for k, v in config.per_file_ignores.items()}, None,
            ("lint", "per-file-ignores"))
    for target, settings in config.target_settings.items():
        for key, value in settings.items():
            key = key.replace("_", "-")  # as written in TOML (`complete-presets`)
            row(f"targets.{target}.{key}", value, None, ("targets", target, key))
    for info in registry.REGISTRY:  # a file merged in place: where the relative path leads
        for place in info.places:
            into = config.setting(info.name, place.name) if place.place == "into" else None
            if into:
                lines.append(f"# targets.{info.name}.{place.name} resolves to {config.resolve(into)}")
    return "\n".join(lines) + "\n"


STARTER_PROFILE = """\
# A starter model profile: `mpl check` checks it, `mpl compile` writes its targets.
# `mpl explain CODE` explains every diagnostic mpl reports.

ollama "0.12"  # the Ollama version you run: parameters are checked against it

tasks chat, code  # the tasks your application asks for

default balanced  # the profile used when no task matches

profile balanced <
  "Everyday defaults"
  num_ctx 8192
  temperature 0.7
  top_p 0.9
  repeat_penalty 1.1
>

profile precise extends balanced for code <
  "Focused output for code"
  temperature 0.2
  top_k 40
>

# A model for `mpl build` (and a Modelfile for `mpl compile`): remove the `#`s.
# model assistant from "llama3.2" <
#   use balanced
#   system "You are a helpful assistant."
# >
"""

STARTER_CONFIG = """\
# mpl's project configuration (docs/configuration.md lists every key).
# Command-line flags override what is set here.

sources = ["profiles.mprof"]        # what `mpl check`, `compile` and `fmt` use when given no file
targets = ["options", "modelfile"]  # add "meton" to write Meton's config sections too
output = "mpl-out"                  # where `mpl compile` writes
# ollama = "0.12"                   # check against this Ollama version (overrides the files' `ollama`)
# host = "http://127.0.0.1:11434"   # the server(s) `mpl build` creates models on

[lint]
# select = ["ALL"]                  # codes, code prefixes (MPL7) or names (greedy-ignores-filters)
ignore = []                         # warnings and notes to leave out; errors cannot be ignored
"""

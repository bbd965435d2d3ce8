"""The parameter catalog: every Ollama option key and Modelfile instruction, by release.

Consumes the literals in `mpl.catalog._data` (read from Ollama's `api/types.go`,
`parser/parser.go` and llama.cpp's samplers at each release tag); produces one
frozen `Catalog` via `catalog()`, built once and validated by pydantic
(`validate_catalog()`, run by the tests) against the types declared here.

The specs, like the records beside them (`Version`, a value's `Problem` and
`Verdict`), are frozen msgspec Structs, cheaper to create than dataclasses (see
`mpl.compiler.nodes`). pydantic validates them all the same: `Version` and the
specs' shared base `_Spec` tell it how, through its hook for custom types, and
`mpl check` builds the specs directly from the literals, so it never imports
pydantic at start-up.
"""

from __future__ import annotations

import functools
import math
import typing as t
from enum import StrEnum

import msgspec

from mpl.catalog import _data
from mpl.catalog._data import SOURCES as SOURCES
from mpl.catalog.versions import NEWEST as NEWEST
from mpl.catalog.versions import OLDEST as OLDEST
from mpl.catalog.values import Problem as Problem
from mpl.catalog.values import Verdict as Verdict
from mpl.catalog.values import Written as Written
from mpl.catalog.values import validate as validate
from mpl.catalog.versions import Version as Version

__all__ = [
    "NEWEST",
    "OLDEST",
    "SOURCES",
    "Catalog",
    "DefaultChange",
    "Domain",
    "InstructionSpec",
    "MESSAGE_ROLES",
    "MODELFILE_ROLES",
    "ModelfileBehaviour",
    "OptionSpec",
    "Problem",
    "TypeChange",
    "ValueType",
    "Verdict",
    "Version",
    "Written",
    "catalog",
    "catalog_input",
    "validate",
    "validate_catalog",
]

#: The roles a message can have, with what each stands for. A Modelfile's MESSAGE takes only
#: `MODELFILE_ROLES`, lower case (`parser/parser.go`); a `tool` message reaches a model only
#: through the create API's `messages`, whose roles the server does not check.
MESSAGE_ROLES: dict[str, str] = {
    "system": "A system message",
    "user": "A message from the user",
    "assistant": "A reply of the model",
    "tool": "The result of a tool call",
}
MODELFILE_ROLES: tuple[str, ...] = ("system", "user", "assistant")

class ValueType(StrEnum):
    """The JSON type of an option value (Go float32, int/*int, bool/*bool, []string)."""

    INT = "int"
    FLOAT = "float"
    BOOL = "bool"
    STRING_LIST = "string_list"


class _Spec(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """The base of the catalog's specs: frozen, keyword-only, validated by pydantic.

    pydantic reads a spec as a dict of its fields, each validated as its type
    says, an unknown field an error and a field with a default optional; then it
    builds the spec, so that `__post_init__`'s checks run and their ValueError
    becomes a `pydantic.ValidationError` with its message. A spec given in place of
    its dict is validated again, and a spec serialises to its dict. `gc=False`: a
    spec holds versions, strings, numbers and lists and dicts of other specs,
    never itself, so the collector need not track it.
    """

    @classmethod
    def __get_pydantic_core_schema__(cls, source: t.Any, handler: t.Any) -> t.Any:
        # Called only by pydantic (`validate_catalog`), so pydantic_core stays off `mpl check`'s path.
        import msgspec.structs
        from pydantic_core import core_schema

        hints = t.get_type_hints(cls)
        fields = msgspec.structs.fields(cls)

        def field_schema(field: msgspec.structs.FieldInfo) -> t.Any:
            schema = handler.generate_schema(hints[field.name])
            if field.default is not msgspec.NODEFAULT:
                schema = core_schema.with_default_schema(schema, default=field.default)
            elif field.default_factory is not msgspec.NODEFAULT:
                schema = core_schema.with_default_schema(schema, default_factory=field.default_factory)
            return core_schema.typed_dict_field(schema, required=field.required)

        values = core_schema.typed_dict_schema(
            {field.name: field_schema(field) for field in fields}, cls=cls, cls_name=cls.__name__,
            extra_behavior="forbid", ref=f"{cls.__module__}.{cls.__qualname__}",
        )

        def as_dict(value: t.Any) -> t.Any:
            return {field.name: getattr(value, field.name) for field in fields} if isinstance(value, cls) else value

        return core_schema.no_info_before_validator_function(
            as_dict,
            core_schema.no_info_after_validator_function(lambda values: cls(**values), values),
            serialization=core_schema.wrap_serializer_function_ser_schema(
                lambda value, serialize: serialize(as_dict(value)), schema=values
            ),
        )


class Domain(_Spec, frozen=True, kw_only=True):
    """The *hard* domain of a numeric option: values outside it are meaningless or rejected.

    >>> d = Domain(minimum=0, maximum=1, min_exclusive=True)
    >>> d.describe(), d.contains(0), d.contains(1)
    ('(0, 1]', False, True)
    """

    minimum: float | None = None
    maximum: float | None = None
    min_exclusive: bool = False
    max_exclusive: bool = False

    def contains(self, value: float) -> bool:
        """Whether `value` lies in the domain; NaN never does.

        >>> Domain(minimum=-1).contains(-2)
        False
        """
        if math.isnan(value):
            return False
        if self.minimum is not None:
            if value < self.minimum or (self.min_exclusive and value == self.minimum):
                return False
        if self.maximum is not None:
            if value > self.maximum or (self.max_exclusive and value == self.maximum):
                return False
        return True

    def describe(self) -> str:
        """The domain in math notation: ``[0, 1]``, ``(0, 1]``, ``> 0``, ``>= -1``.

        >>> Domain(minimum=-1).describe(), Domain(minimum=0, min_exclusive=True).describe()
        ('>= -1', '> 0')
        """
        lo, hi = self.minimum, self.maximum
        if lo is not None and hi is not None:
            left = "(" if self.min_exclusive else "["
            right = ")" if self.max_exclusive else "]"
            return f"{left}{_num(lo)}, {_num(hi)}{right}"
        if lo is not None:
            return f"{'>' if self.min_exclusive else '>='} {_num(lo)}"
        if hi is not None:
            return f"{'<' if self.max_exclusive else '<='} {_num(hi)}"
        return "any value"


def _num(x: float) -> str:
    """Print 0.0 as ``0`` and 0.5 as ``0.5``."""
    return str(int(x)) if float(x).is_integer() else repr(float(x))


DefaultValue = int | float | bool | None


class DefaultChange(_Spec, frozen=True, kw_only=True):
    """From release `since` on, ``DefaultOptions()`` gives `value` (None: automatic / unset)."""

    since: Version
    value: DefaultValue
    note: str = ""


class TypeChange(_Spec, frozen=True, kw_only=True):
    """From release `since` on, ``ollama create`` reads ``PARAMETER name v`` as `type`."""

    since: Version
    type: ValueType
    note: str = ""


class OptionSpec(_Spec, frozen=True, kw_only=True):
    """One JSON option key as Ollama has had it, from `first` to `last` (None: still present).

    >>> spec = catalog().option("mirostat")
    >>> spec.known_in(Version(0, 6, 8)), spec.known_in(Version(0, 7, 0)), str(spec.removed_in)
    (True, False, '0.7.0')
    """

    name: str
    type: ValueType
    nullable_since: Version | None = None
    struct: t.Literal["options", "runner"]
    first: Version
    last: Version | None
    domain: Domain | None
    defaults: list[DefaultChange]
    description: str
    special: dict[str, str] = msgspec.field(default_factory=dict)
    modelfile_types: list[TypeChange] = msgspec.field(default_factory=list)

    def __post_init__(self) -> None:
        if self.last is not None and self.last < self.first:
            raise ValueError(f"{self.name}: last {self.last} is before first {self.first}")
        if self.last is not None and str(self.last) not in _data.RELEASE_AFTER:
            raise ValueError(f"{self.name}: no release after {self.last} in RELEASE_AFTER")
        if not self.defaults or self.defaults[0].since != self.first:
            raise ValueError(f"{self.name}: the default history must start at {self.first}")
        sinces = [change.since for change in self.defaults]
        if sinces != sorted(set(sinces)):
            raise ValueError(f"{self.name}: default history is not strictly oldest first")
        if self.last is not None and sinces[-1] > self.last:
            raise ValueError(f"{self.name}: a default changes after the key's last release")

    def known_in(self, version: Version) -> bool:
        """Whether `version` has this key (first <= version <= last)."""
        return self.first <= version and (self.last is None or version <= self.last)

    @property
    def nullable(self) -> bool:
        """Whether some release has the key as a pointer (unset means "Ollama decides")."""
        return self.nullable_since is not None

    def nullable_in(self, version: Version) -> bool:
        """Whether the key can be unset (nil) at `version`.

        >>> mg = catalog().option("main_gpu")
        >>> mg.nullable_in(Version(0, 29, 0)), mg.nullable_in(Version(0, 30, 0))
        (False, True)
        """
        return self.nullable_since is not None and self.nullable_since <= version

    def modelfile_type_in(self, version: Version) -> ValueType:
        """The type ``ollama create`` at `version` parses ``PARAMETER name v`` as.

        >>> mm = catalog().option("use_mmap")
        >>> [str(mm.modelfile_type_in(Version.parse(v))) for v in ("0.1.44", "0.1.45", "0.1.46")]
        ['bool', 'int', 'bool']
        """
        kind = self.type
        for change in self.modelfile_types:
            if change.since > version:
                break
            kind = change.type
        return kind

    def default_in(self, version: Version) -> DefaultValue:
        """``DefaultOptions()``'s value at `version`; None if automatic, unset or unknown there.

        >>> rp = catalog().option("repeat_penalty")
        >>> rp.default_in(Version(0, 32, 9)), rp.default_in(Version(0, 32, 10))
        (1.1, 1.0)
        """
        if not self.known_in(version):
            return None
        value: DefaultValue = None
        for change in self.defaults:
            if change.since > version:
                break
            value = change.value
        return value

    @property
    def added_in(self) -> Version:
        """The first release with this key."""
        return self.first

    @property
    def removed_in(self) -> Version | None:
        """The first release *without* this key (None while it is still present)."""
        if self.last is None:
            return None
        return Version.parse(_data.RELEASE_AFTER[str(self.last)])


class ModelfileBehaviour(StrEnum):
    """What ``ollama create`` does with ``PARAMETER <name> ...``.

    From `FormatParams` in Ollama's `api/types.go` and `deprecatedParameters` in `parser/parser.go`.
    """

    ACCEPT = "accept"
    DROP_WARN = "drop-warn"  # `warning: parameter <name> is deprecated`, then dropped
    REJECT = "reject"  # `unknown parameter '<name>'`


class InstructionSpec(_Spec, frozen=True, kw_only=True):
    """A Modelfile instruction and the releases it works in.

    >>> adapter = catalog().instructions["ADAPTER"]
    >>> adapter.works_in(Version(0, 0, 14)), adapter.works_in(Version(0, 34, 1)), str(adapter.reported_from)
    (False, True, '0.34.1')
    """

    keyword: str
    first: Version
    last: Version | None
    reported_from: Version | None = None  # a third-party report of a removal, unconfirmed
    reference: str = ""
    note: str = ""

    def works_in(self, version: Version) -> bool:
        """Whether `version` accepts this instruction (first <= version <= last)."""
        return self.first <= version and (self.last is None or version <= self.last)

    @property
    def removed_in(self) -> Version | None:
        """The first release that refuses it (None: none known)."""
        if self.last is None:
            return None
        return Version.parse(_data.RELEASE_AFTER[str(self.last)])


class Catalog(_Spec, frozen=True, kw_only=True):
    """Every option key and instruction Ollama has had, with version-aware queries.

    >>> c = catalog()
    >>> len(c.options), len(c.names_in(NEWEST)), c.suggest("top-k")
    (35, 20, 'top_k')
    """

    options: dict[str, OptionSpec]
    instructions: dict[str, InstructionSpec]

    def __post_init__(self) -> None:
        for key, spec in self.options.items():
            if key != spec.name:
                raise ValueError(f"option stored under {key!r} is named {spec.name!r}")
        for key, instruction in self.instructions.items():
            if key != instruction.keyword:
                raise ValueError(f"instruction stored under {key!r} is {instruction.keyword!r}")

    def option(self, name: str) -> OptionSpec | None:
        """The option called exactly `name` (case-sensitive), in any release."""
        return self.options.get(name)

    def names_in(self, version: Version) -> frozenset[str]:
        """The option keys that `version` knows.

        >>> sorted(catalog().names_in(Version(0, 0, 3)))[:3]
        ['embedding_only', 'f16_kv', 'frequency_penalty']
        """
        return frozenset(name for name, spec in self.options.items() if spec.known_in(version))

    def deprecated_in(self, version: Version) -> frozenset[str]:
        """The CLI's ``deprecatedParameters`` at `version` (empty before v0.5.5).

        >>> sorted(catalog().deprecated_in(Version(0, 6, 0)))
        ['penalize_newline']
        """
        return _deprecated_in(version)

    def modelfile_behaviour(self, name: str, version: Version) -> ModelfileBehaviour:
        """What ``ollama create`` at `version` does with ``PARAMETER name ...``.

        Known at `version`: accepted. On that release's deprecated list: warned about
        and dropped. Otherwise: ``unknown parameter '<name>'``. Names are case-sensitive.

        >>> c = catalog()
        >>> c.modelfile_behaviour("mirostat", NEWEST), c.modelfile_behaviour("tfs_z", NEWEST)
        (<ModelfileBehaviour.DROP_WARN: 'drop-warn'>, <ModelfileBehaviour.REJECT: 'reject'>)
        """
        spec = self.options.get(name)
        if spec is not None and spec.known_in(version):
            return ModelfileBehaviour.ACCEPT
        if name in _deprecated_in(version):
            return ModelfileBehaviour.DROP_WARN
        return ModelfileBehaviour.REJECT

    def runtime_ignores_unknown(self, version: Version) -> bool:
        """Whether the server at `version` ignores unknown runtime option keys.

        Ignored silently v0.0.13-v0.1.1, an error v0.1.2-v0.1.34, warned in the
        server log and ignored since v0.1.35 (`Options.FromMap` in Ollama's `api/types.go`).

        >>> catalog().runtime_ignores_unknown(Version(0, 1, 20))
        False
        """
        ignored = True
        for since, value in _runtime_unknown_history():
            if since > version:
                break
            ignored = value
        return ignored

    def suggest(self, name: str, version: Version | None = None) -> str | None:
        """A did-you-mean for an unknown option name, or None.

        Tries case and ``-`` → ``_`` normalisation, then a few names from other APIs
        (``max_tokens``), then close spellings (difflib). With `version`, names known
        in that release are preferred. An exact option name gives None.

        >>> c = catalog()
        >>> c.suggest("TEMPERATURE"), c.suggest("min_pp"), c.suggest("zzz")
        ('temperature', 'min_p', None)
        """
        if name in self.options:
            return None
        normal = name.strip().lower().replace("-", "_").replace(" ", "_")
        if normal in self.options:
            return normal
        if normal in _data.ALIASES:
            return _data.ALIASES[normal]
        import difflib  # only on the error path

        pools: list[t.Iterable[str]] = [self.options]
        if version is not None:
            pools.insert(0, sorted(self.names_in(version)))
        for pool in pools:
            match = difflib.get_close_matches(normal, list(pool), n=1, cutoff=0.6)
            if match:
                return match[0]
        return None


@functools.cache
def _deprecated_in(version: Version) -> frozenset[str]:
    names: frozenset[str] = frozenset()
    for since, listed in _data.DEPRECATED_PARAMETERS:
        if Version.parse(since) > version:
            break
        names = listed
    return names


@functools.cache
def _runtime_unknown_history() -> tuple[tuple[Version, bool], ...]:
    return tuple((Version.parse(since), value) for since, value in _data.RUNTIME_UNKNOWN_KEYS)


def _option_input(row: dict[str, t.Any]) -> dict[str, t.Any]:
    """Turn a literal row of `_data.OPTIONS` into plain `OptionSpec` input."""
    out = {"nullable_since": None, "special": {}, **row}
    out["modelfile_types"] = [
        {"since": change[0], "type": change[1], "note": change[2] if len(change) > 2 else ""}
        for change in row.get("modelfile_types", ())
    ]
    if row["domain"] is not None:
        lo, hi, lo_ex, hi_ex = row["domain"]
        out["domain"] = {"minimum": lo, "maximum": hi, "min_exclusive": lo_ex, "max_exclusive": hi_ex}
    out["defaults"] = [
        {"since": change[0], "value": change[1], "note": change[2] if len(change) > 2 else ""}
        for change in row["defaults"]
    ]
    return out


def _instruction_input(row: dict[str, t.Any]) -> dict[str, t.Any]:
    """Turn a literal row of `_data.INSTRUCTIONS` into plain `InstructionSpec` input."""
    return {"reported_from": None, "reference": "", "note": "", **row}


def catalog_input() -> dict[str, t.Any]:
    """The catalog data as plain JSON-like input for `validate_catalog`.

    >>> validate_catalog(catalog_input()) == catalog()
    True
    """
    return {
        "options": {row["name"]: _option_input(row) for row in _data.OPTIONS},
        "instructions": {row["keyword"]: _instruction_input(row) for row in _data.INSTRUCTIONS},
    }


def validate_catalog(data: dict[str, t.Any]) -> Catalog:
    """Validate JSON-like catalog input with pydantic; raises `pydantic.ValidationError`.

    Checks every field's type (versions, enums, the domain and default shapes),
    rejects unknown fields, and runs the history checks of `OptionSpec` and
    `Catalog`. Imports pydantic, so only the tests and tools call it.
    """
    import pydantic

    # The title names the catalog in the error's heading, as it did for a dataclass.
    return pydantic.TypeAdapter(Catalog, config={"title": "Catalog"}).validate_python(data)


def _construct(data: dict[str, t.Any]) -> Catalog:
    """Build the specs from `catalog_input()` directly, without pydantic.

    The same input is validated by `validate_catalog` in the test suite; building
    it directly keeps pydantic off `mpl check`'s start-up path. The history checks
    in `__post_init__` run either way.
    """
    parse = functools.cache(Version.parse)

    def version(text: str | None) -> Version | None:
        return None if text is None else parse(text)

    options = {}
    for name, row in data["options"].items():
        domain = row["domain"] and Domain(**row["domain"])
        defaults = [DefaultChange(since=parse(d["since"]), value=d["value"], note=d["note"]) for d in row["defaults"]]
        types = [TypeChange(since=parse(c["since"]), type=ValueType(c["type"]), note=c["note"])
                 for c in row["modelfile_types"]]
        options[name] = OptionSpec(
            **{**row, "type": ValueType(row["type"]), "first": parse(row["first"]),
               "last": version(row["last"]), "domain": domain, "defaults": defaults,
               "nullable_since": version(row["nullable_since"]), "modelfile_types": types}
        )
    instructions = {
        keyword: InstructionSpec(**{**row, "first": parse(row["first"]), "last": version(row["last"]),
                                    "reported_from": version(row["reported_from"])})
        for keyword, row in data["instructions"].items()
    }
    return Catalog(options=options, instructions=instructions)


@functools.cache
def catalog() -> Catalog:
    """The catalog, built once per process (validated by the tests, not at start-up).

    >>> catalog() is catalog()
    True
    """
    return _construct(catalog_input())

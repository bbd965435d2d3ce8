"""Targets: what a checked `Program` compiles into, and the one list of them.

`REGISTRY` is the only place a target is named. Each entry declares, as data,
everything the rest of mpl needs to know of its target without importing it:

- its name, the class that implements it (`"module:Class"`, imported on first
  use so that `mpl check` never imports what only one output needs), the files
  it writes (for help texts), and whether it is on without configuration;
- its configuration table, `[targets.NAME]`: each `Key` with its kind (a path, a
  text or a boolean), the constructor argument of the class it gives (`primary`
  is `MetonTarget(primary=...)`), the codes a true boolean makes moot
  (`silences`), and its `place`: where the target's files go (`file`: the one
  file to write, `folder`: the folder to write into, `into`: an existing file
  merged in place, kept as `.bak` unless the run sets `no-backup`);
- its `mpl compile` options (`Flag`): each sets a key of its table for one run
  (a flag given wins over the configuration; an on/off flag or a configured
  `true` turns the key on), or, with no table key, a setting of the run only
  (`--no-backup`); a flag needs its target among those written, a flag of an
  `into` place selects its target alone, and `requires` names the flag it
  applies with.

What the target can express (parameters, renames, ranges) is on its class
(`mpl.targets.base.Target`), read when its checks run. The CLI's `--target`
choices and compile options, the configuration's schema (`mpl.config`), output
placement, the compiler's defaults, the docs and the tests read this list, so
that adding a target costs its module, one entry here and its snapshots.
"""

from __future__ import annotations

import enum
import functools
import importlib
import typing as t

import msgspec

if t.TYPE_CHECKING:
    from mpl.targets.base import Target

Kind = t.Literal["path", "text", "bool"]
Place = t.Literal["file", "folder", "into"]


class Key(msgspec.Struct, frozen=True, gc=False):
    """One key of a target's configuration table `[targets.NAME]`.

    `name` is as written in TOML (`complete-presets`). A `path` or `text` is a
    non-empty string (a path is relative to the configuration's folder); a `bool`
    is true or false.
    """

    name: str
    kind: Kind
    help: str  # what it does (docs/configuration.md)
    argument: str | None = None  # the target class's constructor argument it gives
    place: Place | None = None  # where the target's files go, when it is set
    silences: tuple[str, ...] = ()  # codes that do not apply when a `bool` key is true

    @property
    def field(self) -> str:
        """Its name as a Python identifier (`complete_presets`): how the validated configuration holds it."""
        return self.name.replace("-", "_")


class Flag(msgspec.Struct, frozen=True, gc=False):
    """A `mpl compile` option of a target: it sets `key` for one run.

    `key` names a key of the target's table (the flag has that key's kind), or
    a setting of the run only (an on/off flag). `metavar` is shown for a flag that
    takes a value; `requires` is another flag this one only applies with.
    """

    name: str  # "--meton-primary"
    help: str
    key: str
    metavar: str | None = None
    requires: str | None = None

    @property
    def parameter(self) -> str:
        """Its Python name (`meton_primary`), the compile command's parameter."""
        return self.name.removeprefix("--").replace("-", "_")


class TargetInfo(msgspec.Struct, frozen=True, gc=False):
    """One registered target: see the module's docstring."""

    name: str
    entry: str  # "module:Class"
    output: str  # what it writes, for help texts: "STEM.options.json"
    default: bool  # checked and written when the configuration names no targets
    files: bool = True  # writes files (`ollama` creates models on a server instead)
    table: tuple[Key, ...] = ()  # its `[targets.NAME]` keys
    flags: tuple[Flag, ...] = ()  # its `mpl compile` options, in the order help lists them

    def key(self, name: str) -> Key | None:
        """The table's key of that name (as in TOML or as a Python identifier)."""
        return next((k for k in self.table if name in (k.name, k.field)), None)

    def kind(self, flag: Flag) -> Kind:
        """What a flag takes: its key's kind; on/off for a setting of the run only."""
        key = self.key(flag.key)
        return key.kind if key is not None else "bool"

    @property
    def places(self) -> tuple[Key, ...]:
        """The keys that say where its files go, in the order they are tried."""
        return tuple(k for k in self.table if k.place is not None)


_INTO_HELP = ("Write the Meton sections into this existing Meton config.yaml instead (models.settings, parameter_profiles "
              "and, with --meton-primary, models.primary); nothing else in it changes. Implies --target meton.")
_COMPLETE_HELP = ("Write every Meton preset with all fourteen keys, so that none depends on the preset applied before it "
                  "(by default a preset lists only where it differs from models.settings).")

REGISTRY: tuple[TargetInfo, ...] = (
    TargetInfo(
        "options", "mpl.targets.options:OptionsTarget", "STEM.options.json", default=True,
        table=(Key("path", "path", "the options JSON file to write (one source only)", place="file"),),
    ),
    TargetInfo(
        "meton", "mpl.targets.meton:MetonTarget", "STEM.meton.yaml", default=False,
        table=(
            Key("into", "path", "an existing Meton `config.yaml` to merge the sections into, as `mpl compile --into` "
                "does (the previous file is kept as `config.yaml.bak`, one generation)", place="into"),
            Key("primary", "text", "the model written as Meton's `models.primary`, as `--meton-primary`",
                argument="primary"),
            Key("complete-presets", "bool", "`true`: every Meton preset lists all fourteen keys, as "
                "`--meton-complete-presets` (and `mpl check` leaves out MPL509); without it a preset lists where it "
                "differs from `models.settings`", argument="complete", silences=("MPL509",)),
        ),
        flags=(
            Flag("--into", _INTO_HELP, key="into", metavar="CONFIG.YAML"),
            Flag("--no-backup", "With --into: do not keep the old file as CONFIG.YAML.bak.", key="no-backup",
                 requires="--into"),
            Flag("--meton-primary", "Write this model of the file as Meton's models.primary.", key="primary",
                 metavar="MODEL"),
            Flag("--meton-complete-presets", _COMPLETE_HELP, key="complete-presets"),
        ),
    ),
    TargetInfo(
        "modelfile", "mpl.targets.modelfile:ModelfileTarget", "MODEL.Modelfile", default=True,
        table=(Key("dir", "path", "the folder the Modelfiles go to", place="folder"),),
    ),
    TargetInfo("ollama", "mpl.targets.ollama:OllamaTarget", "models on an Ollama server", default=False, files=False),
)

TARGETS: dict[str, str] = {info.name: info.entry for info in REGISTRY}
# The targets `mpl check` and `mpl compile` know (files), and those on without configuration.
FILE_TARGETS: tuple[str, ...] = tuple(info.name for info in REGISTRY if info.files)
DEFAULT_TARGETS: tuple[str, ...] = tuple(info.name for info in REGISTRY if info.default)

# `--target` choices of `mpl check` and `mpl compile`, and of `mpl build`.
TargetName = enum.Enum("TargetName", {name: name for name in FILE_TARGETS}, type=str)  # type: ignore[misc]
BuildTargetName = enum.Enum(  # type: ignore[misc]
    "BuildTargetName", {info.name: info.name for info in REGISTRY if not info.files}, type=str
)


def target_info(name: str) -> TargetInfo:
    """The registry's entry of a target (read at each call, so that a test can register one).

    >>> [k.name for k in target_info("meton").table]
    ['into', 'primary', 'complete-presets']
    """
    return next(info for info in REGISTRY if info.name == name)


@functools.cache
def get_target(name: str) -> Target:
    """The target registered under a name, with its default settings.

    >>> get_target("options").name
    'options'
    >>> FILE_TARGETS, DEFAULT_TARGETS
    (('options', 'meton', 'modelfile'), ('options', 'modelfile'))
    """
    return make_target(name, {})


def make_target(name: str, arguments: dict[str, t.Any]) -> Target:
    """A target with settings: `arguments` by the constructor argument its table's keys declare."""
    module_name, _, class_name = target_info(name).entry.partition(":")
    return getattr(importlib.import_module(module_name), class_name)(**arguments)

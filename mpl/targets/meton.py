"""The `meton` target: `models.settings` and `parameter_profiles` for Meton's config.yaml.

Meton holds fourteen parameters, spells `num_predict` as `max_tokens` and
validates its own ranges; anything it cannot hold is a diagnostic at the
statement that set it. `when` variants that differ from their profile become
extra profiles named `PROFILE-TASK`.

Meton fills every key `models.settings` leaves out with its own default and
sends all fourteen to Ollama on every request; `/pprofile apply` sets only the
keys a preset lists, over the settings in force. `models.settings` is the
`default` profile, written with all fourteen keys: the ones mpl leaves unset
hold the value Ollama uses when a request leaves them out (its default for the
target version), each marked by a comment. A preset lists the keys where its
profile differs from `models.settings` (MPL509 names the keys whose value then
depends on the preset applied before); with `complete` (`--meton-complete-presets`)
every preset lists all fourteen. Where Ollama's default cannot be written
(`num_ctx` is automatic since Ollama 0.15.5) the target reports MPL507 and
writes the value it names. `mpl compile --into` changes those sections inside
an existing config.yaml in place (`mpl.targets.meton_into`).
"""

from __future__ import annotations

import functools
import math
import re
import typing as t
from pathlib import Path

import msgspec

from mpl.catalog import OptionSpec, Version, catalog
from mpl.compiler.program import Options, Program
from mpl.diagnostics import Related, Sink
from mpl.targets.base import OutputFile, Target, task_variants, typed

# What mpl writes for an automatic `num_ctx`: the value Ollama picks on a machine
# with less than 23 GiB of VRAM, and Meton's own default.
AUTOMATIC_NUM_CTX = 4096
# From this release on Ollama caps a negative num_predict (and any above) at 10 x num_ctx.
NUM_PREDICT_CAP_SINCE = Version(0, 30, 0)


class MetonValue(msgspec.Struct, frozen=True, gc=False):
    """One of Meton's fourteen keys as written: its value and, for an unset one, why."""

    key: str
    value: t.Any
    note: str | None = None  # a YAML comment; None when the profile sets the value as written


class Preset(msgspec.Struct, frozen=True, gc=False):
    """One entry of `parameter_profiles` as mpl means it.

    `lines` holds all fourteen keys as Meton must hold them to mean the profile;
    `listed` the keys the preset lists when mpl writes it anew, in Meton's order.
    """

    name: str
    profile: str | None
    task: str | None
    description: str
    lines: list[Line]
    listed: tuple[str, ...]

    def shown(self) -> list[Line]:
        """The lines of the keys the preset lists."""
        keys = set(self.listed)
        return [line for line in self.lines if line.meaning.key in keys]


class MetonTarget(Target):
    name = "meton"
    title = "Meton"

    RENAMES: t.ClassVar[dict[str, str]] = {"num_predict": "max_tokens"}
    # Meton's ModelSettings fields and ranges (min, max; None = unbounded).
    RANGES: t.ClassVar[dict[str, tuple[float | None, float | None]]] = {
        "temperature": (0.0, 2.0),
        "max_tokens": (1, None),
        "top_p": (0.0, 1.0),
        "num_ctx": (1, None),
        "top_k": (0, None),
        "min_p": (0.0, 1.0),
        "repeat_penalty": (0.0, 2.0),
        "repeat_last_n": (-1, None),
        "presence_penalty": (-2.0, 2.0),
        "frequency_penalty": (-2.0, 2.0),
        "mirostat": (0, 2),
        "mirostat_tau": (0.0, None),
        "mirostat_eta": (0.0, 1.0),
        "seed": (-1, None),
    }
    SUPPORTED: t.ClassVar[frozenset[str] | None] = frozenset(RANGES)
    # What Meton's ModelSettings gives a key that a config.yaml leaves out (its pydantic defaults).
    DEFAULTS: t.ClassVar[dict[str, int | float]] = {
        "temperature": 0.7, "max_tokens": 2048, "top_p": 0.9, "num_ctx": 4096, "top_k": 40, "min_p": 0.1,
        "repeat_penalty": 1.1, "repeat_last_n": 64, "presence_penalty": 0.0, "frequency_penalty": 0.0,
        "mirostat": 0, "mirostat_tau": 5.0, "mirostat_eta": 0.1, "seed": -1,
    }

    def __init__(self, primary: str | None = None, complete: bool = False) -> None:
        # The model written to `models.primary` (`mpl compile --meton-primary`); None leaves it alone.
        self.primary = primary
        # Whether every preset lists all fourteen keys (`--meton-complete-presets`), so that none
        # depends on the preset applied before it; else a preset lists where it differs from the default.
        self.complete = complete

    # -- what is written ----------------------------------------------------

    def entries(self, program: Program) -> list[tuple[str, str | None, str | None, Options]]:
        """(name, profile, task, options) for every profile and differing variant."""
        found: list[tuple[str, str | None, str | None, Options]] = [
            (name, name, None, program.resolve(name)) for name in program.profiles
        ]
        for profile, task in task_variants(program):
            found.append((f"{profile}-{task}", profile, task, program.resolve(profile, task)))
        return found

    def presets(self, program: Program) -> list[Preset]:
        """Every entry of `parameter_profiles`, with the keys it lists when written anew."""
        lines = _Lines(self, program)  # one for all: the presets repeat a few lines thousands of times
        base = program.resolve(program.default) if program.default is not None else None
        return [
            Preset(name, profile, task, self._description(program, profile, task), lines.of(options),
                   self.listed(options, base, profile == program.default and task is None))
            for name, profile, task, options in self.entries(program)
        ]

    def listed(self, options: Options, base: Options | None, default: bool = False) -> tuple[str, ...]:
        """The keys a preset of `options` lists, in Meton's order.

        Meton applies a preset over `models.settings` (the `default` profile, `base`):
        the preset lists the keys its profile sets other than by inheriting them from
        the default (a value equal to the default's, set again, stays listed), and the
        keys the default sets that the profile leaves unset. The default's own preset
        lists every key it sets. Without a default mpl writes no `models.settings` and
        cannot know what a preset applies over, so every preset lists all fourteen
        keys, as with `complete`.
        """
        if self.complete or base is None:
            return tuple(self.RANGES)
        if default:
            names = set(options)
        else:
            names = {n for n, s in options.items() if base.get(n) is not s and base.get(n) != s}
            names.update(n for n in base if n not in options)
        keys = {self.RENAMES.get(n, n) for n in names}
        return tuple(key for key in self.RANGES if key in keys)

    def values(self, program: Program, options: Options) -> list[MetonValue]:
        """All fourteen keys, in Meton's order, as Meton must hold them to mean `options`."""
        return [line.meaning for line in self.lines(program, options)]

    def lines(self, program: Program, options: Options) -> list[Line]:
        """The fourteen lines of one `settings` mapping, in Meton's order."""
        return _Lines(self, program).of(options)

    @functools.cached_property
    def _NAMES(self) -> dict[str, str]:  # noqa: N802 - a constant of the class
        return {key: name for name, key in self.RENAMES.items()}

    def _num_ctx(self, program: Program, options: Options) -> tuple[int, str | None]:
        if "num_ctx" in options:
            return typed("num_ctx", options["num_ctx"].value), None
        return self._unset_num_ctx(program.target, _chosen(program))

    @staticmethod
    def _unset_num_ctx(target: Version, chosen: bool = True) -> tuple[int, str]:
        """The `num_ctx` Meton holds for a profile that leaves it unset, and its note."""
        default = catalog().options["num_ctx"].default_in(target)
        if default is None:
            return AUTOMATIC_NUM_CTX, f"unset: automatic in {_ollama(target, chosen)}, which Meton cannot express (MPL507)"
        return t.cast(int, default), f"unset: {_ollama(target, chosen)}'s default"

    def settings(self, program: Program, options: Options) -> dict[str, t.Any]:
        """The fourteen keys and values of one `settings` mapping."""
        return {v.key: v.value for v in self.values(program, options)}

    def document(self, program: Program) -> dict[str, t.Any]:
        """The sections as plain data: `models` (primary, settings) and `parameter_profiles`."""
        doc: dict[str, t.Any] = {}
        models: dict[str, t.Any] = {}
        if self.primary is not None:
            models["primary"] = self.primary
        if program.default is not None:
            models["settings"] = self.settings(program, program.resolve(program.default))
        if models:
            doc["models"] = models
        doc["parameter_profiles"] = {
            preset.name: {"name": preset.name, "description": preset.description,
                          "settings": {line.meaning.key: line.meaning.value for line in preset.shown()}}
            for preset in self.presets(program)
        }
        return doc

    def _description(self, program: Program, profile: str | None, task: str | None) -> str:
        description = (program.profiles[profile].description or "") if profile else ""
        if task is not None:
            description = f"{description} (task {task})".strip()
        return description

    # -- checks -------------------------------------------------------------

    def check(self, program: Program, sink: Sink) -> None:
        profiles = program.profiles
        capped = program.target >= NUM_PREDICT_CAP_SINCE  # a negative num_predict is written as 10 x num_ctx
        # One diagnostic per statement, however many profiles and variants inherit it.
        statements: set[tuple[int, str]] = set()
        unset = self._inexpressible_defaults(program)
        for name, profile, task, options in self.entries(program):
            if task is not None and name in profiles:
                sink.report(
                    "MPL506", profiles[name].name_span,
                    f"Meton profile name `{name}` is taken by profile `{name}` and by `{profile}` for task `{task}`",
                    related=[Related(profiles[profile].name_span, f"variant of `{profile}`")],  # type: ignore[index]
                    help="rename the profile",
                )
            for parameter, leaving in unset.items():
                if parameter not in options:
                    leaving.setdefault(profile)  # type: ignore[arg-type]
            for setting in options.values():
                statement = (setting.span.start, setting.name)
                if statement in statements:
                    continue
                statements.add(statement)
                if not (capped and setting.name == "num_predict" and _negative(setting.value)):  # written as 10 x num_ctx
                    self.check_setting(program, setting, sink)
        self._check_unexpressible(program, sink, unset)
        if not self.complete and program.default is not None:
            self._check_history(program, sink)

    def _check_history(self, program: Program, sink: Sink) -> None:
        """MPL509, once: the keys some presets list and others leave to the preset applied before.

        A preset that leaves a key out keeps the value in force; that is the value of
        `models.settings` only when no preset that lists the key gives it another.
        """
        assert program.default is not None
        presets = self.presets(program)
        start = {value.key: value for value in self.values(program, program.resolve(program.default))}
        found: list[str] = []
        example: tuple[str, Preset, Preset] | None = None
        known = catalog().options
        for key in self.RANGES:
            leaving = [p for p in presets if key not in p.listed]
            if not leaving or not known[self._NAMES.get(key, key)].known_in(program.target):
                continue  # (a key the target version ignores has no effect, whatever Meton holds)
            at_start = start[key]
            for preset in presets:
                if key not in preset.listed:
                    continue
                meaning = next(line.meaning for line in preset.lines if line.meaning.key == key)
                if not same_value(meaning.value, at_start.value):
                    found.append(key)
                    if example is None:
                        example = (key, preset, leaving[0] if leaving[0] is not preset else leaving[-1])
                    break
        if example is None:
            return
        key, setter, other = example
        value = next(line.meaning.value for line in setter.lines if line.meaning.key == key)
        meant = next(line.meaning.value for line in other.lines if line.meaning.key == key)
        named = ", ".join(f"`{k}`" for k in found)
        means = f" rather than {yaml_number(meant)}" if not same_value(value, meant) else ""
        message = (f"Meton applies a preset over the settings in force and sets only the keys it lists, so what a preset "
                   f"gives {named} depends on the preset applied before it: `{setter.name}` then `{other.name}` keeps "
                   f"`{key} {yaml_number(value)}`{means}")
        profile = program.profiles[other.profile] if other.profile is not None else None
        origin = program.resolve(setter.profile, setter.task).get(self._NAMES.get(key, key)) if setter.profile else None
        related = [Related(origin.span, f"`{setter.name}` sets `{key}` here")] if origin is not None else []
        sink.report(
            "MPL509", profile.name_span if profile is not None else None, message, related=related,
            help="list those keys in every preset that should reset them, or write every preset with all fourteen keys: "
                 "`mpl compile --meton-complete-presets`, or `complete-presets = true` under `[targets.meton]`",
            keys=",".join(found),
        )

    @staticmethod
    def _inexpressible_defaults(program: Program) -> dict[str, dict[str, None]]:
        """The parameters whose Ollama default Meton cannot write, each with an (empty) ordered set of profiles."""
        missing: dict[str, dict[str, None]] = {}
        if catalog().options["num_ctx"].default_in(program.target) is None:
            missing["num_ctx"] = {}
        if program.target < NUM_PREDICT_CAP_SINCE:
            missing["num_predict"] = {}
        return missing

    def _check_unexpressible(self, program: Program, sink: Sink, missing: dict[str, dict[str, None]]) -> None:
        """MPL507 once per profile chain that leaves an inexpressible default to Ollama.

        `missing` holds, per parameter, the profiles whose entries (own or a variant) leave it unset.
        """
        target = program.target
        for parameter, profiles in missing.items():
            by_root: dict[str, list[str]] = {}
            known: dict[str, str] = {}
            for profile in profiles:
                by_root.setdefault(self._topmost_without(program, profile, parameter, known), []).append(profile)
            for root, group in by_root.items():
                others = [p for p in group if p != root]
                verb = "inherits" if len(others) == 1 else "inherit"
                also = f" (and {', '.join(f'`{p}`' for p in others)}, which {verb} it)" if others else ""
                if parameter == "num_ctx":
                    message = (f"Meton always sends `num_ctx`, and cannot leave it to Ollama {target}, which picks it "
                               f"automatically (4096, 32768 or 262144 by VRAM); profile `{root}`{also} gets {AUTOMATIC_NUM_CTX}")
                    fix = f"set `num_ctx {AUTOMATIC_NUM_CTX}` (or the context window you want) in profile `{root}`"
                else:
                    value = 10 * self._num_ctx(program, program.resolve(root))[0]
                    message = (f"Meton always sends `max_tokens` and needs at least 1, so it cannot leave `num_predict` at "
                               f"Ollama {target}'s -1 (no limit); profile `{root}`{also} gets {value}")
                    fix = f"set `num_predict {value}` (or the limit you want) in profile `{root}`"
                sink.report("MPL507", program.profiles[root].name_span, message, help=fix, parameter=parameter)

    @staticmethod
    def _topmost_without(program: Program, profile: str, parameter: str, known: dict[str, str]) -> str:
        """The furthest ancestor of `profile` that also leaves `parameter` unset.

        `known` holds the answers found so far for this parameter: every profile
        of a walked chain gets its answer, so the profiles of one chain cost one
        walk, not one each (a chain 100,000 deep took minutes). A chain that
        loops (an error reported elsewhere) answers per profile and is not kept.
        """
        walked = [profile]
        seen = {profile}
        current = profile
        while True:
            if current in known:
                answer = known[current]
                break
            parent = program.profiles[current].parent
            if parent is None or parent not in program.profiles or parameter in program.resolve(parent):
                answer = current
                break
            if parent in seen:  # a cycle: the answer depends on where the walk began
                return current
            walked.append(parent)
            seen.add(parent)
            current = parent
        for name in walked:
            known[name] = answer
        return answer

    def check_settings(self, program: Program) -> None:
        self.primary_name(program)

    def primary_name(self, program: Program) -> str | None:
        """The model name `models.primary` gets; ValueError when the file has no such model."""
        if self.primary is None:
            return None
        model = program.model(self.primary)
        if model is None:
            from mpl.compiler.names import suggest

            near = suggest(self.primary, [m.name for m in program.models])
            hint = f"; did you mean `{near}`?" if near else ""
            raise ValueError(f"--meton-primary: the file declares no model named `{self.primary}`{hint}")
        return model.name

    # -- YAML ---------------------------------------------------------------

    def blocks(self, program: Program) -> list[Entry]:
        """The document as YAML entries, with a comment on every value mpl leaves unset."""
        models: list[Entry] = []
        if self.primary is not None:
            models.append(Entry("primary", yaml_str(self.primary)))
        if program.default is not None:
            models.append(Entry("settings", self.settings_block(program, program.resolve(program.default))))
        doc = [Entry("models", models)] if models else []
        doc.append(Entry("parameter_profiles", self.profiles_block(program, self.presets(program))))
        return doc

    def profiles_block(self, program: Program, presets: t.Iterable[Preset]) -> list[Entry]:
        """`parameter_profiles` entries of `presets`, each with the keys it lists."""
        entries = []
        for preset in presets:
            name = yaml_str(preset.name)
            entries.append(Entry(name, [Entry("name", name), Entry("description", yaml_str(preset.description)),
                                        Entry("settings", Lines(preset.shown()))]))
        return entries

    def settings_block(self, program: Program, options: Options) -> Lines:
        """One `settings` mapping: all fourteen keys, unset ones with their note."""
        return Lines(self.lines(program, options))

    def header(self, program: Program) -> str:
        if self.complete or program.default is None:
            presets = ("# Meton sends all fourteen settings with every request and `/pprofile apply` replaces only\n"
                       "# the keys a profile lists, so every profile holds all fourteen: a value marked `unset`\n"
                       "# is what Ollama uses when mpl leaves the parameter unset.\n")
        else:
            presets = ("# models.settings holds all fourteen settings: a value marked `unset` is what Ollama uses\n"
                       "# when mpl leaves the parameter unset. `/pprofile apply` sets only the keys a preset\n"
                       "# lists, over the settings in force: each preset lists where it differs from models.settings.\n")
        version = f" for Ollama {program.target}" if _chosen(program) else ""
        return f"# Generated by mpl from {Path(program.source.path).name}{version}.\n" + presets

    def emit(self, program: Program, out_dir: Path) -> list[OutputFile]:
        body = render_yaml(self.blocks(program), 0, 2)
        merge = "# Merge into Meton's config.yaml, or write it there: mpl compile --target meton --into config.yaml\n"
        return [OutputFile(output_name(program.source.path), self.header(program) + merge + body)]


def output_name(source_path: str) -> str:
    """`STEM.meton.yaml`, or `meton.yaml` for a source named meton.mprof (not `meton.meton.yaml`).

    >>> output_name("profiles.mprof"), output_name("examples/meton.mprof"), output_name("<stdin>")
    ('profiles.meton.yaml', 'meton.yaml', 'profiles.meton.yaml')
    """
    stem = Path(source_path).stem
    stem = stem if stem and not stem.startswith("<") else "profiles"
    return "meton.yaml" if stem == "meton" else f"{stem}.meton.yaml"


class Entry(t.NamedTuple):
    """One `key: value` of a block mapping: `value` is YAML text, a nested mapping or settings lines."""

    key: str
    value: str | list[Entry] | Lines
    comment: str | None = None


class Line:
    """One line of a `settings` mapping: the `MetonValue` it writes, its text and comment.

    A program's profiles, the profiles extending them and their variants repeat a few
    distinct lines thousands of times, so each is made once (`_Lines`). The text is made
    when first written: `MetonTarget.values` reads the meaning of settings that may
    hold values of the wrong type (already errors), which `yaml_number` refuses.
    """

    def __init__(self, meaning: MetonValue) -> None:
        self.meaning = meaning
        self.comment = meaning.note and f"# {meaning.note}"

    @functools.cached_property
    def text(self) -> str:
        """`key: value`, as YAML."""
        return f"{self.meaning.key}: {yaml_number(self.meaning.value)}"


class Lines(list[Line]):
    """A `settings` mapping as its lines, in Meton's order."""

    __slots__ = ()

    def render(self, column: int, out: list[str]) -> None:
        """Write the lines at `column`, comments two spaces after the longest `key: value`."""
        comments = max(len(line.text) for line in self) + 2
        pad = " " * column
        for line in self:
            out.append(f"{pad}{line.text.ljust(comments)}{line.comment}\n" if line.comment else f"{pad}{line.text}\n")


def render_yaml(entries: list[Entry], column: int, indent: int) -> str:
    """Block-style YAML text of `entries`, keys at `column`, nested mappings `indent` further.

    End-of-line comments of one mapping start in one column, two spaces after its
    longest `key: value`. Keys and scalars come already written (`yaml_str`, `yaml_number`).

    >>> print(render_yaml([Entry("a", [Entry("b", "1", "# note"), Entry("cd", "2.5")])], 0, 2), end="")
    a:
      b: 1     # note
      cd: 2.5
    """
    out: list[str] = []
    _render(entries, column, indent, out)
    return "".join(out)


def _render(entries: list[Entry], column: int, indent: int, out: list[str]) -> None:
    pad = " " * column
    width = None  # of the longest `key: value`, which only comments need
    for key, value, comment in entries:
        if isinstance(value, str):
            line = f"{pad}{key}: {value}"
            if comment:
                if width is None:
                    width = max(len(e.key) + 2 + len(e.value) for e in entries if isinstance(e.value, str))
                line = line.ljust(column + width + 2) + comment
            out.append(line + "\n")
        elif not value:
            out.append(f"{pad}{key}: {{}}\n")
        elif isinstance(value, Lines):
            out.append(f"{pad}{key}:\n")
            value.render(column + indent, out)
        else:
            out.append(f"{pad}{key}:\n")
            _render(value, column + indent, indent, out)


def yaml_number(value: t.Any) -> str:
    """An int or float as YAML 1.1 (PyYAML, which Meton uses) and 1.2 read it.

    Floats keep a `.` before the exponent, which YAML 1.1 needs to read them as floats.

    >>> yaml_number(4096), yaml_number(0.7), yaml_number(1e-05), yaml_number(1e+20)
    ('4096', '0.7', '1.0e-05', '1.0e+20')
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"Meton settings are numbers, not {type(value).__name__}")
    if isinstance(value, int):
        return str(value)
    text = repr(value)
    if "e" in text and "." not in text.split("e")[0]:
        mantissa, exponent = text.split("e")
        text = f"{mantissa}.0e{exponent if exponent[0] in '+-' else '+' + exponent}"
    return text


# A plain scalar that no YAML 1.1 or 1.2 resolver reads as anything but a string: it
# starts with a letter (so it is no number, date, `~`, `.inf` or indicator), holds no
# `:` or `#`, ends in no blank, and is none of the words below.
_PLAIN = re.compile(r"[A-Za-z][A-Za-z0-9_.,()/ -]*(?<![ ])", re.ASCII)
_WORDS = frozenset({"y", "n", "yes", "no", "true", "false", "on", "off", "null"})
_ESCAPES = {"\\": "\\\\", '"': '\\"', "\0": "\\0", "\a": "\\a", "\b": "\\b", "\t": "\\t", "\n": "\\n",
            "\v": "\\v", "\f": "\\f", "\r": "\\r", "\x1b": "\\e", "\x85": "\\N", "\u2028": "\\L", "\u2029": "\\P"}


@functools.cache  # compiled on first use (a few milliseconds): only strings that need quotes read it
def _raw() -> re.Pattern[str]:
    """What a double-quoted YAML 1.1 scalar may hold as it is: printable, and no line break
    (NEL, LS and PS are line breaks in YAML 1.1) and no byte-order mark."""
    return re.compile(r"[\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff]")


def yaml_str(text: str) -> str:
    """`text` as YAML that both YAML 1.1 (PyYAML, which Meton uses) and 1.2 read as that string.

    Plain where no resolver could read it as anything else, else double-quoted with
    every character YAML would not keep as it is escaped.

    >>> yaml_str("precise"), yaml_str("yes"), yaml_str("1e3")
    ('precise', '"yes"', '"1e3"')
    >>> print(yaml_str('a "b"' + chr(10)))
    "a \\"b\\"\\n"
    """
    if _PLAIN.fullmatch(text) and text.lower() not in _WORDS:
        return text
    raw = _raw().match
    return '"' + "".join(ch if ch not in _ESCAPES and raw(ch) else _escape(ch) for ch in text) + '"'


def _escape(ch: str) -> str:
    if ch in _ESCAPES:
        return _ESCAPES[ch]
    code = ord(ch)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


class _Lines:
    """The settings lines of one program's options, each `Line` made once.

    Every key keeps a table from the value as written to its line (the type keeps 1,
    1.0 and True apart). `max_tokens` also depends on `num_ctx` (a negative
    `num_predict`, and an unset one, are written as 10 x num_ctx), so it is looked up
    last, by `num_ctx` too.
    """

    def __init__(self, meton: MetonTarget, program: Program) -> None:
        self.target = target = program.target
        self.chosen = chosen = _chosen(program)
        names = [(key, meton._NAMES.get(key, key)) for key in meton.RANGES]
        # (key, option, lines by value, the line of the key unset) of every key but max_tokens
        self.keys: list[tuple[str, str, dict[t.Any, Line], Line]] = [
            (key, name, {}, Line(MetonValue(key, *meton._unset_num_ctx(target, chosen)) if name == "num_ctx"
                                 else _unset_value(key, name, target, chosen=chosen)))
            for key, name in names if name != "num_predict"
        ]
        self.num_ctx_at = [name for _, name, _, _ in self.keys].index("num_ctx")
        self.max_tokens_at = [name for _, name in names].index("num_predict")
        self.max_tokens: dict[t.Any, Line] = {}  # by (type, value or None when unset, num_ctx)
        self.zeros: dict[tuple[str, float, int | None], Line] = {}  # float zeros, by key and sign

    def of(self, options: Options) -> list[Line]:
        """The fourteen lines of one `settings` mapping, in Meton's order."""
        get = options.get
        out = [
            unset if (setting := get(name)) is None
            else table.get((type(value := setting.value), value)) or self._set(key, name, value, table, None)
            for key, name, table, unset in self.keys
        ]
        num_ctx = out[self.num_ctx_at].meaning.value
        predict = get("num_predict")
        count = predict.value if predict is not None else None
        line = self.max_tokens.get((type(count), count, num_ctx))
        if line is None:
            if predict is None:
                line = Line(_unset_value("max_tokens", "num_predict", self.target, num_ctx, self.chosen))
                self.max_tokens[(type(None), None, num_ctx)] = line
            else:
                line = self._set("max_tokens", "num_predict", count, self.max_tokens, num_ctx)
        out.insert(self.max_tokens_at, line)
        return out

    def _set(self, key: str, name: str, value: t.Any, table: dict[t.Any, Line], num_ctx: int | None) -> Line:
        """The line of a key set to `value`, made and kept in `table`.

        A float zero is kept apart by its sign, never in `table`: 0.0 and -0.0 are
        equal keys there, and each is written as it was set.
        """
        if type(value) is float and value == 0:
            memo = (key, math.copysign(1.0, value), num_ctx)
            line = self.zeros.get(memo)
            if line is None:
                line = self.zeros[memo] = self._line(key, name, value, num_ctx)
            return line
        line = self._line(key, name, value, num_ctx)
        if num_ctx is None:
            table[(type(value), value)] = line
        else:
            table[(type(value), value, num_ctx)] = line
        return line

    def _line(self, key: str, name: str, value: t.Any, num_ctx: int | None) -> Line:
        typed_value = typed(name, value)
        if name == "num_ctx":
            line = Line(MetonValue(key, typed_value))
        else:
            line = Line(_set_value(key, name, typed_value, self.target, 0 if num_ctx is None else num_ctx, self.chosen))
        return line


def _set_value(key: str, name: str, value: t.Any, target: Version, num_ctx: int = 0, chosen: bool = True) -> MetonValue:
    """A key the profile sets: as set, or as Meton must hold it to mean what Ollama does.

    `num_ctx` (the profile's) is read for `num_predict` only. A value the target
    version ignores is marked so only where the user chose the version (`chosen`).
    """
    spec = catalog().options[name]
    note = None if spec.known_in(target) or not chosen else f"ignored by Ollama {target} ({_absent(spec, target)})"
    if name == "num_predict" and _negative(value) and target >= NUM_PREDICT_CAP_SINCE:
        return MetonValue(key, 10 * num_ctx, f"num_predict {value}: {_ollama(target, chosen)} caps it at 10 x num_ctx")
    return MetonValue(key, value, note)


def _unset_value(key: str, name: str, target: Version, num_ctx: int = 0, chosen: bool = True) -> MetonValue:
    """A key the profile leaves unset: Ollama's default for `target` (the same for every profile).

    `num_ctx` (the profile's) is read for `num_predict` only; the note names the
    version only where the user chose it (`chosen`).
    """
    spec = catalog().options[name]
    ollama = _ollama(target, chosen)
    if not spec.known_in(target):
        value = typed(name, _nearest_default(spec, target))
        return MetonValue(key, value, f"unset; ignored by {ollama} ({_absent(spec, target)}): its old default")
    if name == "num_predict":
        # Ollama's -1 ("until a stop condition"); Meton needs a positive count.
        note = (f"unset (-1): {ollama} caps it at 10 x num_ctx" if target >= NUM_PREDICT_CAP_SINCE
                else f"unset (-1, no limit in {ollama}); Meton needs a count, see MPL507")
        return MetonValue(key, 10 * num_ctx, note)
    default = spec.default_in(target)
    assert default is not None, name  # every key Meton writes has a default in each release that knows it
    return MetonValue(key, typed(name, default), f"unset: {ollama}'s default")


def _chosen(program: Program) -> bool:
    """Whether the user chose the Ollama version (`ollama "X"`, `--ollama`, the configuration, a server)."""
    return program.target_origin != "default"


def _ollama(target: Version, chosen: bool) -> str:
    """`Ollama X.Y.Z` where the user chose the version, else plain `Ollama`."""
    return f"Ollama {target}" if chosen else "Ollama"


def same_value(a: t.Any, b: t.Any) -> bool:
    """Whether two settings values are one: equal, of one type, a float zero of one sign.

    >>> same_value(0.0, 0.0), same_value(0, 0.0), same_value(-0.0, 0.0), same_value(True, 1)
    (True, False, False, False)
    """
    if type(a) is not type(b) or a != b:
        return False
    return not (type(a) is float and a == 0 and math.copysign(1.0, a) != math.copysign(1.0, b))


def _negative(value: t.Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value < 0


def _nearest_default(spec: OptionSpec, target: Version) -> t.Any:
    """The default of a key at the release nearest `target` that has it (its last, or its first)."""
    if spec.last is not None and target > spec.last:
        return spec.default_in(spec.last)
    return spec.defaults[0].value


def _absent(spec: OptionSpec, target: Version) -> str:
    if spec.removed_in is not None and target >= spec.removed_in:
        return f"removed in {spec.removed_in}"
    return f"added in {spec.added_in}"

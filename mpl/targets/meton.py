"""The `meton` target: `models.settings` and `parameter_profiles` for Meton's config.yaml.

Meton holds fourteen parameters, spells `num_predict` as `max_tokens` and
validates its own ranges; anything it cannot hold is a diagnostic at the
statement that set it. `when` variants that differ from their profile become
extra profiles named `PROFILE-TASK`.

Meton fills every key a profile leaves out with its own default, sends all
fourteen to Ollama on every request, and `/pprofile apply` replaces only the
keys a profile lists. So every profile is written with all fourteen keys: the
ones mpl leaves unset hold the value Ollama uses when a request leaves them
out (its default for the target version), each marked by a comment. Where
that value cannot be written (`num_ctx` is automatic since Ollama 0.15.5) the
target reports MPL507 and writes the value it names. `mpl compile --into`
replaces those sections inside an existing config.yaml (`merge_into`).
"""

from __future__ import annotations

import functools
import itertools
import math
import operator
import re
import typing as t
from dataclasses import dataclass
from pathlib import Path

from mpl.catalog import OptionSpec, Version, catalog
from mpl.compiler.program import Options, Program, Setting
from mpl.diagnostics import Related, Sink
from mpl.source import read_file
from mpl.targets.base import OutputFile, Target, task_variants, typed

# What mpl writes for an automatic `num_ctx`: the value Ollama picks on a machine
# with less than 23 GiB of VRAM, and Meton's own default.
AUTOMATIC_NUM_CTX = 4096
# From this release on Ollama caps a negative num_predict (and any above) at 10 x num_ctx.
NUM_PREDICT_CAP_SINCE = Version(0, 30, 0)


@dataclass(frozen=True, slots=True)
class MetonValue:
    """One of Meton's fourteen keys as written: its value and, for an unset one, why."""

    key: str
    value: t.Any
    note: str | None = None  # a YAML comment; None when the profile sets the value as written


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

    def __init__(self, primary: str | None = None) -> None:
        # The model written to `models.primary` (`mpl compile --meton-primary`); None leaves it alone.
        self.primary = primary

    # -- what is written ----------------------------------------------------

    def entries(self, program: Program) -> list[tuple[str, str | None, str | None, Options]]:
        """(name, profile, task, options) for every profile and differing variant.

        Kept for the last program asked about: `check` and `emit` read the same list.
        """
        return _entries(program)

    def values(self, program: Program, options: Options) -> list[MetonValue]:
        """All fourteen keys, in Meton's order, as Meton must hold them to mean `options`."""
        return [line.meaning for line in self._lines(program).of(options)]

    def _lines(self, program: Program) -> _Lines:
        """The settings lines of `program`, memoised for the last program asked about."""
        last = getattr(self, "_last_lines", None)
        if last is None or last.program is not program:
            last = self._last_lines = _Lines(self, program)
        return last

    @functools.cached_property
    def _NAMES(self) -> dict[str, str]:  # noqa: N802 - a constant of the class
        return {key: name for name, key in self.RENAMES.items()}

    def _num_ctx(self, program: Program, options: Options) -> tuple[int, str | None]:
        if "num_ctx" in options:
            return typed("num_ctx", options["num_ctx"].value), None
        return self._unset_num_ctx(program.target)

    @staticmethod
    def _unset_num_ctx(target: Version) -> tuple[int, str]:
        """The `num_ctx` Meton holds for a profile that leaves it unset, and its note."""
        default = catalog().options["num_ctx"].default_in(target)
        if default is None:
            return AUTOMATIC_NUM_CTX, f"unset: automatic in Ollama {target}, which Meton cannot express (MPL507)"
        return t.cast(int, default), f"unset: Ollama {target}'s default"

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
        profiles: dict[str, t.Any] = {}
        for name, profile, task, options in self.entries(program):
            profiles[name] = {"name": name, "description": self._description(program, profile, task),
                              "settings": self.settings(program, options)}
        doc["parameter_profiles"] = profiles
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
        # One diagnostic per statement, however many profiles inherit it. `check_setting`
        # takes all the settings of one statement alike (they hold its one literal; those of
        # an append are lists, which it judges by name alone), so a value it has accepted
        # once is passed by value, and only the others are told apart by statement.
        statements: set[tuple[int, str]] = set()
        accepted: set[tuple[str, type, t.Any]] = set()
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
            if task is not None:  # a variant: the settings it shares with its profile were seen with it
                own = program.resolve(profile)  # type: ignore[arg-type]
                settings: t.Iterable[Setting] = itertools.compress(
                    options.values(), map(operator.is_not, options.values(), map(own.get, options)))
            else:
                settings = options.values()
            for setting in settings:
                value = setting.value
                if (setting.name, type(value), value) in accepted:
                    continue
                statement = (setting.span.start, setting.name)
                if statement in statements:
                    continue
                statements.add(statement)
                if (capped and setting.name == "num_predict" and _negative(value)  # written as 10 x num_ctx
                        or self.check_setting(program, setting, sink)):
                    accepted.add((setting.name, type(value), value))
        self._check_unexpressible(program, sink, unset)

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
        lines = self._lines(program)
        profiles = Profiles(
            ProfileBlock(yaml_str(name), yaml_str(self._description(program, profile, task)), lines.block(options))
            for name, profile, task, options in self.entries(program)
        )
        doc.append(Entry("parameter_profiles", profiles))
        return doc

    def settings_block(self, program: Program, options: Options) -> Lines:
        """One `settings` mapping: all fourteen keys, unset ones with their note."""
        return self._lines(program).block(options)

    def header(self, program: Program) -> str:
        return (
            f"# Generated by mpl from {Path(program.source.path).name} for Ollama {program.target}.\n"
            "# Meton sends all fourteen settings with every request and `/pprofile apply` replaces only\n"
            "# the keys a profile lists, so every profile holds all fourteen: a value marked `unset`\n"
            "# is what Ollama uses when mpl leaves the parameter unset.\n"
        )

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
    value: str | list[Entry] | Lines | Profiles
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

    @functools.cached_property
    def width(self) -> int:
        return len(self.text)


class Aligned(dict):  # type: ignore[type-arg]  # Line -> str
    """Lines as written with their comments starting `comments` columns after the key, made on first use."""

    def __init__(self, comments: int) -> None:
        super().__init__()
        self.comments = comments

    def __missing__(self, line: Line) -> str:
        text = self[line] = line.text.ljust(self.comments) + line.comment if line.comment else line.text
        return text


class Lines:
    """A `settings` mapping as its lines, in Meton's order.

    `aligned` (shared by a program's mappings) keeps each line's text per comment
    column, so that a mapping is written by joining texts looked up in C.
    """

    __slots__ = ("lines", "aligned")

    def __init__(self, lines: list[Line], aligned: dict[int, Aligned]) -> None:
        self.lines = lines
        self.aligned = aligned

    def __len__(self) -> int:
        return len(self.lines)

    def render(self, column: int, out: list[str]) -> None:
        """Write the lines at `column`, comments two spaces after the longest `key: value`."""
        comments = max(map(_WIDTH, self.lines)) + 2
        texts = self.aligned.get(comments)
        if texts is None:
            texts = self.aligned[comments] = Aligned(comments)
        pad = " " * column
        out.append(pad + f"\n{pad}".join(map(texts.__getitem__, self.lines)) + "\n")


_WIDTH = operator.attrgetter("width")


class ProfileBlock(t.NamedTuple):
    """One item of `parameter_profiles`: its name and description as YAML, and its settings."""

    name: str
    description: str
    settings: Lines


class Profiles(list):  # type: ignore[type-arg]  # of ProfileBlock
    """`parameter_profiles`: the mapping of every profile by name.

    Written as `_render` writes the same entries (`NAME: {name, description,
    settings}`, none with a comment), one f-string per profile: a file may hold
    tens of thousands.
    """

    __slots__ = ()

    def render(self, column: int, indent: int, out: list[str]) -> None:
        pad, inner = " " * column, " " * (column + indent)
        for name, description, settings in self:
            out.append(f"{pad}{name}:\n{inner}name: {name}\n{inner}description: {description}\n{inner}settings:\n")
            settings.render(column + 2 * indent, out)


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
        elif isinstance(value, Profiles):
            out.append(f"{pad}{key}:\n")
            value.render(column + indent, indent, out)
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


def _entries(program: Program) -> list[tuple[str, str | None, str | None, Options]]:
    """(name, profile, task, options) for every profile and differing variant of `program`.

    Memoised for the last program asked about, at module level: `mpl compile` checks
    and emits with two instances of the target. The memo holds that program, so that
    no other can take its identity, and is one tuple, read and replaced whole.
    """
    global _last_entries
    last = _last_entries
    if last is not None and last[0] is program:
        return last[1]
    found: list[tuple[str, str | None, str | None, Options]] = [
        (name, name, None, program.resolve(name)) for name in program.profiles
    ]
    for profile, task in task_variants(program):
        found.append((f"{profile}-{task}", profile, task, program.resolve(profile, task)))
    _last_entries = (program, found)
    return found


_last_entries: tuple[Program, list[tuple[str, str | None, str | None, Options]]] | None = None


class _Lines:
    """The settings lines of one program's options, each `Line` made once.

    Every key keeps a table from the value as written to its line (the type keeps 1,
    1.0 and True apart). `max_tokens` also depends on `num_ctx` (a negative
    `num_predict`, and an unset one, are written as 10 x num_ctx), so it is looked up
    last, by `num_ctx` too.
    """

    def __init__(self, meton: MetonTarget, program: Program) -> None:
        self.program = program  # held: `MetonTarget._lines` compares it by identity
        self.target = target = program.target
        names = [(key, meton._NAMES.get(key, key)) for key in meton.RANGES]
        # (key, option, lines by value, the line of the key unset) of every key but max_tokens
        self.keys: list[tuple[str, str, dict[t.Any, Line], Line]] = [
            (key, name, {}, Line(MetonValue(key, *meton._unset_num_ctx(target)) if name == "num_ctx"
                                 else _unset_value(key, name, target)))
            for key, name in names if name != "num_predict"
        ]
        self.num_ctx_at = [name for _, name, _, _ in self.keys].index("num_ctx")
        self.max_tokens_at = [name for _, name in names].index("num_predict")
        self.max_tokens: dict[t.Any, Line] = {}  # by (type, value or None when unset, num_ctx)
        self.aligned: dict[int, Aligned] = {}  # the lines' texts by comment column
        self.zeros: dict[tuple[str, float, int | None], Line] = {}  # float zeros, by key and sign

    def block(self, options: Options) -> Lines:
        """The `settings` mapping of `options`."""
        return Lines(self.of(options), self.aligned)

    def of(self, options: Options) -> list[Line]:
        """The fourteen lines of one `settings` mapping, in Meton's order."""
        get = options.get
        out = [
            unset if (setting := get(name)) is None
            else table.get((type(value := setting.value), value)) or self._set(key, name, value, table, None)
            for key, name, table, unset in self.keys
        ]
        num_ctx = out[self.num_ctx_at].meaning.value
        setting = get("num_predict")
        value = setting.value if setting is not None else None
        line = self.max_tokens.get((type(value), value, num_ctx))
        if line is None:
            if setting is None:
                line = Line(_unset_value("max_tokens", "num_predict", self.target, num_ctx))
                self.max_tokens[(type(None), None, num_ctx)] = line
            else:
                line = self._set("max_tokens", "num_predict", value, self.max_tokens, num_ctx)
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
            line = Line(_set_value(key, name, typed_value, self.target, 0 if num_ctx is None else num_ctx))
        return line


def _set_value(key: str, name: str, value: t.Any, target: Version, num_ctx: int = 0) -> MetonValue:
    """A key the profile sets: as set, or as Meton must hold it to mean what Ollama does.

    `num_ctx` (the profile's) is read for `num_predict` only.
    """
    spec = catalog().options[name]
    note = None if spec.known_in(target) else f"ignored by Ollama {target} ({_absent(spec, target)})"
    if name == "num_predict" and _negative(value) and target >= NUM_PREDICT_CAP_SINCE:
        return MetonValue(key, 10 * num_ctx, f"num_predict {value}: Ollama {target} caps it at 10 x num_ctx")
    return MetonValue(key, value, note)


def _unset_value(key: str, name: str, target: Version, num_ctx: int = 0) -> MetonValue:
    """A key the profile leaves unset: Ollama's default for `target` (the same for every profile).

    `num_ctx` (the profile's) is read for `num_predict` only.
    """
    spec = catalog().options[name]
    if not spec.known_in(target):
        value = typed(name, _nearest_default(spec, target))
        return MetonValue(key, value, f"unset; ignored by Ollama {target} ({_absent(spec, target)}): its old default")
    if name == "num_predict":
        # Ollama's -1 ("until a stop condition"); Meton needs a positive count.
        note = (f"unset (-1): Ollama {target} caps it at 10 x num_ctx" if target >= NUM_PREDICT_CAP_SINCE
                else f"unset (-1, no limit in Ollama {target}); Meton needs a count, see MPL507")
        return MetonValue(key, 10 * num_ctx, note)
    return MetonValue(key, typed(name, spec.default_in(target)), f"unset: Ollama {target}'s default")


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


# -- writing into an existing config.yaml ------------------------------------------


class IntoError(Exception):
    """The config.yaml given to `--into` cannot be merged into; the message is one line."""


_REPLACED = ("models", "parameter_profiles")


def merge_into(target: MetonTarget, program: Program, text: str) -> str:
    """`text` (a Meton config.yaml) with `models.settings`, `parameter_profiles` and,
    when `target.primary` is set, `models.primary` replaced by the compiled ones.

    ruamel.yaml's round-trip loader finds where each section starts and ends; the new
    sections, dumped by ruamel.yaml, are spliced into the original text, so every other
    byte (keys, comments, blank lines, quoting, `null`s, order) stays as it was. A
    section missing from the file is added (`models` and `parameter_profiles` at the
    end, `settings` at the end of `models`, `primary` at its start). The file is first
    read as Meton reads it, within bounds (`mpl.yamlread`: an alias bomb or deep nesting
    is refused before anything expands it), and the result is read back the same way
    and compared with what was meant before it is returned; any doubt is an
    `IntoError` and nothing is written.
    """
    from ruamel.yaml import YAML
    from ruamel.yaml.comments import CommentedMap
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    bom = "\ufeff" if text.startswith("\ufeff") else ""
    body = text[len(bom):]
    if any(ch in body for ch in ("\x85", "\u2028", "\u2029")) or "\r" in body.replace("\r\n", ""):
        raise IntoError("uses line breaks other than LF or CRLF; mpl cannot rewrite it line by line")
    newline = "\r\n" if "\r\n" in body else "\n"
    as_meton = _read_as_meton(body)
    try:
        data = YAML(typ="rt").load(body)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        raise IntoError(f"is not valid YAML{where}: {exc.problem or exc.context}") from None
    except YAMLError as exc:
        raise IntoError(f"is not valid YAML: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None
    if not isinstance(data, CommentedMap):
        raise IntoError("is not a YAML mapping of sections, as Meton's config.yaml is")
    if data.fa.flow_style():
        raise IntoError("is written as one flow mapping (`{...}`); mpl can only replace block sections")
    lines = [line + "\n" for line in body.split("\n")]
    lines[-1] = lines[-1][:-1]
    if lines[-1] == "":
        lines.pop()
    indent = _guess_indent(data)
    edits: list[tuple[int, int, str]] = []  # (first line, end line, new text), lines [first, end)

    def section(mapping: t.Any, key: t.Any, limit: int) -> tuple[int, int]:
        keys = list(mapping)
        first = mapping.lc.key(key)[0]
        after = keys.index(key) + 1
        end = mapping.lc.key(keys[after])[0] if after < len(keys) else limit
        while end > first + 1 and (not lines[end - 1].strip() or lines[end - 1].lstrip().startswith("#")
                                   or lines[end - 1].rstrip() == "..."):
            end -= 1
        return first, end

    def block(key: str, node: list[Entry], column: int) -> str:
        return render_yaml([Entry(key, node)], column, indent)

    primary = yaml_str(target.primary) if target.primary is not None else None
    default = program.resolve(program.default) if program.default is not None else None
    top = list(data)
    top_end = len(lines)
    if "models" in data and (primary is not None or default is not None):
        models = data["models"]
        first, end = section(data, "models", top_end)
        models_end = data.lc.key(top[top.index("models") + 1])[0] if top.index("models") + 1 < len(top) else top_end
        if models is None:
            edits.append((first, end, _models_block(target, program, indent, primary, default, data.lc.key("models")[1])))
        elif not isinstance(models, CommentedMap):
            raise IntoError("has a `models` that is not a mapping")
        elif models.fa.flow_style() or (len(models) and models.lc.key(next(iter(models)))[0] == first):
            raise IntoError("writes `models` as a flow mapping (`{...}`); mpl can only replace block sections")
        else:
            column = models.lc.key(next(iter(models)))[1] if len(models) else data.lc.key("models")[1] + indent
            if default is not None:
                node = target.settings_block(program, default)
                if "settings" in models:
                    s_first, s_end = section(models, "settings", models_end)
                    edits.append((s_first, s_end, block("settings", node, column)))
                else:
                    edits.append((end, end, block("settings", node, column)))
            if primary is not None:
                line = f"primary: {primary}"
                if "primary" in models:
                    p_first, p_end = section(models, "primary", models_end)
                    comment = _eol_comment(models, "primary")
                    edits.append((p_first, p_end, " " * column + line + (f"  {comment}" if comment else "") + "\n"))
                else:
                    at = models.lc.key(next(iter(models)))[0]
                    edits.append((at, at, " " * column + line + "\n"))
    elif primary is not None or default is not None:
        edits.append((len(lines), len(lines), _models_block(target, program, indent, primary, default, 0)))
    profiles = target.blocks(program)[-1].value
    assert isinstance(profiles, Profiles)
    if "parameter_profiles" in data:
        first, end = section(data, "parameter_profiles", top_end)
        if data.lc.key("parameter_profiles")[1] != 0:
            raise IntoError("has `parameter_profiles` indented; mpl expects it at the top level")
        edits.append((first, end, block("parameter_profiles", profiles, 0)))
    else:
        edits.append((len(lines), len(lines), block("parameter_profiles", profiles, 0)))
    # Bottom up, so that earlier line numbers stay valid; two insertions at one place keep their order.
    for _, first, end, new in sorted(((i, *e) for i, e in enumerate(edits)), key=lambda e: (e[1], e[2], e[0]), reverse=True):
        if first == len(lines) and lines and not lines[-1].endswith("\n"):
            lines[-1] += "\n"
        lines[first:end] = [new]
    result = "".join(lines)
    if newline == "\r\n":
        result = result.replace("\r\n", "\n").replace("\n", "\r\n")
    _verify(target, program, as_meton, result)
    return bom + result


def _read_as_meton(body: str) -> t.Any:
    """`body` as Meton reads it (PyYAML, within mpl's bounds), or `IntoError` where mpl cannot tell
    which text holds the sections it replaces (a key given twice, a merge key, an alias)."""
    from mpl.yamlread import Refused, is_alias_of_earlier, read_yaml

    try:
        doc = read_yaml(body)
    except Refused as exc:
        line, column = exc.where(body) or (0, 0)
        at = f"at line {line}, column {column}" if exc.offset is not None else "here"
        if exc.message.startswith("not valid YAML: "):
            raise IntoError(f"is not valid YAML {at}: {exc.message.split(': ', 1)[1]} ({exc.code})") from None
        raise IntoError(f"is refused {at}: {exc.message} ({exc.code}; {exc.help})") from None
    twice = doc.duplicates()
    if twice:
        first, last = twice[0]
        raise IntoError(f"has the key `{first.value}` twice in one mapping (lines {first.start_mark.line + 1} and "
                        f"{last.start_mark.line + 1}); Meton reads only the last: remove the other")
    root = doc.root
    models = doc.get(root, "models")
    for name, mapping in (("the top level", root), ("`models`", models)):
        if doc.merged(mapping):
            raise IntoError(f"merges keys into {name} with `<<`; mpl replaces only sections written out in place")
    for mapping, keys in ((root, _REPLACED), (models, ("settings", "primary"))):
        entries = doc.entries(mapping) if mapping is not None else {}
        for key in keys:
            if key in entries and is_alias_of_earlier(*entries[key]):
                raise IntoError(f"gives `{key}` as an alias (line {entries[key][0].start_mark.line + 1}); "
                                "mpl replaces only sections written out in place")
    return doc


def _guess_indent(data: t.Any) -> int:
    """The file's mapping indentation: how far the first nested block mapping is indented."""
    from ruamel.yaml.comments import CommentedMap

    for key in data:
        value = data[key]
        if isinstance(value, CommentedMap) and len(value) and not value.fa.flow_style():
            # A key a `<<` merge brought has no place of its own in the mapping.
            inner, outer = value.lc.key(next(iter(value))), data.lc.key(key)
            step = inner[1] - outer[1] if inner is not None and outer is not None else 0
            if step > 0:
                return step
    return 2


def _models_block(target: MetonTarget, program: Program, indent: int, primary: str | None, default: Options | None,
                  column: int) -> str:
    models: list[Entry] = []
    if primary is not None:
        models.append(Entry("primary", primary))
    if default is not None:
        models.append(Entry("settings", target.settings_block(program, default)))
    return render_yaml([Entry("models", models)], column, indent)


def _eol_comment(mapping: t.Any, key: str) -> str | None:
    """The `# …` comment at the end of `key`'s line, if any."""
    entry = mapping.ca.items.get(key)
    token = entry[2] if entry and len(entry) > 2 else None
    value = getattr(token, "value", "") or ""
    first = value.split("\n", 1)[0].strip()
    return first if first.startswith("#") else None


def _verify(target: MetonTarget, program: Program, before: t.Any, after: str) -> None:
    """Read the result as Meton does (PyYAML, within the bounds `before` was read in)
    and check that only the replaced sections differ from `before` (a `Document`)."""
    from mpl.yamlread import Refused, budget_for, read_yaml

    try:
        old, new = before.data, read_yaml(after, budget=max(before.budget, budget_for(after))).data
    except Refused as exc:  # an anchor in a replaced section that an alias elsewhere names, say
        raise IntoError(f"would not read back after the change ({exc.message}): does an alias elsewhere name an anchor "
                        "in a replaced section?") from None
    meant = target.document(program)
    problem = None
    if not isinstance(new, dict) or not isinstance(old, dict) or {k: v for k, v in old.items() if k not in _REPLACED} != {
            k: v for k, v in new.items() if k not in _REPLACED}:
        problem = "other sections"
    elif new.get("parameter_profiles") != meant["parameter_profiles"]:
        problem = "parameter_profiles"
    elif "models" in meant:
        was = old.get("models") if isinstance(old.get("models"), dict) else {}
        kept = {k: v for k, v in was.items() if k not in meant["models"]}
        got = new.get("models")
        if not isinstance(got, dict) or {k: v for k, v in got.items() if k not in meant["models"]} != kept or any(
                got.get(k) != v for k, v in meant["models"].items()):
            problem = "models"
    if problem is not None:  # pragma: no cover - a defect of the splice, never a user error
        raise IntoError(f"cannot be rewritten without changing {problem}; nothing written")


def write_into(path: Path, program: Program, target: MetonTarget, *, backup: bool = True) -> bool:
    """Merge the compiled sections into the config.yaml at `path`, atomically.

    Returns False when the file already holds them (nothing is written). The old file
    is kept as `PATH.bak` unless `backup` is False: one generation, an earlier backup
    is replaced, and a link at `PATH.bak` is replaced too, never followed. The
    file's folder is locked from the read to the write, so two runs merging into
    one file take turns and neither loses the other's change. Raises `IntoError`
    (the file is left as it was) or `OSError`.
    """
    import os

    from mpl.output import folder_lock, write_atomic

    real = Path(os.path.realpath(path))
    with folder_lock(real.parent):
        raw = read_file(real, whole=True)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise IntoError(f"is not UTF-8 text (byte {exc.start})") from None
        new = merge_into(target, program, text)
        if new == text:
            return False
        mode = real.stat().st_mode & 0o7777
        if backup:
            kept = backup_path(real)
            if os.path.isdir(kept) and not os.path.islink(kept):
                raise IntoError(f"cannot keep its previous content as {kept}: a folder is in the way "
                                "(move it, or pass --no-backup)")
            write_atomic(kept, raw, mode=mode, follow_links=False)
        write_atomic(real, new.encode("utf-8"), mode=mode)
    return True


def backup_path(real: Path) -> Path:
    """Where `write_into` keeps the previous file: `config.yaml.bak` beside the file itself."""
    return real.with_name(real.name + ".bak")

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

import io
import typing as t
from dataclasses import dataclass
from pathlib import Path

from mpl.catalog import OptionSpec, Version, catalog
from mpl.compiler.program import Options, Program
from mpl.diagnostics import Related, Sink
from mpl.source import Span
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

    def __init__(self, primary: str | None = None) -> None:
        # The model written to `models.primary` (`mpl compile --meton-primary`); None leaves it alone.
        self.primary = primary

    # -- what is written ----------------------------------------------------

    def entries(self, program: Program) -> list[tuple[str, str | None, str | None, Options]]:
        """(name, profile, task, options) for every profile and differing variant."""
        found: list[tuple[str, str | None, str | None, Options]] = [
            (name, name, None, program.resolve(name)) for name in program.profiles
        ]
        for profile, task in task_variants(program):
            found.append((f"{profile}-{task}", profile, task, program.resolve(profile, task)))
        return found

    def values(self, program: Program, options: Options) -> list[MetonValue]:
        """All fourteen keys, in Meton's order, as Meton must hold them to mean `options`."""
        target = program.target
        names = {key: name for name, key in self.RENAMES.items()}
        num_ctx = self._num_ctx(program, options)
        out: list[MetonValue] = []
        for key in self.RANGES:
            name = names.get(key, key)
            spec = catalog().options[name]
            if name == "num_ctx":
                value, note = num_ctx
            elif name in options:
                value, note = typed(name, options[name].value), None
                if not spec.known_in(target):
                    note = f"ignored by Ollama {target} ({_absent(spec, target)})"
                if name == "num_predict" and _negative(value) and target >= NUM_PREDICT_CAP_SINCE:
                    value, note = 10 * num_ctx[0], f"num_predict {value}: Ollama {target} caps it at 10 x num_ctx"
            elif not spec.known_in(target):
                value = typed(name, _nearest_default(spec, target))
                note = f"unset; ignored by Ollama {target} ({_absent(spec, target)}): its old default"
            elif name == "num_predict":
                # Ollama's -1 ("until a stop condition"); Meton needs a positive count.
                value = 10 * num_ctx[0]
                note = (f"unset (-1): Ollama {target} caps it at 10 x num_ctx" if target >= NUM_PREDICT_CAP_SINCE
                        else f"unset (-1, no limit in Ollama {target}); Meton needs a count, see MPL507")
            else:
                value, note = typed(name, spec.default_in(target)), f"unset: Ollama {target}'s default"
            out.append(MetonValue(key, value, note))
        return out

    def _num_ctx(self, program: Program, options: Options) -> tuple[int, str | None]:
        if "num_ctx" in options:
            return typed("num_ctx", options["num_ctx"].value), None
        default = catalog().options["num_ctx"].default_in(program.target)
        if default is None:
            return AUTOMATIC_NUM_CTX, f"unset: automatic in Ollama {program.target}, which Meton cannot express (MPL507)"
        return t.cast(int, default), f"unset: Ollama {program.target}'s default"

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
        names: dict[str, Span] = {n: p.name_span for n, p in program.profiles.items()}
        for name, profile, task, options in self.entries(program):
            if task is not None and name in names:
                sink.report(
                    "MPL506", names[name],
                    f"Meton profile name `{name}` is taken by profile `{name}` and by `{profile}` for task `{task}`",
                    related=[Related(program.profiles[profile].name_span, f"variant of `{profile}`")],  # type: ignore[index]
                    help="rename the profile",
                )
            for setting in options.values():
                if catalog().option(setting.name) is None:
                    continue  # an unknown name, already reported by the checker
                key = self.RENAMES.get(setting.name, setting.name)
                span = Span(setting.span.start, setting.span.start + len(setting.name))
                if key not in self.RANGES:
                    sink.report(
                        "MPL501", span,
                        f"Meton cannot hold `{setting.name}` (set for profile `{name}` by {setting.origin})",
                        help="Meton accepts " + ", ".join(sorted(self.RANGES)) + "; compile without `--target meton` or move it to a model",
                        parameter=setting.name,
                    )
                    continue
                low, high = self.RANGES[key]
                value = setting.value
                if isinstance(value, bool) or not isinstance(value, (int, float)):
                    continue  # a type error, already reported by the checker
                if isinstance(value, int) and abs(value) > 2**64:
                    continue  # beyond int64 and float32: MPL306, already reported by the checker
                if key == "max_tokens" and value < 0 and program.target >= NUM_PREDICT_CAP_SINCE:
                    continue  # written as 10 x num_ctx, which Ollama makes of it anyway
                if (low is not None and value < low) or (high is not None and value > high):
                    bound = f"between {low:g} and {high:g}" if high is not None else f"at least {low:g}"
                    sink.report(
                        "MPL502", setting.value_span,
                        f"Meton requires `{key}` {bound}; profile `{name}` has {value:g} (set by {setting.origin})",
                        parameter=setting.name,
                    )
        self._check_unexpressible(program, sink)

    def _check_unexpressible(self, program: Program, sink: Sink) -> None:
        """MPL507 once per profile chain that leaves an inexpressible default to Ollama."""
        target = program.target
        missing: dict[str, list[str]] = {}  # parameter -> profiles that leave it unset
        if catalog().options["num_ctx"].default_in(target) is None:
            missing["num_ctx"] = []
        if target < NUM_PREDICT_CAP_SINCE:
            missing["num_predict"] = []
        if not missing:
            return
        for name, profile, _task, options in self.entries(program):
            for parameter, found in missing.items():
                if parameter not in options and profile is not None and profile not in found:
                    found.append(profile)
        for parameter, profiles in missing.items():
            by_root: dict[str, list[str]] = {}
            for profile in profiles:
                by_root.setdefault(self._topmost_without(program, profile, parameter), []).append(profile)
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
    def _topmost_without(program: Program, profile: str, parameter: str) -> str:
        """The furthest ancestor of `profile` that also leaves `parameter` unset."""
        seen = {profile}
        current = profile
        while True:
            parent = program.profiles[current].parent
            if parent is None or parent not in program.profiles or parent in seen:
                return current
            if parameter in program.resolve(parent):
                return current
            seen.add(parent)
            current = parent

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

    def commented(self, program: Program, indent: int = 2) -> t.Any:
        """The document as ruamel.yaml nodes, with a comment on every value mpl leaves unset.

        `indent` is the indentation it will be dumped with, so that comments line up.
        """
        from ruamel.yaml.comments import CommentedMap

        doc = CommentedMap()
        models = CommentedMap()
        if self.primary is not None:
            models["primary"] = yaml_str(self.primary)
        if program.default is not None:
            models["settings"] = self.commented_settings(program, program.resolve(program.default), 2 * indent)
        if models:
            doc["models"] = models
        profiles = CommentedMap()
        for name, profile, task, options in self.entries(program):
            entry = CommentedMap()
            entry["name"] = yaml_str(name)
            entry["description"] = yaml_str(self._description(program, profile, task))
            entry["settings"] = self.commented_settings(program, options, 3 * indent)
            profiles[yaml_str(name)] = entry
        doc["parameter_profiles"] = profiles
        return doc

    def commented_settings(self, program: Program, options: Options, column: int) -> t.Any:
        """One `settings` mapping whose keys will stand at `column`; comments start in one column."""
        from ruamel.yaml.comments import CommentedMap

        settings = CommentedMap()
        items = self.values(program, options)
        width = max(len(f"{item.key}: {item.value!r}") for item in items)
        for item in items:
            settings[item.key] = item.value
            if item.note:
                settings.yaml_add_eol_comment(f"# {item.note}", item.key, column=column + width + 2)
        return settings

    def header(self, program: Program) -> str:
        return (
            f"# Generated by mpl from {Path(program.source.path).name} for Ollama {program.target}.\n"
            "# Meton sends all fourteen settings with every request and `/pprofile apply` replaces only\n"
            "# the keys a profile lists, so every profile holds all fourteen: a value marked `unset`\n"
            "# is what Ollama uses when mpl leaves the parameter unset.\n"
        )

    def emit(self, program: Program, out_dir: Path) -> list[OutputFile]:
        body = dump_yaml(self.commented(program, 2), 2)
        stem = Path(program.source.path).stem
        stem = stem if stem and not stem.startswith("<") else "profiles"
        merge = "# Merge into Meton's config.yaml, or write it there: mpl compile --target meton --into config.yaml\n"
        return [OutputFile(f"{stem}.meton.yaml", self.header(program) + merge + body)]


def dump_yaml(node: t.Any, indent: int = 2) -> str:
    """Block-style YAML text of ruamel nodes (no line wrapping)."""
    from ruamel.yaml import YAML

    yaml = YAML()
    yaml.width = 1 << 20
    yaml.indent(mapping=indent, sequence=indent + 2, offset=indent)
    yaml.representer.add_representer(float, _represent_float)
    stream = io.StringIO()
    yaml.dump(node, stream)
    return stream.getvalue()


def _represent_float(representer: t.Any, value: float) -> t.Any:
    """Floats that YAML 1.1 (PyYAML, which Meton uses) reads as floats too: `1.0e-05`, not `1e-05`."""
    text = repr(float(value))
    if "e" in text and "." not in text.split("e")[0]:
        mantissa, exponent = text.split("e")
        text = f"{mantissa}.0e{exponent if exponent[0] in '+-' else '+' + exponent}"
    return representer.represent_scalar("tag:yaml.org,2002:float", text)


def yaml_str(text: str) -> t.Any:
    """`text` as a scalar that both YAML 1.1 (PyYAML, which Meton uses) and 1.2 read as that string.

    >>> type(yaml_str("yes")).__name__, type(yaml_str("precise")).__name__
    ('DoubleQuotedScalarString', 'str')
    """
    import yaml
    from ruamel.yaml.nodes import ScalarNode
    from ruamel.yaml.resolver import VersionedResolver
    from ruamel.yaml.scalarstring import DoubleQuotedScalarString

    plain = "tag:yaml.org,2002:str"
    tags = {yaml.resolver.Resolver().resolve(yaml.ScalarNode, text, (True, False))}
    for version in ((1, 1), (1, 2)):
        tags.add(str(VersionedResolver(version=version).resolve(ScalarNode, text, (True, False))))
    return text if tags == {plain} else DoubleQuotedScalarString(text)


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
    end, `settings` at the end of `models`, `primary` at its start). The result is read
    back and compared with what was meant before it is returned; any doubt is an
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

    def block(key: str, node: t.Any, column: int) -> str:
        rendered = dump_yaml(CommentedMap([(key, node)]), indent)
        return "".join(" " * column + line + "\n" for line in rendered.splitlines())

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
                node = target.commented_settings(program, default, indent)
                if "settings" in models:
                    s_first, s_end = section(models, "settings", models_end)
                    edits.append((s_first, s_end, block("settings", node, column)))
                else:
                    edits.append((end, end, block("settings", node, column)))
            if primary is not None:
                line = dump_yaml(CommentedMap([("primary", primary)]), indent).rstrip("\n")
                if "primary" in models:
                    p_first, p_end = section(models, "primary", models_end)
                    comment = _eol_comment(models, "primary")
                    edits.append((p_first, p_end, " " * column + line + (f"  {comment}" if comment else "") + "\n"))
                else:
                    at = models.lc.key(next(iter(models)))[0]
                    edits.append((at, at, " " * column + line + "\n"))
    elif primary is not None or default is not None:
        edits.append((len(lines), len(lines), _models_block(target, program, indent, primary, default, 0)))
    profiles = target.commented(program, indent)["parameter_profiles"]
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
    _verify(target, program, body, result)
    return bom + result


def _guess_indent(data: t.Any) -> int:
    """The file's mapping indentation: how far the first nested block mapping is indented."""
    from ruamel.yaml.comments import CommentedMap

    for key in data:
        value = data[key]
        if isinstance(value, CommentedMap) and len(value) and not value.fa.flow_style():
            step = value.lc.key(next(iter(value)))[1] - data.lc.key(key)[1]
            if step > 0:
                return step
    return 2


def _models_block(target: MetonTarget, program: Program, indent: int, primary: t.Any, default: Options | None,
                  column: int) -> str:
    from ruamel.yaml.comments import CommentedMap

    models = CommentedMap()
    if primary is not None:
        models["primary"] = primary
    if default is not None:
        models["settings"] = target.commented_settings(program, default, 2 * indent)
    rendered = dump_yaml(CommentedMap([("models", models)]), indent)
    return "".join(" " * column + line + "\n" for line in rendered.splitlines())


def _eol_comment(mapping: t.Any, key: str) -> str | None:
    """The `# …` comment at the end of `key`'s line, if any."""
    entry = mapping.ca.items.get(key)
    token = entry[2] if entry and len(entry) > 2 else None
    value = getattr(token, "value", "") or ""
    first = value.split("\n", 1)[0].strip()
    return first if first.startswith("#") else None


def _verify(target: MetonTarget, program: Program, before: str, after: str) -> None:
    """Read both texts as Meton does (PyYAML) and check that only the replaced sections differ."""
    import yaml

    try:
        old, new = yaml.safe_load(before), yaml.safe_load(after)
    except yaml.YAMLError as exc:  # pragma: no cover - a splice that breaks the file is a bug
        raise IntoError(f"would not read back as YAML after the change ({str(exc).splitlines()[0]}); nothing written") from None
    meant = target.document(program)
    problem = None
    if not isinstance(new, dict) or {k: v for k, v in old.items() if k not in _REPLACED} != {
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
    is kept as `PATH.bak` unless `backup` is False. Raises `IntoError` (the file is
    left as it was) or `OSError`.
    """
    import os
    import tempfile

    real = Path(os.path.realpath(path))
    raw = real.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise IntoError(f"is not UTF-8 text (byte {exc.start})") from None
    new = merge_into(target, program, text)
    if new == text:
        return False
    mode = real.stat().st_mode & 0o7777

    def replace(final: Path, data: bytes) -> None:
        fd, tmp = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(tmp, mode)
            os.replace(tmp, final)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    if backup:
        replace(real.with_name(real.name + ".bak"), raw)
    replace(real, new.encode("utf-8"))
    return True

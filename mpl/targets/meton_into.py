"""`mpl compile --into`: Meton's sections changed in place inside an existing config.yaml.

The file is read once, as Meton reads it (`mpl.yamlread`: PyYAML within bounds),
and every change is made at the place PyYAML's nodes give, in the text itself:

- a value that already means what the profile means is left alone, byte for
  byte (`0` and `0.0` are one float to Meton); another value is replaced where
  it stands, and the rest of its line (a comment) stays;
- a key the profile needs and the mapping lacks is added at the mapping's end;
- a preset of `parameter_profiles` whose profile is gone is removed, and a
  profile that has no preset gets one at the section's end;
- a mapping that cannot be changed key by key (written as a flow `{...}` that
  needs a key added, one that merges keys with `<<`, an alias, not a mapping)
  is written anew, in block style.

`models.settings` comes from the `default` profile and keeps the keys it lists;
a key it lacks is added only where Meton's own default for it is not what the
profile means. A preset keeps the keys it lists (each holding what its profile
means over `models.settings`) and gains those the profile needs
(`MetonTarget.listed`; all fourteen with `complete`). The default profile is
`models.settings`, not a preset, unless the file already has a preset of its name.

So an unchanged source changes nothing, and one changed value changes one line.
The result is read back as Meton reads it and compared with what was meant
before anything is written; any doubt is an `IntoError` and nothing is written.
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass, field
from pathlib import Path

from mpl.compiler.program import Program
from mpl.targets.meton import (
    Entry,
    Line,
    Lines,
    MetonTarget,
    Preset,
    render_yaml,
    same_value,
    yaml_number,
    yaml_str,
)

if t.TYPE_CHECKING:
    from yaml.nodes import MappingNode, Node

    from mpl.yamlread import Document


class IntoError(Exception):
    """The config.yaml given to `--into` cannot be merged into; the message is one line."""


_REPLACED = ("models", "parameter_profiles")


@dataclass
class Merge:
    """What `merge_into` made of a config.yaml: the new text and what it says about it."""

    text: str
    # One line each: what left the file besides values replaced (removed presets, mappings written anew).
    remarks: list[str] = field(default_factory=list)


def merge_into(target: MetonTarget, program: Program, text: str) -> str:
    """`text` (a Meton config.yaml) with `models.settings`, `parameter_profiles` and,
    when `target.primary` is set, `models.primary` changed to mean the compiled profiles."""
    return plan_into(target, program, text).text


def plan_into(target: MetonTarget, program: Program, text: str) -> Merge:
    """`merge_into`, with the remarks on what was removed or written anew."""
    bom = "\ufeff" if text.startswith("\ufeff") else ""
    body = text[len(bom):]
    if any(ch in body for ch in ("\x85", "\u2028", "\u2029")) or "\r" in body.replace("\r\n", ""):
        raise IntoError("uses line breaks other than LF or CRLF; mpl cannot rewrite it line by line")
    doc = _read_as_meton(body)
    root = doc.root
    if not _is_mapping(root):
        raise IntoError("is not a YAML mapping of sections, as Meton's config.yaml is")
    if root.flow_style:
        raise IntoError("is written as one flow mapping (`{...}`); mpl can only change block sections")
    editor = _Editor(target, program, body, doc)
    editor.plan(root)
    result = editor.apply()
    if result != body:
        _verify(editor, result)
    return Merge(bom + result, editor.remarks)


# -- reading -----------------------------------------------------------------------


def _read_as_meton(body: str) -> Document:
    """`body` as Meton reads it (PyYAML, within mpl's bounds), or `IntoError` where mpl cannot tell
    which text holds the sections it changes (a key given twice, a merge key, an alias)."""
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
            raise IntoError(f"merges keys into {name} with `<<`; mpl changes only sections written out in place")
    for mapping, keys in ((root, _REPLACED), (models, ("settings", "primary"))):
        entries = doc.entries(mapping) if mapping is not None else {}
        for key in keys:
            if key in entries and is_alias_of_earlier(*entries[key]):
                raise IntoError(f"gives `{key}` as an alias (line {entries[key][0].start_mark.line + 1}); "
                                "mpl changes only sections written out in place")
    return doc


def _is_mapping(node: Node | None) -> t.TypeGuard[MappingNode]:
    from yaml.nodes import MappingNode

    return isinstance(node, MappingNode)


def _is_null(node: Node) -> bool:
    from yaml.nodes import ScalarNode

    return isinstance(node, ScalarNode) and node.tag == "tag:yaml.org,2002:null"


def _meton_number(key: str, value: t.Any) -> t.Any:
    """A settings value as Meton's pydantic fields hold it: an int in a float field is a float,
    an integral float in an int field an int; anything else as it is."""
    if isinstance(value, bool):
        return value
    if isinstance(MetonTarget.DEFAULTS[key], float) and type(value) is int:
        return float(value)
    if isinstance(MetonTarget.DEFAULTS[key], int) and type(value) is float and value.is_integer():
        return int(value)
    return value


def _means(key: str, value: t.Any, line: Line) -> bool:
    """Whether a value written in the file means to Meton what `line` holds."""
    return same_value(_meton_number(key, value), line.meaning.value)


# -- planning the changes ------------------------------------------------------------


class _Editor:
    """The changes to one config.yaml's text, as (start, end, new text) at character offsets."""

    def __init__(self, target: MetonTarget, program: Program, body: str, doc: Document) -> None:
        self.target, self.program, self.body, self.doc = target, program, body, doc
        self.newline = "\r\n" if "\r\n" in body else "\n"
        self.edits: list[tuple[int, int, int, str]] = []  # (start, end, order, text)
        self.remarks: list[str] = []
        self.indent = self._guess_indent()
        self.default = target.lines(program, program.resolve(program.default)) if program.default is not None else None
        self.presets = target.presets(program)
        # What the result must hold, checked by `_verify`: the presets by name, each with the keys it must list.
        self.wanted: dict[str, tuple[Preset, set[str]]] = {}

    # -- text positions --

    def line_start(self, offset: int) -> int:
        return self.body.rfind("\n", 0, offset) + 1

    def next_line(self, offset: int) -> int:
        end = self.body.find("\n", offset)
        return len(self.body) if end < 0 else end + 1

    def _blank_or_comment(self, start: int, end: int) -> bool:
        text = self.body[start:end].strip()
        return not text or text.startswith("#") or text == "..."

    def entry_span(self, mapping: MappingNode, index: int) -> tuple[int, int]:
        """Where entry `index` of a block mapping is written: whole lines, from its key to its last
        line that is not blank or a comment (those belong to what follows)."""
        key = mapping.value[index][0]
        start = self.line_start(key.start_mark.index)
        if index + 1 < len(mapping.value):
            end = self.line_start(mapping.value[index + 1][0].start_mark.index)
        else:
            end = self.mapping_end(mapping)
        first_end = self.next_line(key.start_mark.index)
        while end > first_end:
            before = self.line_start(end - 1)
            if not self._blank_or_comment(before, end):
                break
            end = before
        return start, max(end, first_end)

    def mapping_end(self, mapping: MappingNode) -> int:
        """The offset just past a block mapping's last line."""
        end = mapping.end_mark.index
        start = self.line_start(end)
        return start if not self.body[start:end].strip() else self.next_line(end)

    def _guess_indent(self) -> int:
        """The file's mapping indentation: how far the first nested block mapping is indented."""
        root = self.doc.root
        for key, value in getattr(root, "value", ()):
            if _is_mapping(value) and value.value and not value.flow_style and not self.doc.merged(value):
                step = value.value[0][0].start_mark.column - key.start_mark.column
                if step > 0:
                    return step
        return 2

    # -- edits --

    def replace(self, start: int, end: int, text: str, *, last: bool = False) -> None:
        """Replace `body[start:end]`; of two insertions at one place, the one made first comes first,
        and a `last` one (a whole section added at the end of the file) after every other."""
        order = len(self.edits) + (1 << 40 if last else 0)
        self.edits.append((start, end, order, text.replace("\n", self.newline) if self.newline != "\n" else text))

    def insert(self, offset: int, text: str, *, last: bool = False) -> None:
        self.replace(offset, offset, text, last=last)

    def apply(self) -> str:
        edits = sorted(self.edits)
        size = len(self.body)
        if self.body and not self.body.endswith("\n"):  # the last line has no line break: what follows it needs one
            at_end = [i for i, (start, end, _, _) in enumerate(edits) if start == end == size]
            if at_end:
                start, end, order, text = edits[at_end[0]]
                edits[at_end[0]] = (start, end, order, self.newline + text)
        pieces: list[str] = []
        at = 0
        for start, end, _, text in edits:  # in the text's order, none overlapping another
            pieces += (self.body[at:start], text)
            at = end
        pieces.append(self.body[at:])
        return "".join(pieces)

    def replace_scalar(self, node: Node, text: str, comment: str | None) -> None:
        """Write `text` where a scalar stands; the rest of its line stays (a comment keeps its column
        where it can), and `comment` is added where the line has none."""
        start, end = node.start_mark.index, node.end_mark.index
        old = self.body[start:end]
        if old.endswith("\n"):  # a block scalar (`|`, `>`) ends with its line break
            text += "\n"
        rest_end = self.body.find("\n", end)
        rest = self.body[end:len(self.body) if rest_end < 0 else rest_end].rstrip("\r")
        if rest.lstrip().startswith("#") and not text.endswith("\n"):
            spaces = len(rest) - len(rest.lstrip())
            keep = max(spaces + len(old) - len(text), min(spaces, 2))
            self.replace(start, end + spaces, text + " " * keep)
        elif not rest.strip() and comment and not text.endswith("\n"):
            self.replace(start, end, f"{text}  {comment}")
        else:
            self.replace(start, end, text)

    # -- the sections --

    def plan(self, root: MappingNode) -> None:
        entries = self.doc.entries(root)
        target = self.target
        column = root.value[0][0].start_mark.column if root.value else 0  # (a whole document may be indented)
        if "models" in entries:
            self.models(root, entries["models"][0])
        elif target.primary is not None or self.default is not None:
            self.insert(len(self.body), self.models_text(column), last=True)
        if "parameter_profiles" in entries:
            key, node = entries["parameter_profiles"]
            self.profiles(root, key, node)
        else:
            self.insert(len(self.body), self.profiles_text(self.new_presets({}), column), last=True)

    def models_text(self, column: int) -> str:
        models: list[Entry] = []
        if self.target.primary is not None:
            models.append(Entry("primary", yaml_str(self.target.primary)))
        if self.default is not None:
            models.append(Entry("settings", Lines(self.default)))
        return render_yaml([Entry("models", models)], column, self.indent)

    def models(self, root: MappingNode, key: Node) -> None:
        target = self.target
        if target.primary is None and self.default is None:
            return
        index = _index(root, key)
        node = root.value[index][1]
        if _is_null(node):
            start, end = self.entry_span(root, index)
            self.replace(start, end, self.models_text(key.start_mark.column))
            return
        if not _is_mapping(node):
            raise IntoError("has a `models` that is not a mapping")
        if node.flow_style:
            raise IntoError("writes `models` as a flow mapping (`{...}`); mpl can only change block sections")
        entries = self.doc.entries(node)
        column = node.value[0][0].start_mark.column if node.value else key.start_mark.column + self.indent
        if target.primary is not None:
            if "primary" in entries:
                value = entries["primary"][1]
                if self.doc.value(value) != target.primary:
                    self.replace_scalar(value, yaml_str(target.primary), None)
            else:
                self.insert(self.line_start(node.value[0][0].start_mark.index),
                            " " * column + f"primary: {yaml_str(target.primary)}\n")
        if self.default is not None:
            if "settings" in entries:
                self.settings(node, entries["settings"][0], self.default, self.settings_required(), "`models.settings`",
                              anew=set(MetonTarget.RANGES))
            else:
                self.insert(self.entry_span(node, len(node.value) - 1)[1],
                            render_yaml([Entry("settings", Lines(self.default))], column, self.indent))

    def settings_required(self) -> set[str]:
        """The keys `models.settings` must list: those whose value Meton's own default would not give."""
        assert self.default is not None
        return {line.meaning.key for line in self.default
                if not same_value(_meton_number(line.meaning.key, MetonTarget.DEFAULTS[line.meaning.key]), line.meaning.value)}

    def settings(self, mapping: MappingNode, key: Node, lines: list[Line], required: set[str], where: str,
                 anew: set[str] | None = None) -> set[str]:
        """Change one `settings` mapping so that the keys it lists, and the `required` ones, hold
        `lines`' values; returns the keys it lists afterwards. Written anew (where it cannot be
        changed key by key) it lists `anew`, else the keys it listed and the required ones."""
        from yaml.nodes import ScalarNode

        from mpl.yamlread import is_alias_of_earlier

        index = _index(mapping, key)
        node = mapping.value[index][1]
        by_key = {line.meaning.key: line for line in lines}
        listed = self.doc.value(node) if _is_mapping(node) and not is_alias_of_earlier(key, node) else None
        present = {k for k in listed if k in by_key} if isinstance(listed, dict) else set()
        need = required | present
        missing = [k for k in by_key if k in need and k not in present]
        changes: list[tuple[Node, Node, Line]] = []
        if isinstance(listed, dict):
            for k_node, v_node in node.value:
                name = self.doc.value(k_node)
                line = by_key.get(name) if isinstance(name, str) else None
                if line is not None and not _means(name, self.doc.value(v_node), line):
                    changes.append((k_node, v_node, line))
        whole = any(not isinstance(v, ScalarNode) or is_alias_of_earlier(k, v) for k, v, _ in changes)
        if (not isinstance(listed, dict) or self.doc.merged(node)
                or (node.flow_style and (missing or whole)) or (not node.value and missing)):
            keys = need if anew is None else anew
            self.rewrite(mapping, index, Entry("settings", Lines([by_key[k] for k in by_key if k in keys])),
                         f"{where} is written anew in block style (mpl changes block mappings key by key)"
                         if isinstance(listed, dict) and listed else None)
            return keys
        for k_node, v_node, line in changes:
            if isinstance(v_node, ScalarNode) and not is_alias_of_earlier(k_node, v_node):
                self.replace_scalar(v_node, yaml_number(line.meaning.value), line.comment)
            else:
                start, end = self.entry_span(node, _index(node, k_node))
                self.replace(start, end, " " * k_node.start_mark.column + _line_text(line) + "\n")
        if missing:
            out: list[str] = []
            Lines([by_key[k] for k in missing]).render(node.value[0][0].start_mark.column, out)
            self.insert(self.entry_span(node, len(node.value) - 1)[1], "".join(out))
        return need

    def rewrite(self, mapping: MappingNode, index: int, entry: Entry, remark: str | None) -> None:
        """Write entry `index` of a block mapping anew, as `entry`; `remark` says so (None: nothing was in it)."""
        start, end = self.entry_span(mapping, index)
        self.replace(start, end, render_yaml([entry], mapping.value[index][0].start_mark.column, self.indent))
        if remark is not None:
            self.remarks.append(remark)

    def new_presets(self, have: dict[t.Any, t.Any]) -> list[Preset]:
        """The presets the file does not have yet, in the source's order (the default profile is
        `models.settings`, and a preset only where the file already has one of its name)."""
        out = []
        for preset in self.presets:
            if preset.name in have or (preset.profile == self.program.default and preset.task is None):
                continue
            out.append(preset)
        return out

    def profiles_text(self, presets: list[Preset], column: int) -> str:
        for preset in presets:
            self.wanted[preset.name] = (preset, set(preset.listed))
        return render_yaml([Entry("parameter_profiles", self.target.profiles_block(self.program, presets))], column, self.indent)

    def profiles(self, root: MappingNode, key: Node, node: Node) -> None:
        index = _index(root, key)
        have = self.doc.value(node)
        if not _is_mapping(node) or node.flow_style or self.doc.merged(node) or not node.value:
            if node.value and not _is_null(node):
                self.remarks.append("`parameter_profiles` is written anew in block style "
                                    "(mpl changes block mappings key by key)")
            start, end = self.entry_span(root, index)
            self.replace(start, end, self.profiles_text(self.new_presets({}), key.start_mark.column))
            return
        by_name = {p.name: p for p in self.presets}
        column = node.value[0][0].start_mark.column
        added = self.new_presets(have)
        if not added and not any(isinstance(name, str) and name in by_name for name in have):
            # Every preset goes: the section is left an empty mapping, as Meton reads it.
            self.remarks.extend(f"preset `{name}` is removed: the source has no profile of that name" for name in have)
            start, end = self.entry_span(root, index)
            self.replace(start, end, self.profiles_text([], key.start_mark.column))
            return
        for at, (k_node, _v_node) in enumerate(node.value):
            name = self.doc.value(k_node)
            preset = by_name.get(name) if isinstance(name, str) else None
            if preset is None:
                start, end = self.entry_span(node, at)
                self.replace(start, end, "")
                self.remarks.append(f"preset `{name}` is removed: the source has no profile of that name")
                continue
            self.preset(node, at, preset)
        if added:
            text = render_yaml(self.target.profiles_block(self.program, added), column, self.indent)
            for preset in added:
                self.wanted[preset.name] = (preset, set(preset.listed))
            self.insert(self.entry_span(node, len(node.value) - 1)[1], text)

    def preset(self, profiles: MappingNode, index: int, preset: Preset) -> None:
        from yaml.nodes import ScalarNode

        from mpl.yamlread import is_alias_of_earlier

        key, node = profiles.value[index]
        listed = self.doc.value(node)
        if (not _is_mapping(node) or is_alias_of_earlier(key, node) or self.doc.merged(node)
                or node.flow_style or not node.value):
            old = listed.get("settings") if isinstance(listed, dict) else None
            keys = set(preset.listed) | (set(old) & set(MetonTarget.RANGES) if isinstance(old, dict) else set())
            kept = Preset(preset.name, preset.profile, preset.task, preset.description, preset.lines,
                          tuple(k for k in MetonTarget.RANGES if k in keys))
            self.wanted[preset.name] = (kept, keys)
            start, end = self.entry_span(profiles, index)
            self.replace(start, end, render_yaml(self.target.profiles_block(self.program, [kept]), key.start_mark.column, self.indent))
            self.remarks.append(f"preset `{preset.name}` is written anew in block style "
                                "(mpl changes block mappings key by key)")
            return
        entries = self.doc.entries(node)
        column = node.value[0][0].start_mark.column
        head: list[str] = []
        for field_name, wanted in (("name", preset.name), ("description", preset.description)):
            if field_name not in entries:
                head.append(" " * column + f"{field_name}: {yaml_str(wanted)}\n")
                continue
            k_node, v_node = entries[field_name]
            if self.doc.value(v_node) == wanted and isinstance(self.doc.value(v_node), str):
                continue
            if isinstance(v_node, ScalarNode) and not is_alias_of_earlier(k_node, v_node):
                self.replace_scalar(v_node, yaml_str(wanted), None)
            else:
                start, end = self.entry_span(node, _index(node, k_node))
                self.replace(start, end, " " * column + f"{field_name}: {yaml_str(wanted)}\n")
        if head:
            self.insert(self.line_start(node.value[0][0].start_mark.index), "".join(head))
        where = f"the settings of preset `{preset.name}`"
        if "settings" in entries:
            keys = self.settings(node, entries["settings"][0], preset.lines, set(preset.listed), where)
        else:
            keys = set(preset.listed)
            self.insert(self.entry_span(node, len(node.value) - 1)[1],
                        render_yaml([Entry("settings", Lines(preset.shown()))], column, self.indent))
        self.wanted[preset.name] = (preset, keys)


def _index(mapping: MappingNode, key: Node) -> int:
    """The place of a key node in its mapping's entries."""
    return next(i for i, (k, _) in enumerate(mapping.value) if k is key)


def _line_text(line: Line) -> str:
    return f"{line.text}  {line.comment}" if line.comment else line.text


# -- checking the result --------------------------------------------------------------


def _verify(editor: _Editor, after: str) -> None:
    """Read the result as Meton does (PyYAML, within the bounds the file was read in) and check
    that it means what was meant: other sections as they were, `models.settings` and every preset
    holding the profile's values for the keys they list, each listing at least what it must."""
    from mpl.yamlread import Refused, budget_for, read_yaml

    before = editor.doc
    try:
        old, new = before.data, read_yaml(after, budget=max(before.budget, budget_for(after))).data
    except Refused as exc:  # an anchor in a changed section that an alias elsewhere names, say
        raise IntoError(f"would not read back after the change ({exc.message}): does an alias elsewhere name an anchor "
                        "in a changed section?") from None
    problem = _problem(editor, old, new)
    if problem is not None:
        raise IntoError(f"cannot be rewritten without changing {problem}; nothing written (does an alias elsewhere "
                        "name an anchor in a changed section?)")


def _problem(editor: _Editor, old: t.Any, new: t.Any) -> str | None:
    """What in `new` is not what was meant, or None."""
    keys = MetonTarget.RANGES
    if not isinstance(new, dict) or {k: v for k, v in old.items() if k not in _REPLACED} != {
            k: v for k, v in new.items() if k not in _REPLACED}:
        return "other sections"
    was = old.get("models") if isinstance(old.get("models"), dict) else {}
    got = new.get("models")
    changed = {"primary"} if editor.target.primary is not None else set()
    if editor.default is not None:
        changed.add("settings")
    if changed:
        if not isinstance(got, dict) or {k: v for k, v in got.items() if k not in changed} != {
                k: v for k, v in was.items() if k not in changed}:
            return "models"
        if editor.target.primary is not None and got.get("primary") != editor.target.primary:
            return "models.primary"
        if editor.default is not None:
            settings = got.get("settings")
            if not isinstance(settings, dict) or any(
                    not _means(line.meaning.key, settings.get(line.meaning.key, MetonTarget.DEFAULTS[line.meaning.key]), line)
                    for line in editor.default):
                return "models.settings"
    elif got != old.get("models"):
        return "models"
    profiles = new.get("parameter_profiles")
    if not isinstance(profiles, dict) or set(profiles) != set(editor.wanted):
        return "the names of parameter_profiles"
    for name, (preset, listed) in editor.wanted.items():
        entry = profiles[name]
        if not isinstance(entry, dict) or entry.get("name") != name or entry.get("description") != preset.description:
            return f"preset `{name}`"
        settings = entry.get("settings")
        by_key = {line.meaning.key: line for line in preset.lines}
        if not isinstance(settings, dict) or {k for k in settings if k in keys} != listed or any(
                not _means(k, v, by_key[k]) for k, v in settings.items() if k in by_key):
            return f"the settings of preset `{name}`"
    return None


# -- the file's new text ------------------------------------------------------------------


def merged_text(path: Path, raw: bytes, program: Program, target: MetonTarget) -> Merge | None:
    """The config.yaml's new text (`Merge.text`) with the compiled sections merged in, or None
    when the file already holds them. `mpl.output.rewrite` reads and writes the file; raises `IntoError`."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise IntoError(f"is not UTF-8 text (byte {exc.start})") from None
    merge = plan_into(target, program, text)
    return None if merge.text == text else merge

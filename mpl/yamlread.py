"""Meton's config.yaml read as Meton reads it (PyYAML `safe_load`), within bounds.

`read_yaml` is the one reader of `mpl import config.yaml` and of `mpl compile
--into config.yaml` (whose nodes give where each value it changes is written, and
again to verify the result). It gives what `yaml.safe_load` gives (the last of two
equal keys wins, `<<` merge keys are applied, several documents are an error)
and, beside it, the nodes each value came from, so that a diagnostic can point
at the line. A document that would cost more than its size to read is refused
(`Refused`, MPL011) before anything expands it: aliases whose expansion reaches
more nodes and string characters than the budget (an "alias bomb", exponential in a few hundred
bytes), an alias inside the node it names (an endless value), and nesting deeper
than `MAX_DEPTH` levels, counted through aliases (a recursive reader would
exhaust the stack). Any other document PyYAML refuses is MPL010.
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass, field

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

#: Levels of nesting (mappings and lists, through aliases) mpl reads; Meton's config.yaml has five.
MAX_DEPTH = 100
#: Nodes (and characters of strings) that aliases may add to a document, at least; more for a larger document (one per character).
ALIAS_FLOOR = 10_000
_MERGE = "tag:yaml.org,2002:merge"


class Refused(Exception):
    """A YAML text mpl will not read: the code, a sentence, a help line, and where (a character offset)."""

    def __init__(self, code: str, message: str, help: str, offset: int | None) -> None:
        super().__init__(message)
        self.code, self.message, self.help, self.offset = code, message, help, offset

    def where(self, text: str) -> tuple[int, int] | None:
        """1-based line and column of the offset in `text` (CR, LF and CRLF end lines, as PyYAML counts)."""
        if self.offset is None:
            return None
        offset = max(0, min(self.offset, len(text)))
        before = text[:offset].replace("\r\n", "\n").replace("\r", "\n")
        line = before.count("\n") + 1
        return line, len(before) - (before.rfind("\n") + 1) + 1


@dataclass
class Document:
    """What `yaml.safe_load` gives (`data`), and the nodes it came from (`root`, after merges)."""

    root: Node | None
    data: t.Any
    budget: int
    #: Per mapping node (by id): its entries as the dict holds them (first place, last value).
    _entries: dict[int, dict[t.Any, tuple[Node, Node]]] = field(default_factory=dict)
    #: Per mapping node (by id): (overridden key node, the key node that wins), in the text's order.
    _duplicates: dict[int, list[tuple[Node, Node]]] = field(default_factory=dict)
    #: Mapping nodes (by id) that held a `<<` merge key.
    _merged: set[int] = field(default_factory=set)
    _objects: dict[int, t.Any] = field(default_factory=dict)

    def entries(self, node: Node) -> dict[t.Any, tuple[Node, Node]]:
        """A mapping node's entries: key (as PyYAML reads it) -> (key node, value node), merges applied."""
        return self._entries.get(id(node), {})

    def get(self, node: Node | None, key: str) -> Node | None:
        """The value node of `key` in a mapping node (the last, as PyYAML keeps), or None."""
        if not isinstance(node, MappingNode):
            return None
        found = self.entries(node).get(key)
        return found[1] if found is not None else None

    def duplicates(self, node: Node | None = None) -> list[tuple[Node, Node]]:
        """(overridden, winning) key nodes of one mapping node, or of the whole document in text order."""
        if node is not None:
            return self._duplicates.get(id(node), [])
        every = [d for pairs in self._duplicates.values() for d in pairs]
        return sorted(every, key=lambda d: d[0].start_mark.index)

    def merged(self, node: Node | None) -> bool:
        """Whether a mapping node held a `<<` merge key."""
        return node is not None and id(node) in self._merged

    def value(self, node: Node) -> t.Any:
        """The Python value PyYAML made of a node."""
        return self._objects[id(node)]


def budget_for(text: str) -> int:
    """How many nodes aliases may add to a document of this size."""
    return max(ALIAS_FLOOR, len(text))


def read_yaml(text: str, *, budget: int | None = None) -> Document:
    """Read one YAML document as `yaml.safe_load` does; raises `Refused` (MPL010, MPL011) instead of anything else."""
    budget = budget_for(text) if budget is None else budget
    loader: _Loader | None = None
    try:
        loader = _Loader(text, budget)
        root = loader.get_single_node()
        data = loader.construct_document(root) if root is not None else None
    except Refused:
        raise
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = str(exc.problem or exc.context or "invalid YAML")
        if problem.startswith("but ") and exc.context:
            problem = f"{exc.context}, {problem}"
        elif exc.context and exc.context.startswith("found "):  # a duplicate anchor: the second is marked
            problem = exc.context.split(";")[0]
        problem = " ".join(problem.split())
        raise Refused("MPL010", f"not valid YAML: {problem}", _SYNTAX_HELP, mark.index if mark else None) from None
    except yaml.reader.ReaderError as exc:
        raise Refused("MPL010", f"not valid YAML: the character U+{exc.character:04X} is not allowed",
                      "remove the control character; YAML allows printable characters, tabs and line breaks",
                      exc.position) from None
    except yaml.YAMLError as exc:  # pragma: no cover - every error PyYAML raises carries a mark
        raise Refused("MPL010", f"not valid YAML: {' '.join(str(exc).split())}", _SYNTAX_HELP, None) from None
    finally:
        if loader is not None:
            loader.dispose()
    return Document(root, data, budget, loader.entries_of, loader.duplicates_of, loader.merged, loader.objects)


_SYNTAX_HELP = "fix the YAML at that place (indent with spaces, never tabs; close every bracket and quote)"


class _Loader(yaml.SafeLoader):
    """PyYAML's SafeLoader that counts what aliases expand to, how deep the nodes go, and keeps its nodes."""

    def __init__(self, text: str, budget: int) -> None:
        super().__init__(text)
        self.budget = budget
        self.spent = 0
        self.level = 0
        self.open_anchors: set[str] = set()
        self.size: dict[int, int] = {}  # nodes and scalar characters in a node's expansion (capped past the budget)
        self.depth: dict[int, int] = {}  # levels in a node's expansion
        self.own: dict[int, set[int]] = {}  # a mapping's own pairs (by id), before merges add others
        self.entries_of: dict[int, dict[t.Any, tuple[Node, Node]]] = {}
        self.duplicates_of: dict[int, list[tuple[Node, Node]]] = {}
        self.merged: set[int] = set()
        self.objects: dict[int, t.Any] = {}

    # -- composing: the bounds ------------------------------------------------

    def compose_node(self, parent: Node | None, index: t.Any) -> Node | None:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            node = super().compose_node(parent, index)  # an undefined alias raises here
            assert node is not None
            at = event.start_mark.index if event.start_mark else 0
            if event.anchor in self.open_anchors:
                raise Refused("MPL011", f"the alias `*{event.anchor}` lies inside the node it names: its value never ends",
                              "write the value out instead of aliasing the node that holds the alias", at)
            if self.level + self.depth[id(node)] > MAX_DEPTH:
                raise Refused("MPL011", f"the alias `*{event.anchor}` nests values more than {MAX_DEPTH} levels deep",
                              "write the values out with less nesting", at)
            self.spent += self.size[id(node)]
            if self.spent > self.budget:
                raise Refused("MPL011", f"aliases expand to more than {self.budget:,} nodes by here (`*{event.anchor}`; a string counts its characters): "
                              "an alias bomb, which a YAML reader builds in memory",
                              "write the values out, or alias fewer large nodes", at)
            return node
        self.level += 1
        if self.level > MAX_DEPTH:
            raise Refused("MPL011", f"the values nest more than {MAX_DEPTH} levels deep here",
                          "write the values out with less nesting", event.start_mark.index)
        anchor = getattr(event, "anchor", None)
        if anchor is not None:
            self.open_anchors.add(anchor)
        node = super().compose_node(parent, index)
        self.open_anchors.discard(anchor)
        self.level -= 1
        assert node is not None  # only an alias composes to nothing
        children: list[Node] = []
        if isinstance(node, SequenceNode):
            children = node.value
        elif isinstance(node, MappingNode):
            children = [n for pair in node.value for n in pair]
            self.own[id(node)] = {id(pair) for pair in node.value}
            if any(key.tag == _MERGE for key, _ in node.value):
                self.merged.add(id(node))
        # A scalar weighs its characters too: one long string aliased thousands of times is a bomb
        # of bytes, not of nodes.
        own = 1 + len(node.value) if isinstance(node, ScalarNode) else 1
        self.size[id(node)] = min(self.budget + 1, own + sum(self.size[id(c)] for c in children))
        self.depth[id(node)] = 1 + max((self.depth[id(c)] for c in children), default=0)
        return node

    # -- constructing: as safe_load, keeping what came from where -----------

    def construct_object(self, node: Node, deep: bool = False) -> t.Any:
        try:
            data = super().construct_object(node, deep=deep)
        except (ValueError, ArithmeticError, LookupError, TypeError) as exc:  # int('9' * 5000), `!!int` of nothing, ...
            raise yaml.constructor.ConstructorError(
                None, None, f"cannot read the value {str(getattr(node, 'value', ''))[:40]!r}: {exc}", node.start_mark,
            ) from None
        self.objects[id(node)] = data
        return data

    def construct_mapping(self, node: Node, deep: bool = False) -> dict[t.Any, t.Any]:
        if not isinstance(node, MappingNode):
            return super().construct_mapping(node, deep=deep)  # type: ignore[arg-type]  # raises: not a mapping
        self.flatten_mapping(node)
        own = self.own.get(id(node), set())
        mapping: dict[t.Any, t.Any] = {}
        entries: dict[t.Any, tuple[Node, Node]] = {}
        own_keys: dict[t.Any, Node] = {}
        for pair in node.value:
            key_node, value_node = pair
            key = self.construct_object(key_node, deep=deep)
            try:
                hash(key)
            except TypeError:
                raise yaml.constructor.ConstructorError("while constructing a mapping", node.start_mark,
                                                        "found unhashable key", key_node.start_mark) from None
            if id(pair) in own:
                earlier = own_keys.get(key)
                if earlier is not None:
                    self.duplicates_of.setdefault(id(node), []).append((earlier, key_node))
                own_keys[key] = key_node
            mapping[key] = self.construct_object(value_node, deep=deep)
            entries[key] = (key_node, value_node)
        self.entries_of[id(node)] = entries
        return mapping


def is_alias_of_earlier(key: Node, value: Node) -> bool:
    """Whether `value`, the value of `key`, was written before the key (an alias of a node elsewhere)."""
    return value.start_mark.index < key.end_mark.index


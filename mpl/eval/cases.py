"""The cases of an evaluation: a YAML suite, or the held-out JSONL that `mpl data` writes.

A YAML suite is a list of cases (or a mapping whose one key `cases` holds it); a
case has an `id`, an optional `task`, a `prompt` or `messages`, an optional
`system`, `expect` (a list of assertions, each one kind and an optional `weight`)
and an optional `reference`. A JSONL file holds one OpenAI chat conversation a line
(`{"messages": [...]}`): the conversation up to its last user turn is the prompt,
the assistant's answer after it the reference, and the case's id is
`<file stem>:<line number>`. Every problem is a diagnostic at its line and column
(MPL040–MPL042); nothing here talks to a server.
"""

from __future__ import annotations

import json
import math
import re
import typing as t
from dataclasses import dataclass, field
from pathlib import Path

from mpl.diagnostics import Diagnostic, Severity, Sink
from mpl.source import SourceFile, Span

#: The assertion kinds and what their value is.
KINDS = ("contains", "not-contains", "regex", "equals", "json", "python")
#: The keys a YAML case may have.
CASE_KEYS = ("id", "task", "prompt", "messages", "system", "expect", "reference")
#: The roles a message may have.
ROLES = ("system", "user", "assistant", "tool")
#: Seconds a `python` check may run unless it says otherwise (`timeout:`).
PYTHON_TIMEOUT = 10.0


@dataclass(slots=True)
class Assertion:
    """One check of an answer: `kind` (one of `KINDS`), its `value`, its `weight`.

    `value` is the text for contains, not-contains, regex and equals; the JSON
    Schema (or None: any valid JSON) for json; the check file's path for python.
    """

    kind: str
    value: t.Any
    weight: float = 1.0
    timeout: float = PYTHON_TIMEOUT  # python only

    def as_dict(self) -> dict[str, t.Any]:
        return {"kind": self.kind, "value": str(self.value) if self.kind == "python" else self.value, "weight": self.weight}


@dataclass(slots=True)
class Case:
    """One case: the messages sent (the last a user turn), what the answer must hold, and its reference."""

    id: str
    task: str | None
    messages: list[dict[str, str]]
    expect: list[Assertion] = field(default_factory=list)
    reference: str | None = None
    span: Span | None = None  # where the case is written
    task_span: Span | None = None

    @property
    def prompt(self) -> str:
        """The last user turn: the short text a report shows."""
        return next((m["content"] for m in reversed(self.messages) if m["role"] == "user"), "")

    def as_dict(self) -> dict[str, t.Any]:
        """The case as the report holds it (`cases` of the JSON)."""
        prompt = self.prompt
        if len(prompt) > 1000:
            prompt = prompt[:1000] + "…"
        return {"id": self.id, "task": self.task, "prompt": prompt, "reference": self.reference,
                "expect": [a.as_dict() for a in self.expect]}

    def for_check(self) -> dict[str, t.Any]:
        """What a `python` check is given as `case`."""
        return {"id": self.id, "task": self.task, "messages": self.messages, "reference": self.reference}


@dataclass(slots=True)
class Suite:
    """The cases read from one file, with the file's diagnostics."""

    source: SourceFile
    sink: Sink
    cases: list[Case]
    io_error: bool = False

    @property
    def has_errors(self) -> bool:
        return self.sink.has_errors

    @property
    def diagnostics(self) -> list[Diagnostic]:
        """The file's diagnostics in the order of the text."""
        return self.sink.sorted()


def load_cases(path: Path) -> Suite:
    """Read a suite: `.jsonl` / `.ndjson` files as held-out conversations, anything else as YAML."""
    from mpl.compiler import read_source

    source, sink, io_error = read_source(path)
    suite = Suite(source, sink, [], io_error)
    if io_error or sink.has_errors:
        return suite
    if path.suffix.lower() in (".jsonl", ".ndjson"):
        _read_jsonl(suite, path.stem)
    else:
        _read_yaml(suite, path.resolve().parent)
    if not suite.cases and not suite.has_errors:
        sink.report("MPL040", None, f"`{source.path}` holds no cases", help=_SHAPE_HELP)
    return suite


_SHAPE_HELP = "write a list of cases, each with an `id` and a `prompt` (or `messages`); docs/eval.md shows one"


# -- JSONL ------------------------------------------------------------------------------


def _read_jsonl(suite: Suite, stem: str) -> None:
    text = suite.source.text
    offset = unsent = 0
    first_unsent: Span | None = None
    for number, line in enumerate(text.splitlines(keepends=True), start=1):
        start, offset = offset, offset + len(line)
        body = line.strip()
        if not body:
            continue
        at = Span(start + (len(line) - len(line.lstrip())), start + len(line.rstrip("\r\n")))
        try:
            record = json.loads(body)
        except (ValueError, RecursionError) as exc:
            why = exc.msg if isinstance(exc, json.JSONDecodeError) else "nested too deeply"
            suite.sink.report("MPL040", at, f"line {number} is not JSON ({why})",
                              help="each line holds one conversation: {\"messages\": [{\"role\": ..., \"content\": ...}, ...]}")
            continue
        case = _conversation(suite.sink, record, f"{stem}:{number}", at)
        if case is not None:
            suite.cases.append(case)
            if first_unsent is None and _unsent(record):
                first_unsent = at
            unsent += bool(_unsent(record))
    if first_unsent is not None:
        what = "conversation holds" if unsent == 1 else f"{unsent} conversations hold"
        suite.sink.report("MPL041", first_unsent, f"this {what} tool calls or fields other than `role` and `content`, which are not sent: "
                          "each message is sent as its role and text", severity=Severity.WARNING,
                          help="a tool's output still reaches the model as its `tool` message; fold tool turns (`mpl data --tools fold`) to keep the calls as text")


def _unsent(record: dict[str, t.Any]) -> list[str]:
    """The fields of a held-out line that `mpl eval` does not send (tool definitions, tool calls, …)."""
    extra = [key for key in record if key != "messages"]
    extra += [key for message in record["messages"] for key in message if key not in ("role", "content")]
    return extra


def _conversation(sink: Sink, record: t.Any, case_id: str, at: Span) -> Case | None:
    """A held-out line as a case: the messages up to the last user turn, the answer after it the reference."""
    messages = record.get("messages") if isinstance(record, dict) else None
    if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
        sink.report("MPL041", at, f"case `{case_id}`: the line is not a conversation (an object with a list `messages`)",
                    help="each line holds one conversation: {\"messages\": [{\"role\": ..., \"content\": ...}, ...]}")
        return None
    plain: list[dict[str, str]] = []
    for message in messages:
        role, content = message.get("role"), message.get("content")
        if role not in ROLES or not isinstance(content, str):
            sink.report("MPL041", at, f"case `{case_id}`: a message needs a `role` ({', '.join(ROLES)}) and a text `content`")
            return None
        plain.append({"role": role, "content": content})
    last_user = max((i for i, m in enumerate(plain) if m["role"] == "user"), default=None)
    if last_user is None:
        sink.report("MPL041", at, f"case `{case_id}`: the conversation has no user turn to send")
        return None
    answers = [m["content"] for m in plain[last_user + 1:] if m["role"] == "assistant"]
    return Case(case_id, None, plain[:last_user + 1], [], answers[-1] if answers else None, at)


# -- YAML ---------------------------------------------------------------------------------


def _read_yaml(suite: Suite, folder: Path) -> None:
    from yaml.nodes import MappingNode, SequenceNode

    from mpl.yamlread import Refused, read_yaml

    source, sink = suite.source, suite.sink
    try:
        doc = read_yaml(source.text)
    except Refused as exc:
        code = "MPL011" if exc.code == "MPL011" else "MPL040"
        sink.report(code, None if exc.offset is None else Span(exc.offset, exc.offset), exc.message, help=exc.help)
        return
    reader = _Reader(sink, doc)
    root = doc.root
    if isinstance(root, MappingNode) and set(doc.entries(root)) == {"cases"}:
        root = doc.get(root, "cases")
    if not isinstance(root, SequenceNode):
        what = "is empty" if root is None else "is not a list of cases"
        sink.report("MPL040", None if root is None else reader.span(root), f"`{source.path}` {what}", help=_SHAPE_HELP)
        return
    seen: dict[str, Span] = {}
    for node in root.value:
        case = reader.case(node, folder)
        if case is None:
            continue
        if case.id in seen:
            sink.report("MPL041", case.span, f"a second case with the id `{case.id}`", help="give every case its own id")
            continue
        seen[case.id] = case.span or Span(0, 0)
        suite.cases.append(case)


class _Reader:
    """The cases of a YAML document, each value checked where it is written."""

    def __init__(self, sink: Sink, doc: t.Any) -> None:
        self.sink = sink
        self.doc = doc

    def span(self, node: t.Any) -> Span:
        return Span(node.start_mark.index, max(node.start_mark.index, node.end_mark.index))

    def error(self, code: str, node: t.Any, message: str, help: str | None = None) -> None:
        self.sink.report(code, self.span(node), message, help=help)

    def text(self, node: t.Any, what: str, code: str = "MPL041") -> str | None:
        value = self.doc.value(node)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and what.endswith("`id`"):
            return str(value)
        if not isinstance(value, str):
            self.error(code, node, f"{what} is {_kind(value)}, not a text", help="quote it: \"...\"")
            return None
        return value

    def case(self, node: t.Any, folder: Path) -> Case | None:
        from yaml.nodes import MappingNode

        if not isinstance(node, MappingNode):
            self.error("MPL041", node, f"a case is a mapping of {', '.join(f'`{k}`' for k in CASE_KEYS)}, not {_kind(self.doc.value(node))}")
            return None
        entries = self.doc.entries(node)
        for key, (key_node, _) in entries.items():
            if key not in CASE_KEYS:
                near = _near(str(key), CASE_KEYS)
                self.error("MPL041", key_node, f"unknown key `{key}` in a case", help=f"did you mean `{near}`?" if near else
                           f"a case has {', '.join(f'`{k}`' for k in CASE_KEYS)}")
        for overridden, _winner in self.doc.duplicates(node):
            self.error("MPL041", overridden, f"`{self.doc.value(overridden)}` is given twice in this case; the later one would count")
        id_node = self.doc.get(node, "id")
        if id_node is None:
            self.error("MPL041", node, "a case without an `id`", help="add `id: some-name`: reports and comparisons pair runs by it")
            return None
        case_id = self.text(id_node, "the `id`")
        if case_id is None:
            return None
        if not case_id.strip():
            self.error("MPL041", id_node, "the `id` is empty")
            return None
        task = None
        task_node = self.doc.get(node, "task")
        if task_node is not None:
            task = self.text(task_node, f"case `{case_id}`: `task`")
        messages = self.messages(node, case_id)
        expect = self.expect(node, case_id, folder)
        reference = None
        ref_node = self.doc.get(node, "reference")
        if ref_node is not None:
            reference = self.text(ref_node, f"case `{case_id}`: `reference`")
        if messages is None or expect is None:
            return None
        return Case(case_id, task, messages, expect, reference, self.span(id_node),
                    None if task_node is None else self.span(task_node))

    def messages(self, node: t.Any, case_id: str) -> list[dict[str, str]] | None:
        from yaml.nodes import MappingNode, SequenceNode

        prompt_node, messages_node, system_node = (self.doc.get(node, k) for k in ("prompt", "messages", "system"))
        system = None if system_node is None else self.text(system_node, f"case `{case_id}`: `system`")
        if system_node is not None and system is None:
            return None
        if (prompt_node is None) == (messages_node is None):
            where = node if prompt_node is None else messages_node
            self.error("MPL041", where, f"case `{case_id}` needs {'a `prompt` or `messages`' if prompt_node is None else 'a `prompt` or `messages`, not both'}",
                       help="`prompt: ...` for one user turn; `messages:` for a conversation that ends with one")
            return None
        out: list[dict[str, str]] = [{"role": "system", "content": system}] if system is not None else []
        if prompt_node is not None:
            prompt = self.text(prompt_node, f"case `{case_id}`: `prompt`")
            if prompt is None:
                return None
            return [*out, {"role": "user", "content": prompt}]
        if not isinstance(messages_node, SequenceNode) or not messages_node.value:
            self.error("MPL041", messages_node, f"case `{case_id}`: `messages` is a list of {{role, content}} mappings")
            return None
        for item in messages_node.value:
            role_node = self.doc.get(item, "role") if isinstance(item, MappingNode) else None
            content_node = self.doc.get(item, "content") if isinstance(item, MappingNode) else None
            if role_node is None or content_node is None or set(self.doc.entries(item)) - {"role", "content"}:
                self.error("MPL041", item, f"case `{case_id}`: a message is a mapping of `role` and `content`")
                return None
            role = self.doc.value(role_node)
            if role not in ROLES:
                near = _near(str(role), ROLES)
                self.error("MPL041", role_node, f"case `{case_id}`: unknown role `{role}`",
                           help=f"did you mean `{near}`?" if near else f"a role is one of {', '.join(ROLES)}")
                return None
            content = self.text(content_node, f"case `{case_id}`: a message's `content`")
            if content is None:
                return None
            if role == "system" and system is not None:
                self.error("MPL041", role_node, f"case `{case_id}` has both `system` and a system message", help="keep one of them")
                return None
            out.append({"role": role, "content": content})
        if out[-1]["role"] != "user":
            self.error("MPL041", messages_node.value[-1], f"case `{case_id}`: the last message is not a user turn, so there is nothing to answer",
                       help="end `messages` with `role: user`; put an expected answer in `reference`")
            return None
        return out

    def expect(self, node: t.Any, case_id: str, folder: Path) -> list[Assertion] | None:
        from yaml.nodes import MappingNode, SequenceNode

        expect_node = self.doc.get(node, "expect")
        if expect_node is None or self.doc.value(expect_node) is None:
            return []
        if not isinstance(expect_node, SequenceNode):
            self.error("MPL042", expect_node, f"case `{case_id}`: `expect` is a list of assertions",
                       help="- contains: \"text\"   (one assertion a line)")
            return None
        out: list[Assertion] = []
        ok = True
        for item in expect_node.value:
            if not isinstance(item, MappingNode):
                self.error("MPL042", item, f"case `{case_id}`: an assertion is a mapping such as `contains: \"text\"`",
                           help=f"the kinds are {', '.join(KINDS)}")
                ok = False
                continue
            assertion = self.assertion(item, case_id, folder)
            ok = ok and assertion is not None
            if assertion is not None:
                out.append(assertion)
        return out if ok else None

    def assertion(self, node: t.Any, case_id: str, folder: Path) -> Assertion | None:
        entries = self.doc.entries(node)
        kinds = [k for k in entries if k in KINDS]
        for key, (key_node, _) in entries.items():
            if key not in KINDS and key not in ("weight", "timeout"):
                near = _near(str(key), (*KINDS, "weight", "timeout"))
                self.error("MPL042", key_node, f"case `{case_id}`: unknown assertion `{key}`",
                           help=f"did you mean `{near}`?" if near else f"the kinds are {', '.join(KINDS)}")
                return None
        if len(kinds) != 1:
            self.error("MPL042", node, f"case `{case_id}`: an assertion has one kind ({', '.join(KINDS)}), not {len(kinds)}")
            return None
        kind = kinds[0]
        value_node = entries[kind][1]
        weight = self.number(entries.get("weight"), case_id, "weight", 1.0)
        timeout = self.number(entries.get("timeout"), case_id, "timeout", PYTHON_TIMEOUT)
        if weight is None or timeout is None:
            return None
        if "timeout" in entries and kind != "python":
            self.error("MPL042", entries["timeout"][0], f"case `{case_id}`: only a `python` assertion has a `timeout`")
            return None
        value = self.doc.value(value_node)
        if kind == "json":
            return self.json_assertion(value_node, value, case_id, weight)
        text = self.text(value_node, f"case `{case_id}`: `{kind}`", code="MPL042")
        if text is None:
            return None
        if kind == "regex":
            try:
                re.compile(text)
            except re.error as exc:
                self.error("MPL042", value_node, f"case `{case_id}`: the regex does not compile: {exc}")
                return None
        if kind == "python":
            path = (folder / text).resolve()
            if not path.is_file():
                self.error("MPL042", value_node, f"case `{case_id}`: the check file `{text}` does not exist (looked for {path})",
                           help="a path relative to the cases file, to a Python file defining `check(output, case) -> bool`")
                return None
            return Assertion(kind, path, weight, timeout)
        return Assertion(kind, text, weight)

    def json_assertion(self, node: t.Any, value: t.Any, case_id: str, weight: float) -> Assertion | None:
        if value is True or value is None:
            return Assertion("json", None, weight)
        schema = value.get("schema") if isinstance(value, dict) and set(value) == {"schema"} else None
        if not isinstance(schema, dict):
            self.error("MPL042", node, f"case `{case_id}`: `json` is `true` (any valid JSON) or `{{schema: {{...}}}}` (a JSON Schema)")
            return None
        try:
            import jsonschema  # type: ignore[import-untyped]
        except ImportError:  # pragma: no cover - a dependency of mpl
            self.error("MPL042", node, f"case `{case_id}`: checking a JSON Schema needs the `jsonschema` package")
            return None
        try:
            jsonschema.validators.validator_for(schema).check_schema(schema)
        except jsonschema.SchemaError as exc:
            self.error("MPL042", node, f"case `{case_id}`: not a valid JSON Schema: {exc.message}")
            return None
        return Assertion("json", schema, weight)

    def number(self, entry: tuple[t.Any, t.Any] | None, case_id: str, what: str, default: float) -> float | None:
        if entry is None:
            return default
        value = self.doc.value(entry[1])
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0 \
                or (what == "timeout" and not 0 < value <= 3600):
            limit = "a number of seconds above 0 and at most 3600" if what == "timeout" else "a number, 0 or more"
            self.error("MPL042", entry[1], f"case `{case_id}`: `{what}` is {limit}, not `{value}`")
            return None
        return float(value)


def _kind(value: t.Any) -> str:
    if value is None:
        return "empty"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return "a text"


def _near(name: str, candidates: t.Iterable[str]) -> str | None:
    from mpl.compiler.names import suggest

    return suggest(name, candidates)

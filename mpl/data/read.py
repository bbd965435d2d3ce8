"""Read conversations for `mpl data`: Meton's files, web sessions and exports, OpenAI and ShareGPT records.

Every reader turns its input into `Record`s: one conversation each, with a
session id and its messages in one normal form (`Message`). A file that is not
one of the shapes below is a `Problem` naming it (and the line and column of a
JSON syntax error), never a guess:

- a Meton conversation file, `{"session_id", "start_time", "messages": [...]}`;
- a Meton web session, `{"id", "created_at", "conversation_history": [...]}`;
- a Meton export, `{"export_metadata": {...}, "conversations": [conversation files...]}`;
- an OpenAI chat record `{"messages": [...]}` or a ShareGPT record `{"conversations": [...]}`,
  one per line of a `.jsonl` file, or a JSON array of them, or one alone.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
import typing as t
from dataclasses import dataclass, field
from pathlib import Path

import msgspec

#: The most `mpl data` reads of one JSON file (an export holds every conversation): 256 MiB.
JSON_LIMIT = 256 * 1024 * 1024
#: The most one line of a `.jsonl` file may hold.
LINE_LIMIT = 16 * 1024 * 1024

ROLES = ("system", "user", "assistant", "tool")
_SHAREGPT_ROLES = {"system": "system", "human": "user", "user": "user", "gpt": "assistant",
                   "assistant": "assistant", "observation": "tool", "function_call": "assistant"}


@dataclass(slots=True)
class Message:
    """One message in normal form; `calls` and `call_id` only where the input stored real tool calls."""

    role: str
    content: str
    name: str | None = None  # the tool's name, for a tool message
    action: str | None = None  # Meton's tool action
    error: bool = False  # Meton's failed assistant turn
    model: str | None = None
    calls: list[t.Any] | None = None  # OpenAI `tool_calls`, as given
    call_id: str | None = None  # OpenAI `tool_call_id`, as given

    def key(self) -> bytes:
        """What makes two messages the same for prefix matching and duplicates."""
        return msgspec.json.encode([self.role, self.content, self.name, self.action, self.error, self.calls, self.call_id])


@dataclass(slots=True)
class Record:
    """One conversation read from an input: where it is, its session and its messages."""

    session: str
    messages: list[Message]
    start: str | None  # ISO time the conversation started, where the input says
    where: str  # the file (and line, or index in an export) for messages
    index: int  # position within its file: the same on every read
    kind: str  # "meton", "web", "export", "openai", "sharegpt"
    tools: list[t.Any] | None = None  # OpenAI `tools`, as given


@dataclass(slots=True)
class Problem:
    """An input that cannot be read: a diagnostic code, the file, and where in it."""

    code: str
    path: str
    message: str
    line: int | None = None
    col: int | None = None
    line_text: str | None = None
    help: str | None = None


class ReadError(Exception):
    """An input could not be read; `problem` says why (exit 1, or 2 for MPL001)."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.message)
        self.problem = problem


@dataclass(slots=True)
class Input:
    """One input file: its path and, once read, its sha256 and size."""

    path: Path
    sha256: str = ""
    size: int = 0
    records: int = 0
    meta: dict[str, t.Any] = field(default_factory=dict)


def find_inputs(sources: t.Sequence[Path], outputs: t.Sequence[Path] = ()) -> list[Input]:
    """The files named, with a folder standing for its `.json` and `.jsonl` files (sorted, recursively).

    A folder's files that are this run's `outputs` (an earlier run's training file and
    manifest, written into the folder read) are not inputs.
    """
    skip = {os.path.realpath(p) for p in outputs}
    found: list[Input] = []
    for source in sources:
        try:
            info = os.stat(source)
        except OSError as exc:
            raise ReadError(Problem("MPL001", str(source), f"cannot read `{source}`: {exc.strerror or exc}")) from None
        if stat.S_ISDIR(info.st_mode):
            inside = sorted(p for p in source.rglob("*") if p.suffix in (".json", ".jsonl") and p.is_file())
            if not inside:
                raise ReadError(Problem("MPL022", str(source), f"the folder `{source}` holds no .json or .jsonl file",
                                        help="name Meton's `conversations/` or `web_sessions/` folder, or the files themselves"))
            found.extend(Input(p) for p in inside if os.path.realpath(p) not in skip)
        else:
            found.append(Input(source))
    return found


def read_records(item: Input) -> t.Iterator[Record]:
    """The conversations of one input, in file order; sets `item.sha256` and `item.size` once read."""
    if item.path.suffix == ".jsonl":
        yield from _read_jsonl(item)
        return
    data = _read_bytes(item.path, JSON_LIMIT)
    item.sha256 = hashlib.sha256(data).hexdigest()
    item.size = len(data)
    value = _decode(data, str(item.path))
    yield from _records_of(value, str(item.path), item)


def _read_bytes(path: Path, limit: int) -> bytes:
    from mpl.source import read_file

    try:
        return read_file(path, limit, whole=True)
    except OSError as exc:
        raise ReadError(Problem("MPL001", str(path), f"cannot read `{path}`: {exc.strerror or exc}")) from None


def _decode(data: bytes, path: str, line: int | None = None) -> t.Any:
    """JSON from bytes, or a `ReadError` (MPL020) pointing at the place of the first error."""
    try:
        return msgspec.json.decode(data)
    except (msgspec.DecodeError, RecursionError) as exc:
        if isinstance(exc, RecursionError):
            reason, offset = "it nests arrays or objects too deeply to read", 0
        else:
            match = re.search(r"\(byte (\d+)\)", str(exc))
            offset = int(match.group(1)) if match else 0
            reason = str(exc).split(" (byte")[0].replace("JSON is malformed: ", "")
            if match is None and "truncated" in reason:  # cut short (an interrupted save): point where it stops
                offset, reason = len(data.rstrip()), "it ends before its JSON does"
        text = data[:offset].decode("utf-8", "replace")
        row = text.count("\n")
        col = len(text) - (text.rfind("\n") + 1) + 1
        line_start = data.rfind(b"\n", 0, offset) + 1
        line_end = data.find(b"\n", offset)
        shown = data[line_start: line_end if line_end >= 0 else len(data)].decode("utf-8", "replace")
        if line is not None:
            row = line - 1
        raise ReadError(Problem("MPL020", path, f"`{path}` is not valid JSON: {reason}", row + 1, col, shown)) from None


def _read_jsonl(item: Input) -> t.Iterator[Record]:
    """A `.jsonl` file, one record a line, read a line at a time (blank lines are skipped)."""
    from mpl.source import file_kind

    path = item.path
    try:
        info = os.stat(path)
        if not stat.S_ISREG(info.st_mode):
            raise OSError(0, f"it is {file_kind(info.st_mode)}, not a regular file")
        handle = open(path, "rb")  # noqa: SIM115  (closed below)
    except OSError as exc:
        raise ReadError(Problem("MPL001", str(path), f"cannot read `{path}`: {exc.strerror or exc}")) from None
    digest = hashlib.sha256()
    size = 0
    number = 0
    with handle:
        while True:
            raw = handle.readline(LINE_LIMIT + 1)
            if not raw:
                break
            number += 1
            digest.update(raw)
            size += len(raw)
            if len(raw) > LINE_LIMIT:
                raise ReadError(Problem("MPL020", str(path), f"line {number} of `{path}` is longer than {LINE_LIMIT} bytes", number, 1))
            if not raw.strip():
                continue
            value = _decode(raw, str(path), number)
            where = f"{path}:{number}"
            record = _example(value, where, number, str(path))
            if record is None:
                raise ReadError(_shape(str(path), "a line that is neither an OpenAI chat record (`messages`) nor a ShareGPT record (`conversations`)", number, raw))
            yield record
    item.sha256 = digest.hexdigest()
    item.size = size


def _shape(path: str, what: str, line: int | None = None, raw: bytes | None = None) -> Problem:
    shown = raw.decode("utf-8", "replace").rstrip("\r\n") if raw is not None else None
    return Problem("MPL021", path, f"`{path}` holds {what}", line, 1 if line else None, shown,
                   help="mpl data reads Meton's conversation files, web sessions and exports, and OpenAI or ShareGPT records")


def _records_of(value: t.Any, path: str, item: Input) -> t.Iterator[Record]:
    if isinstance(value, dict):
        if "export_metadata" in value or ("conversations" in value and isinstance(value.get("conversations"), list)
                                          and value["conversations"] and isinstance(value["conversations"][0], dict)
                                          and "messages" in value["conversations"][0]):
            conversations = value.get("conversations")
            if not isinstance(conversations, list):
                kind = value.get("export_metadata", {}).get("export_type") if isinstance(value.get("export_metadata"), dict) else None
                raise ReadError(_shape(path, f"a Meton export without conversations (export_type {kind!r})"))
            for number, conv in enumerate(conversations):
                if not isinstance(conv, dict) or "messages" not in conv:
                    raise ReadError(_shape(path, f"an export whose `conversations[{number}]` is not a Meton conversation"))
                yield _meton(conv, f"{path}#conversations[{number}]", number, path, "export")
            return
        if "session_id" in value and "messages" in value:
            yield _meton(value, path, 0, path, "meton")
            return
        if "conversation_history" in value:
            yield _web(value, path)
            return
        record = _example(value, path, 0, path)
        if record is not None:
            yield record
            return
        keys = ", ".join(f"`{k}`" for k in list(value)[:6]) or "no keys"
        raise ReadError(_shape(path, f"a JSON object of another shape ({keys})"))
    if isinstance(value, list):
        for number, entry in enumerate(value):
            record = _example(entry, f"{path}#{number}", number, path)
            if record is None:
                raise ReadError(_shape(path, f"a JSON array whose item {number} is neither an OpenAI chat record nor a ShareGPT record"))
            yield record
        if not value:
            raise ReadError(Problem("MPL022", path, f"`{path}` is an empty JSON array: no conversation"))
        return
    raise ReadError(_shape(path, f"a JSON {type(value).__name__.replace('str', 'string').replace('NoneType', 'null')}, not a conversation"))


def _text(value: t.Any, path: str, where: str) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(p, dict) and isinstance(p.get("text"), str) for p in value):
        return "".join(p["text"] for p in value)  # OpenAI content parts of type text
    raise ReadError(_shape(path, f"a message whose content is not text ({where})"))


def _meton_messages(raw: t.Any, path: str, field_name: str) -> list[Message]:
    if not isinstance(raw, list):
        raise ReadError(_shape(path, f"a `{field_name}` that is not a list"))
    out: list[Message] = []
    for number, msg in enumerate(raw):
        where = f"`{field_name}[{number}]`"
        if not isinstance(msg, dict) or msg.get("role") not in ROLES:
            role = msg.get("role") if isinstance(msg, dict) else None
            raise ReadError(_shape(path, f"a message of unknown role {role!r} at {where}"))
        meta = msg.get("metadata") or {}
        if not isinstance(meta, dict):
            raise ReadError(_shape(path, f"a `metadata` that is not an object at {where}"))
        tool = meta.get("tool_name")
        action = meta.get("action")
        model = meta.get("model")
        out.append(Message(
            msg["role"], _text(msg.get("content"), path, where),
            name=tool if isinstance(tool, str) else None,
            action=action if isinstance(action, str) else None,
            error=meta.get("error") is True,
            model=model if isinstance(model, str) else None,
        ))
    return out


def _meton(value: dict[str, t.Any], where: str, index: int, path: str, kind: str) -> Record:
    session = value.get("session_id")
    if not isinstance(session, str) or not session:
        raise ReadError(_shape(path, f"a conversation without a `session_id` string ({where})"))
    start = value.get("start_time")
    return Record(session, _meton_messages(value.get("messages"), path, "messages"),
                  start if isinstance(start, str) else None, where, index, kind)


def _web(value: dict[str, t.Any], path: str) -> Record:
    session = value.get("id")
    if not isinstance(session, str) or not session:
        raise ReadError(_shape(path, "a web session without an `id` string"))
    start = value.get("created_at")
    return Record(session, _meton_messages(value.get("conversation_history"), path, "conversation_history"),
                  start if isinstance(start, str) else None, path, 0, "web")


def _example(value: t.Any, where: str, index: int, path: str) -> Record | None:
    """An OpenAI or ShareGPT record, or None when `value` is neither."""
    if not isinstance(value, dict):
        return None
    if isinstance(value.get("messages"), list):
        messages = []
        for number, msg in enumerate(value["messages"]):
            here = f"{where} `messages[{number}]`"
            if not isinstance(msg, dict) or msg.get("role") not in ROLES:
                raise ReadError(_shape(path, f"a message of unknown role at {here}"))
            calls = msg.get("tool_calls")
            name = msg.get("name")
            call_id = msg.get("tool_call_id")
            messages.append(Message(msg["role"], _text(msg.get("content"), path, here),
                                    name=name if isinstance(name, str) else None,
                                    calls=calls if isinstance(calls, list) and calls else None,
                                    call_id=call_id if isinstance(call_id, str) else None))
        tools = value.get("tools")
        return Record(_content_id(messages), messages, None, where, index, "openai",
                      tools if isinstance(tools, list) else None)
    if isinstance(value.get("conversations"), list):
        messages = []
        system = value.get("system")
        if isinstance(system, str) and system:
            messages.append(Message("system", system))
        for number, msg in enumerate(value["conversations"]):
            here = f"{where} `conversations[{number}]`"
            said = msg.get("from") if isinstance(msg, dict) else None
            role = _SHAREGPT_ROLES.get(said) if isinstance(said, str) else None
            if role is None:
                raise ReadError(_shape(path, f"a ShareGPT turn of unknown `from` at {here}"))
            content = _text(msg.get("value"), path, here)
            if msg["from"] == "function_call":  # a real call: keep it as one
                try:
                    call = msgspec.json.decode(content)
                except msgspec.DecodeError:
                    call = None
                if isinstance(call, dict) and isinstance(call.get("name"), str):
                    arguments = call.get("arguments")
                    messages.append(Message("assistant", "", calls=[{"type": "function", "function": {
                        "name": call["name"],
                        "arguments": arguments if isinstance(arguments, str) else msgspec.json.encode(arguments).decode()}}]))
                    continue
            messages.append(Message(role, content))
        return Record(_content_id(messages), messages, None, where, index, "sharegpt")
    return None


def _content_id(messages: list[Message]) -> str:
    """A record without a session id is its own session, named by its content."""
    digest = hashlib.sha256()
    for msg in messages:
        digest.update(msg.key())
    return "sha256:" + digest.hexdigest()[:16]

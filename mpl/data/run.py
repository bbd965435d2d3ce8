"""`mpl data`: read every input twice, write train, held-out and manifest files at once.

The first pass reads each input one conversation at a time and keeps, per
session, only its longest conversation's running hashes (one small digest per
message) and, for each shorter file of the session, its length and final hash:
enough to tell whether it is a prefix of the longest, without keeping messages.
Every input problem is found in this pass, before anything is written. The
second pass reads the inputs again, one conversation at a time, and writes the
longest conversation of each session (redacted, converted, deduplicated, split
by session) to temporary files that become the outputs together at the end.
"""

from __future__ import annotations

import datetime
import hashlib
import typing as t
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import msgspec

from mpl.data.convert import convert, prepare
from mpl.data.read import (
    Input,
    Message,
    Problem,
    ReadError,
    Record,
    find_inputs,
    read_records,
)

MANIFEST_VERSION = 1


@dataclass
class Options:
    sources: list[Path]
    output: Path
    format: str = "openai"
    base: Path | None = None
    template: str | None = None
    holdout: float = 0.0
    seed: int = 0
    tools: str = "keep"
    redact: bool = True
    since: str | None = None
    until: str | None = None
    min_turns: int = 1
    model: str | None = None

    def as_json(self) -> dict[str, t.Any]:
        return {"format": self.format, "base": str(self.base) if self.base else None, "template": self.template,
                "holdout": self.holdout, "seed": self.seed, "tools": self.tools, "redact": self.redact,
                "since": self.since, "until": self.until, "min_turns": self.min_turns, "model": self.model}


@dataclass
class Result:
    """What a run did: its counts, the files it wrote, and warnings about inputs."""

    counts: dict[str, t.Any]
    outputs: list[Path]
    warnings: list[Problem] = field(default_factory=list)


class DataError(Exception):
    """A problem that stops the run before anything is written: a `Problem`, or an I/O message (exit 2)."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.message)
        self.problem = problem


def output_paths(output: Path, holdout: bool) -> list[Path]:
    """`train.jsonl` → train.jsonl, train.holdout.jsonl (with a held-out share) and train.manifest.json.

    >>> [p.name for p in output_paths(Path("out/train.jsonl"), True)]
    ['train.jsonl', 'train.holdout.jsonl', 'train.manifest.json']
    """
    stem, suffix = output.stem, output.suffix
    paths = [output]
    if holdout:
        paths.append(output.with_name(f"{stem}.holdout{suffix}"))
    paths.append(output.with_name(f"{stem}.manifest.json"))
    return paths


def held_out(session: str, seed: int, fraction: float) -> bool:
    """Whether a session goes to the held-out file: its hash with the seed, below the fraction.

    The decision depends on the session alone, so a session stays on its side when
    more conversations are added later.

    >>> held_out("abc", 7, 0.0), held_out("abc", 7, 1.0)
    (False, True)
    """
    digest = hashlib.sha256(f"{seed}\0{session}".encode()).digest()
    return int.from_bytes(digest[:8], "big") < fraction * 2**64


def _chain(previous: bytes, msg: Message) -> bytes:
    return hashlib.blake2b(previous + msg.key(), digest_size=12).digest()


@dataclass(slots=True)
class _Session:
    best: tuple[int, int]  # (input number, record index) of the longest conversation
    where: str
    length: int  # its number of messages
    hashes: list[bytes]  # the running hash after each of its messages (only the last, for a record named by its content)
    others: list[tuple[int, bytes, str]]  # (length, final hash, where) of the session's other files

    def hash_at(self, length: int) -> bytes | None:
        """The running hash after `length` messages of the longest conversation, where it is kept."""
        if len(self.hashes) == self.length:
            return self.hashes[length - 1]
        return self.hashes[-1] if length == self.length else None


#: Records with no session id of their own (OpenAI, ShareGPT): named by their content, so
#: only the same content shares their name, and one hash tells it.
_NAMED_BY_CONTENT = ("openai", "sharegpt")


def scan(inputs: list[Input], progress: t.Callable[[], None] | None = None) -> dict[str, _Session]:
    """Pass 1: every input read, sessions found, longest conversation chosen; raises `ReadError`."""
    sessions: dict[str, _Session] = {}
    for number, item in enumerate(inputs):
        for record in read_records(item):
            item.records += 1
            hashes: list[bytes] = []
            running = b""
            for msg in record.messages:
                running = _chain(running, msg)
                hashes.append(running)
            length = len(hashes)
            if record.kind in _NAMED_BY_CONTENT:
                hashes = hashes[-1:]
            state = sessions.get(record.session)
            if state is None:
                sessions[record.session] = _Session((number, record.index), record.where, length, hashes, [])
            elif length > state.length:
                state.others.append((state.length, state.hashes[-1] if state.hashes else b"", state.where))
                state.best, state.where, state.length, state.hashes = (number, record.index), record.where, length, hashes
            else:
                state.others.append((length, running, record.where))
        if progress is not None:
            progress()
    return sessions


def compare(sessions: dict[str, _Session]) -> t.Iterator[tuple[str, str, str, str]]:
    """(verdict, session, file, longest file) for each shorter (or equal) file of a session.

    The verdict is `prefix` (a save of the session's beginning: the longest holds it),
    `duplicate` (the same conversation again) or `not-a-prefix`.
    """
    for session, state in sessions.items():
        for length, final, where in state.others:
            if length and state.hash_at(length) != final:
                verdict = "not-a-prefix"
            else:
                verdict = "duplicate" if length == state.length else "prefix"
            yield verdict, session, where, state.where


def _keep_session(record: Record, messages: list[Message], options: Options, dropped: Counter[str]) -> bool:
    start = (record.start or "")[:len(options.since or options.until or "")]
    if options.since and (not record.start or start < options.since):
        dropped["before-since"] += 1
        return False
    if options.until and (not record.start or start > options.until):
        dropped["after-until"] += 1
        return False
    if options.model and not any(m.model == options.model for m in messages if m.role == "assistant"):
        dropped["other-model"] += 1
        return False
    replies = sum(1 for m in messages if m.role == "assistant")
    if replies == 0:
        dropped["no-reply"] += 1
        return False
    if replies < options.min_turns:
        dropped["min-turns"] += 1
        return False
    return True


def _redact(messages: list[Message], redactor: t.Any) -> None:
    for msg in messages:
        msg.content = redactor.redact(msg.content)
        if msg.calls:
            for call in msg.calls:
                function = call.get("function") if isinstance(call, dict) else None
                if isinstance(function, dict) and isinstance(function.get("arguments"), str):
                    function["arguments"] = redactor.redact(function["arguments"])


def run(options: Options, *, progress: t.Any = None, template: t.Any = None) -> Result:
    """Read, convert and write; raises `DataError` (nothing written) or `mpl.output.OutputError`.

    `progress` is an object with `start(total)` and `advance()` (the terminal's bar);
    `template` renders conversations for the `text` format (`mpl.chat`'s interface).
    """
    from mpl.output import StreamedOutputs

    try:
        inputs = find_inputs(options.sources, output_paths(options.output, True))
        if progress is not None:
            progress.start(2 * len(inputs))
        sessions = scan(inputs, progress.advance if progress is not None else None)
    except ReadError as exc:
        raise DataError(exc.problem) from None
    if not sessions:
        names = ", ".join(f"`{s}`" for s in options.sources)
        raise DataError(Problem("MPL022", str(options.sources[0]), f"no conversation in {names}"))
    dropped: Counter[str] = Counter()
    warnings = []
    prefixes = 0
    for verdict, session, where, longest in compare(sessions):
        if verdict == "prefix":
            prefixes += 1
            continue
        dropped[verdict] += 1
        if verdict == "duplicate":
            continue
        warnings.append(Problem("MPL023", where.split("#")[0],
                                f"`{where}` has the session id {session} of `{longest}` but is not its beginning; left out",
                                help=f"`{longest}` is the session's longest file; give this file on its own if it should be trained on"))
    chosen = {state.best: session for session, state in sessions.items()}
    redactor = None
    if options.redact:
        from mpl.data.redact import Redactor

        redactor = Redactor()
    folded: Counter[str] = Counter()
    seen: set[bytes] = set()
    counts = Counter({"train": 0, "holdout": 0})
    split: dict[str, list[str]] = {"train": [], "holdout": []}
    paths = output_paths(options.output, options.holdout > 0)
    encoder = msgspec.json.Encoder()
    with StreamedOutputs(paths) as handles:
        train, holdout = handles[0], (handles[1] if options.holdout > 0 else None)
        for number, item in enumerate(inputs):
            first = item.sha256
            try:
                for record in read_records(item):
                    owner = chosen.get((number, record.index))
                    if owner is None or owner != record.session:
                        continue
                    session = owner
                    messages = prepare(record.messages, options.tools, dropped)
                    if not _keep_session(record, messages, options, dropped):
                        continue
                    if redactor is not None:
                        _redact(messages, redactor)
                    example = convert(messages, options.format, options.tools, record.tools, folded)
                    if template is not None:
                        data = _render(template, example, record, options)
                    else:
                        data = encoder.encode(example) + b"\n"
                    digest = hashlib.blake2b(data, digest_size=16).digest()
                    if digest in seen:
                        dropped["duplicate"] += 1
                        continue
                    seen.add(digest)
                    side = "holdout" if holdout is not None and held_out(session, options.seed, options.holdout) else "train"
                    (holdout if side == "holdout" and holdout is not None else train).write(data)
                    counts[side] += 1
                    split[side].append(session)
            except ReadError as exc:
                raise DataError(exc.problem) from None
            if item.sha256 != first:
                raise DataError(Problem("MPL001", str(item.path), f"`{item.path}` changed while mpl data read it; nothing was written"))
            if progress is not None:
                progress.advance()
        result_counts: dict[str, t.Any] = {
            "inputs": len(inputs),
            "sessions": len(sessions),
            "prefix_files": prefixes,
            "examples": counts["train"] + counts["holdout"],
            "train": counts["train"],
            "holdout": counts["holdout"],
            "dropped": dict(sorted(dropped.items())),
            "folded": folded["tool"],
            "redacted": sum(redactor.counts.values()) if redactor is not None else 0,
            "redacted_by_type": dict(sorted(redactor.counts.items())) if redactor is not None else {},
        }
        manifest = {
            "mpl_data": MANIFEST_VERSION,
            "inputs": [{"path": str(i.path), "sha256": i.sha256, "bytes": i.size, "conversations": i.records} for i in inputs],
            "options": options.as_json(),
            "outputs": {"train": paths[0].name, "holdout": paths[1].name if options.holdout > 0 else None},
            "counts": result_counts,
            "sessions": {"train": split["train"], "holdout": split["holdout"]},
        }
        handles[-1].write(msgspec.json.format(msgspec.json.encode(manifest), indent=2) + b"\n")
    return Result(result_counts, paths, warnings)


#: The date a template that writes today's (Llama 3's `strftime_now`) gets for a conversation
#: whose input gives no time: the date such templates print when they have no clock.
UNDATED = datetime.datetime(2024, 7, 26)


def _conversation_time(record: Record) -> datetime.datetime:
    """When the conversation started, as its input says; else `UNDATED` (the output never depends on the day it is made)."""
    if record.start:
        try:
            return datetime.datetime.fromisoformat(record.start)
        except ValueError:
            pass
    return UNDATED


def _render(template: t.Any, messages: list[dict[str, t.Any]], record: Record, options: Options) -> bytes:
    """One conversation as the chat template renders it, with nothing added between conversations.

    A template that prints the date (Llama 3's) gets the day the conversation started, so the
    same inputs give the same bytes on any day.
    """
    from mpl.chat import ChatTemplateError

    try:
        text = template.render(messages, tools=record.tools, add_generation_prompt=False, now=_conversation_time(record))
    except ChatTemplateError as exc:
        where = options.base or options.template
        raise DataError(Problem("MPL024", str(where), f"the chat template failed on `{record.where}`: {exc}")) from None
    return str(text).encode("utf-8")

"""Turn one conversation into training examples: failed turns, tool turns, and the four writers.

Tool turns (`--tools`):

- `keep` (the default) writes a tool's run in the format's own terms where the
  conversation holds what the format needs: OpenAI `tool_calls` / `tool`
  messages and ShareGPT `function_call` / `observation` turns need the call's
  arguments, which only OpenAI and ShareGPT inputs carry (Meton stores the
  tool's name, action and output, never its arguments). The `text` format
  passes `tool` messages (with `name`) to the chat template as they are. Where
  the format would need arguments that were never stored, the tool's output is
  folded (below) rather than arguments invented.
- `fold` always folds: each tool output is appended to the user message that
  asked for it, as a block `[tool output: NAME ACTION]` then the output, blocks
  separated by a blank line (a call with arguments, from OpenAI or ShareGPT
  input, becomes `[tool call: NAME ARGUMENTS]`). The assistant's answer after
  the tools stays the assistant's.
- `drop` leaves tool messages (and assistant messages that only call tools) out,
  counted as `tool-message`.

A turn whose assistant reply failed (Meton's `{"error": true}`) is left out
whole (the user message, its tool outputs and the error reply), counted as
`failed-turn`.
"""

from __future__ import annotations

import typing as t
from collections import Counter

import msgspec

from mpl.data.read import Message

TOOLS_MODES = ("keep", "fold", "drop")
FORMATS = ("openai", "sharegpt", "alpaca", "text")


def prepare(messages: list[Message], tools: str, dropped: Counter[str]) -> list[Message]:
    """The messages without failed turns (and without tool messages under `drop`), counting what goes."""
    out: list[Message] = []
    turn: list[Message] = []

    def close() -> None:
        if any(m.role == "assistant" and m.error for m in turn):
            dropped["failed-turn"] += 1
        else:
            out.extend(turn)
        turn.clear()

    for msg in messages:
        if msg.role == "user" and turn:
            close()
        turn.append(msg)
    close()
    if tools == "drop":
        kept = []
        for msg in out:
            if msg.role == "tool" or (msg.role == "assistant" and msg.calls and not msg.content):
                dropped["tool-message"] += 1
            else:
                if msg.calls:
                    msg = Message(msg.role, msg.content, model=msg.model)
                kept.append(msg)
        out = kept
    while out and out[-1].role != "assistant":
        dropped["unanswered-message"] += 1
        out.pop()
    return out


def _native(messages: list[Message], fmt: str) -> bool:
    """Whether every tool message can be written as the format's own tool turn (no argument invented)."""
    if fmt == "text":
        return True
    called = False
    for msg in messages:
        if msg.role == "user":
            called = False
        elif msg.role == "assistant" and msg.calls:
            called = True
        elif msg.role == "tool" and (not called or (fmt == "openai" and msg.call_id is None)):
            return False
    return fmt in ("openai", "sharegpt")


def _call_text(call: t.Any) -> str:
    function = call.get("function") if isinstance(call, dict) else None
    if isinstance(function, dict):
        return f"[tool call: {function.get('name')} {function.get('arguments')}]"
    return f"[tool call: {msgspec.json.encode(call).decode()}]"


def fold(messages: list[Message], folded: Counter[str]) -> list[Message]:
    """Tool outputs (and calls) appended to the user message of their turn; see the module's docstring."""
    out: list[Message] = []
    user_at: int | None = None
    for msg in messages:
        if msg.role == "user":
            out.append(Message("user", msg.content))
            user_at = len(out) - 1
            continue
        blocks: list[str] = []
        if msg.role == "tool":
            label = " ".join(p for p in (msg.name or "tool", msg.action) if p)
            blocks.append(f"[tool output: {label}]\n{msg.content}")
        elif msg.role == "assistant" and msg.calls:
            blocks.extend(_call_text(call) for call in msg.calls)
            if msg.content:
                out.append(Message("assistant", msg.content, model=msg.model))
                user_at = None
        else:
            out.append(Message(msg.role, msg.content, model=msg.model))
            if msg.role == "assistant":
                user_at = None
            continue
        folded["tool"] += 1
        if user_at is None:  # no user message since the last answer: the folded output stands as one
            out.append(Message("user", ""))
            user_at = len(out) - 1
        target = out[user_at]
        target.content = "\n\n".join(p for p in (target.content, *blocks) if p)
    return out


def _merged(messages: list[Message]) -> tuple[str, list[Message]]:
    """System text first, then messages with consecutive ones of a role joined (ShareGPT and Alpaca alternate)."""
    system = "\n\n".join(m.content for m in messages if m.role == "system")
    out: list[Message] = []
    for msg in messages:
        if msg.role == "system":
            continue
        if out and out[-1].role == msg.role and not msg.calls and not out[-1].calls and msg.role != "tool":
            out[-1] = Message(msg.role, "\n\n".join(p for p in (out[-1].content, msg.content) if p))
        else:
            out.append(msg)
    return system, out


def to_openai(messages: list[Message], record_tools: list[t.Any] | None) -> dict[str, t.Any]:
    out: dict[str, t.Any] = {"messages": to_chat(messages)}
    if record_tools:
        out["tools"] = record_tools
    return out


_SHAREGPT_FROM = {"user": "human", "assistant": "gpt", "tool": "observation", "system": "system"}


def to_sharegpt(messages: list[Message]) -> dict[str, t.Any]:
    system, rest = _merged(messages)
    rows = [{"from": "system", "value": system}] if system else []
    for msg in rest:
        if msg.calls:
            if msg.content:
                rows.append({"from": "gpt", "value": msg.content})
            for call in msg.calls:
                function = call.get("function", {}) if isinstance(call, dict) else {}
                rows.append({"from": "function_call", "value": msgspec.json.encode(
                    {"name": function.get("name"), "arguments": _arguments(function.get("arguments"))}).decode()})
            continue
        rows.append({"from": _SHAREGPT_FROM[msg.role], "value": msg.content})
    return {"conversations": rows}


def _arguments(value: t.Any) -> t.Any:
    if isinstance(value, str):
        try:
            return msgspec.json.decode(value)
        except msgspec.DecodeError:
            return value
    return value


def to_alpaca(messages: list[Message]) -> dict[str, t.Any]:
    """One record per conversation: the last exchange, with the ones before it as `history`."""
    system, rest = _merged(messages)
    pairs: list[list[str]] = []
    pending: str | None = None
    for msg in rest:
        if msg.role == "user":
            pending = msg.content
        elif msg.role == "assistant":
            pairs.append([pending or "", msg.content])
            pending = None
    last = pairs.pop() if pairs else ["", ""]
    return {"instruction": last[0], "input": "", "output": last[1], "system": system, "history": pairs}


def to_chat(messages: list[Message]) -> list[dict[str, t.Any]]:
    """Messages in the OpenAI chat shape (as the `openai` format writes them and a chat template renders them).

    A tool message has its `tool_call_id` where the input gave one (the `openai` format
    writes tool messages only then; otherwise they are folded) and the tool's `name`.
    """
    rows: list[dict[str, t.Any]] = []
    for msg in messages:
        row: dict[str, t.Any] = {"role": msg.role, "content": msg.content}
        if msg.calls:
            row["tool_calls"] = msg.calls
        if msg.role == "tool":
            if msg.call_id is not None:
                row["tool_call_id"] = msg.call_id
            if msg.name:
                row["name"] = msg.name
        rows.append(row)
    return rows


def convert(messages: list[Message], fmt: str, tools: str, record_tools: list[t.Any] | None,
            folded: Counter[str]) -> t.Any:
    """The example for one prepared conversation: a JSON-able record, or for `text` the chat messages."""
    if any(m.role == "tool" or m.calls for m in messages) and (tools == "fold" or not _native(messages, fmt)):
        messages = fold(messages, folded)
    if fmt == "openai":
        return to_openai(messages, record_tools)
    if fmt == "sharegpt":
        return to_sharegpt(messages)
    if fmt == "alpaca":
        return to_alpaca(messages)
    return to_chat(messages)

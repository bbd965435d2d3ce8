"""A minimal assistant loop over an mpl session: runtime `/param`, `/preset` and `/profile` commands.

    python examples/assistant.py examples/meton.mprof --dry-run

Reads lines from standard input. A line starting with `/` is a command:

    /param NAME VALUE     override one parameter (`/param temperature 0.7`)
    /param unset NAME     drop one override
    /param show           the parameters, their values and where each comes from
    /param reset          drop every override
    /preset NAME          switch to another profile (overrides are kept)
    /task NAME            route to a task's profile
    /profile save NAME    write the current state into the file as profile NAME
    /profile delete NAME  remove profile NAME from the file
    /quit

Any other line is a chat message: sent with `ollama.chat(..., options=...)`,
or, with `--dry-run`, printed as the options it would send. When the server
cannot be reached or refuses the chat, one line says so and the loop ends
with exit status 2.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings

import mpl


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="a command loop over an mpl session")
    parser.add_argument("file", help="the .mprof source")
    parser.add_argument("--model", default="qwen2.5-coder:7b", help="the Ollama model to chat with")
    parser.add_argument("--profile", help="the profile to start at (default: the task's, else `default`)")
    parser.add_argument("--task", help="the task to route")
    parser.add_argument("--dry-run", action="store_true", help="print the options instead of calling Ollama")
    args = parser.parse_args(argv)
    try:
        session = mpl.load(args.file).session(profile=args.profile, task=args.task)
    except mpl.MplError as exc:
        print(exc, file=sys.stderr)
        return 1
    messages: list[dict[str, str]] = []
    interactive = sys.stdin.isatty()
    while True:
        if interactive:
            print(f"[{session.profile}]> ", end="", flush=True)
        line = sys.stdin.readline()
        if not line:
            return 0
        line = line.strip()
        if not line:
            continue
        if line in ("/quit", "/exit"):
            return 0
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", mpl.MplWarning)
            try:
                if line.startswith("/"):
                    print(command(session, line))
                else:
                    messages.append({"role": "user", "content": line})
                    messages.append(chat(args.model, messages, session.options(), args.dry_run))
            except mpl.MplError as exc:
                print(exc, file=sys.stderr)
            except ChatError as exc:
                print(f"assistant: {exc}", file=sys.stderr)
                return 2
        for warning in caught:
            print(f"warning: {warning.message}", file=sys.stderr)


def command(session: mpl.session.Session, line: str) -> str:
    """Run one `/` command; returns what to print."""
    words = line.split(maxsplit=2)
    match words:
        case ["/param", "show"]:
            return session.render().rstrip("\n")
        case ["/param", "reset"]:
            session.reset()
            return f"overrides dropped; profile {session.profile}"
        case ["/param", "unset", name]:
            session.unset(name)
            return f"{name}: back to profile {session.profile}"
        case ["/param", name, value]:
            session.set(name, value)
            return f"{name} = {json.dumps(session.overrides[name])}"
        case ["/preset", name]:
            session.preset(name)
            return f"profile {name}"
        case ["/task", name]:
            session.task(name)
            return f"task {name}: profile {session.profile}"
        case ["/profile", "save", name]:
            path = session.save(name)
            return f"saved profile {name} to {path}"
        case ["/profile", "delete", name]:
            path = session.delete_profile(name)
            return f"deleted profile {name} from {path}; profile {session.profile}"
    return "commands: /param NAME VALUE, /param unset NAME, /param show, /param reset, /preset NAME, " \
           "/task NAME, /profile save NAME, /profile delete NAME, /quit"


class ChatError(Exception):
    """The server could not be reached or refused the chat: one line says why."""


def chat(model: str, messages: list[dict[str, str]], options: dict, dry_run: bool) -> dict[str, str]:
    """Send the conversation; returns the assistant's message. Raises `ChatError` when the server fails."""
    if dry_run:
        print("options: " + json.dumps(options))
        return {"role": "assistant", "content": ""}
    import os

    host = os.environ.get("OLLAMA_HOST") or "http://127.0.0.1:11434"
    try:
        import httpx
        import ollama  # imported only when talking to a server
    except ImportError as exc:
        raise ChatError(f"the `{exc.name}` package is needed to chat (`pip install ollama`), or use --dry-run") from None
    try:
        response = ollama.chat(model=model, messages=messages, options=options)
    except (ConnectionError, httpx.HTTPError) as exc:
        raise ChatError(f"cannot reach the Ollama server at {host} ({type(exc).__name__}); "
                        "is `ollama serve` running? (--dry-run prints the options instead)") from None
    except ollama.ResponseError as exc:
        raise ChatError(f"the Ollama server at {host} refused the chat with {model}: {exc.error}") from None
    print(response["message"]["content"])
    return {"role": "assistant", "content": response["message"]["content"]}


if __name__ == "__main__":
    sys.exit(main())

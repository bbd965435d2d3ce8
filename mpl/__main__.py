"""`python -m mpl` and the `mpl` script: the CLI, and the one place that steers the garbage collector.

Start-up creates some hundred thousand objects that live until the process ends
(typer's and lark's modules, mpl's classes and tables), and the cyclic garbage
collector would walk them again and again while they are made, and once more as
the interpreter exits: some 30 ms of a `mpl check` of a small file. So `main`
imports with the collector paused, freezes what start-up made (the collector
never walks frozen objects; reference counting still frees them), turns the
collector back on for the command, and freezes what is left when the command is
done. Every command then runs with the collector on: its objects (syntax nodes,
the program, diagnostics, mostly msgspec structs made with `gc=False`) give it
little to walk, and pausing it saved nothing measurable at 500 or 10,000
profiles, nor in the language server (`mpl.lsp.server.warm_up` freezes what its
warm-up builds, the one other freeze).

`mpl check FILE...` with no option, as pre-commit runs it, goes straight to
`mpl.commands.check`: typer would have nothing to parse, and importing it is a
fifth of that command's start-up (`mpl.commands.plain_check`). Every other
command line goes through typer (`mpl.cli`).
"""

import gc
import os
import signal
import sys
import typing as t


def main() -> None:
    """Entry point of the `mpl` script.

    Ctrl-C at any moment of `main` ends with one `mpl: interrupted` line and
    exit status 130, never a traceback. While the modules load (the first
    hundred milliseconds) there is nothing to clean up, and an interrupt raised
    inside the import machinery can be swallowed or printed as "Exception
    ignored", so the process ends at once. The command itself gets the usual
    KeyboardInterrupt (`mpl build` reports what exists; typer turns the rest
    into a silent exit 130, which is said here). A Ctrl-C after the work is
    done is ignored.

    Standard output or error closed when the process started (`mpl check FILE
    >&-`) is None in Python, and every write would fail: it is opened on the
    null device instead, so that the command runs and its exit status tells. (A
    closed standard input is the reader's to report: `mpl check -` says so.)
    """
    for name in ("stdout", "stderr"):
        if getattr(sys, name) is None:
            setattr(sys, name, open(os.devnull, "w", encoding="utf-8"))
    command = ""
    try:
        signal.signal(signal.SIGINT, _end_at_once)
        gc.disable()
        from mpl._imports import without_optional

        with without_optional("typing_extensions"):  # msgspec works without it, and mpl uses none of its types
            import msgspec  # noqa: F401  (the first import of it, wherever the command leads)
        from mpl import commands

        argv = sys.argv[1:]
        command = argv[0] if argv else ""
        plain = commands.plain_check(argv)  # `mpl check FILE...`: nothing for typer to parse
        if not plain:
            from mpl import cli
        for module in _START_UP_IMPORTS.get(command, ()):  # what the command imports on its first line
            __import__(module)
        gc.freeze()
        gc.enable()
        signal.signal(signal.SIGINT, signal.default_int_handler)
        try:
            if plain:
                _check(argv[1:])
            else:
                cli.main()
        finally:
            gc.freeze()
    except KeyboardInterrupt:
        _interrupted()
    except SystemExit as exc:
        if exc.code == 130 and isinstance(getattr(exc.__context__, "__cause__", None), KeyboardInterrupt):
            _interrupted()  # typer's `raise Exit(130) from KeyboardInterrupt`
        if command in _QUICK_EXIT and isinstance(exc.code, int) and exc.code in (0, 1, 2):
            _exit_now(exc.code)
        raise
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)


# What a command imports on its first line, imported with the start-up (so while
# the collector is paused, and frozen with it).
_START_UP_IMPORTS = {
    "check": ("mpl.compiler", "mpl.diagnostics.render", "mpl.pipeline"),
    "compile": ("mpl.compiler", "mpl.diagnostics.render", "mpl.pipeline"),
}

# Commands that write nothing but their report, whose process ends without the
# interpreter's teardown (see `_exit_now`).
_QUICK_EXIT = frozenset({"check"})


def _check(files: list[str]) -> t.NoReturn:
    """`mpl check FILE...` with every option at its default, as typer would run it.

    A reader that goes away (`mpl check ... | head`) ends the command as it
    does under typer: nothing more is written, and the exit status is 1.
    """
    from mpl import commands

    try:
        code = commands.check(files or None)
        sys.stdout.flush()
    except BrokenPipeError:  # on either stream: as typer does, neither is written to again
        devnull = os.open(os.devnull, os.O_WRONLY)
        for stream in (sys.stdout, sys.stderr):
            os.dup2(devnull, stream.fileno())
        code = 1
    sys.exit(code)


def _exit_now(code: int) -> None:
    """End the process with `code` once standard output and error are flushed, without the interpreter's teardown.

    The teardown frees every module and object one by one (typer's, lark's,
    mpl's tables): some 3 ms of a `mpl check`, for a process that has nothing
    left to write or close. When a stream cannot be flushed (a closed pipe),
    the usual exit runs and says so.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        return
    os._exit(code)


def _end_at_once(signum: int, frame: object) -> None:
    os.write(2, b"mpl: interrupted\n")
    os._exit(130)


def _interrupted() -> None:
    """Say so and end with status 130 at once: the interpreter's own exit could still die of the signal."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    sys.stderr.write("mpl: interrupted\n")
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(130)


if __name__ == "__main__":
    main()

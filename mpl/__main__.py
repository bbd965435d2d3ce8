"""`python -m mpl` and the `mpl` script: the CLI, started with the garbage collector paused.

`main` pauses the cyclic collector before anything heavy is imported;
`mpl.cli.main` turns it back on before the command runs (see there why).
"""

import gc
import os
import signal
import sys


def main() -> None:
    """Entry point of the `mpl` script.

    Ctrl-C at any moment of `main` ends with one `mpl: interrupted` line and
    exit status 130, never a traceback: during the imports of the first
    hundred milliseconds, during a command (typer turns the interrupt into a
    silent exit 130; `mpl build` says more itself), and on the way out (a
    Ctrl-C after the work is done is ignored).
    """
    gc.disable()
    try:
        from mpl.cli import main as cli_main

        cli_main()
    except KeyboardInterrupt:
        _interrupted()
    except SystemExit as exc:
        if exc.code == 130 and isinstance(getattr(exc.__context__, "__cause__", None), KeyboardInterrupt):
            _interrupted()  # typer's `raise Exit(130) from KeyboardInterrupt`
        raise
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)


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

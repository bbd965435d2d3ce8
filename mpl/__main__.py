"""`python -m mpl` and the `mpl` script: the CLI, started with the garbage collector paused.

`main` pauses the cyclic collector before anything heavy is imported;
`mpl.cli.main` turns it back on before the command runs (see there why).
"""

import gc


def main() -> None:
    """Entry point of the `mpl` script."""
    gc.disable()
    from mpl.cli import main as cli_main

    cli_main()


if __name__ == "__main__":
    main()

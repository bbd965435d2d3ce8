"""`python -m mpl`: the same as the `mpl` command."""

from mpl.cli import main

main()

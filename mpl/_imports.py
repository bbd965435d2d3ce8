"""Importing a library without the optional modules it would import if they are installed.

Some libraries import an optional module at import time when it happens to be
installed, for a feature mpl never asks for: lark imports the third-party
`regex` (for `Lark(regex=True)`), msgspec imports `typing_extensions` (for the
type forms of that package). Both come with other dependencies, and both cost
`mpl check` milliseconds of start-up for nothing (`regex` about 5,
`typing_extensions` about 2).
"""

from __future__ import annotations

import contextlib
import sys
import typing as t


@contextlib.contextmanager
def without_optional(*names: str) -> t.Iterator[None]:
    """Within the block, `import name` fails as if `name` were not installed (unless it is imported already).

    Only for optional modules: the library must work without them. After the
    block they import as usual.

    >>> with without_optional("this_module_is_optional"):
    ...     try:
    ...         import this_module_is_optional
    ...     except ImportError:
    ...         print("not there")
    not there
    """
    hidden = [name for name in names if name not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # type: ignore[assignment]  # the import system's "not found"
    try:
        yield
    finally:
        for name in hidden:
            if name in sys.modules and sys.modules[name] is None:
                del sys.modules[name]

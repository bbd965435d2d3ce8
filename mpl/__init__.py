"""mpl: a compiler for Ollama model profiles.

The public API is cheap to import; the compiler loads on first use.

>>> import mpl
>>> mpl.loads('profile p < temperature 0.2 >').options("p")
{'temperature': 0.2}
"""

from __future__ import annotations

TYPE_CHECKING = False  # `typing` is not imported at run time: `import mpl` is the script's first, uninterruptible step
if TYPE_CHECKING:
    import typing as t

__version__ = "0.1.0"

__all__ = ["Diagnostic", "MplError", "MplWarning", "ProfileSet", "ResolvedProfile", "__version__", "load", "loads"]

if TYPE_CHECKING:
    from mpl.api import MplError as MplError
    from mpl.api import MplWarning as MplWarning
    from mpl.api import ProfileSet as ProfileSet
    from mpl.api import ResolvedProfile as ResolvedProfile
    from mpl.api import load as load
    from mpl.api import loads as loads
    from mpl.diagnostics import Diagnostic as Diagnostic


def __getattr__(name: str) -> t.Any:
    if name in ("load", "loads", "MplError", "MplWarning", "ProfileSet", "ResolvedProfile"):
        from mpl import api

        return getattr(api, name)
    if name == "Diagnostic":
        from mpl.diagnostics import Diagnostic

        return Diagnostic
    raise AttributeError(f"module 'mpl' has no attribute {name!r}")

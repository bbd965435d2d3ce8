"""What the API and the session check at run time, and the errors they raise.

Profile and task names (with a did-you-mean), runtime overrides validated
against the catalog (`validate_overrides`), and `MplError`/`MplWarning`. Below
both `mpl.api` and `mpl.session`, so that neither imports the other to raise.
"""

from __future__ import annotations

import typing as t

from mpl.diagnostics import Diagnostic, Severity
from mpl.diagnostics.render import render_text
from mpl.source import SourceFile


class MplError(Exception):
    """Errors found in a source or in runtime overrides; `diagnostics` has them all."""

    def __init__(self, diagnostics: t.Sequence[Diagnostic], source: SourceFile | None = None) -> None:
        self.diagnostics = list(diagnostics)
        self.source = source or SourceFile("", "")  # no file: rendered without a location
        super().__init__(self._text())

    def _text(self) -> str:
        errors = [d for d in self.diagnostics if d.severity is Severity.ERROR] or self.diagnostics
        return render_text(self.source, errors).rstrip("\n")


class MplWarning(UserWarning):
    """A runtime override the target Ollama version ignores; `diagnostic` says why.

    Emitted with `warnings.warn`, so an assistant can show it (or turn it into an
    error with a warnings filter); the value is still returned, as Ollama would
    receive it.
    """

    def __init__(self, diagnostic: Diagnostic) -> None:
        self.diagnostic = diagnostic
        super().__init__(f"{diagnostic.code}: {diagnostic.message}" + (f" ({diagnostic.help})" if diagnostic.help else ""))


def error(code: str, message: str, help: str | None) -> Diagnostic:
    return Diagnostic(code=code, severity=Severity.ERROR, message=message, span=None, help=help)


def known_profile(name: object, profiles: t.Collection[str]) -> str:
    """`name` when it is one of `profiles`; else `MplError` (MPL207), with a did-you-mean."""
    return _known(name, profiles, "MPL207", "profile", "does not exist")


def known_task(name: object, tasks: t.Collection[str]) -> str:
    """`name` when it is one of `tasks`; else `MplError` (MPL205), with a did-you-mean."""
    return _known(name, tasks, "MPL205", "task", "is not declared")


def _known(name: object, names: t.Collection[str], code: str, what: str, missing: str) -> str:
    if not isinstance(name, str):  # None, a number, a list: not a name at all
        raise MplError([error(code, f"a {what} name is a string, not {type(name).__name__}: `{name!r}`"[:200], None)])
    if name not in names:
        raise MplError([error(code, f"{what} `{name}` {missing}", name_hint(name, names, what))])
    return name


def name_hint(name: str, candidates: t.Iterable[str], what: str = "profile") -> str:
    """A did-you-mean for a misspelt name; without a near one, the names there are.

    >>> name_hint("precize", ["precise", "creative"]), name_hint("x", ["precise", "creative"]), name_hint("x", [], "task")
    ('did you mean `precise`?', 'the profiles are `precise` and `creative`', 'there are no tasks')
    """
    from mpl.compiler.names import did_you_mean

    pool = list(candidates)
    near = did_you_mean(name, pool)
    if near is not None:
        return near
    if not pool:
        return f"there are no {what}s"
    shown = [f"`{c}`" for c in pool[:8]]
    if len(pool) > 8:
        shown[-1] = f"{len(pool) - 7} more"
    listed = shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + " and " + shown[-1]
    return f"the {what} is {listed}" if len(pool) == 1 else f"the {what}s are {listed}"


def validate_overrides(overrides: dict[str, t.Any]) -> dict[str, t.Any]:
    """Check runtime overrides against the catalog; returns them in Ollama's types.

    Each value gets the verdict the checker gives the same value in a profile
    (`mpl.catalog.validate`); a string typed at a prompt is read as the profile
    syntax reads it (``"0.7"`` is a number, ``"true"`` a boolean; for `stop` it is
    the string). `None` is kept: it removes the option. A warning (a float that
    underflows to 0) is an `MplWarning`.

    >>> validate_overrides({"top_k": "20", "stop": "###"})
    {'top_k': 20, 'stop': ['###']}
    """
    if not overrides:
        return {}
    import warnings

    from mpl.catalog import catalog, validate
    from mpl.catalog.values import read_prompt

    diags: list[Diagnostic] = []
    for name in overrides:
        if not isinstance(name, str):
            diags.append(error("MPL301", f"a parameter name is a string, not {type(name).__name__}", None))
        elif catalog().option(name) is None:
            near = catalog().suggest(name)
            diags.append(error("MPL301", f"unknown parameter `{name}`", f"did you mean `{near}`?" if near else None))
    if diags:
        raise MplError(diags)
    result: dict[str, t.Any] = {}
    for name, value in overrides.items():
        if value is None:
            result[name] = None
            continue
        spec = catalog().option(name)
        assert spec is not None
        verdict = validate(spec, read_prompt(spec, value))
        for problem in verdict.problems:
            if problem.severity == "error":
                diags.append(error(problem.code, problem.message, problem.help))
            else:
                diag = Diagnostic(code=problem.code, severity=Severity.WARNING, message=problem.message, span=None, help=problem.help)
                warnings.warn(MplWarning(diag), stacklevel=3)
        if verdict.ok:
            result[name] = verdict.value
    if diags:
        raise MplError(diags)
    return result

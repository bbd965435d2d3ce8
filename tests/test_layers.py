"""The package's layers point one way.

Catalog and source at the bottom; diagnostics above them, knowing nothing of the
compiler; the compiler (parse, check, resolve, lint, policy) knowing nothing of
targets, output or deploy; targets knowing nothing of output, deploy or the CLI;
a driver (`mpl.pipeline`) above both; what the commands share, and `mpl check`,
without typer (`mpl.commands`) under the CLI; the CLI, the language server, the API
and the session on top. Every import counts: at module level, inside functions, and under
`TYPE_CHECKING`.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "mpl"


def _module(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _type_only(tree: ast.Module) -> set[int]:
    """The ids of the import statements under `if TYPE_CHECKING:` (never run)."""
    ids: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            ids.update(id(inner) for stmt in node.body for inner in ast.walk(stmt))
    return ids


def _imports(path: Path, *, run_only: bool = False) -> set[str]:
    """Every module a file imports, wherever the import statement stands (`run_only`: not for type checkers only)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = _module(path) if path.name == "__init__.py" else _module(path).rpartition(".")[0]
    skip = _type_only(tree) if run_only else set()
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return {name for name in found if name == "mpl" or name.startswith("mpl.")}


GRAPH = {_module(path): _imports(path) for path in sorted(PACKAGE.rglob("*.py"))}
RUN_GRAPH = {_module(path): _imports(path, run_only=True) for path in sorted(PACKAGE.rglob("*.py"))}


def _within(name: str, layer: str) -> bool:
    return name == layer or name.startswith(layer + ".")


RULES = [
    # (the modules under this layer, may not import these)
    ("mpl.catalog", ("mpl.compiler", "mpl.diagnostics", "mpl.targets", "mpl.deploy", "mpl.output", "mpl.cli", "mpl.api",
                     "mpl.session", "mpl.lsp", "mpl.pipeline", "mpl.config", "mpl.commands")),
    ("mpl.diagnostics", ("mpl.compiler", "mpl.targets", "mpl.deploy", "mpl.output", "mpl.cli", "mpl.api", "mpl.session",
                         "mpl.lsp", "mpl.pipeline", "mpl.config", "mpl.commands")),
    ("mpl.compiler", ("mpl.targets", "mpl.deploy", "mpl.output", "mpl.cli", "mpl.api", "mpl.session", "mpl.lsp",
                      "mpl.pipeline", "mpl.commands")),
    ("mpl.targets", ("mpl.deploy", "mpl.output", "mpl.cli", "mpl.api", "mpl.session", "mpl.lsp", "mpl.commands")),
    # what `mpl check` runs without typer sits under the command line typer declares
    ("mpl.commands", ("mpl.cli", "mpl.api", "mpl.session", "mpl.lsp")),
]


@pytest.mark.parametrize("layer, forbidden", RULES, ids=[layer for layer, _ in RULES])
def test_a_layer_imports_nothing_above_it(layer: str, forbidden: tuple[str, ...]) -> None:
    upward = sorted(
        f"{module} imports {name}"
        for module, names in GRAPH.items() if _within(module, layer)
        for name in names if any(_within(name, above) for above in forbidden)
    )
    assert upward == []


def test_no_two_modules_import_each_other() -> None:
    """No circle between two modules at run time (a package and its own modules aside: importing
    `mpl.compiler.nodes` runs `mpl/compiler/__init__.py` first, by Python's rules)."""
    both_ways = sorted(
        (a, b) for a, names in RUN_GRAPH.items() for b in names
        if a < b and b in RUN_GRAPH and a in RUN_GRAPH[b] and not _within(b, a) and not _within(a, b)
    )
    assert both_ways == []

"""The generated parser (`mpl/compiler/_profile_parser.py`, `scripts/gen_parser.py`) is lark's parser of the grammar.

It must name the grammar as it is now, and parse every input as lark itself does
when given `grammar/profile.lark` with the same options: the same trees, tokens
and positions, and the same errors at the same places with the same expectations.
"""

from __future__ import annotations

import hashlib
import random
import subprocess
import sys
import typing as t
from pathlib import Path

import lark
import pytest
from helpers import EXAMPLES, FIXTURES

from mpl.compiler import _profile_parser

ROOT = Path(__file__).resolve().parent.parent
GRAMMAR = ROOT / "grammar" / "profile.lark"
SOURCES = sorted([*EXAMPLES.glob("*.mprof"), *FIXTURES.rglob("*.mprof")])


def test_the_generated_parser_names_the_grammar_as_it_is() -> None:
    first = (ROOT / "mpl" / "compiler" / "_profile_parser.py").read_text(encoding="utf-8").splitlines()[0]
    assert hashlib.sha256(GRAMMAR.read_bytes()).hexdigest() in first, "run python scripts/gen_parser.py"
    check = subprocess.run([sys.executable, str(ROOT / "scripts" / "gen_parser.py"), "--check"], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr


def _shape(tree: t.Any) -> t.Any:
    """A tree as nested tuples: rule names, and each token's type, text and place."""
    if hasattr(tree, "data"):
        return (str(tree.data), tuple(_shape(child) for child in tree.children))
    return (tree.type, str(tree), tree.start_pos, tree.end_pos, tree.line, tree.column)


def _outcome(parse: t.Callable[[str], t.Any], text: str) -> t.Any:
    try:
        return _shape(parse(text))
    except Exception as exc:  # noqa: BLE001 - compared by kind, place and expectation
        kind = type(exc).__name__
        if kind == "UnexpectedToken":
            return (kind, exc.token.type, exc.token.start_pos, sorted(exc.expected))  # type: ignore[attr-defined]
        if kind == "UnexpectedCharacters":
            return (kind, exc.pos_in_stream, sorted(exc.allowed))  # type: ignore[attr-defined]
        return (kind, str(exc))


@pytest.fixture(scope="module")
def parsers() -> tuple[t.Callable[[str], t.Any], t.Callable[[str], t.Any]]:
    reference = lark.Lark(GRAMMAR.read_text(encoding="utf-8"), parser="lalr", keep_all_tokens=True, maybe_placeholders=False)
    generated = _profile_parser.Lark_StandAlone()
    return reference.parse, generated.parse


def _texts() -> list[str]:
    """Every example and fixture, and cuts and splices of them (syntax errors of every kind)."""
    texts = [path.read_text(encoding="utf-8", errors="replace") for path in SOURCES]
    rng = random.Random(20)
    cut = []
    for text in texts:
        for _ in range(6):
            a, b = sorted(rng.randrange(len(text) + 1) for _ in range(2))
            cut.append(text[:a])
            cut.append(text[:a] + text[b:])
            cut.append(text[:a] + rng.choice("<>[]{}=;\"\n+#x1 ") + text[a:])
    return texts + cut


def test_the_generated_parser_parses_as_lark_does(parsers: tuple[t.Callable[[str], t.Any], t.Callable[[str], t.Any]]) -> None:
    reference, generated = parsers
    texts = _texts()
    assert len(SOURCES) > 20
    kinds = set()
    for text in texts:
        outcome = _outcome(generated, text)
        assert outcome == _outcome(reference, text), text
        kinds.add(outcome[0] if outcome[0] in ("UnexpectedToken", "UnexpectedCharacters") else "tree")
    assert kinds == {"tree", "UnexpectedToken", "UnexpectedCharacters"}

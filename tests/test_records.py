"""The records `mpl check` defines at import are msgspec Structs, and behave as the dataclasses they replace.

A dataclass costs some 0.4 ms to create (it execs its generated methods); a Struct
some 10 µs (see `mpl.compiler.nodes`). The catalog's specs are Structs too, which
pydantic still validates (see `tests/test_catalog.py`).
"""

from __future__ import annotations

import copy
import pickle
import typing as t

import msgspec
import pytest

from helpers import ROOT, after_a_script_check
from mpl.catalog import Version
from mpl.catalog.values import Problem
from mpl.source import SourceFile


@pytest.mark.parametrize("source", ["examples/meton.mprof", "tests/fixtures/modelfiles/messages.Modelfile"])
def test_check_defines_no_dataclass(source: str) -> None:
    """`mpl check`, run as the `mpl` script runs it, creates no dataclass of mpl's (lark still makes its own)."""
    watch = (
        "import dataclasses\n"
        "made = []\n"
        "real = dataclasses._process_class\n"
        "def process(cls, *args, **kwargs):\n"
        "    made.append(f'{cls.__module__}.{cls.__qualname__}')\n"
        "    return real(cls, *args, **kwargs)\n"
        "dataclasses._process_class = process"
    )
    report = "print(sorted(name for name in made if name.startswith('mpl.')))"
    assert after_a_script_check([str(ROOT / source)], report, before=watch) == "[]"


def test_a_source_file_is_its_path_and_text() -> None:
    """Equality, hashing and repr see the path and the text; the line table is worked out, never compared."""
    text = "one\r\ntwo\nthree"
    src = SourceFile("a.mprof", text)
    assert src.line_col(text.index("two")) == (2, 1)  # the table is filled here
    same = SourceFile("a.mprof", text)
    assert src == same and hash(src) == hash(same) and src != SourceFile("b.mprof", text)
    assert repr(src) == "SourceFile(path='a.mprof', text='one\\r\\ntwo\\nthree')"


@pytest.mark.parametrize(
    "made",
    [
        lambda src: msgspec.structs.replace(src, text="x\ny"),
        lambda src: copy.copy(msgspec.structs.replace(src, text="x\ny")),
        lambda src: copy.deepcopy(msgspec.structs.replace(src, text="x\ny")),
        lambda src: pickle.loads(pickle.dumps(msgspec.structs.replace(src, text="x\ny"))),
    ],
    ids=["replace", "copy", "deepcopy", "pickle"],
)
def test_a_source_file_made_from_another_has_its_own_lines(made: t.Callable[[SourceFile], SourceFile]) -> None:
    src = SourceFile("a.mprof", "one\ntwo\nthree")
    assert src.line_count == 3
    other = made(src)
    assert other.line_count == 2 and other.line_text(2) == "y" and other.line_col(2) == (2, 1)


def test_versions_order_hash_and_show_as_before() -> None:
    versions = [Version(0, 12, 0), Version.parse("0.6.8"), Version(0, 12, 3), Version(0, 6, 8)]
    assert sorted(versions) == [Version(0, 6, 8), Version(0, 6, 8), Version(0, 12, 0), Version(0, 12, 3)]
    assert max(versions) == Version(0, 12, 3) and Version(0, 6, 8) <= Version(0, 6, 8) < Version(0, 7, 0)
    assert len(set(versions)) == 3 and {Version(0, 12, 0): 1}[Version.parse("0.12")] == 1
    assert repr(Version(0, 12, 3)) == "Version(major=0, minor=12, patch=3)" and str(Version(0, 12, 3)) == "0.12.3"
    assert pickle.loads(pickle.dumps(Version(0, 1, 2))) == Version(0, 1, 2)
    with pytest.raises(TypeError):
        Version(0, 1, 2) < (0, 1, 3)  # type: ignore[operator]  # noqa: B015 - a version is not a tuple
    with pytest.raises(AttributeError):
        Version(0, 1, 2).major = 1  # type: ignore[misc]


def test_a_version_field_validates_and_serialises_through_pydantic() -> None:
    """`Version` as a pydantic field type: a Version or its text in, the text out."""
    import pydantic

    adapter = pydantic.TypeAdapter(Version)
    assert adapter.validate_python("v0.12") == adapter.validate_python(Version(0, 12, 0)) == Version(0, 12, 0)
    assert adapter.dump_json(Version(0, 12, 3)) == b'"0.12.3"' and adapter.dump_python(Version(0, 1, 0), mode="json") == "0.1.0"
    assert adapter.json_schema()["type"] == "string"
    with pytest.raises(pydantic.ValidationError, match="invalid Ollama version"):
        adapter.validate_python("0.12.x")


def test_a_problem_has_its_own_data() -> None:
    """A mutable default is made anew for every record, as `field(default_factory=dict)` did."""
    first, second = Problem("MPL001", "one"), Problem("MPL001", "one")
    assert first.data == {} and first.data is not second.data and first == second
    assert Problem("MPL002", "m", "h", "warning", 1) == Problem("MPL002", "m", help="h", severity="warning", index=1)

"""`mpl.load(path_or_binary_file)` and `mpl.loads(text)`: only `MplError` for bad input."""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path

import pytest

import mpl
from helpers import EXAMPLES

LONG_LINE = "profile p < temperature 0.5 >" + " " * 300


def _codes(info: pytest.ExceptionInfo[mpl.MplError]) -> list[str]:
    return [d.code for d in info.value.diagnostics]


def test_loads_reads_a_long_one_line_source() -> None:
    assert mpl.loads(LONG_LINE).options("p") == {"temperature": 0.5}


def test_loads_names_the_source_in_diagnostics() -> None:
    with pytest.raises(mpl.MplError) as info:
        mpl.loads("profile p < min_pp 1 >", name="inline.mprof")
    assert _codes(info) == ["MPL301"] and str(info.value).startswith("inline.mprof:1:13:")
    with pytest.raises(mpl.MplError, match=r"^<string>:1:13"):
        mpl.loads("profile p < min_pp 1 >")


def test_loads_takes_utf8_bytes_and_refuses_others() -> None:
    assert mpl.loads("profile p < stop \"é\" >".encode()).options("p") == {"stop": ["é"]}
    with pytest.raises(mpl.MplError) as info:
        mpl.loads(b'profile p < stop "\xff" >')
    assert "MPL002" in _codes(info)


@pytest.mark.parametrize("text", [LONG_LINE, "profiles/x", "x" * 5000, "a/" * 300 + "b", "nul\0byte"])
def test_load_of_a_string_is_a_path_and_a_missing_one_says_so(text: str) -> None:
    """`load` never reads its argument as source text: a path that names nothing is MPL001 saying so."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(mpl.MplError) as info:
            mpl.load(text)
    (diag,) = info.value.diagnostics
    assert diag.code == "MPL001" and diag.message.startswith("no file `") and "mpl.loads(text)" in (diag.help or "")
    assert "MPL101" not in str(info.value)


def test_errors_about_names_have_no_made_up_location_and_always_a_hint() -> None:
    profiles = mpl.load(EXAMPLES / "meton.mprof")
    for call, hint in (
        (lambda: profiles.options("precse"), "did you mean `precise`?"),
        (lambda: profiles.options("zzz"), "the profiles are `base`, `precise`"),
        (lambda: profiles.for_task("zzz"), "the tasks are `general`"),
        (lambda: profiles.options("precise", top_kk=1), "did you mean `top_k`?"),
    ):
        with pytest.raises(mpl.MplError) as info:
            call()
        text = str(info.value)
        assert text.startswith("error[MPL") and "<overrides>" not in text and hint in text, text


def test_load_of_a_path_string_does_not_warn() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert "precise" in mpl.load(str(EXAMPLES / "meton.mprof")).profiles
        assert "precise" in mpl.load(EXAMPLES / "meton.mprof").profiles


def test_load_reads_an_existing_file_without_the_suffix(tmp_path: Path) -> None:
    plain = tmp_path / "profiles.txt"
    plain.write_text("profile p < top_k 3 >", encoding="utf-8")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert mpl.load(str(plain)).options("p") == {"top_k": 3}


def test_load_of_a_binary_file_object() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert mpl.load(io.BytesIO(b"profile p < top_k 3 >")).options("p") == {"top_k": 3}
    with pytest.raises(mpl.MplError) as info:
        mpl.load(io.BytesIO(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"))
    assert _codes(info) == ["MPL003"]
    with pytest.raises(mpl.MplError) as info:
        mpl.load(io.BytesIO(b"profile p < top_k 3 > # caf\xe9"))
    assert _codes(info) == ["MPL002"]


def test_load_of_an_open_file_uses_its_name(tmp_path: Path) -> None:
    source = tmp_path / "p.mprof"
    source.write_text("profile p < min_pp 1 >", encoding="utf-8")
    with open(source, "rb") as fp, pytest.raises(mpl.MplError) as info:
        mpl.load(fp)
    assert str(info.value).startswith(f"{source}:1:13:")


def test_load_of_a_file_object_that_fails_to_read() -> None:
    class Broken(io.RawIOBase):
        def read(self, size: int = -1) -> bytes:
            raise OSError(5, "Input/output error")

    with pytest.raises(mpl.MplError) as info:
        mpl.load(Broken())
    assert _codes(info) == ["MPL001"] and "Input/output error" in str(info.value)


def test_load_of_a_missing_file_or_a_folder(tmp_path: Path) -> None:
    for path in (tmp_path / "nowhere.mprof", str(tmp_path / "nowhere.mprof"), tmp_path):
        with pytest.raises(mpl.MplError) as info:
            mpl.load(path)
        assert _codes(info) == ["MPL001"]


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root reads any file")
def test_load_of_an_unreadable_file(tmp_path: Path) -> None:
    locked = tmp_path / "locked.mprof"
    locked.write_text("profile p < >", encoding="utf-8")
    locked.chmod(0)
    with pytest.raises(mpl.MplError) as info:
        mpl.load(locked)
    assert _codes(info) == ["MPL001"] and "Permission denied" in str(info.value)


def test_load_of_a_binary_file_on_disk(tmp_path: Path) -> None:
    blob = tmp_path / "weights.mprof"
    blob.write_bytes(b"GGUF\x03\x00\x00\x00" + bytes(64))
    with pytest.raises(mpl.MplError) as info:
        mpl.load(blob)
    assert _codes(info) == ["MPL003"]


def test_load_refuses_a_non_source_argument() -> None:
    with pytest.raises(TypeError, match="mpl.loads"):
        mpl.load(42)  # type: ignore[arg-type]


def test_loads_is_exported() -> None:
    assert "loads" in mpl.__all__ and mpl.loads is __import__("mpl.api").api.loads

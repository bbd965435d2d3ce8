"""The LALR tables are cached in the user's cache directory, never beside the package.

A missing, stale, corrupt or unwritable cache only costs time: the parser is rebuilt.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import EXAMPLES

CHECK = [sys.executable, "-m", "mpl", "check", str(EXAMPLES / "meton.mprof")]


def _check(env_cache: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MPL_CACHE_DIR": env_cache, "NO_COLOR": "1"}
    return subprocess.run(CHECK, capture_output=True, text=True, env=env, timeout=120)


def _caches(folder: Path) -> list[Path]:
    return sorted(folder.glob("profile-grammar-lark*.cache"))


def test_first_run_writes_the_cache_and_the_second_reads_it(tmp_path: Path) -> None:
    first = _check(str(tmp_path))
    assert first.returncode == 0, first.stderr
    (cache,) = _caches(tmp_path)
    stamp = cache.stat().st_mtime_ns
    second = _check(str(tmp_path))
    assert second.returncode == 0 and second.stdout == first.stdout
    assert cache.stat().st_mtime_ns == stamp  # read, not rewritten


@pytest.mark.parametrize("garbage", [b"", b"not a pickle\n\x80\x04junk", b"0" * 32 + b"\n"])
def test_a_corrupt_cache_is_rebuilt(tmp_path: Path, garbage: bytes) -> None:
    assert _check(str(tmp_path)).returncode == 0
    (cache,) = _caches(tmp_path)
    cache.write_bytes(garbage)
    result = _check(str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert "MPL401" in result.stdout


def test_an_unwritable_cache_directory_is_not_an_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("a file where the cache folder should be")
    result = _check(str(blocker / "mpl"))
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


def test_an_empty_setting_turns_the_cache_off(tmp_path: Path) -> None:
    env = {**os.environ, "MPL_CACHE_DIR": "", "XDG_CACHE_HOME": str(tmp_path), "HOME": str(tmp_path)}
    result = subprocess.run(CHECK, capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    assert not list(tmp_path.rglob("*.cache"))

"""The Python API: `mpl.load`, `ProfileSet.options`, `for_task` and validated overrides."""

from __future__ import annotations

import pytest

import mpl
from helpers import EXAMPLES


@pytest.fixture(scope="module")
def profiles() -> mpl.ProfileSet:
    return mpl.load(EXAMPLES / "meton.mprof")


def test_load_a_path_or_its_string(profiles) -> None:
    assert mpl.load(str(EXAMPLES / "meton.mprof")).profiles == profiles.profiles
    assert profiles.default == "precise"
    assert "debug" in profiles.tasks and profiles.models == ["meton-custom"]


def test_options_of_a_profile(profiles) -> None:
    assert profiles.options("debugging") == {
        "num_ctx": 32768, "num_predict": 2048, "seed": -1, "temperature": 0.0,
        "top_k": 20, "min_p": 0.1, "repeat_penalty": 1.1, "mirostat": 2,
    }


def test_options_for_a_task(profiles) -> None:
    assert profiles.options("explanation", "docs")["repeat_penalty"] == 1.15
    assert profiles.options("explanation")["repeat_penalty"] == 1.25


def test_for_task_routes_or_falls_back_to_default(profiles) -> None:
    docs = profiles.for_task("docs")
    assert docs.name == "explanation" and docs["repeat_penalty"] == 1.15
    assert profiles.for_task("general").name == "precise"
    assert dict(profiles.for_task("debug"))["mirostat"] == 2


def test_overrides_are_validated_and_typed(profiles) -> None:
    opts = profiles.options("precise", temperature="0.7", top_k="20", stop="###", seed=None)
    assert opts["temperature"] == 0.7 and opts["top_k"] == 20 and opts["stop"] == ["###"]
    assert "seed" not in opts


@pytest.mark.parametrize(
    ("override", "code"),
    [({"min_pp": 0.1}, "MPL301"), ({"top_p": 1.5}, "MPL303"), ({"num_ctx": "big"}, "MPL302"), ({"top_k": 2.5}, "MPL302"),
     # the checker's verdicts: `top_k 20.0` is no integer, 1e39 and 2**70 do not fit
     ({"top_k": 20.0}, "MPL302"), ({"temperature": 1e39}, "MPL306"), ({"seed": 2**70}, "MPL306"),
     ({"temperature": True}, "MPL302"), ({"num_ctx": float("nan")}, "MPL302")],
)
def test_bad_overrides_raise_one_error(profiles, override: dict, code: str) -> None:
    with pytest.raises(mpl.MplError) as info:
        profiles.options("precise", **override)
    assert [d.code for d in info.value.diagnostics] == [code]


def test_unknown_override_suggests(profiles) -> None:
    with pytest.raises(mpl.MplError) as info:
        profiles.options("precise", min_pp=0.1)
    assert info.value.diagnostics[0].help == "did you mean `min_p`?"


def test_unknown_profile_and_task(profiles) -> None:
    with pytest.raises(mpl.MplError, match="precize"):
        profiles.options("precize")
    with pytest.raises(mpl.MplError) as info:
        profiles.for_task("debgu")
    assert info.value.diagnostics[0].help == "did you mean `debug`?"


def test_source_errors_raise_with_every_diagnostic() -> None:
    with pytest.raises(mpl.MplError) as info:
        mpl.loads("profile a extends b < min_pp 1 >")
    assert sorted(d.code for d in info.value.diagnostics) == ["MPL201", "MPL301"]
    assert "unknown parameter `min_pp`" in str(info.value)


def test_warnings_are_kept(profiles) -> None:
    assert [d.code for d in profiles.diagnostics if d.code == "MPL401"] == ["MPL401"]


def test_load_with_a_target_version() -> None:
    assert not [d for d in mpl.load(EXAMPLES / "meton.mprof", ollama="0.6").diagnostics if d.code == "MPL401"]


def test_missing_file_raises() -> None:
    with pytest.raises(mpl.MplError) as info:
        mpl.load("nowhere.mprof")
    assert info.value.diagnostics[0].code == "MPL001"


def test_an_override_the_target_ignores_warns_and_is_kept(profiles) -> None:
    # meton.mprof targets Ollama 0.12, which removed mirostat in 0.7.0 and ignores it.
    with pytest.warns(mpl.MplWarning, match=r"MPL401: `mirostat` was removed in Ollama 0\.7\.0") as record:
        options = profiles.options("precise", mirostat=2)
    assert options["mirostat"] == 2
    assert record[0].message.diagnostic.code == "MPL401"


def test_an_override_the_target_knows_does_not_warn() -> None:
    import warnings

    legacy = mpl.loads('ollama "0.6"\nprofile p < temperature 0.5 >')
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert legacy.options("p", mirostat=2) == {"temperature": 0.5, "mirostat": 2}
        assert legacy.options("p", mirostat=None) == {"temperature": 0.5}


def test_an_override_a_strict_old_server_rejects_raises() -> None:
    # Ollama 0.1.2-0.1.34 answered unknown options with `invalid options` (HTTP 400).
    old = mpl.loads('ollama "0.1.20"\nprofile p < temperature 0.5 >')
    with pytest.raises(mpl.MplError, match="min_p` was added in Ollama 0.3.1; Ollama 0.1.20 rejects") as err:
        old.options("p", min_p=0.1)
    assert [d.code for d in err.value.diagnostics] == ["MPL401"]


def _closed_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_the_assistant_example_says_in_one_line_that_no_server_runs(tmp_path) -> None:
    import os
    import subprocess
    import sys

    from helpers import ROOT

    env = {**os.environ, "OLLAMA_HOST": f"http://127.0.0.1:{_closed_port()}", "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "assistant.py"), str(EXAMPLES / "meton.mprof")],
        input="hello\n", capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60, check=False,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert result.stderr.startswith("assistant: cannot reach the Ollama server at http://127.0.0.1:")

"""The session API: runtime overrides, provenance, the `/param show` table, and writing profiles back."""

from __future__ import annotations

import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

import mpl
from mpl.pipeline import analyze
from mpl.targets import FILE_TARGETS as ALL_TARGETS

EXAMPLES = Path(__file__).parent.parent / "examples"


def codes(exc: pytest.ExceptionInfo) -> list[str]:
    return [d.code for d in exc.value.diagnostics]


@pytest.fixture
def meton(tmp_path: Path) -> Path:
    """A copy of examples/meton.mprof (with its adapter) that tests may rewrite."""
    shutil.copytree(EXAMPLES / "adapters", tmp_path / "adapters")
    return Path(shutil.copy(EXAMPLES / "meton.mprof", tmp_path / "meton.mprof"))


def write(tmp_path: Path, text: str, name: str = "p.mprof") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8"))
    return path


def check_clean(path: Path) -> None:
    analysis = analyze(path, targets=ALL_TARGETS)
    assert not analysis.has_errors, [d.message for d in analysis.diagnostics]


# -- starting a session ------------------------------------------------------------------


def test_starts_at_the_default():
    s = mpl.load(EXAMPLES / "meton.mprof").session()
    assert (s.profile, s.current_task) == ("precise", None)
    assert s.options() == mpl.load(EXAMPLES / "meton.mprof").options("precise")


def test_starts_at_the_routed_profile_of_a_task():
    s = mpl.load(EXAMPLES / "meton.mprof").session(task="docs")
    assert s.profile == "explanation"
    assert s.options()["repeat_penalty"] == 1.15  # the `when task is docs` variant


def test_an_unrouted_task_falls_back_to_the_default():
    assert mpl.load(EXAMPLES / "meton.mprof").session(task="explain").profile == "explanation"
    assert mpl.load(EXAMPLES / "meton.mprof").session(task="general").profile == "precise"


def test_an_explicit_profile_wins():
    assert mpl.load(EXAMPLES / "meton.mprof").session(profile="balanced", task="creative").profile == "balanced"


def test_unknown_profile_and_task():
    ps = mpl.load(EXAMPLES / "meton.mprof")
    with pytest.raises(mpl.MplError) as exc:
        ps.session(profile="creativ")
    assert codes(exc) == ["MPL207"] and "`creative`" in exc.value.diagnostics[0].help
    with pytest.raises(mpl.MplError) as exc:
        ps.session(task="dcos")
    assert codes(exc) == ["MPL205"] and "`docs`" in exc.value.diagnostics[0].help


def test_no_default_and_no_route():
    ps = mpl.loads("tasks a\nprofile p < temperature 0.2 >")
    with pytest.raises(mpl.MplError) as exc:
        ps.session()
    assert codes(exc) == ["MPL217"]
    with pytest.raises(mpl.MplError) as exc:
        ps.session(task="a")
    assert codes(exc) == ["MPL217"]
    assert ps.session(profile="p").options() == {"temperature": 0.2}


# -- preset, task, set, unset, reset ------------------------------------------------------


def test_preset_keeps_overrides_unless_asked():
    s = mpl.load(EXAMPLES / "meton.mprof").session()
    s.set("temperature", "0.9")
    s.preset("balanced")
    assert s.profile == "balanced" and s.options()["temperature"] == 0.9
    s.preset("creative", keep_overrides=False)
    assert s.overrides == {} and s.options()["temperature"] == 0.7


def test_preset_unknown_profile_keeps_the_state():
    s = mpl.load(EXAMPLES / "meton.mprof").session()
    s.set("top_k", 5)
    with pytest.raises(mpl.MplError) as exc:
        s.preset("nope")
    assert codes(exc) == ["MPL207"]
    assert (s.profile, s.overrides) == ("precise", {"top_k": 5})


def test_task_reroutes():
    s = mpl.load(EXAMPLES / "meton.mprof").session()
    s.set("seed", 7)
    s.task("debug")
    assert (s.profile, s.current_task) == ("debugging", "debug")
    assert s.options()["seed"] == 7 and s.options()["mirostat"] == 2
    s.task("docs")
    assert s.profile == "explanation" and s.options()["repeat_penalty"] == 1.15
    with pytest.raises(mpl.MplError) as exc:
        s.task("nope")
    assert codes(exc) == ["MPL205"]
    assert (s.profile, s.current_task) == ("explanation", "docs")
    s.task(None)
    assert s.current_task is None and s.options()["repeat_penalty"] == 1.25


def test_task_without_a_route_or_default_keeps_the_state():
    s = mpl.loads("tasks a, b\nprofile p for a < temperature 0.2 >").session(task="a")
    with pytest.raises(mpl.MplError) as exc:
        s.task("b")
    assert codes(exc) == ["MPL217"]
    assert (s.profile, s.current_task) == ("p", "a")


@pytest.mark.parametrize(
    ("name", "typed", "value"),
    [
        ("temperature", "0.7", 0.7),
        ("temperature", " 1 ", 1.0),
        ("top_k", "20", 20),
        ("stop", "</s>", ["</s>"]),
        ("stop", '"a b"', ["a b"]),
        ("stop", '["###", "\\n\\n"]', ["###", "\n\n"]),
        ("stop", "[not a literal", ["[not a literal"]),
        ("use_mmap", "false", False),
        ("num_ctx", 4096, 4096),
        ("stop", ["a", "b"], ["a", "b"]),
    ],
)
def test_set_reads_values_as_typed_at_a_prompt(name, typed, value):
    s = mpl.load(EXAMPLES / "meton.mprof").session()
    s.set(name, typed)
    assert s.overrides == {name: value}
    assert s.options()[name] == value


@pytest.mark.parametrize(
    ("name", "value", "code"),
    [
        ("temprature", "0.7", "MPL301"),  # unknown parameter, with a did-you-mean
        ("temperature", "warm", "MPL302"),  # wrong type
        ("top_k", "0.5", "MPL302"),
        ("use_mmap", "yes", "MPL302"),
        ("num_ctx", True, "MPL302"),
        ("top_p", "2", "MPL303"),  # out of domain
        ("temperature", "nan", "MPL302"),
    ],
)
def test_set_refuses_bad_values(name, value, code):
    s = mpl.load(EXAMPLES / "meton.mprof").session()
    before = s.options()
    with pytest.raises(mpl.MplError) as exc:
        s.set(name, value)
    assert codes(exc) == [code]
    assert s.overrides == {} and s.options() == before


def test_set_unknown_parameter_suggests():
    s = mpl.load(EXAMPLES / "meton.mprof").session()
    with pytest.raises(mpl.MplError) as exc:
        s.set("temprature", 1)
    assert exc.value.diagnostics[0].help == "did you mean `temperature`?"


def test_set_warns_for_an_option_the_version_ignores():
    s = mpl.load(EXAMPLES / "meton.mprof").session()  # ollama "0.12": tfs_z was removed in 0.5.2
    with pytest.warns(mpl.MplWarning, match="MPL401"):
        s.set("tfs_z", "1")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert s.options()["tfs_z"] == 1.0  # kept, as Ollama would receive it; warned only once


def test_set_refuses_an_option_the_version_rejects():
    s = mpl.loads('ollama "0.1.30"\ndefault p\nprofile p < temperature 0.2 >').session()
    with pytest.raises(mpl.MplError) as exc:
        s.set("min_p", "0.1")
    assert codes(exc) == ["MPL401"]
    assert s.overrides == {}


def test_set_none_removes_the_option():
    s = mpl.load(EXAMPLES / "meton.mprof").session()
    s.set("min_p", None)
    assert "min_p" not in s.options()
    assert "min_p" in [r.name for r in s.rows() if r.source == "default"]


def test_unset_and_reset():
    s = mpl.load(EXAMPLES / "meton.mprof").session()
    s.set("temperature", 0.4)
    s.set("top_k", 3)
    assert s.unset("temperature") is True
    assert s.unset("temperature") is False
    assert s.options()["temperature"] == 0.0 and s.options()["top_k"] == 3
    with pytest.raises(mpl.MplError) as exc:
        s.unset("tmperature")
    assert codes(exc) == ["MPL301"]
    s.reset()
    assert s.overrides == {} and s.options() == mpl.load(EXAMPLES / "meton.mprof").options("precise")


# -- rows and render ---------------------------------------------------------------------


def by_name(s) -> dict:
    return {r.name: r for r in s.rows()}


def test_rows_provenance():
    s = mpl.load(EXAMPLES / "meton.mprof").session(task="docs")
    s.set("temperature", 0.9)
    rows = by_name(s)
    assert (rows["temperature"].source, rows["temperature"].where) == ("override", "override")
    assert rows["num_ctx"].where == "profile base (meton.mprof:16)"  # inherited
    assert rows["top_p"].where == "profile explanation (meton.mprof:51)"
    assert rows["repeat_penalty"].value == 1.15  # task variant
    assert rows["repeat_penalty"].where.startswith("profile explanation, when task is") and rows["repeat_penalty"].where.endswith("(meton.mprof:54)")
    assert (rows["top_k"].source, rows["top_k"].value, rows["top_k"].where) == ("default", 40, "Ollama 0.12.0 default")
    assert rows["stop"].value is None


def test_rows_inert_and_ignored_flags():
    s = mpl.load(EXAMPLES / "meton.mprof").session(task="debug")
    rows = by_name(s)
    assert rows["mirostat"].inert and "Ollama 0.12.0 ignores it" in rows["mirostat"].notes[0]
    assert rows["top_k"].inert and "moot at temperature 0" in rows["top_k"].notes[0]
    s.set("temperature", 0.8)
    assert not by_name(s)["top_k"].inert  # no longer greedy
    with pytest.warns(mpl.MplWarning):
        s.set("tfs_z", 1)
    assert by_name(s)["tfs_z"].source == "override" and by_name(s)["tfs_z"].inert


def test_render_plain_and_rich():
    s = mpl.load(EXAMPLES / "meton.mprof").session()
    s.set("temperature", "0.7")
    plain = s.render(rich=False)
    lines = plain.splitlines()
    assert lines[0] == "profile precise at Ollama 0.12.0, 1 override"
    assert lines[1].split() == ["parameter", "value", "set", "by", "note"]
    assert any(line.split()[:3] == ["temperature", "0.7", "override"] for line in lines)
    assert "\x1b[" not in plain
    fancy = s.render(rich=True)
    assert "\x1b[" in fancy and "override" in fancy
    assert s.render() == plain  # not a terminal under pytest


# -- save --------------------------------------------------------------------------------


def test_save_adds_a_profile_and_keeps_the_rest(meton: Path, snapshot):
    before = meton.read_text()
    s = mpl.load(meton).session()
    s.set("temperature", "0.7")
    s.preset("creative")
    s.set("top_k", "12")
    wanted = s.options()
    assert s.save("mine") == meton
    after = meton.read_text()
    assert after == snapshot
    added = "\n\nprofile mine extends creative < top_k 12 >"  # temperature 0.7 is creative's own
    assert added + "\n\nmodel meton-custom" in after
    assert after.replace(added, "", 1) == before  # every other byte kept
    check_clean(meton)
    assert (s.profile, s.overrides, s.options()) == ("mine", {}, wanted)
    assert mpl.load(meton).options("mine") == wanted


def test_save_twice_is_idempotent(meton: Path):
    s = mpl.load(meton).session()
    s.set("top_k", 12)
    s.save("mine", description="My own")
    once = meton.read_bytes()
    s.save("mine", description="My own")
    assert meton.read_bytes() == once
    again = mpl.load(meton).session(profile="precise")
    again.set("top_k", 12)
    again.save("mine", description="My own")
    assert meton.read_bytes() == once


def test_save_leaves_the_profile_set_reusable(meton: Path):
    ps = mpl.load(meton)
    s = ps.session()
    s.set("top_k", 12)
    s.save("mine")
    assert "mine" not in ps.profiles and ps.options("precise")["top_k"] == 40
    assert "mine" in s.profiles.profiles
    s.set("top_k", 13)  # the session keeps working on the reloaded file
    s.save("mine")
    assert mpl.load(meton).options("mine")["top_k"] == 13
    assert ps.session().options()["top_k"] == 40


def test_save_updates_an_existing_profile_in_place(meton: Path):
    before = meton.read_text()
    s = mpl.load(meton).session(task="debug")
    s.set("top_k", 5)
    s.set("num_ctx", 1000)
    s.save("debugging")
    after = meton.read_text()
    old = "profile debugging extends precise for debug < mirostat 2; top_k 20 >"
    new = "profile debugging extends precise for debug < mirostat 2; top_k 5; num_ctx 1000 >"
    assert after == before.replace(old, new)
    check_clean(meton)


def test_save_edits_the_task_variant_and_removes_values(meton: Path):
    before = meton.read_text()
    s = mpl.load(meton).session(task="docs")
    s.set("repeat_penalty", 1.3)
    s.set("presence_penalty", None)
    wanted = s.options()
    s.save("explanation")
    after = meton.read_text()
    assert after == before.replace("  presence_penalty 0.1\n", "").replace("repeat_penalty 1.15 >", "repeat_penalty 1.3 >")
    assert mpl.load(meton).options("explanation", "docs") == wanted
    assert mpl.load(meton).options("explanation")["repeat_penalty"] == 1.25  # other tasks unchanged


def test_save_unsets_an_inherited_value(meton: Path):
    s = mpl.load(meton).session(profile="creative")
    s.set("seed", None)
    s.save("creative")
    assert "  unset seed\n>" in meton.read_text()
    assert "seed" not in mpl.load(meton).options("creative")


def test_save_with_extends_and_description(meton: Path):
    s = mpl.load(meton).session(profile="creative")
    s.set("temperature", 0.6)
    wanted = s.options()
    s.save("calm", extends="base", description="Calmer")
    text = meton.read_text()
    assert 'profile calm extends base <\n  "Calmer"\n' in text
    assert mpl.load(meton).options("calm") == wanted
    check_clean(meton)


COMMENTED = """\
# header comment
ollama "0.12"  # version

default a

# before a
profile a <
  # inside a, own line
  temperature 0.5  # trailing on temperature
  top_k 40

  # before the end
>  # after a

# between the profiles


profile b extends a < top_p 0.9 >  # after b
# the end
"""


def test_save_on_a_file_with_comments(tmp_path: Path, snapshot):
    path = write(tmp_path, COMMENTED)
    s = mpl.load(path).session(profile="a")
    s.set("temperature", 0.8)
    s.set("min_p", 0.05)
    s.save("a")
    after = path.read_text()
    assert after == snapshot
    start = COMMENTED.index("profile a")
    end = COMMENTED.index(">  # after a") + 1
    assert after.startswith(COMMENTED[:start])
    assert after.endswith(COMMENTED[end:])  # byte for byte outside the declaration
    for comment in ("# inside a, own line", "# trailing on temperature", "# before the end"):
        assert comment in after
    assert "temperature 0.8  # trailing on temperature" in after
    s.set("top_k", 10)
    s.save("c")
    after_c = path.read_text()
    assert after_c == snapshot
    assert after_c.replace("\n\nprofile c extends a < top_k 10 >", "", 1) == after


def test_save_keeps_crlf_and_bom(tmp_path: Path):
    text = "default a\r\n\r\nprofile a <\r\n  temperature 0.5\r\n>\r\n"
    path = tmp_path / "p.mprof"
    path.write_bytes(b"\xef\xbb\xbf" + text.encode())
    s = mpl.load(path).session()
    s.set("top_k", 3)
    s.save("a")
    assert path.read_bytes() == b"\xef\xbb\xbf" + text.replace("0.5\r\n", "0.5\r\n  top_k 3\r\n").encode()


@pytest.mark.parametrize("example", ["meton", "finetune", "legacy-ollama"])
def test_save_on_every_example(tmp_path: Path, example: str, snapshot):
    shutil.copytree(EXAMPLES / "adapters", tmp_path / "adapters")
    path = Path(shutil.copy(EXAMPLES / f"{example}.mprof", tmp_path / f"{example}.mprof"))
    before = path.read_text()
    ps = mpl.load(path)
    s = ps.session(profile=ps.profiles[-1])
    s.set("temperature", 0.65)
    s.set("num_ctx", 2048)
    wanted = s.options()
    s.save("mine")
    after = path.read_text()
    assert after == snapshot
    check_clean(path)
    assert mpl.load(path).options("mine") == wanted
    s.preset(ps.profiles[-1])  # finetune has no `default` to go back to
    s.delete_profile("mine")
    assert path.read_text() == before  # save then delete restores every byte


@pytest.mark.parametrize(
    ("name", "kwargs", "code"),
    [
        ("meton-custom", {}, "MPL203"),  # a model's name
        ("two words", {}, "MPL101"),
        ("profile", {}, "MPL101"),
        ("mine", {"extends": "nope"}, "MPL201"),
        ("base", {"extends": "precise"}, "MPL202"),  # a cycle
    ],
)
def test_save_refusals_leave_the_file(meton: Path, name, kwargs, code):
    before = meton.read_bytes()
    s = mpl.load(meton).session()
    s.set("top_k", 12)
    with pytest.raises(mpl.MplError) as exc:
        s.save(name, **kwargs)
    assert code in codes(exc)
    assert meton.read_bytes() == before
    assert (s.profile, s.overrides) == ("precise", {"top_k": 12})


def test_save_refuses_what_mpl_check_refuses(meton: Path):
    (meton.parent / "mpl.toml").write_text('targets = ["options", "meton", "modelfile"]\n')  # Meton configured
    before = meton.read_bytes()
    s = mpl.load(meton).session()
    s.set("stop", "</s>")  # Meton's config cannot hold a profile's stop
    with pytest.raises(mpl.MplError) as exc:
        s.save("mine")
    assert codes(exc) == ["MPL501"]
    assert meton.read_bytes() == before


def test_a_task_name_may_be_a_profile_name(meton: Path):
    s = mpl.load(meton).session()
    s.set("top_k", 9)
    s.save("review")
    assert mpl.load(meton).options("review")["top_k"] == 9
    check_clean(meton)


def test_save_needs_a_file():
    s = mpl.loads("default p\nprofile p < temperature 0.2 >").session()
    with pytest.raises(mpl.MplError) as exc:
        s.save("q")
    assert codes(exc) == ["MPL001"]


# -- delete ------------------------------------------------------------------------------


def test_delete_refuses_references(meton: Path):
    before = meton.read_bytes()
    s = mpl.load(meton).session()
    with pytest.raises(mpl.MplError) as exc:
        s.delete_profile("precise")
    messages = [d.message for d in exc.value.diagnostics]
    assert "cannot delete profile `precise`: profile `debugging` extends it" in messages
    assert "cannot delete profile `precise`: model `meton-custom` uses it" in messages
    assert "cannot delete profile `precise`: `default` names it" in messages
    assert all(d.span is not None for d in exc.value.diagnostics)
    with pytest.raises(mpl.MplError) as exc:
        s.delete_profile("nope")
    assert codes(exc) == ["MPL207"]
    assert meton.read_bytes() == before


def test_delete_the_current_profile_goes_back_to_the_route(meton: Path):
    before = meton.read_text()
    s = mpl.load(meton).session(task="creative")
    s.set("top_k", 3)
    s.save("mine")
    s.set("seed", 4)
    s.delete_profile("mine")
    assert meton.read_text() == before
    assert (s.profile, s.overrides) == ("creative", {"seed": 4})


def test_delete_a_profile_on_a_shared_line(tmp_path: Path):
    path = write(tmp_path, "default a\nprofile a < top_k 1 >; profile b < top_k 2 >  # c\n")
    s = mpl.load(path).session()
    s.delete_profile("b")
    assert path.read_text() == "default a\nprofile a < top_k 1 >;   # c\n"
    check_clean(path)


def test_delete_the_last_profile_of_the_session_without_default(tmp_path: Path):
    path = write(tmp_path, "profile a < top_k 1 >\n\nprofile b < top_k 2 >\n")
    s = mpl.load(path).session(profile="b")
    with pytest.raises(mpl.MplError) as exc:
        s.delete_profile("b")
    assert codes(exc) == ["MPL217"]
    s.delete_profile("a")
    assert path.read_text() == "profile b < top_k 2 >\n"


# -- the example loop --------------------------------------------------------------------


def run_assistant(path: Path, script: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(EXAMPLES / "assistant.py"), str(path), "--dry-run", *args],
        input=script, capture_output=True, text=True, timeout=120,
    )


def sent(stdout: str) -> list[dict]:
    import json

    return [json.loads(line[len("options: "):]) for line in stdout.splitlines() if line.startswith("options: ")]


def test_example_loop(meton: Path):
    before = meton.read_text()
    script = "\n".join([
        "hi", "/param temperature 0.7", "hi", "/param show", "/preset creative", "hi",
        "/param top_k 12", "hi", "/param reset", "hi", "/param top_k 12", "/profile save mine", "hi",
        "/param temprature 1", "/profile delete mine", "hi", "/quit", "never read",
    ]) + "\n"
    result = run_assistant(meton, script)
    assert result.returncode == 0, result.stderr
    base = {"num_ctx": 32768, "num_predict": 2048, "seed": -1}
    precise = {**base, "temperature": 0.0, "top_k": 40, "min_p": 0.1, "repeat_penalty": 1.1}
    creative = {**base, "temperature": 0.7, "top_p": 0.95, "min_p": 0.05, "repeat_penalty": 1.2}
    assert sent(result.stdout) == [
        precise,
        {**precise, "temperature": 0.7},
        creative,  # the override 0.7 is kept (creative's own value is 0.7 too)
        {**creative, "top_k": 12},
        creative,
        {**creative, "top_k": 12},  # on the saved profile `mine`
        precise,  # `mine` deleted: back to the `default`
    ]
    assert any(line.split()[:3] == ["temperature", "0.7", "override"] for line in result.stdout.splitlines())
    assert "did you mean `temperature`?" in result.stderr
    assert meton.read_text() == before  # saved, then deleted


def test_example_loop_save_passes_mpl_check(meton: Path):
    before = meton.read_text()
    result = run_assistant(meton, "/preset creative\n/param top_k 12\n/profile save mine\n")
    assert result.returncode == 0, result.stderr
    after = meton.read_text()
    added = "\n\nprofile mine extends creative < top_k 12 >"
    assert added in after and after.replace(added, "", 1) == before
    check = subprocess.run([sys.executable, "-m", "mpl", "check", str(meton)], capture_output=True, text=True, timeout=120)
    assert check.returncode == 0, check.stdout + check.stderr


def test_save_without_changes_keeps_the_layout(tmp_path: Path):
    text = "default a\nprofile a<temperature 0.5;top_k 4>  # odd layout\n"
    path = write(tmp_path, text)
    s = mpl.load(path).session()
    s.set("top_k", 4)  # the profile's own value: nothing to write
    s.save("a")
    assert path.read_text() == text
    s.set("top_k", 5)
    s.save("a")
    assert path.read_text() == "default a\nprofile a < temperature 0.5; top_k 5 >  # odd layout\n"


def test_a_failed_write_keeps_the_file_and_the_state(meton: Path, monkeypatch):
    import mpl.output

    def refuse(path, data):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(mpl.output, "write_atomic", refuse)
    before = meton.read_bytes()
    s = mpl.load(meton).session()
    s.set("top_k", 12)
    with pytest.raises(mpl.MplError) as exc:
        s.save("mine")
    assert codes(exc) == ["MPL001"] and "Permission denied" in str(exc.value)
    assert meton.read_bytes() == before
    assert (s.profile, s.overrides) == ("precise", {"top_k": 12})
    assert sorted(p.name for p in meton.parent.iterdir()) == ["adapters", "meton.mprof"]


@pytest.mark.parametrize("newline", [b"\n", b"\r\n", b"\r"])
def test_delete_a_profile_cuts_its_line_whatever_the_line_breaks(tmp_path: Path, newline: bytes):
    path = tmp_path / "p.mprof"
    path.write_bytes(b"profile a < top_k 1 >" + newline * 2 + b"profile b < top_k 2 >" + newline)
    s = mpl.load(path).session(profile="a")
    s.delete_profile("b")
    assert path.read_bytes() == b"profile a < top_k 1 >" + newline * 2
    check_clean(path)

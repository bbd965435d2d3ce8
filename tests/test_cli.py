"""The `mpl` command through typer's runner and through a real subprocess."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from helpers import EXAMPLES, ROOT, after_a_script_check
from mpl.cli import _app_for, app

runner = CliRunner()


def invoke(*args: str):
    result = runner.invoke(app, list(args))
    assert "Traceback" not in result.output
    return result


@pytest.mark.parametrize("name", ["meton", "finetune", "legacy-ollama"])
def test_examples_check_clean(name: str) -> None:
    result = invoke("check", str(EXAMPLES / f"{name}.mprof"))
    assert result.exit_code == 0, result.output


def test_meton_example_warns_about_mirostat_on_its_target() -> None:
    result = invoke("check", str(EXAMPLES / "meton.mprof"))
    assert "warning[MPL401]: `mirostat` was removed in Ollama 0.7.0" in result.output
    assert invoke("check", str(EXAMPLES / "meton.mprof"), "--ollama", "0.6").output.count("MPL401") == 0


def test_strict_turns_warnings_into_failure() -> None:
    assert invoke("check", "--strict", str(EXAMPLES / "meton.mprof")).exit_code == 1


def test_text_format_has_location_caret_and_help(tmp_path: Path) -> None:
    src = tmp_path / "p.mprof"
    src.write_text("profile p <\n  min_pp 0.1\n>\n")
    result = invoke("check", str(src))
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[0] == f"{src}:2:3: error[MPL301]: unknown parameter `min_pp`"
    assert lines[2] == "2 |   min_pp 0.1"
    assert lines[3] == "  |   ^^^^^^"
    assert "= help: did you mean `min_p`?" in lines[4]


def test_json_format(tmp_path: Path) -> None:
    src = tmp_path / "p.mprof"
    src.write_text("profile p < top_p 1.5 >\n")
    result = invoke("check", "--format", "json", "--target", "options", str(src))
    assert result.exit_code == 1
    payload = json.loads(result.output)
    (diag,) = payload["diagnostics"]
    assert diag["code"] == "MPL303" and diag["severity"] == "error"
    assert diag["range"]["start"] == {"line": 1, "column": 19, "offset": 18}
    assert payload["summary"] == {"errors": 1, "warnings": 0, "notes": 0}


def test_missing_file_is_an_io_error() -> None:
    result = invoke("check", "no/such/file.mprof")
    assert result.exit_code == 2
    assert "error[MPL001]: cannot read `no/such/file.mprof`" in result.output


def test_directory_is_an_io_error(tmp_path: Path) -> None:
    assert invoke("check", str(tmp_path)).exit_code == 2


def test_not_utf8_points_at_the_byte(tmp_path: Path) -> None:
    src = tmp_path / "latin1.mprof"
    src.write_bytes('profile p < "caf\xe9" >\n'.encode("latin-1"))
    result = invoke("check", str(src))
    assert result.exit_code == 1
    assert f"{src}:1:17: error[MPL002]" in result.output


def test_binary_file(tmp_path: Path) -> None:
    src = tmp_path / "model.gguf"
    src.write_bytes(b"GGUF\x03\x00\x00\x00" + bytes(range(256)))
    result = invoke("check", str(src))
    assert result.exit_code == 1
    assert "error[MPL003]" in result.output


def test_huge_file(tmp_path: Path) -> None:
    src = tmp_path / "huge.mprof"
    src.write_bytes(b"# " + b"x" * (16 * 1024 * 1024 + 1))
    result = invoke("check", str(src))
    assert result.exit_code == 1 and "error[MPL005]" in result.output


@pytest.mark.parametrize(
    "text",
    ["", "profile", "profile p <", 'profile p < system """abc', "\x00\x01", "<<<>>>[[[", "model m from", "ollama"],
)
def test_truncated_and_hostile_inputs_never_crash(tmp_path: Path, text: str) -> None:
    src = tmp_path / "t.mprof"
    src.write_text(text)
    result = invoke("check", str(src))
    assert result.exit_code in (0, 1)
    assert "[MPL" in result.output


def test_bad_ollama_option_is_a_usage_error() -> None:
    result = invoke("check", "--ollama", "latest", str(EXAMPLES / "meton.mprof"))
    assert result.exit_code == 2
    assert "invalid Ollama version 'latest'" in result.output


def test_compile_writes_three_targets(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = invoke("compile", str(EXAMPLES / "meton.mprof"), "-o", str(out))
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["meton-custom.Modelfile", "meton.options.json", "meton.yaml"]


def test_compiled_files_get_the_usual_mode(tmp_path: Path) -> None:
    import os
    import stat

    umask = os.umask(0o022)
    try:
        invoke("compile", str(EXAMPLES / "meton.mprof"), "-o", str(tmp_path))
    finally:
        os.umask(umask)
    assert {stat.S_IMODE(p.stat().st_mode) for p in tmp_path.iterdir()} == {0o644}


def test_compile_shows_warnings_and_counts_notes(tmp_path: Path) -> None:
    result = invoke("compile", str(EXAMPLES / "meton.mprof"), "-o", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert "warning[MPL401]" in result.output and "note[" not in result.output
    (line,) = [line for line in result.output.splitlines() if "notes" in line]
    assert re.fullmatch(r".*meton\.mprof: 6 notes \(MPL701 ×3, MPL509, MPL729, MPL730; `mpl check --notes` lists them\)", line)


def test_compile_one_target(tmp_path: Path) -> None:
    result = invoke("compile", str(EXAMPLES / "meton.mprof"), "-o", str(tmp_path), "--target", "options")
    assert result.exit_code == 0
    assert [p.name for p in tmp_path.iterdir()] == ["meton.options.json"]


def test_compile_writes_nothing_on_errors(tmp_path: Path) -> None:
    src = tmp_path / "bad.mprof"
    src.write_text("profile p < temperature 0.5 >\nmodel m from \"llama3\" < use q >\n")
    out = tmp_path / "out"
    result = invoke("compile", str(src), "-o", str(out))
    assert result.exit_code == 1
    assert "nothing written" in result.output
    assert not out.exists()


def test_compile_replaces_outputs_and_leaves_no_temporary_files(tmp_path: Path) -> None:
    invoke("compile", str(EXAMPLES / "finetune.mprof"), "-o", str(tmp_path))
    invoke("compile", str(EXAMPLES / "finetune.mprof"), "-o", str(tmp_path))
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_compile_into_an_unwritable_place_is_an_io_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    result = invoke("compile", str(EXAMPLES / "meton.mprof"), "-o", str(blocker / "out"))
    assert result.exit_code == 2


def test_explain() -> None:
    result = invoke("explain", "mpl301")
    assert result.exit_code == 0 and "unknown-parameter" in result.output
    assert invoke("explain", "MPL999").exit_code == 2


def test_version_and_help() -> None:
    assert invoke("--version").output.startswith("mpl ")
    assert "compile" in invoke("-h").output


COMMANDS = ["check", "compile", "fmt", "import", "build", "data", "eval", "explain", "show", "diff", "init", "lsp"]


def test_every_command_is_listed() -> None:
    assert sorted(COMMANDS) == sorted(info.name or info.callback.__name__ for info in app.registered_commands)
    assert all(len(_app_for(["mpl", name]).registered_commands) == 1 for name in COMMANDS)


@pytest.mark.parametrize("args", [[name, *rest] for name in COMMANDS for rest in (["--help"], ["--no-such-option"])], ids=" ".join)
def test_main_builds_only_the_named_command_and_it_behaves_the_same(args: list[str]) -> None:
    """`main` runs an app holding just the command argv names: same help, same errors."""
    single = _app_for(["mpl", *args])
    assert len(single.registered_commands) == 1
    alone, whole = runner.invoke(single, args), runner.invoke(app, args)
    assert (alone.exit_code, alone.output) == (whole.exit_code, whole.output)


@pytest.mark.parametrize("args", [[], ["--help"], ["-h"], ["--version"], ["nope"], ["--version", "check"]])
def test_main_runs_the_whole_app_unless_a_command_comes_first(args: list[str]) -> None:
    assert _app_for(["mpl", *args]) is app


@pytest.mark.parametrize("args", [["--help"], ["check", "--help"]], ids=" ".join)
def test_help_through_main_is_the_whole_apps_help(args: list[str]) -> None:
    def run(entry: str) -> subprocess.CompletedProcess:
        code = f"import sys\nsys.argv = ['mpl', *{args!r}]\nfrom mpl.cli import app, main\n{entry}()\n"
        return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ, "NO_COLOR": "1"})

    through_main, whole = run("main"), run("app")
    assert (through_main.returncode, through_main.stdout) == (whole.returncode, whole.stdout)
    assert whole.returncode == 0 and "Usage: mpl " in whole.stdout
    if args == ["--help"]:
        assert all(f"  {name} " in whole.stdout for name in COMMANDS)


def test_real_subprocess_from_another_directory(tmp_path: Path) -> None:
    """The installed command works from any directory (the grammar ships in the package)."""
    env = {**os.environ, "NO_COLOR": "1"}
    check = subprocess.run(
        [sys.executable, "-m", "mpl", "check", str(EXAMPLES / "meton.mprof")],
        cwd=tmp_path, capture_output=True, text=True, env=env,
    )
    assert check.returncode == 0, check.stdout + check.stderr
    done = subprocess.run(
        [sys.executable, "-m", "mpl", "compile", str(EXAMPLES / "meton.mprof"), "-o", "out"],
        cwd=tmp_path, capture_output=True, text=True, env=env,
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "out" / "meton-custom.Modelfile").is_file()
    bad = subprocess.run(
        [sys.executable, "-m", "mpl", "check", str(ROOT / "tests/fixtures/diagnostics/MPL202-inheritance-cycle.mprof")],
        cwd=tmp_path, capture_output=True, text=True, env=env,
    )
    assert bad.returncode == 1 and "Traceback" not in bad.stderr


@pytest.mark.parametrize(("options", "typer_too"), [([], False), (["--strict"], True)], ids=["plain", "with-an-option"])
def test_check_imports_nothing_heavy(options: list[str], typer_too: bool) -> None:
    """`mpl check`, run as the `mpl` script runs it, imports nothing only other commands need,
    and without an option not even typer (`mpl.commands.plain_check`)."""
    report = (
        "heavy = sorted(m for m, module in sys.modules.items() if module is not None and m.split('.')[0] in (\n"
        "    'ollama', 'httpx', 'jinja2', 'pygls', 'yaml', 'rich', 'pydantic', 'numpy', 'gguf',\n"
        "    'regex', 'typing_extensions'))\n"  # optional imports of lark and msgspec (mpl._imports)
        "print('mpl.compiler.parse' in sys.modules, heavy, 'typer' in sys.modules, 'mpl.cli' in sys.modules)"
    )
    assert after_a_script_check([*options, str(EXAMPLES / "meton.mprof")], report) == f"True [] {typer_too} {typer_too}"


@pytest.mark.parametrize(("argv", "plain"), [
    (["check"], True),
    (["check", "a.mprof"], True),
    (["check", "a.mprof", "Modelfile", "folder"], True),
    (["check", "-"], True),  # standard input is an operand
    (["check", "--strict", "a.mprof"], False),
    (["check", "a.mprof", "--notes"], False),
    (["check", "-t", "options", "a.mprof"], False),
    (["check", "--", "-a.mprof"], False),
    (["check", "--help"], False),
    (["check", "-h"], False),
    (["compile", "a.mprof"], False),
    (["--version"], False),
    ([], False),
])
def test_plain_check_is_check_with_operands_only(argv: list[str], plain: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    from mpl.commands import plain_check

    monkeypatch.delenv("_MPL_COMPLETE", raising=False)
    assert plain_check(argv) is plain
    monkeypatch.setenv("_MPL_COMPLETE", "bash_complete")  # a completion request is typer's
    assert plain_check(argv) is False


@pytest.mark.parametrize("argv", [["check"], ["check", "a.mprof"], ["check", "-", "b.mprof", "c"]], ids=" ".join)
def test_typer_reads_a_plain_check_as_the_script_runs_it(argv: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """What typer passes to `mpl.commands.check` for operands only is the call the script makes without it:
    the operands (or None) and every option at its default. An option added to `mpl check` whose
    default differs from `mpl.commands.check`'s, or that reads an environment variable, fails here."""
    import inspect

    from typer.main import get_command

    from mpl import commands

    plain = inspect.signature(commands.check).bind(argv[1:] or None)
    plain.apply_defaults()
    seen: list[dict] = []
    monkeypatch.setattr(commands, "check", lambda files, **options: seen.append({"files": files, **options}) or 0)
    assert runner.invoke(app, argv).exit_code == 0
    assert seen == [plain.arguments]
    command = get_command(_app_for(["mpl", "check"])).commands["check"]  # type: ignore[attr-defined]
    assert [p.name for p in command.params if p.envvar] == []


@pytest.mark.parametrize("command", ["check", "compile", "show", "fmt"])
def test_the_script_imports_with_the_collector_paused_and_runs_every_command_with_it_on(command: str) -> None:
    """`mpl.__main__.main` imports with the collector off, freezes the start-up heap, and every command runs with it on."""
    code = (
        "import gc, sys\n"
        "import mpl.cli\n"
        "real = mpl.cli._app_for\n"
        "mpl.cli._app_for = lambda argv: print('collecting:', gc.isenabled(), gc.get_freeze_count() > 0, flush=True) or real(argv)\n"
        "from mpl.__main__ import main\n"
        f"sys.argv = ['mpl', {command!r}, '--help']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ, "NO_COLOR": "1"})
    assert out.stdout.splitlines()[0] == "collecting: True True", out.stdout + out.stderr


@pytest.mark.parametrize(("command", "teardown"), [("check", False), ("compile", True), ("show", True)])
def test_the_script_ends_check_without_the_interpreters_teardown(tmp_path: Path, command: str, teardown: bool) -> None:
    """`mpl check` has nothing to close when it is done: its output is flushed and the process ends at once."""
    (tmp_path / "p.mprof").write_text("profile p < temperature 0.5; mirostat 2 >\n")
    code = (
        "import atexit, sys\n"
        "atexit.register(lambda: print('teardown'))\n"
        f"sys.argv = ['mpl', {command!r}, 'p.mprof', '--isolated']\n"
        "from mpl.__main__ import main\n"
        "main()\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path,
                         env={**os.environ, "NO_COLOR": "1"})
    assert ("teardown" in out.stdout.splitlines()) is teardown, out.stdout + out.stderr
    if command == "check":  # the whole report is written, with the exit status of a warning only
        assert out.returncode == 0 and "mirostat" in out.stdout and out.stdout.endswith("p.mprof: 0 errors, 1 warning\n"), out.stdout


def test_the_script_freezes_what_is_left_for_a_quick_exit() -> None:
    """The collector's pass at exit would walk every object still alive (see `mpl.__main__`)."""
    code = (
        "import gc, sys\n"
        "from mpl.__main__ import main\n"
        "sys.argv = ['mpl', '--version']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print(len(gc.get_objects()))\n"  # the objects the collector would walk (frozen ones are not listed)
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.startswith("mpl ") and int(out.stdout.splitlines()[-1]) < 100, out.stdout + out.stderr


NOTED = (
    'ollama "0.12"\n'
    "profile a < temperature 0 ; top_k 40 ; min_p 0.1 >\n"
    "profile b < temperature 2.5 ; mirostat 2 >\n"
    "profile c < top_p 7 >\n"
)


def test_check_lists_errors_and_warnings_and_sums_up_notes_in_one_line(tmp_path: Path) -> None:
    from mpl.pipeline import analyze

    src = tmp_path / "n.mprof"
    src.write_text(NOTED)
    notes = [d for d in analyze(src).diagnostics if d.severity.value == "note"]
    assert len(notes) >= 3
    result = invoke("check", str(src))
    assert result.exit_code == 1 and "note[" not in result.output
    assert "error[MPL303]" in result.output and "warning[MPL401]" in result.output
    assert [line for line in result.output.splitlines() if "note" in line] == [result.output.splitlines()[-1]]
    codes = {d.code: sum(1 for n in notes if n.code == d.code) for d in notes}
    listed = ", ".join(c if n == 1 else f"{c} ×{n}" for c, n in sorted(codes.items(), key=lambda kv: (-kv[1], kv[0])))
    assert result.output.splitlines()[-1].endswith(f"{len(notes)} notes ({listed}; `--notes` lists them)")
    every = invoke("check", "--notes", str(src))
    assert every.output.count("note[") == len(notes) and every.output.splitlines()[-1].endswith(f"{len(notes)} notes")
    payload = json.loads(invoke("check", "--format", "json", str(src)).output)
    assert sum(d["severity"] == "note" for d in payload["diagnostics"]) == len(notes)
    sarif = json.loads(invoke("check", "--format", "sarif", str(src)).output)
    assert sum(r["level"] == "note" for r in sarif["runs"][0]["results"]) == len(notes)


def test_short_f_means_file_wherever_it_is_accepted() -> None:
    """`-f` is `--file` (as in `ollama create -f`); `--format` has no short form."""
    import typer.main

    group = typer.main.get_command(app)
    seen = {}
    for name, command in group.commands.items():  # type: ignore[attr-defined]
        for param in command.params:
            if "-f" in getattr(param, "opts", ()):
                seen[name] = param.opts
    assert set(seen) >= {"build"} and all(opts == ["--file", "-f"] for opts in seen.values()), seen
    assert invoke("check", "-f", "json", str(EXAMPLES / "meton.mprof")).exit_code == 2


def test_lsp_accepts_stdio(monkeypatch) -> None:
    """`mpl lsp --stdio`, as editor clients start it, runs the server on standard input and output."""
    import mpl.lsp

    started = []
    monkeypatch.setattr(mpl.lsp, "serve", lambda: started.append(True))
    assert invoke("lsp", "--stdio").exit_code == 0 and invoke("lsp").exit_code == 0
    assert started == [True, True]


def test_help_summaries_are_whole_sentences() -> None:
    """`mpl --help` shows each command's first docstring line whole: a short sentence, never cut with `...`."""
    import inspect

    for info in app.registered_commands:
        first, _, rest = inspect.getdoc(info.callback).partition("\n")
        assert first.endswith(".") and len(first) <= 56 and first.count(". ") == 0, first
        assert not rest or rest.startswith("\n"), f"{first!r} goes on without a blank line"
    listing = runner.invoke(app, ["--help"], terminal_width=80).output.split("Commands:")[1]
    summaries = [line.split(None, 1)[1] for line in listing.strip().splitlines()]
    assert len(summaries) == len(app.registered_commands)
    assert all(s.endswith(".") and not s.endswith("...") for s in summaries), summaries


def _script(args: list[str], cwd: Path, stdin: str = "") -> subprocess.CompletedProcess:
    """The `mpl` script's entry point, as installed, in a child process."""
    code = f"import sys\nsys.argv = ['mpl', *{args!r}]\nfrom mpl.__main__ import main\nmain()\n"
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, input=stdin, capture_output=True, text=True,
                          env={**os.environ, "NO_COLOR": "1"})


@pytest.mark.parametrize("operands", [
    ["clean.mprof"],
    ["broken.mprof", "clean.mprof"],
    ["missing.mprof"],
    ["-"],
    ["folder"],
    [],  # the configuration's sources
], ids=lambda x: " ".join(x) or "none")
def test_a_plain_check_prints_and_exits_as_through_typer(tmp_path: Path, operands: list[str]) -> None:
    """The script runs `mpl check FILE...` without typer; `--lang auto` (the default) makes typer read the
    same command: the output and the exit status are the same."""
    (tmp_path / "mpl.toml").write_text('sources = ["*.mprof"]\n')
    (tmp_path / "clean.mprof").write_text("profile p < temperature 0.5; mirostat 2 >\n")
    (tmp_path / "broken.mprof").write_text("profile p < temperature 1.5x >\nprofile q extends nowhere < >\n")
    (tmp_path / "folder").mkdir()
    (tmp_path / "folder" / "Modelfile").write_text("FROM llama3.2\nPARAMETER temperature 2\nPARAMETER top_p 1.5\n")
    stdin = "profile s < mirostat 2 >\n"
    plain, through_typer = _script(["check", *operands], tmp_path, stdin), _script(["check", "--lang", "auto", *operands], tmp_path, stdin)
    assert (plain.returncode, plain.stdout, plain.stderr) == (through_typer.returncode, through_typer.stdout, through_typer.stderr)
    assert "Traceback" not in plain.stderr and plain.stdout + plain.stderr
    assert plain.returncode == {"clean.mprof": 0, "broken.mprof": 1, "missing.mprof": 2, "-": 0, "folder": 1, "": 1}[
        (operands or [""])[0]], plain.stdout + plain.stderr


@pytest.mark.parametrize("options", [[], ["--lang", "auto"]], ids=["plain", "through-typer"])
def test_a_reader_that_goes_away_ends_check_quietly_with_1(tmp_path: Path, options: list[str]) -> None:
    """`mpl check ... | head -c 1`: nothing on standard error, exit status 1, under typer and without it."""
    (tmp_path / "p.mprof").write_text("profile p < mirostat 2 >\n" * 3)
    code = f"import sys\nsys.argv = ['mpl', 'check', *{options!r}, *['p.mprof'] * 400]\nfrom mpl.__main__ import main\nmain()\n"
    child = subprocess.Popen([sys.executable, "-c", code], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             env={**os.environ, "NO_COLOR": "1"})
    assert child.stdout is not None and child.stderr is not None
    assert child.stdout.read(1)
    child.stdout.close()
    err = child.stderr.read()
    assert (child.wait(timeout=120), err) == (1, b"")

"""Hostile files and inputs: FIFOs, devices, endless and huge inputs, odd names, wrong-typed API arguments.

Every reader of an input file goes through `mpl.source.read_file` (a regular
file only, at most 16 MiB and a byte); standard input through `read_stream`.
The CLI runs in a subprocess with a timeout, so a reader that blocks fails the
test instead of hanging the suite.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import typing as t
from pathlib import Path

import pytest

import mpl
from helpers import ROOT

MAX_BYTES = 16 * 1024 * 1024  # the most mpl reads of an input (mpl.source.MAX_BYTES)

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="FIFOs, devices and signals are POSIX")

OK = 'model "m" from "llama3"\nprofile p < temperature 0.5 >\n'
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1"}


def _mpl(*args: str, cwd: Path, stdin: t.Any = subprocess.DEVNULL, timeout: float = 20) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([sys.executable, "-m", "mpl", *args], cwd=cwd, stdin=stdin, capture_output=True,
                            text=True, timeout=timeout, env=ENV)
    assert "Traceback" not in result.stdout + result.stderr, result.stderr
    return result


def _python(code: str, cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env=ENV)


@pytest.mark.parametrize("command", [
    ["check", "fifo.mprof"],
    ["compile", "fifo.mprof", "-o", "out"],
    ["fmt", "fifo.mprof"],
    ["import", "fifo.mprof"],
    ["import", "Modelfile"],
    ["check", "Modelfile"],
    ["compile", "ok.mprof", "--into", "config.yaml"],
], ids=lambda c: " ".join(c))
def test_a_fifo_is_refused_by_every_reader_without_blocking(tmp_path: Path, command: list[str]) -> None:
    for name in ("fifo.mprof", "Modelfile", "config.yaml"):
        os.mkfifo(tmp_path / name)
    (tmp_path / "ok.mprof").write_text(OK, encoding="utf-8")
    result = _mpl(*command, cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "it is a FIFO (named pipe), not a regular file" in result.stdout + result.stderr
    assert not (tmp_path / "out").exists()


def test_a_fifo_or_device_through_the_api_is_an_mpl_error(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "fifo.mprof")
    result = _python("""
        import mpl
        from pathlib import Path
        for source in ("fifo.mprof", Path("fifo.mprof"), "/dev/null", Path("/dev/zero"), "."):
            try:
                mpl.load(source)
            except mpl.MplError as exc:
                print([d.code for d in exc.diagnostics], exc.diagnostics[0].message)
        """, tmp_path)
    lines = result.stdout.splitlines()
    assert result.returncode == 0 and len(lines) == 5, result.stdout + result.stderr
    assert all(line.startswith("['MPL001']") for line in lines)
    assert "FIFO" in lines[0] and "FIFO" in lines[1] and "character device" in lines[2] and "folder" in lines[4]


def test_a_link_to_dev_zero_is_refused_and_stdin_of_dev_zero_is_bounded(tmp_path: Path) -> None:
    (tmp_path / "zero.mprof").symlink_to("/dev/zero")
    result = _mpl("check", "zero.mprof", cwd=tmp_path)
    assert result.returncode == 2 and "character device, not a regular file" in result.stdout
    with open("/dev/zero", "rb") as zero:
        result = _mpl("check", "-", cwd=tmp_path, stdin=zero)
    assert result.returncode == 1 and "error[MPL005]" in result.stdout
    with open("/dev/zero", "rb") as zero:
        result = _mpl("fmt", "-", cwd=tmp_path, stdin=zero)
    assert result.returncode == 1 and "error[MPL005]" in result.stderr


def test_a_huge_file_is_read_only_up_to_the_limit(tmp_path: Path) -> None:
    big = tmp_path / "big.mprof"
    with open(big, "wb") as fp:
        fp.truncate(3 * 1024**3)  # sparse: 3 GB that take no room
    from mpl.source import read_file

    assert len(read_file(big)) == MAX_BYTES + 1
    result = _python(f"""
        import resource, sys
        from mpl.cli import main
        sys.argv = ["mpl", "check", {str(big)!r}]
        try:
            main()
        except SystemExit as exc:
            print("exit", exc.code, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)
        """, tmp_path)
    exit_code, peak_mib = result.stdout.split()[-2:]
    assert exit_code == "1" and "error[MPL005]" in result.stdout
    assert int(peak_mib) < 400, f"{peak_mib} MiB to refuse a 3 GB file"


@pytest.mark.parametrize(("data", "code"), [
    (b"profile p <\x00>", "MPL003"),
    ("profile p < >".encode("utf-16"), "MPL002"),
    (b"#" * (MAX_BYTES + 10), "MPL005"),
])
def test_check_of_standard_input_reports_binary_utf16_and_oversized_input(tmp_path: Path, data: bytes, code: str) -> None:
    result = subprocess.run([sys.executable, "-m", "mpl", "check", "-"], cwd=tmp_path, input=data,
                            capture_output=True, timeout=60, env=ENV)
    assert b"Traceback" not in result.stderr
    assert result.returncode == 1 and f"error[{code}]".encode() in result.stdout


@pytest.mark.parametrize("command", ["check", "fmt"])
def test_a_closed_standard_input_is_an_io_error(tmp_path: Path, command: str) -> None:
    result = subprocess.run(f"{sys.executable} -m mpl {command} - <&-", shell=True, cwd=tmp_path, capture_output=True,
                            text=True, timeout=60, env=ENV)
    assert "Traceback" not in result.stderr
    assert result.returncode == 2 and "standard input is closed" in result.stdout + result.stderr


def test_into_a_file_over_the_limit_is_refused_and_left_unchanged(tmp_path: Path) -> None:
    (tmp_path / "ok.mprof").write_text(OK, encoding="utf-8")
    config = tmp_path / "config.yaml"
    config.write_bytes(b"# " + b"x" * MAX_BYTES + b"\n")
    result = _mpl("compile", "ok.mprof", "--into", "config.yaml", cwd=tmp_path)
    assert result.returncode == 2 and result.stderr.count("mpl: error: ") == 1 and "larger than" in result.stderr
    assert config.stat().st_size == MAX_BYTES + 3 and not (tmp_path / "config.yaml.bak").exists()


def test_import_of_an_oversized_utf16_modelfile_is_too_large(tmp_path: Path) -> None:
    (tmp_path / "Modelfile").write_bytes("FROM llama3\n".encode("utf-16") + b"#\x00" * (MAX_BYTES // 2))
    result = _mpl("import", "Modelfile", cwd=tmp_path)
    assert result.returncode == 1 and "error[MPL005]" in result.stderr


# -- names the system cannot look up -----------------------------------------------


def test_a_source_name_over_255_characters_is_a_diagnostic(tmp_path: Path) -> None:
    result = _mpl("check", "a" * 300 + ".mprof", cwd=tmp_path)
    assert result.returncode == 2 and "error[MPL001]" in result.stdout and "File name too long" in result.stdout


def test_compile_into_a_300_character_folder_is_one_error_line(tmp_path: Path) -> None:
    (tmp_path / "m.gguf").write_bytes(b"GGUF\x03\x00\x00\x00" + bytes(100))
    (tmp_path / "local.mprof").write_text('model "a" from "./m.gguf"\n', encoding="utf-8")
    for folder in ("d" * 300, "d" * 300 + "/sub"):
        result = _mpl("compile", "local.mprof", "-o", folder, cwd=tmp_path)
        assert result.returncode == 2 and result.stderr.startswith("mpl: error: ") and result.stderr.count("\n") == 1


# -- Ctrl-C while the CLI starts ----------------------------------------------------


@pytest.mark.parametrize(("argv", "module"), [(["check", "ok.mprof"], "lark"), (["check", "--strict", "ok.mprof"], "typer")])
def test_ctrl_c_during_the_imports_is_one_line_and_exit_130(tmp_path: Path, argv: list[str], module: str) -> None:
    """A Ctrl-C that lands while `mpl` imports its modules (the first 150 ms): no traceback."""
    (tmp_path / "ok.mprof").write_text(OK, encoding="utf-8")
    result = _python(f"""
        import sys

        class CtrlC:  # a Ctrl-C that lands while {module} is imported
            def find_spec(self, name, path=None, target=None):
                if name == {module!r}:
                    raise KeyboardInterrupt
                return None

        sys.meta_path.insert(0, CtrlC())
        sys.argv = ["mpl", *{argv!r}]
        from mpl.__main__ import main
        main()
        """, tmp_path)
    assert (result.returncode, result.stderr, result.stdout) == (130, "mpl: interrupted\n", "")


def test_a_real_sigint_while_main_starts_never_prints_a_traceback(tmp_path: Path) -> None:
    """SIGINT at moments spread over the first 150 ms of `main` (the script's wrapper has imported `mpl.__main__`)."""
    (tmp_path / "ok.mprof").write_text(OK, encoding="utf-8")
    child = "import sys, mpl.__main__; sys.argv = ['mpl', 'check', 'ok.mprof']; print('ready', flush=True); mpl.__main__.main()"
    for delay in (0.01, 0.03, 0.06, 0.1, 0.15):  # from 10 ms: the child is in `main` by then
        process = subprocess.Popen([sys.executable, "-c", child], cwd=tmp_path, env=ENV, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True)
        assert process.stdout is not None and process.stdout.readline() == "ready\n"
        try:
            process.wait(delay)
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=60)
        assert "Traceback" not in err, err
        assert (process.returncode, err) in ((0, ""), (130, "mpl: interrupted\n")), (delay, process.returncode, err)


# -- the Python API: only MplError ------------------------------------------------


def _codes(call: t.Callable[[], object]) -> list[str]:
    with pytest.raises(mpl.MplError) as info:
        call()
    return [d.code for d in info.value.diagnostics]


def test_load_of_a_path_with_a_nul_is_an_mpl_error() -> None:
    assert _codes(lambda: mpl.load(Path("a\0b"))) == ["MPL001"]


def test_a_string_naming_a_device_is_read_as_a_path_and_refused() -> None:
    with pytest.raises(mpl.MplError) as info:
        mpl.load("/dev/null")
    assert [d.code for d in info.value.diagnostics] == ["MPL001"] and "character device" in str(info.value)


@pytest.mark.parametrize("call", [
    lambda ps: ps.options(None),
    lambda ps: ps.options(["p"]),
    lambda ps: ps.options("p", 3),
    lambda ps: ps.options("p", ["a"]),
    lambda ps: ps.for_task(None),
    lambda ps: ps.description(3),
    lambda ps: ps.session(3),
    lambda ps: ps.session(task={}),
    lambda ps: ps.session("p").set(3, 1),
], ids=["options(None)", "options(list)", "task=3", "task=list", "for_task(None)", "description(3)",
        "session(3)", "session(task={})", "set(3)"])
def test_wrong_typed_arguments_are_mpl_errors(call: t.Callable[[mpl.ProfileSet], object]) -> None:
    profiles = mpl.loads("tasks a\ndefault p\nprofile p < temperature 0.2 >")
    with pytest.raises(mpl.MplError) as info:
        call(profiles)
    assert info.value.diagnostics[0].code in ("MPL207", "MPL205", "MPL301")
    assert "is a string, not" in str(info.value)


def test_a_wrong_typed_ollama_version_is_an_mpl_error() -> None:
    assert _codes(lambda: mpl.loads("profile p < >", ollama=12)) == ["MPL304"]  # type: ignore[arg-type]


def test_loads_applies_the_16_mib_limit() -> None:
    assert _codes(lambda: mpl.loads("#" * (MAX_BYTES + 1))) == ["MPL005"]
    assert _codes(lambda: mpl.loads("# " + "é" * (MAX_BYTES // 2))) == ["MPL005"]  # 16 MiB of UTF-8 in 8 Mi characters


def test_load_of_a_file_object_reads_at_most_the_limit() -> None:
    class Endless:
        name = "<endless>"

        def read(self, size: int = -1) -> bytes:
            assert 0 < size <= MAX_BYTES + 1, "read without a bound"
            return b"#" * min(size, 1 << 20)

    assert _codes(lambda: mpl.load(Endless())) == ["MPL005"]  # type: ignore[arg-type]


# -- model files whose names differ only in case ----------------------------------


def test_models_whose_files_differ_only_in_case_are_refused_by_check_and_compile(tmp_path: Path) -> None:
    (tmp_path / "m.mprof").write_text('model "A-b" from "llama3"\nmodel "a:b" from "llama3"\n', encoding="utf-8")
    result = _mpl("check", "--target", "modelfile", "m.mprof", cwd=tmp_path)
    assert result.returncode == 1 and "m.mprof:2:7: error[MPL508]" in result.stdout
    assert "`A-b.Modelfile`" in result.stdout and "case-insensitive" in result.stdout
    result = _mpl("compile", "m.mprof", "-o", "out", cwd=tmp_path)
    assert result.returncode == 1 and "error[MPL508]" in result.stderr and not (tmp_path / "out").exists()


# -- cost that grows no faster than the input -------------------------------------


def test_long_strings_and_runs_of_blank_lines_parse_in_memory_linear_in_their_size(tmp_path: Path) -> None:
    """A 4 MB string needed 2 GB to parse (the lexer's regular expressions backtracked per character)."""
    (tmp_path / "string.mprof").write_text('model m from "llama3" < system "' + "x" * 4_000_000 + '" >\n', encoding="utf-8")
    (tmp_path / "long.mprof").write_text('model m from "llama3" < system """' + "ab\n" * 1_300_000 + '""" >\n', encoding="utf-8")
    (tmp_path / "blank.mprof").write_text("profile p < temperature 0.5 >" + "\n" * 2_000_000 + "profile q < >\n", encoding="utf-8")
    result = _python("""
        import resource
        resource.setrlimit(resource.RLIMIT_AS, (3 * 1024**3, 3 * 1024**3))  # fail, not swap, where memory runs away
        from pathlib import Path
        from mpl.pipeline import analyze
        for name in ("string", "long", "blank"):
            analysis = analyze(Path(name + ".mprof"))
            print(name, [d.code for d in analysis.diagnostics if d.is_error])
        print("peak", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)
        """, tmp_path, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.splitlines()
    assert lines[:3] == ["string []", "long []", "blank []"]
    assert int(lines[3].split()[1]) < 400, f"{lines[3]} MiB for sources of 4 MB"


def test_a_line_with_many_diagnostics_is_cut_out_of_the_text_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rendering sliced the whole line once per diagnostic: 925k statements on one line took over 300 s."""
    from mpl.pipeline import analyze
    from mpl.diagnostics.render import render_text
    from mpl.source import SourceFile

    analysis = analyze("profile p < " + "min_pp 1; " * 2000 + ">\n" + "profile q < min_pp 1 >\n", targets=())
    assert len(analysis.diagnostics) >= 4000
    calls: list[int] = []
    line_text = SourceFile.line_text
    monkeypatch.setattr(SourceFile, "line_text", lambda self, line: calls.append(line) or line_text(self, line))
    text = render_text(analysis.source, analysis.diagnostics)
    assert sorted(calls) == [1, 2]
    assert text.count("error[MPL301]") == 2001
    assert max(len(line) for line in text.splitlines() if " | " in line) < 140  # a window around the caret


def test_one_unknown_name_repeated_is_looked_up_for_a_suggestion_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """A did-you-mean costs a difflib search (0.4 ms): 925k statements of one unknown name took minutes in check."""
    from mpl.catalog import Catalog
    from mpl.pipeline import analyze

    calls: list[str] = []
    suggest = Catalog.suggest
    monkeypatch.setattr(Catalog, "suggest", lambda self, name, *a, **k: calls.append(name) or suggest(self, name, *a, **k))
    analysis = analyze("profile p < " + "min_pzz 1; " * 3000 + ">\n", targets=())
    assert [d.code for d in analysis.diagnostics].count("MPL301") == 3000
    assert calls.count("min_pzz") <= 1
    assert "did you mean `min_p`?" in {d.help for d in analysis.diagnostics}


def test_a_caret_far_into_a_long_line_shows_a_window_around_it() -> None:
    from mpl.pipeline import analyze
    from mpl.diagnostics.render import render_text

    analysis = analyze("profile p < " + "top_k 1; " * 200_000 + "min_pp 1 >\n", targets=())
    text = render_text(analysis.source, [d for d in analysis.diagnostics if d.code == "MPL301"])
    source_line, caret_line = [line for line in text.splitlines() if " | " in line or line.rstrip().endswith("^")][-2:]
    assert len(source_line) < 140 and "min_pp 1 >" in source_line
    assert source_line.index("min_pp") == caret_line.index("^")


def test_meton_check_walks_an_extends_chain_once_per_parameter(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each profile of a chain walked up to the chain's top on its own: 8,000 levels took 27 s, 100,000 minutes."""
    from mpl.pipeline import analyze
    from mpl.compiler.program import Program
    from mpl.diagnostics import Sink
    from mpl.targets import get_target

    depth = 2000
    text = 'ollama "0.16"\nprofile p0 < temperature 0.5 >\n' + "".join(
        f"profile p{i} extends p{i - 1} < top_k {i} >\n" for i in range(1, depth))
    analysis = analyze(text, targets=())
    assert analysis.program is not None and not analysis.has_errors
    calls = 0
    resolve = Program.resolve

    def counting(self: Program, *args: t.Any, **kwargs: t.Any) -> t.Any:
        nonlocal calls
        calls += 1
        return resolve(self, *args, **kwargs)

    monkeypatch.setattr(Program, "resolve", counting)
    sink = Sink(analysis.source)
    get_target("meton").check(analysis.program, sink)
    assert [d.code for d in sink.diagnostics].count("MPL507") == 2  # num_ctx and num_predict, at p0 for the whole chain
    assert calls < 20 * depth, f"{calls} resolutions for a chain of {depth}"


def test_outputs_of_two_sources_that_differ_only_in_case_are_refused(tmp_path: Path) -> None:
    (tmp_path / "one.mprof").write_text('model "Coder" from "llama3"\n', encoding="utf-8")
    (tmp_path / "two.mprof").write_text('model "coder" from "llama3"\n', encoding="utf-8")
    result = _mpl("compile", "one.mprof", "two.mprof", "-t", "modelfile", "-o", "out", cwd=tmp_path)
    assert result.returncode == 2 and result.stderr.count("mpl: error: ") == 1
    assert "`out/Coder.Modelfile` and `out/coder.Modelfile` differ only in case" in result.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("tool_mpl", [False, True], ids=["pyproject without tool.mpl", "pyproject with tool.mpl"])
def test_a_huge_pyproject_is_never_read_whole(tmp_path: Path, tool_mpl: bool) -> None:
    """Configuration discovery reads at most the limit and a byte of a pyproject.toml it passes by."""
    (tmp_path / "ok.mprof").write_text(OK)
    check = """
        import resource, sys
        from mpl.cli import main
        sys.argv = ["mpl", "check", "ok.mprof"]
        try:
            main()
        except SystemExit as exc:
            print("exit", exc.code, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)
        """
    plain_mib = int(_python(check, tmp_path).stdout.split()[-1])  # the same check without the file
    with open(tmp_path / "pyproject.toml", "wb") as fp:
        fp.write(b"[tool.mpl]\n" if tool_mpl else b"[project]\nname = 'x'\n")
        fp.truncate(2 * 1024**3)  # sparse
    result = _python(check, tmp_path)
    exit_code, peak_mib = result.stdout.split()[-2:]
    assert int(peak_mib) < plain_mib + 200, f"{peak_mib} MiB for a 2 GB pyproject.toml ({plain_mib} MiB without it)"
    if tool_mpl:
        assert exit_code == "2" and "cannot read the configuration" in result.stderr and "pyproject.toml" in result.stderr
        assert "None" not in result.stderr
    else:
        assert exit_code == "0"  # passed over: the check itself ran


def test_sources_globs_never_follow_links_round_a_loop(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.mprof").write_text("profile p < temperature 0.5 >\n")
    for name in ("x", "y", "z"):
        (tmp_path / name).symlink_to(".")
    (tmp_path / "mpl.toml").write_text('sources = ["**/*.mprof"]\n')
    result = _mpl("check", "--show-config", cwd=tmp_path, timeout=30)
    assert result.returncode == 0
    checked = _mpl("check", cwd=tmp_path, timeout=30)
    assert checked.returncode == 0, checked.stderr


def test_fmt_of_a_folder_without_sources_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    result = _mpl("fmt", "empty", cwd=tmp_path)
    assert result.returncode == 2 and "is a folder without .mprof files" in result.stderr


@pytest.mark.parametrize("command", [["fmt", "a" * 300 + ".mprof"], ["fmt", "--check", "a" * 300 + ".mprof"], ["init", "a" * 300]],
                         ids=["fmt", "fmt --check", "init"])
def test_names_too_long_to_look_up_are_one_line(tmp_path: Path, command: list[str]) -> None:
    result = _mpl(*command, cwd=tmp_path)
    assert result.returncode == 2 and "mpl: error:" in result.stderr and "too long" in result.stderr


def test_a_source_path_too_long_to_look_up_is_mpl001_not_a_configuration_error(tmp_path: Path) -> None:
    result = _mpl("check", "d/" * 3000 + "x.mprof", cwd=tmp_path)
    assert result.returncode == 2 and "error[MPL001]" in result.stdout and "configuration" not in result.stderr


@pytest.mark.parametrize("closed", [">&-", "2>&-"], ids=["stdout", "stderr"])
@pytest.mark.parametrize(("argv", "status"), [
    (["check", "ok.mprof"], 0),
    (["check", "--lang", "auto", "ok.mprof"], 0),
    (["check", "bad.mprof"], 1),
    (["check", "-"], 0),
    (["compile", "ok.mprof", "-o", "out"], 0),
], ids=["check", "check-through-typer", "check-an-error", "check-stdin", "compile"])
def test_a_standard_stream_closed_at_start_is_no_traceback(tmp_path: Path, closed: str, argv: list[str], status: int) -> None:
    """`mpl check FILE >&-`: Python starts with that stream as None; the command runs and its status tells.
    (A closed standard input is `test_a_closed_standard_input_is_an_io_error`.)"""
    (tmp_path / "ok.mprof").write_text(OK, encoding="utf-8")
    (tmp_path / "bad.mprof").write_text("profile p extends nowhere < >\n", encoding="utf-8")
    code = f"import sys\nsys.argv = ['mpl', *{argv!r}]\nfrom mpl.__main__ import main\nmain()\n"
    result = subprocess.run(["sh", "-c", f'"$0" -c "$1" {closed}', sys.executable, code], cwd=tmp_path,
                            capture_output=closed != "2>&-", text=True, timeout=60, env=ENV)
    assert result.returncode == status, (result.stdout, result.stderr)
    assert "Traceback" not in (result.stderr or "")

"""Runs at the same time: compiles into one folder, merges into one config.yaml, savers of one source.

Each run holds a lock on the folders it writes into (`mpl.output.folder_lock`), so
runs take turns: every run succeeds or fails cleanly, and what is left is one run's
complete output (docs/reliability.md, "Outputs are all or nothing").
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import mpl
from helpers import FIXTURES, ROOT
from mpl.output import TEMPORARY, FolderBusy, folder_lock, write_all
from mpl.targets.base import OutputFile

ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
COMPILE = [sys.executable, "-m", "mpl", "compile"]


def _source(folder: Path, temperature: str, models: int = 50, profiles: int = 1000) -> Path:
    """A source whose outputs have the same names as any other made here, and contents of its own."""
    folder.mkdir(parents=True)
    lines = ["tasks general, debug", "default p", f"profile p < temperature {temperature}; top_k 40 >",
             "profile d extends p for debug < top_k 20 >"]
    lines += [f"profile q{i} extends p < top_k {i % 90 + 1} >" for i in range(profiles)]
    lines += [f'model m{i} from "qwen2.5-coder:7b" < use p; num_ctx {1024 + i} >' for i in range(models)]
    path = folder / "p.mprof"
    path.write_text("\n".join(lines) + "\n")
    return path


def _outputs(source: Path, folder: Path) -> dict[str, bytes]:
    subprocess.run([*COMPILE, str(source), "-o", str(folder)], check=True, capture_output=True, timeout=120, env=ENV)
    return {p.name: p.read_bytes() for p in folder.iterdir()}


def test_ten_pairs_of_concurrent_compiles_into_one_folder_leave_one_runs_complete_output(tmp_path):
    sources = [_source(tmp_path / "a", "0.1"), _source(tmp_path / "b", "0.9")]
    complete = [_outputs(src, tmp_path / f"ref-{src.parent.name}") for src in sources]
    assert complete[0].keys() == complete[1].keys() and len(complete[0]) == 51
    assert all(complete[0][name] != complete[1][name] for name in ("p.options.json", "m0.Modelfile"))
    out = tmp_path / "out"
    for round_ in range(10):
        runs = [subprocess.Popen([*COMPILE, str(src), "-o", str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 text=True, env=ENV) for src in sources]
        for run in runs:
            stdout, stderr = run.communicate(timeout=120)
            assert "Traceback" not in stderr
            # success, or a clean failure of one line (a usage or I/O problem), never anything else
            assert run.returncode == 0 or (run.returncode == 2 and stderr.startswith("mpl: error:")), (round_, stderr)
            if run.returncode == 0:
                assert len(stdout.splitlines()) == 51
        left = {p.name: p.read_bytes() for p in out.iterdir()}
        assert not [name for name in left if TEMPORARY.match(name)]
        assert left in complete, f"round {round_}: the folder mixes the outputs of two runs"


def test_a_run_waits_for_another_writing_into_the_same_folder(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    with folder_lock(out):
        done = threading.Event()
        writer = threading.Thread(target=lambda: (write_all(out, [OutputFile("a.txt", "x\n")]), done.set()))
        writer.start()
        assert not done.wait(0.3) and not (out / "a.txt").exists()  # it waits for the lock
    writer.join(10)
    assert done.is_set() and (out / "a.txt").read_text() == "x\n"


def test_a_folder_held_for_too_long_is_a_clean_error_that_changes_nothing(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.txt").write_text("old\n")
    with folder_lock(out):
        with pytest.raises(FolderBusy, match=r"another mpl run has been writing there for over 0.2 s; no output was changed"):
            with folder_lock(out, wait=0.2):
                pass
    assert (out / "a.txt").read_text() == "old\n"


def test_the_lock_leaves_no_file_behind(tmp_path):
    with folder_lock(tmp_path, tmp_path / "missing"):
        pass
    write_all(tmp_path, [OutputFile("a.txt", "x\n")])
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_concurrent_merges_into_one_config_yaml_each_leave_a_complete_file(tmp_path):
    config = tmp_path / "config.yaml"
    shutil.copy(FIXTURES / "meton" / "config.yaml", config)
    sources = []
    for value in ("0.11", "0.99"):
        folder = tmp_path / value
        folder.mkdir()
        (folder / "p.mprof").write_text(f"default p\nprofile p < temperature {value} >\n")
        sources.append(folder / "p.mprof")
    for _ in range(3):
        runs = [subprocess.Popen([*COMPILE, str(src), "--into", str(config)], stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True, env=ENV) for src in sources]
        assert all(run.wait(timeout=120) == 0 for run in runs), [run.stderr.read() for run in runs]  # type: ignore[union-attr]
        text = config.read_text()
        assert ("temperature: 0.11" in text) != ("temperature: 0.99" in text)


# -- sessions saving into one source ---------------------------------------------------------


def _saver(path: str, index: int) -> None:
    session = mpl.load(path).session()
    session.set("temperature", round(0.1 + index / 100, 2))
    session.save(f"saved{index}")


def _profiles_source(tmp_path: Path) -> Path:
    tmp_path.mkdir(exist_ok=True)
    path = tmp_path / "profiles.mprof"
    path.write_text("default base\n\nprofile base <\n  temperature 0.5\n>\n")
    return path


def test_ten_threads_saving_distinct_profiles_keep_all_ten(tmp_path):
    path = _profiles_source(tmp_path)
    errors: list[BaseException] = []

    def save(index: int) -> None:
        try:
            _saver(str(path), index)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=save, args=(i,)) for i in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    profiles = mpl.load(path).profiles
    assert sorted(profiles) == sorted(["base", *(f"saved{i}" for i in range(10))])
    assert all(mpl.load(path).options(f"saved{i}")["temperature"] == round(0.1 + i / 100, 2) for i in range(10))


def test_ten_processes_saving_distinct_profiles_keep_all_ten(tmp_path):
    path = _profiles_source(tmp_path)
    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=_saver, args=(str(path), i)) for i in range(10)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(120)
    assert [p.exitcode for p in processes] == [0] * 10
    assert sorted(mpl.load(path).profiles) == sorted(["base", *(f"saved{i}" for i in range(10))])


def test_mpl_fmt_reads_and_replaces_a_file_under_the_lock_session_save_takes(tmp_path):
    """A save that lands while `mpl fmt` waits is formatted, not overwritten with the text fmt read before."""
    import time

    import mpl.fmt

    path = tmp_path / "p.mprof"
    path.write_text("profile   base<temperature 0.5>\n")
    with folder_lock(tmp_path):  # as Session.save holds it
        formatter = threading.Thread(target=mpl.fmt.run, args=([str(path)],))
        formatter.start()
        time.sleep(0.5)
        assert path.read_text() == "profile   base<temperature 0.5>\n"  # fmt waits for the lock
        path.write_text("profile   base<temperature 0.5>\nprofile   saved<temperature 0.7>\n")  # the save
    formatter.join(30)
    assert not formatter.is_alive()
    assert path.read_text() == "profile base < temperature 0.5 >\n\nprofile saved < temperature 0.7 >\n"


def test_a_folder_held_by_a_stopped_run_is_one_line_for_into_and_the_wait_is_said(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    import mpl.output
    from mpl.cli import app

    monkeypatch.setattr(mpl.output, "LOCK_WAIT", 1.5)
    config = tmp_path / "config.yaml"
    shutil.copy(FIXTURES / "meton" / "config.yaml", config)
    (tmp_path / "p.mprof").write_text("default p\nprofile p < temperature 0.2 >\n")
    before = config.read_bytes()
    with folder_lock(tmp_path):
        result = CliRunner().invoke(app, ["compile", str(tmp_path / "p.mprof"), "--into", str(config)])
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code == 2
    assert f"mpl: waiting for another mpl run writing into {tmp_path} (at most 1.5 s)" in result.output
    assert "another mpl run has been writing there for over 1.5 s" in result.output and "was left unchanged" in result.output
    assert config.read_bytes() == before

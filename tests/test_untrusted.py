"""Running mpl in a repository one did not write: nothing written outside what the user named,
nothing sent where the user did not say (docs/reliability.md, "Running mpl in an untrusted repository")."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fake_ollama import QWEN_CODER_7B
from gguf_files import write_adapter
from helpers import FIXTURES
import mpl.cli
from mpl.cli import app
from mpl.output import write_atomic

BASE, QWEN = QWEN_CODER_7B
CONFIG_YAML = "echo INJECTED; x: 1\nmodels:\n  settings:\n    temperature: 0.1\n"


def run(*args: str, input: str | None = None):
    result = CliRunner().invoke(app, list(args), input=input)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    return result


def repository(root: Path, toml: str) -> Path:
    """A cloned repository: mpl.toml, p.mprof and a Meton config.yaml."""
    repo = root / "repo"
    repo.mkdir()
    (repo / "mpl.toml").write_text(toml)
    (repo / "p.mprof").write_text("default p\nprofile p < temperature 0.2 >\n")
    (repo / "config.yaml").write_text(CONFIG_YAML)
    return repo


# -- the --into backup ---------------------------------------------------------------


def test_a_repository_cannot_overwrite_a_file_through_the_backups_link(tmp_path, monkeypatch):
    repo = repository(tmp_path, 'sources = ["p.mprof"]\n[targets.meton]\ninto = "config.yaml"\n')
    victim = tmp_path / "victim_bashrc"
    victim.write_text("# the user's own file\n")
    (repo / "config.yaml.bak").symlink_to("../victim_bashrc")
    monkeypatch.chdir(repo)
    result = run("compile")
    assert result.exit_code == 0, result.output
    assert victim.read_text() == "# the user's own file\n"
    backup = repo / "config.yaml.bak"
    assert not backup.is_symlink() and backup.read_text() == CONFIG_YAML
    assert "temperature: 0.2" in (repo / "config.yaml").read_text()
    assert "config.yaml.bak, replacing any earlier backup" in result.output


def test_a_dangling_link_as_the_backup_creates_nothing_where_it_points(tmp_path, monkeypatch):
    repo = repository(tmp_path, 'sources = ["p.mprof"]\n[targets.meton]\ninto = "config.yaml"\n')
    (repo / "config.yaml.bak").symlink_to(tmp_path / "planted" / "authorized_keys")
    (tmp_path / "planted").mkdir()
    monkeypatch.chdir(repo)
    assert run("compile").exit_code == 0
    assert not (tmp_path / "planted" / "authorized_keys").exists()
    assert (repo / "config.yaml.bak").read_text() == CONFIG_YAML


def test_the_backup_keeps_one_generation(tmp_path):
    config = tmp_path / "config.yaml"
    shutil.copy(FIXTURES / "meton" / "config.yaml", config)
    source = tmp_path / "p.mprof"
    for value in ("0.2", "0.3"):
        source.write_text(f"default p\nprofile p < temperature {value} >\n")
        first = config.read_text()
        assert run("compile", str(source), "--into", str(config)).exit_code == 0
        assert (tmp_path / "config.yaml.bak").read_text() == first
    assert [p.name for p in tmp_path.iterdir() if ".bak" in p.name] == ["config.yaml.bak"]


def test_a_temporary_that_write_atomic_leaves_behind_is_one_the_next_run_removes(tmp_path, monkeypatch):
    """A run killed between writing the temporary and renaming it leaves `.NAME.mpl-XXXXXXXX.new`:
    the same naming as every other output's temporaries, which `remove_stale` clears."""
    from mpl.output import remove_stale

    target = tmp_path / "config.yaml"
    target.write_bytes(b"old\n")
    monkeypatch.setattr(os, "unlink", lambda *a, **k: None)  # the kill: nothing is cleaned up
    monkeypatch.setattr(Path, "unlink", lambda *a, **k: None)
    monkeypatch.setattr(os, "replace", lambda *a: (_ for _ in ()).throw(KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):
        write_atomic(target, b"new\n")
    monkeypatch.undo()
    [left] = [p for p in tmp_path.iterdir() if p != target]
    assert remove_stale(tmp_path) == [left]
    assert sorted(tmp_path.iterdir()) == [target] and target.read_bytes() == b"old\n"


def test_write_atomic_follows_a_named_link_and_replaces_a_link_it_was_not_given(tmp_path):
    target = tmp_path / "target.txt"
    target.write_text("old\n")
    link = tmp_path / "link.txt"
    link.symlink_to(target)
    write_atomic(link, b"through\n")  # the user named the link: its target is rewritten
    assert link.is_symlink() and target.read_text() == "through\n"
    write_atomic(link, b"instead\n", follow_links=False)  # a backup: the link itself is replaced
    assert not link.is_symlink() and link.read_text() == "instead\n" and target.read_text() == "through\n"


# -- paths a configuration names for writing ------------------------------------------


def test_a_configurations_into_outside_its_folder_is_refused_without_a_person_to_ask(tmp_path, monkeypatch):
    outside = tmp_path / "meton" / "config.yaml"
    outside.parent.mkdir()
    outside.write_text(CONFIG_YAML)
    repo = repository(tmp_path, 'sources = ["p.mprof"]\n[targets.meton]\ninto = "../meton/config.yaml"\n')
    monkeypatch.chdir(repo)
    result = run("compile")
    assert result.exit_code == 2
    assert "`targets.meton.into` (mpl.toml:3) would write to" in result.output and "outside the configuration's folder" in result.output
    assert "--into FILE" in result.output
    assert outside.read_text() == CONFIG_YAML and not (outside.parent / "config.yaml.bak").exists()
    named = run("compile", "--into", str(outside))  # the user names it: written
    assert named.exit_code == 0, named.output and "temperature: 0.2" in outside.read_text()


def test_a_link_inside_the_repository_that_leads_out_counts_as_outside(tmp_path, monkeypatch):
    outside = tmp_path / "elsewhere.yaml"
    outside.write_text(CONFIG_YAML)
    repo = repository(tmp_path, 'sources = ["p.mprof"]\n[targets.meton]\ninto = "linked.yaml"\n')
    (repo / "linked.yaml").symlink_to(outside)
    monkeypatch.chdir(repo)
    assert run("compile").exit_code == 2
    assert outside.read_text() == CONFIG_YAML


@pytest.mark.parametrize("toml, key", [
    ('sources = ["p.mprof"]\noutput = "../out"\n', "`output` (mpl.toml:2)"),
    ('sources = ["p.mprof"]\n[targets.modelfile]\ndir = "/tmp/../%s/modelfiles"\n', "`targets.modelfile.dir` (mpl.toml:3)"),
    ('sources = ["p.mprof"]\n[targets.options]\npath = "~/options.json"\n', "`targets.options.path` (mpl.toml:3)"),
])
def test_a_configurations_output_outside_its_folder_is_refused(tmp_path, monkeypatch, toml, key):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    repo = repository(tmp_path, toml.replace("%s", str(tmp_path).strip("/")))
    (repo / "p.mprof").write_text('default p\nprofile p < temperature 0.2 >\nmodel m from "qwen2.5-coder:7b" < use p >\n')
    monkeypatch.chdir(repo)
    result = run("compile")
    assert result.exit_code == 2 and key in result.output, result.output
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "home") == ["repo"]
    assert not list(tmp_path.glob("home/*.json"))
    assert run("compile", "-o", str(tmp_path / "chosen")).exit_code == 0  # named on the command line: written
    assert list((tmp_path / "chosen").iterdir())


def test_a_person_at_a_terminal_is_asked(tmp_path, monkeypatch):
    outside = tmp_path / "meton.yaml"
    outside.write_text(CONFIG_YAML)
    repo = repository(tmp_path, 'sources = ["p.mprof"]\n[targets.meton]\ninto = "../meton.yaml"\n')
    monkeypatch.chdir(repo)
    monkeypatch.setattr(mpl.cli, "_interactive", lambda: True)
    refused = run("compile", input="n\n")
    assert refused.exit_code == 2 and "not confirmed" in refused.output and outside.read_text() == CONFIG_YAML
    assert "Go on? [y/N]" in refused.output
    accepted = run("compile", input="y\n")
    assert accepted.exit_code == 0 and "temperature: 0.2" in outside.read_text()


def test_paths_inside_the_configurations_folder_need_no_confirmation(tmp_path, monkeypatch):
    repo = repository(tmp_path, 'sources = ["p.mprof"]\noutput = "build/out"\n[targets.meton]\ninto = "config.yaml"\n')
    monkeypatch.chdir(repo)
    assert run("compile").exit_code == 0
    assert "temperature: 0.2" in (repo / "config.yaml").read_text()


# -- the server a build talks to, and the files it sends --------------------------------


def build_repository(tmp_path: Path, host: str, monkeypatch, adapter: str | None = None) -> Path:
    """A cloned repository with a model over an adapter (its own `lora.gguf` unless `adapter` names one), entered."""
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "mpl.toml").write_text(f'sources = ["m.mprof"]\nhost = "{host}"\n')
    (repo / "m.mprof").write_text(f'model m from "{BASE}" <\n  adapter "{adapter or "./lora.gguf"}"\n  temperature 0.3\n>\n')
    if adapter is None:
        write_adapter(repo / "lora.gguf", architecture="qwen2")
    monkeypatch.chdir(repo)
    return repo


@pytest.fixture
def local(server):
    server.add_model(BASE, family="qwen2", parameters=QWEN.parameters, template=QWEN.template,
                     license=QWEN.license, system="You are Qwen.")
    return server


def test_a_repositorys_server_elsewhere_is_not_contacted_without_the_user(tmp_path, monkeypatch):
    build_repository(tmp_path, "http://ollama.example.invalid:11434", monkeypatch)
    made = []
    monkeypatch.setattr("mpl.deploy.run.Server", lambda *a, **k: made.append(a) or pytest.fail("contacted a server"))
    result = run("build", "--all")
    assert result.exit_code == 2 and made == []
    assert "mpl.toml:2 names the server http://ollama.example.invalid:11434, which is not this machine" in result.output
    assert "--host http://ollama.example.invalid:11434" in result.output


def test_a_repositorys_server_is_used_once_the_person_says_yes(local, tmp_path, monkeypatch):
    build_repository(tmp_path, local.url, monkeypatch)
    monkeypatch.setattr("mpl.deploy.host.is_loopback", lambda url: False)  # as if the fake were elsewhere
    monkeypatch.setattr(mpl.cli, "_interactive", lambda: True)
    refused = run("build", "--all", input="n\n")
    assert refused.exit_code == 2 and local.requests == []
    accepted = run("build", "--all", input="y\n")
    assert accepted.exit_code == 0, accepted.output
    assert "m: created and verified" in accepted.output


def test_a_loopback_server_from_the_configuration_needs_no_confirmation(local, tmp_path, monkeypatch):
    build_repository(tmp_path, local.url, monkeypatch)
    result = run("build", "--all")
    assert result.exit_code == 0, result.output


def test_files_outside_the_project_are_sent_only_with_allow_outside(local, tmp_path, monkeypatch):
    private = tmp_path / "private" / "finetune.gguf"
    private.parent.mkdir()
    write_adapter(private, architecture="qwen2")
    repo = build_repository(tmp_path, local.url, monkeypatch, adapter=str(private))
    refused = run("build", "--all")
    assert refused.exit_code == 2 and local.requests == []
    assert f"would upload {private}, which is outside the project's folder {repo}" in refused.output
    assert "--allow-outside" in refused.output
    allowed = run("build", "--all", "--allow-outside")
    assert allowed.exit_code == 0, allowed.output
    assert [r.method for r in local.requests if r.path.startswith("/api/blobs/")].count("POST") == 1


def test_a_link_to_a_file_outside_the_project_is_outside(local, tmp_path, monkeypatch):
    private = tmp_path / "private.gguf"
    write_adapter(private, architecture="qwen2")
    repo = build_repository(tmp_path, local.url, monkeypatch, adapter="./lora.gguf")
    (repo / "lora.gguf").symlink_to(private)
    refused = run("build", "--all")
    assert refused.exit_code == 2 and local.requests == []
    assert f"would upload {private}, which is outside the project's folder" in refused.output


def test_without_a_configuration_the_project_is_the_sources_folder(local, tmp_path):
    private = tmp_path / "private.gguf"
    write_adapter(private, architecture="qwen2")
    folder = tmp_path / "profiles"
    folder.mkdir()
    (folder / "m.mprof").write_text(f'model m from "{BASE}" < adapter "../private.gguf" >\n')
    result = run("build", "--all", "-f", str(folder / "m.mprof"), "--host", local.url)
    assert result.exit_code == 2 and "outside the project's folder" in result.output


def test_build_names_the_server_and_every_upload_before_uploading(local, tmp_path, monkeypatch):
    build_repository(tmp_path, local.url, monkeypatch)
    result = run("build", "--all")
    assert result.exit_code == 0, result.output
    lines = result.stderr.splitlines()
    building = lines.index(f"mpl: building on {local.url} (Ollama {local.version})")
    listing = lines.index(f"uploading 1 file to {local.url}:")
    assert building < listing and lines[listing + 1].startswith("  lora.gguf (")
    uploaded = next(i for i, line in enumerate(lines) if line.startswith("uploaded lora.gguf"))
    assert listing < uploaded
    again = run("build", "--all", "--force")  # the server has the blob: nothing is listed as sent
    assert "uploading" not in again.stderr and f"mpl: building on {local.url}" in again.stderr


def test_the_question_is_asked_on_a_real_terminal_and_no_means_nothing_written(tmp_path):
    """`mpl compile` in a real pseudo-terminal: the prompt appears, and `n` leaves the file as it was."""
    import pty
    import select
    import subprocess
    import sys
    import time

    from helpers import ROOT

    outside = tmp_path / "meton.yaml"
    outside.write_text(CONFIG_YAML)
    repo = repository(tmp_path, 'sources = ["p.mprof"]\n[targets.meton]\ninto = "../meton.yaml"\n')
    controller, terminal = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "mpl", "compile"], cwd=repo, stdin=terminal, stdout=terminal,
                            stderr=terminal, env={**os.environ, "PYTHONPATH": str(ROOT)}, close_fds=True)
    os.close(terminal)
    seen = b""
    deadline = time.monotonic() + 60
    try:
        while b"Go on? [y/N]" not in seen and time.monotonic() < deadline:
            if select.select([controller], [], [], 1)[0]:
                seen += os.read(controller, 4096)
        assert b"would write to" in seen and b"Go on? [y/N]" in seen, seen
        os.write(controller, b"n\n")
        assert proc.wait(timeout=60) == 2
    finally:
        proc.kill()
        os.close(controller)
    assert outside.read_text() == CONFIG_YAML


# -- what a repository's files can still try ----------------------------------------------


def test_a_repositorys_sources_outside_its_folder_are_not_reformatted_without_the_user(tmp_path, monkeypatch):
    victim = tmp_path / "other" / "victim.mprof"
    victim.parent.mkdir()
    victim.write_text("profile   p<temperature 0.2>\n")
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "mpl.toml").write_text('sources = ["../other/victim.mprof"]\n')
    monkeypatch.chdir(repo)
    refused = run("fmt")
    assert refused.exit_code == 2 and "`sources` (mpl.toml:1) would write to" in refused.output
    assert victim.read_text() == "profile   p<temperature 0.2>\n"
    assert run("fmt", "--check").exit_code == 1  # reading is not writing: --check still reports
    assert run("fmt", str(victim)).exit_code == 0  # named by the user: formatted
    assert victim.read_text() != "profile   p<temperature 0.2>\n"


def test_a_source_cannot_drive_the_terminal_through_a_diagnostic(tmp_path):
    source = tmp_path / "p.mprof"
    source.write_text('profile p < temperature "\\n\\u001b[2J\\u001b]0;pwned\\u0007" >\n')
    result = run("check", str(source))
    assert result.exit_code == 1 and "MPL302" in result.output
    assert "\x1b" not in result.output and "\x07" not in result.output
    assert '"\\n\\x1b[2J\\x1b]0;pwned\\x07"' in result.output


def test_a_folder_in_the_way_of_the_backup_is_named(tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text(CONFIG_YAML)
    (tmp_path / "config.yaml.bak").mkdir()
    source = tmp_path / "p.mprof"
    source.write_text("default p\nprofile p < temperature 0.2 >\n")
    result = run("compile", str(source), "--into", str(config))
    assert result.exit_code == 2 and "config.yaml.bak: a folder is in the way" in result.output and "--no-backup" in result.output
    assert config.read_text() == CONFIG_YAML
    assert run("compile", str(source), "--into", str(config), "--no-backup").exit_code == 0


def test_an_output_named_by_the_user_that_is_not_a_regular_file_is_never_replaced(tmp_path):
    modelfile = tmp_path / "Modelfile"
    modelfile.write_text("FROM qwen2.5-coder:7b\nPARAMETER temperature 0.2\n")
    fifo = tmp_path / "out.mprof"
    os.mkfifo(fifo)
    result = run("import", str(modelfile), "-o", str(fifo))
    assert result.exit_code == 2 and "a FIFO (named pipe) is in the way, not a regular file" in result.output
    assert fifo.is_fifo()
    with pytest.raises(OSError, match="a FIFO"):
        write_atomic(fifo, b"x")
    assert fifo.is_fifo()

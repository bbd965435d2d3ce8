"""The formatter: golden layouts, idempotence, meaning and comments kept, `mpl fmt`, pre-commit hooks.

The property test at the end builds random valid programs from the grammar
(with awkward strings, comments and separators everywhere the grammar allows
them) and checks that formatting is idempotent and changes no compiled output.
"""

from __future__ import annotations

import os
import re
import shlex
import stat
import typing as t
from pathlib import Path

import pytest
import typer
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from helpers import EXAMPLES, FIXTURES, ROOT
from mpl.cli import app
from mpl.pipeline import analyze
from mpl.targets import FILE_TARGETS as ALL_TARGETS
from mpl.compiler.parse import parse, quote_string
from mpl.fmt import format_text, shape
from mpl.source import SourceFile
from mpl.targets import get_target

EXAMPLE_FILES = sorted(EXAMPLES.glob("*.mprof"))
FIXTURE_FILES = sorted((FIXTURES / "diagnostics").glob("*.mprof"))
runner = CliRunner()


def fmt(text: str) -> str:
    """Format text that must be valid, and check idempotence on the way."""
    once = format_text(text)
    assert once is not None, f"syntax errors in {text!r}"
    assert format_text(once) == once, "not idempotent"
    return once


def outputs(text: str, base_dir: Path = EXAMPLES) -> dict[str, tuple[list[tuple[str, str]], dict[str, str] | None]]:
    """Per target: the diagnostic codes (with severities) and, when there is no error, the output files.

    Each target is compiled on its own, so that one target's error (Meton cannot
    hold `stop`, say) does not hide the other targets' outputs.
    """
    result = {}
    for name in ALL_TARGETS:
        analysis = analyze(SourceFile("f.mprof", text), base_dir=base_dir, targets=(name,))
        codes = sorted((d.code, d.severity.value) for d in analysis.diagnostics)
        files = None
        if not analysis.has_errors and analysis.program is not None:
            files = {f.path: f.content for f in get_target(name).emit(analysis.program, base_dir)}
        result[name] = (codes, files)
    return result


def invoke(*args: str, input: str | bytes | None = None):
    result = runner.invoke(app, ["fmt", *args], input=input)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


# -- golden layouts -----------------------------------------------------------------

CASES = {
    "spacing": "tasks a,b\ndefault   p\nprofile p extends  q  for a,b<temperature 0.5;top_k 40>",
    "one-line-kept": "profile p < temperature 0.5; top_k 40 >\nprofile q < >\nprofile r <>\nprofile s <\n\n>",
    "one-line-too-long": "profile long_profile_name extends base for general, debug < temperature 0.5; top_k 40; min_p 0.05 >",
    "one-line-with-when": "profile p < temperature 1; when task is a < top_k 2 > >",
    "multi-line-split": "profile p <\n  \"desc\"\n  top_k 40; min_p 0.1;\n  ;\n  seed -1\n>",
    "blank-lines": "\n\n\nprofile p <\n\n\n  top_k 1\n\n\n\n  min_p 0.1\n\n>\n\n\n\nprofile q < x 1 >\n\n\n",
    "decls-on-one-line": 'ollama "0.12"; tasks a; default p; profile p for a < x 1 >; model m from "x"',
    "indentation": "profile p <\n\t\t\ttop_k 1\n      when task in [a,b] <\n top_k 2\n\t\t>\n>",
    "strings": r'profile p < stop ["tab\there", "\u00e9\u{1F600}", "quote \" back \\", """one line"""] >',
    "triple-strings": 'model m from "x" <\n  system """You are\n  indented\n"""\n  template """\n{{ .Prompt }}"""\n  license """a\\nb"""\n>',
    "triple-quotes-inside": 'model m from "x" <\n  system """\nsay ""hi""\nand \\"\\"\\" done\\""""\n  license """\nno line break: \\"\\"\\""""\n>',
    "lists": "profile p <\n  stop [\n    \"a\",\n    \"b\"\n  ]\n  x [ ]\n  y [[1,2],[ 3 ]]\n>",
    "long-list": 'profile p < stop ["first stop string", "second stop string", "third stop string", "fourth", "fifth"] >',
    "model-body": 'model "ns/m:7b" from base < use p for t; message system "x"; message user "y"; adapter "a.gguf"; requires "0.5"; unset a,b; stop += "z" >',
    "model-without-block": 'model m   from   "qwen2.5:7b"',
    "numbers-keep-spelling": "profile p < a 0.0; b -1; c +2; d .5; e 1e3; f 5. >",
    "crlf": "profile p <\r\n  top_k 1  # c\r\n  system \"\"\"\r\nline\r\n\"\"\"\r\n>\r\n",
    "comments-trailing": "ollama \"0.12\"      # version\nprofile p <   # opener\n  top_k 1 ;   # after a separator\n  min_p 0.1# tight\n  seed -1        # last\n> # closer\n",
    "comments-aligned": "model m from x <\n  adapter \"./a.gguf\" # one\n  use p # two\n  num_ctx 1 # three\n\n  stop \"x\" # alone\n>",
    "comments-own-line": "# head\n\n\n# more head\nprofile p <\n  # first\n  top_k 1\n\n\n  # middle\n\n  min_p 0.1\n  # last   \n>\n# between\nprofile q < x 1 >\n\n# tail\n",
    "comments-in-lists": "profile p <\n  stop [ # opener\n    \"a\", # one\n    # own\n    \"b\" # two\n    # before close\n  ] # after\n  when task in [a, # first\n    b] < top_k 1 >\n>",
    "comments-only": "# just\n\n\n\n# comments   \n",
    "empty": "\n\n  \n",
}


@pytest.mark.parametrize("name", CASES)
def test_golden(name: str, snapshot) -> None:
    assert fmt(CASES[name]) == snapshot


@pytest.mark.parametrize("name", CASES)
def test_golden_keeps_meaning(name: str) -> None:
    text = CASES[name]
    assert shape(parse(fmt(text)).decls) == shape(parse(text).decls)


def test_one_line_block_rules() -> None:
    assert fmt("profile p < a 1; b 2 >") == "profile p < a 1; b 2 >\n"
    assert fmt("profile p <\n  a 1; b 2\n>") == "profile p <\n  a 1\n  b 2\n>\n"  # written on several lines
    assert fmt("profile p < a 1; when task is t < b 2 > >").count("\n") == 4  # a nested block
    assert fmt('profile p < system """x\ny""" >').startswith("profile p <\n  system \"\"\"\nx\ny\"\"\"\n>")
    wide = "profile p < " + "; ".join(f"param_{i} {i}" for i in range(10)) + " >"
    assert fmt(wide).count("\n") == 12  # wider than 88 columns
    assert fmt("profile p <\n>") == "profile p < >\n"


def test_strings_are_canonical_and_keep_their_value() -> None:
    assert fmt(r'profile p < stop "\u0041\t\u{1F600}" >') == 'profile p < stop "A\\t😀" >\n'
    assert fmt('profile p < stop """abc""" >') == 'profile p < stop "abc" >\n'
    # A `"…"` string keeps its escaped line breaks; a `"""…"""` one keeps its real ones.
    assert fmt(r'profile p < stop "a\nb" >') == 'profile p < stop "a\\nb" >\n'
    assert fmt('profile p < stop """a\\nb""" >') == 'profile p <\n  stop """\na\nb"""\n>\n'
    # The line break right after `"""` is not part of the value, so a value starting with one keeps it.
    text = 'model m from x <\n  system """\n\nstarts blank"""\n>'
    assert parse(fmt(text)).decls[0].block.stmts[0].text.value == "\nstarts blank"


# -- idempotence and meaning on every test input ---------------------------------------


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: p.stem)
def test_examples_are_formatted(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert format_text(text) == text, f"run `mpl fmt {path.relative_to(ROOT)}`"


@pytest.mark.parametrize("path", EXAMPLE_FILES + FIXTURE_FILES, ids=lambda p: p.name)
def test_idempotent_and_meaning_kept(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    once = format_text(text, str(path))
    if once is None:
        assert any(d.code.startswith("MPL1") or d.code == "MPL007" for d in analyze(path).diagnostics)
        return
    assert format_text(once) == once
    assert outputs(once, path.parent) == outputs(text, path.parent)


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: p.stem)
def test_examples_compile_the_same_when_messed_up(path: Path) -> None:
    """Re-indent, join and space out an example, then check formatting restores the same outputs."""
    text = path.read_text(encoding="utf-8")
    messy = re.sub(r"(?m)^  (?=[a-z])", "\t    ", text).replace(" <\n", "<\n\n")
    messy = re.sub(r"(?m)^(tasks .*)$", lambda m: m.group(1).replace(", ", " ,"), messy)
    assert format_text(messy) == text
    assert outputs(format_text(messy)) == outputs(text)


def test_line_breaks_follow_the_first_one() -> None:
    assert fmt(CASES["crlf"]) == 'profile p <\r\n  top_k 1  # c\r\n  system """\r\nline\r\n"""\r\n>\r\n'
    assert fmt("profile p <\n  a 1\r\n>\r\n") == "profile p < a 1 >\n".replace(" < a 1 >", " <\n  a 1\n>")
    assert fmt("profile p <\r  a 1\r>") == "profile p <\n  a 1\n>\n"  # old Mac line breaks become LF


def test_syntax_errors_are_not_formatted() -> None:
    assert format_text("profile p < temperature >") is None
    assert format_text('profile p < stop "\\q" >') is None  # an unknown escape: re-quoting would hide it
    assert format_text('profile p < stop "open >') is None


# -- comments ---------------------------------------------------------------------------


def _comment_lines(text: str) -> dict[str, str]:
    """Each comment, with the code before it on its line (stripped)."""
    out = {}
    for comment in parse(text).comments:
        line_start = text.rfind("\n", 0, comment.span.start) + 1
        out[comment.text.strip()] = text[line_start : comment.span.start].strip()
    return out


@pytest.mark.parametrize("name", [n for n in CASES if n.startswith("comments")] + ["crlf"])
def test_comments_kept_in_place(name: str) -> None:
    text = CASES[name]
    before, after = _comment_lines(text), _comment_lines(fmt(text))
    assert list(before) == list(after)  # the same comments, in the same order
    for comment, code in before.items():
        code = code.rstrip(";, ")
        if not code:
            assert after[comment] == "", f"{comment} left its own line"
        else:  # still right after the same token
            assert after[comment].rstrip(",").endswith(_last_token(code)), f"{comment} moved"


def _last_token(code: str) -> str:
    return re.findall(r'"[^"]*"|[\w.+-]+|[<>\[\]]', code)[-1]


def test_trailing_comment_follows_the_last_statement_of_its_line() -> None:
    assert fmt("profile p <\n  a 1; b 2  # about b\n>") == "profile p <\n  a 1\n  b 2  # about b\n>\n"


def test_comment_after_block_end_stays_after_it() -> None:
    assert fmt("profile p <\n  a 1 > # end\n") == "profile p <\n  a 1\n>  # end\n"


# -- `mpl fmt` ---------------------------------------------------------------------------

MESSY = "profile p<top_k 40;min_p 0.1>   # c\n"
CLEAN = "profile p < top_k 40; min_p 0.1 >  # c\n"


def test_cli_formats_in_place_keeping_the_mode(tmp_path: Path) -> None:
    path = tmp_path / "a.mprof"
    path.write_text(MESSY)
    path.chmod(0o640)
    result = invoke(str(path))
    assert result.exit_code == 0, result.output
    assert path.read_text() == CLEAN
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert f"reformatted {path}" in result.output
    assert [p.name for p in tmp_path.iterdir()] == ["a.mprof"]  # no temporary file left
    assert invoke(str(path)).exit_code == 0
    assert path.read_text() == CLEAN


def test_cli_check(tmp_path: Path) -> None:
    messy, clean = tmp_path / "messy.mprof", tmp_path / "clean.mprof"
    messy.write_text(MESSY)
    clean.write_text(CLEAN)
    result = invoke("--check", str(messy), str(clean))
    assert result.exit_code == 1
    assert f"would reformat {messy}" in result.output
    assert f"would reformat {clean}" not in result.output
    assert messy.read_text() == MESSY
    assert invoke("--check", str(clean)).exit_code == 0


def test_cli_diff(tmp_path: Path) -> None:
    path = tmp_path / "a.mprof"
    path.write_text(MESSY)
    result = invoke("--diff", str(path))
    assert result.exit_code == 1
    assert f"--- {path}\t(original)\n+++ {path}\t(formatted)\n" in result.output
    assert "-profile p<top_k 40;min_p 0.1>   # c\n+profile p < top_k 40; min_p 0.1 >  # c\n" in result.output
    assert path.read_text() == MESSY
    path.write_text(CLEAN)
    result = invoke("--diff", str(path))
    assert result.exit_code == 0 and "---" not in result.output


def test_cli_stdin_to_stdout() -> None:
    result = invoke("-", input=MESSY)
    assert result.exit_code == 0
    assert result.stdout == CLEAN
    result = invoke("--check", "-", input=MESSY)
    assert result.exit_code == 1 and "would reformat <stdin>" in result.output
    result = invoke("-", input="profile p < top_k >")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert "MPL101" in result.output


def test_cli_leaves_files_with_syntax_errors_alone(tmp_path: Path) -> None:
    bad, good = tmp_path / "bad.mprof", tmp_path / "good.mprof"
    bad.write_text("profile p<top_k>\n")
    good.write_text(MESSY)
    result = invoke(str(bad), str(good))
    assert result.exit_code == 1
    assert "error[MPL101]" in result.output and "not formatted" in result.output
    assert bad.read_text() == "profile p<top_k>\n"
    assert good.read_text() == CLEAN  # the other file is still formatted


def test_cli_missing_file_and_binary(tmp_path: Path) -> None:
    assert invoke(str(tmp_path / "missing.mprof")).exit_code == 2
    binary = tmp_path / "b.mprof"
    binary.write_bytes(b"profile p < x 1 >\x00")
    assert invoke(str(binary)).exit_code == 1
    assert binary.read_bytes() == b"profile p < x 1 >\x00"


def test_cli_keeps_crlf_and_bom(tmp_path: Path) -> None:
    path = tmp_path / "w.mprof"
    path.write_bytes(b"\xef\xbb\xbfprofile p <\r\n top_k 1\r\n>\r\n")
    assert invoke(str(path)).exit_code == 0
    assert path.read_bytes() == b"\xef\xbb\xbfprofile p <\r\n  top_k 1\r\n>\r\n"
    assert invoke("--check", str(path)).exit_code == 0


def test_cli_folder(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.mprof").write_text(MESSY)
    (tmp_path / "notes.txt").write_text(MESSY)
    result = invoke("--check", str(tmp_path))
    assert result.exit_code == 1 and "a.mprof" in result.output and "notes.txt" not in result.output


@pytest.mark.skipif(os.name == "nt", reason="symbolic links")
def test_cli_follows_symlinks(tmp_path: Path) -> None:
    real = tmp_path / "real.mprof"
    real.write_text(MESSY)
    link = tmp_path / "link.mprof"
    link.symlink_to(real)
    assert invoke(str(link)).exit_code == 0
    assert link.is_symlink() and real.read_text() == CLEAN


# -- pre-commit hooks ----------------------------------------------------------------------------


def _hooks() -> dict[str, dict[str, t.Any]]:
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    return {hook["id"]: hook for hook in hooks}


def test_pre_commit_hooks_match_the_cli() -> None:
    hooks = _hooks()
    assert {"mpl-check", "mpl-fmt", "mpl-fmt-check"} <= set(hooks)
    commands = typer.main.get_command(app).commands  # type: ignore[attr-defined]
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert re.search(r'^mpl = "mpl\.__main__:main"$', pyproject, re.M)  # the `mpl` the hooks run (it calls mpl.cli.main)
    for hook_id, hook in hooks.items():
        assert hook["language"] == "python"
        argv = shlex.split(hook["entry"])
        assert argv[0] == "mpl" and argv[1] in commands, hook_id
        files = re.compile(hook["files"])
        assert files.search("examples/meton.mprof") and files.search("a.mprof")
        assert not files.search("a.mprof.bak") and not files.search("mprof.py")
    assert shlex.split(hooks["mpl-check"]["entry"]) == ["mpl", "check"]
    assert shlex.split(hooks["mpl-fmt"]["entry"]) == ["mpl", "fmt"]
    assert shlex.split(hooks["mpl-fmt-check"]["entry"]) == ["mpl", "fmt", "--check"]


@pytest.mark.parametrize("hook_id", ["mpl-check", "mpl-fmt", "mpl-fmt-check"])
def test_pre_commit_hooks_run_on_examples(hook_id: str, tmp_path: Path) -> None:
    """Each hook's command, as pre-commit runs it (file names appended), passes on the examples."""
    argv = shlex.split(_hooks()[hook_id]["entry"])[1:]
    copies = []
    for path in EXAMPLE_FILES:
        copy = tmp_path / path.name
        copy.write_bytes(path.read_bytes())
        copies.append(str(copy))
    base = tmp_path / "adapters"
    base.mkdir()
    for adapter in (EXAMPLES / "adapters").iterdir():
        (base / adapter.name).write_bytes(adapter.read_bytes())
    result = runner.invoke(app, [*argv, *copies])
    assert result.exit_code == 0, result.output
    for path in EXAMPLE_FILES:
        assert (tmp_path / path.name).read_bytes() == path.read_bytes()


def test_pre_commit_fmt_hooks_act_on_a_messy_file(tmp_path: Path) -> None:
    path = tmp_path / "a.mprof"
    path.write_text(MESSY)
    check = shlex.split(_hooks()["mpl-fmt-check"]["entry"])[1:]
    assert runner.invoke(app, [*check, str(path)]).exit_code == 1
    assert runner.invoke(app, [*shlex.split(_hooks()["mpl-fmt"]["entry"])[1:], str(path)]).exit_code == 0
    assert path.read_text() == CLEAN


# -- the property: random valid programs ------------------------------------------------------

TASKS = ["general", "debug", "docs", "chat", "code", "in-flight", "review_2"]
FLOATS = {"temperature": (0.0, 2.0), "top_p": (0.0, 1.0), "min_p": (0.0, 1.0), "repeat_penalty": (0.5, 2.0), "presence_penalty": (-1.0, 1.0)}
INTS = {"top_k": (1, 100), "num_ctx": (512, 65536), "num_predict": (-1, 4096), "seed": (-1, 10**6), "repeat_last_n": (-1, 512)}
COMMENTS = st.sampled_from(["#", "# note", "#no space", "# <not a block> [not a list] ; , \"q\"", "#   trailing spaces   ", "# ünïcödé 😀", "##"])
AWKWARD = st.sampled_from(['"', '""', '"""', "\\", "\n", "\t", "#", "<", ">", ";", "[", "]", ",", "é", "😀", "\u2028", "\x7f", " ", "\r"])
TEXT = st.lists(st.one_of(AWKWARD, st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=0x2FF), max_size=4)), max_size=8).map("".join)

# A space: the grammar ignores blanks (not line breaks) between tokens.
SPACE = st.sampled_from([" ", "  ", "\t", " \t "])


@st.composite
def string_literal(draw: st.DrawFn, value: str | None = None) -> str:
    """A string literal in a random, valid spelling (escapes chosen at random)."""
    value = draw(TEXT) if value is None else value
    if "\r" in value or draw(st.booleans()):
        return quote_string(value, triple=False) if draw(st.booleans()) else _spelled(draw, value, triple=False)
    return quote_string(value, triple=True) if draw(st.booleans()) else _spelled(draw, value, triple=True)


def _spelled(draw: st.DrawFn, value: str, *, triple: bool) -> str:
    out = []
    for ch in value:
        how = draw(st.integers(0, 3))
        if ch in '"\\' or (ch in "\r\n" and not triple) or ch == "\r":
            out.append({'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r"}[ch])
        elif how == 1:
            out.append(f"\\u{ord(ch):04x}" if ord(ch) <= 0xFFFF else f"\\u{{{ord(ch):x}}}")
        elif how == 2:
            out.append(f"\\u{{{ord(ch):X}}}")
        elif how == 3 and ch in "\t\n\0":
            out.append({"\t": "\\t", "\n": "\\n", "\0": "\\0"}[ch])
        else:
            out.append(ch)
    body = "".join(out)
    if triple:
        # A line break right after the opening quotes is dropped: add one when the body starts with one.
        lead = "\n" if body.startswith("\n") or draw(st.booleans()) else ""
        return f'"""{lead}{body}"""'
    return f'"{body}"'


@st.composite
def sep(draw: st.DrawFn, indent: str, *, optional: bool = False) -> str:
    """A statement separator: `;` or a line break, maybe with comments and blank lines."""
    kind = draw(st.integers(0 if optional else 1, 4))
    if kind == 0:
        return draw(SPACE)
    if kind == 1:
        return draw(st.sampled_from([";", " ; ", "; ", ";;"]))
    out = draw(st.sampled_from(["", " ", ";", " ;"]))
    if draw(st.booleans()):
        out += draw(SPACE) + draw(COMMENTS)
    out += "\n"
    for _ in range(draw(st.integers(0, 2))):
        out += draw(st.sampled_from(["\n", "  \n", indent + draw(COMMENTS) + "\n"]))
    return out + draw(st.sampled_from([indent, "", "\t", indent + " "]))


@st.composite
def list_literal(draw: st.DrawFn, items: list[str]) -> str:
    """`[a, b]` with any legal spacing, line breaks and comments between items."""
    commas = [draw(st.sampled_from([", ", ",", " , ", ",\n    ", ", # c\n  ", "\n  , ", ",\n# own line\n"])) for _ in items[1:]]
    out = "[" + draw(st.sampled_from(["", " ", "\n  ", " # open\n"]))
    for i, item in enumerate(items):
        out += item + (commas[i] if i < len(commas) else "")
    if items and draw(st.booleans()):
        out += draw(st.sampled_from([",", " ,", ", # last\n"]))
    return out + draw(st.sampled_from(["", " ", "\n", "\n# before close\n"])) + "]"


@st.composite
def param(draw: st.DrawFn, names: list[str]) -> str:
    name = draw(st.sampled_from(names))
    if name in FLOATS:
        lo, hi = FLOATS[name]
        value = draw(st.floats(lo, hi, allow_nan=False).map(lambda f: round(f, 3)))
        text = draw(st.sampled_from([repr(value), f"{value:.3f}", f"{value:e}"]))
    elif name in INTS:
        lo, hi = INTS[name]
        text = str(draw(st.integers(lo, hi)))
    elif name == "use_mmap":
        text = draw(st.sampled_from(["true", "false"]))
    else:  # stop
        strings = draw(st.lists(TEXT.filter(bool).flatmap(string_literal), min_size=1, max_size=3))
        if draw(st.booleans()):
            return f"stop{draw(SPACE)}+={draw(SPACE)}{strings[0]}"
        text = draw(list_literal(strings)) if draw(st.booleans()) or len(strings) > 1 else strings[0]
    return f"{name}{draw(SPACE)}{text}"


@st.composite
def block(draw: st.DrawFn, stmts: list[str], indent: str) -> str:
    inner = indent + "  "
    out = "<" + draw(sep(inner, optional=True))
    for i, stmt in enumerate(stmts):
        out += stmt + (draw(sep(inner)) if i < len(stmts) - 1 else "")
    return out + draw(sep(indent, optional=True)) + ">"


@st.composite
def program(draw: st.DrawFn) -> str:
    tasks = draw(st.lists(st.sampled_from(TASKS), unique=True, max_size=4))
    free = list(tasks)
    decls: list[str] = []
    if draw(st.booleans()):
        decls.append(f'ollama "{draw(st.sampled_from(["0.6", "0.12", "0.14"]))}"')
    if tasks:
        decls.append("tasks " + ",".join(draw(SPACE) + t_ for t_ in tasks))
    profiles: list[str] = []
    for index in range(draw(st.integers(1, 4))):
        name = f"p{index}"
        head = f"profile {name}"
        if profiles and draw(st.booleans()):
            head += f" extends {draw(st.sampled_from(profiles))}"
        claimed = [t_ for t_ in free if draw(st.booleans())]
        if claimed:
            head += " for " + ", ".join(claimed)
            free = [t_ for t_ in free if t_ not in claimed]
        names = draw(st.lists(st.sampled_from([*FLOATS, *INTS, "stop", "use_mmap"]), unique=True, max_size=5))
        stmts = [draw(param([n])) for n in names]
        if draw(st.booleans()):
            stmts.insert(0, draw(string_literal()))
        if profiles and draw(st.booleans()):
            stmts.append("unset " + ", ".join(draw(st.lists(st.sampled_from([*FLOATS, *INTS]), min_size=1, max_size=2, unique=True))))
        for _ in range(draw(st.integers(0, 2)) if tasks else 0):
            body = [draw(param([n])) for n in draw(st.lists(st.sampled_from([*FLOATS, *INTS]), unique=True, min_size=1, max_size=2))]
            if draw(st.booleans()):
                when = f"when task is {draw(st.sampled_from(tasks))}"
            else:
                when = "when task in " + draw(list_literal(draw(st.lists(st.sampled_from(tasks), min_size=1, max_size=3, unique=True))))
            stmts.append(when + " " + draw(block(body, "  ")))
        decls.append(head + " " + draw(block(stmts, "")))
        profiles.append(name)
    if draw(st.booleans()):
        decls.append(f"default {draw(st.sampled_from(profiles))}")
    models: list[str] = []
    for index in range(draw(st.integers(0, 2))):
        name = f"m{index}"
        source = draw(st.sampled_from(['"llama3.1:8b"', '"qwen2.5-coder:7b"', *models]))
        stmts = [f"use {draw(st.sampled_from(profiles))}" + (f" for {draw(st.sampled_from(tasks))}" if tasks and draw(st.booleans()) else "")]
        stmts += [draw(param([n])) for n in draw(st.lists(st.sampled_from(["num_ctx", "temperature", "stop"]), unique=True, max_size=2))]
        for keyword in draw(st.lists(st.sampled_from(["system", "template", "license"]), unique=True, max_size=3)):
            stmts.append(f"{keyword} {draw(string_literal())}")
        if draw(st.booleans()) and not any(d.startswith("ollama") for d in decls):
            stmts.append('requires "0.5.5"')  # REQUIRES came in Ollama 0.14
        for role in draw(st.lists(st.sampled_from(["user", "assistant", "system"]), max_size=2)):
            stmts.append(f"message {role} {draw(string_literal())}")
        draw(st.randoms()).shuffle(stmts)
        decls.append(f"model {name} from {source}" + (" " + draw(block(stmts, "")) if stmts else ""))
        models.append(name)
    order = draw(st.permutations(decls))
    out = draw(st.sampled_from(["", "\n", "# header\n\n", ";\n"]))
    for i, decl in enumerate(order):
        out += decl + (draw(sep("")) if i < len(order) - 1 else "")
    return out + draw(st.sampled_from(["", "\n", "\n\n", "  # the end\n", ";"]))


@given(program())
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
def test_formatting_random_programs_is_idempotent_and_keeps_outputs(text: str) -> None:
    once = format_text(text)
    assert once is not None, text
    assert format_text(once) == once
    assert [c.text.rstrip() for c in parse(once).comments] == [c.text.rstrip() for c in parse(text).comments]
    assert outputs(once) == outputs(text)


# -- one syntax verdict with `mpl check` ------------------------------------------------------

BROKEN = [
    "profile a < temperature 0.5\n\nprofile b < top_k 4 >\n",  # a profile missing its `>`, then another
    "profile a < temperature 0.5\n",  # missing its `>` at the end of the file
    "tasks x\nprofile a for x < top_k 4\nmodel m from \"q\" < use a >\nprofile c < top_p 0.5 >\n",
    "profile a < temperature ) >\nprofile b < >\n",
]


@pytest.mark.parametrize("text", BROKEN)
def test_fmt_reports_the_syntax_errors_check_reports(text: str, tmp_path: Path) -> None:
    from mpl.fmt import format_source

    source = SourceFile("a.mprof", text)
    formatted = format_source(source)
    checked = [d for d in analyze(source).diagnostics if d.code.startswith("MPL1") and d.is_error]
    assert formatted.text is None and checked
    assert [(d.code, d.span, d.message) for d in formatted.diagnostics] == [(d.code, d.span, d.message) for d in checked]
    path = tmp_path / "a.mprof"
    path.write_text(text)
    check_codes = re.findall(r"error\[(MPL\d+)\]", runner.invoke(app, ["check", str(path)]).output)
    fmt_codes = re.findall(r"error\[(MPL\d+)\]", runner.invoke(app, ["fmt", str(path)]).output)
    assert fmt_codes == [c for c in check_codes if c.startswith("MPL1")]


def test_pre_commit_examples_pin_no_tag_that_does_not_exist() -> None:
    """mpl has no release tag: every `rev:` the docs show is a commit the user fills in, never a made-up tag."""
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    released = set(re.findall(r"^## \[?v?(\d+\.\d+\.\d+)\]?(?! *\(| *Unreleased)", changelog, re.MULTILINE))
    texts = [(ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"), (ROOT / "docs" / "editors.md").read_text(encoding="utf-8")]
    revs = [rev for text in texts for rev in re.findall(r"^[#\s]*rev:\s*(\S+)", text, re.MULTILINE)]
    assert revs, "no rev: in the pre-commit examples"
    for rev in revs:
        tag = re.fullmatch(r"v?(\d+(?:\.\d+)*)", rev)
        assert tag is None or tag.group(1) in released, f"rev: {rev} names a tag mpl has not released"
        assert tag is not None or rev == "COMMIT"

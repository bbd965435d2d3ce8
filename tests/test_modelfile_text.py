"""Modelfile text encoding, judged by an independent port of Ollama v0.32.15's reader.

The first half proves `mpl.targets.modelfile_text` sound and complete against
`tests/modelfile_reader.py`; the second half pins the reader itself to every tested
example in ollama-facts.md (1.2-1.7, 1.12, 2.1-2.2), so the judge is trustworthy.
"""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from mpl.catalog import MODELFILE_ROLES
from mpl.catalog.characters import dropped_characters
from mpl.targets.modelfile_text import (
    Refusal,
    encode_parameter_name,
    encode_value,
)
from tests.modelfile_reader import (
    DEPRECATED_PARAMETERS,
    ERR_EOF,
    ERR_INVALID_COMMAND,
    ERR_INVALID_ROLE,
    ERR_NO_FROM,
    ERR_REQUIRES,
    Command,
    ModelfileError,
    create_request,
    format_params,
    go_is_print,
    parse_modelfile,
)

Q3 = '"""'


def after_from(text: str) -> list[Command]:
    """Parse ``text`` behind a FROM line and return the commands after it."""
    commands = parse_modelfile("FROM base\n" + text)
    assert commands[0] == Command("model", "base")
    return commands[1:]


def parse_error(text: str) -> ModelfileError:
    with pytest.raises(ModelfileError) as info:
        parse_modelfile(text)
    return info.value


# ---------------------------------------------------------------------------------------
# Round-trip properties of the encoder

# (what precedes the value, the command the reader should produce for value s)
CONTEXTS = {
    "system": ("SYSTEM ", lambda s: Command("system", s)),
    "message": ("MESSAGE user ", lambda s: Command("message", "user: " + s)),
    "stop": ("PARAMETER stop ", lambda s: Command("stop", s)),
}
FOLLOWER = Command("stop", "x")
# (what follows the value, whether FOLLOWER is expected after it)
ENDINGS = (
    ("\n", False),
    ("\nPARAMETER stop x\n", True),  # a value must not swallow the next line
    ("", False),  # last line, no trailing newline
    ("\r\nPARAMETER stop x\r\n", True),
    (" \t\n", False),  # blanks after the value are allowed
)


def reads_back(context: str, written: str, s: str, endings=ENDINGS) -> bool:
    """Whether ``written`` after the context's keyword reads back as exactly ``s``."""
    prefix, make = CONTEXTS[context]
    for ending, followed in endings:
        expected = [make(s)] + ([FOLLOWER] if followed else [])
        try:
            if after_from(prefix + written + ending) != expected:
                return False
        except ModelfileError:
            return False
    return True


HARD_PIECES = (
    '"', Q3, " ", "\t", "\r", "\n", "\r\n", "#", ":", ": ", "a", "x",
    "\xa0",  # NBSP; everything from here on is a single character
    "\u200d",  # ZWJ
    "\u200b",  # zero-width space
    "\x00", "\x01", "\x1b", "\x7f", "\x0b", "\x0c", "\x85",  # controls
    "\u2028", "\u3000", "\u00ad", "\ufeff", "\U000e0041",  # separators, spaces, Cf
    "\ue000", "\u0378", "\ud800",  # private use, unassigned, lone surrogate
    "\ufe0f", "\U0001f468", "\U0001f600", "\ufffd",  # kept: VS16, emoji, U+FFFD
)
hard_text = st.lists(st.sampled_from(HARD_PIECES) | st.characters(), max_size=14).map("".join)
# Only kept characters, so quoting and line breaks decide (refusals for """ + newline).
quote_text = st.lists(
    st.sampled_from(('"', Q3, " ", "\t", "\r", "\n", "\r\n", "a", "#", "\U0001f600")),
    max_size=12,
).map("".join)
any_text = st.text() | hard_text | quote_text

PROPERTY = settings(max_examples=600, deadline=None)


def spellings(s: str) -> dict[str, str]:
    return {"bare": s, "triple": Q3 + s + Q3, "single": '"' + s + '"'}


@pytest.mark.parametrize("context", sorted(CONTEXTS))
@PROPERTY
@given(s=any_text)
@example(s="")
@example(s='"')
@example(s='""')
@example(s=Q3)
@example(s='abc"""\nmore')
@example(s='x\n"""')
@example(s='a"""  \t')
@example(s="\tx")
@example(s="a\rb")
@example(s='"hi"')
@example(s="# not a comment")
def test_encode_value_reads_back_or_refuses(context: str, s: str) -> None:
    encoded = encode_value(s)
    if isinstance(encoded, Refusal):
        # Never too eager: no spelling reads back, not even in the simplest file.
        for name, written in spellings(s).items():
            assert not reads_back(context, written, s, endings=[("\n", False)]), name
        assert encoded.reason
        assert encoded.offset is None or 0 <= encoded.offset < len(s)
        return
    assert encoded in (s, Q3 + s + Q3)
    assert reads_back(context, encoded, s)
    # Bare whenever bare works (the empty string is written as six quotes on purpose).
    if s and reads_back(context, s, s):
        assert encoded == s


@PROPERTY
@given(s=any_text)
@example(s='""\n"')
@example(s='a"\nb')
def test_single_quotes_never_beat_triple_quotes(s: str) -> None:
    """ollama-facts.md 1.8: the ``"…"`` spelling only works where ``\"\"\"…\"\"\"`` does."""
    if reads_back("system", '"' + s + '"', s):
        assert reads_back("system", Q3 + s + Q3, s)
        assert not isinstance(encode_value(s), Refusal)


def kept(s: str) -> bool:
    return all(ch in " \t\r\n" or go_is_print(ch) for ch in s)


def bad_newline(s: str, quote: str) -> bool:
    return any(
        ch in "\r\n" and s[:i].rstrip(" \t\r\n").endswith(quote) for i, ch in enumerate(s)
    )


@PROPERTY
@given(s=any_text)
def test_table_of_facts_1_8_matches_the_reader(s: str) -> None:
    """Each row of the 1.8 table is an exact "if and only if" for the reader."""
    bare_rule = (
        kept(s)
        and s != ""
        and "\r" not in s
        and "\n" not in s
        and s.strip(" \t") == s
        and not s.startswith('"')
    )
    triple_rule = kept(s) and not bad_newline(s, Q3)
    single_rule = (
        kept(s) and not ('"' + s + '"').startswith(Q3) and not bad_newline(s, '"')
    )
    written = spellings(s)
    if s != "":  # `SYSTEM ` + newline does read back as "" (1.4); the table leaves it out
        assert reads_back("system", written["bare"], s) == bare_rule
    assert reads_back("system", written["triple"], s) == triple_rule
    assert reads_back("system", written["single"], s) == single_rule


@PROPERTY
@given(ch=st.characters(exclude_characters=" \t\r\n\"") | st.sampled_from(HARD_PIECES[12:]))
def test_dropped_characters_agree_with_the_reader(ch: str) -> None:
    (value,) = after_from(f"SYSTEM a{ch}b\n")
    assert (dropped_characters(ch) == [0]) == (value.args == "ab")


def test_dropped_characters_cover_every_code_point() -> None:
    everything = "".join(map(chr, range(0x110000)))
    expected = [i for i, ch in enumerate(everything) if not (ch in " \t\r\n" or go_is_print(ch))]
    assert dropped_characters(everything) == expected


# ---------------------------------------------------------------------------------------
# Encoder unit tests


@pytest.mark.parametrize(
    ("s", "encoded"),
    [
        ("You are terse.", "You are terse."),
        ("#hi", "#hi"),
        ('say "hi" now', 'say "hi" now'),
        ("\U0001f468\ufe0f\ufffd", "\U0001f468\ufe0f\ufffd"),
        ("", Q3 + Q3),
        (" x", Q3 + " x" + Q3),
        ("x\t", Q3 + "x\t" + Q3),
        ('"hi"', Q3 + '"hi"' + Q3),
        ('"', Q3 + '"' + Q3),
        (Q3, Q3 * 3),
        ("a\rb", Q3 + "a\rb" + Q3),
        ('x\n"""', Q3 + 'x\n"""' + Q3),
        ('a """ b', 'a """ b'),
        ('a """ b\nc', Q3 + 'a """ b\nc' + Q3),
    ],
)
def test_encode_value(s: str, encoded: str) -> None:
    assert encode_value(s) == encoded


@pytest.mark.parametrize(
    ("s", "offset", "words"),
    [
        ("a\u200db", 1, "U+200D ZERO WIDTH JOINER"),
        ("a\xa0b", 1, "U+00A0 NO-BREAK SPACE"),
        ("ok\x01", 2, "U+0001 (a control character)"),
        ("\ue000", 0, "U+E000 (a private-use character)"),
        ("\u0378", 0, "U+0378 (unassigned in Unicode 15.0.0"),
        ("\U0002ebf0", 0, "U+2EBF0 (unassigned in Unicode 15.0.0"),
        ('abc"""\nmore', 3, 'contains """ followed by a line break'),
        ('a"""  \t\r\n', 1, 'contains """ followed by a line break'),
        ('"""\n', 0, 'contains """ followed by a line break'),
    ],
)
def test_encode_value_refuses(s: str, offset: int, words: str) -> None:
    refusal = encode_value(s)
    assert isinstance(refusal, Refusal)
    assert refusal.offset == offset
    assert words in refusal.reason


@pytest.mark.parametrize("name", ["num_ctx", "TEMPERATURE", "x", "_", "top_k2"])
def test_encode_parameter_name_accepts(name: str) -> None:
    assert encode_parameter_name(name) == name
    assert after_from(f"PARAMETER {name} 1\n") == [Command(name, "1")]


@pytest.mark.parametrize(
    ("name", "offset"),
    [
        ("top-k", 3),
        ("", None),
        ("a.b", 1),
        ('"stop"', 0),
        ("\u00e9", 0),
        ("\u0663", 0),
        ("a b", 1),
    ],
)
def test_encode_parameter_name_refuses(name: str, offset: int | None) -> None:
    refusal = encode_parameter_name(name)
    assert isinstance(refusal, Refusal)
    assert refusal.offset == offset


@PROPERTY
@given(name=st.text(st.sampled_from("aZ09_-.:\" \t\u00e9\u0663\n")) | st.text())
def test_parameter_names_read_back_or_refuse(name: str) -> None:
    try:
        read_back = after_from(f"PARAMETER {name} v\n") == [Command(name, "v")]
    except ModelfileError:
        read_back = False
    accepted = not isinstance(encode_parameter_name(name), Refusal)
    # `PARAMETER  v` (empty name) parses as name "" (see the reader); the encoder refuses it.
    assert accepted == read_back or name == ""


@PROPERTY
@given(role=st.text(st.sampled_from("asytemuriAS"), min_size=1, max_size=10))
def test_message_roles(role: str) -> None:
    if role in MODELFILE_ROLES:
        assert after_from(f"MESSAGE {role} hi\n") == [Command("message", f"{role}: hi")]
    else:
        error = parse_error(f"FROM base\nMESSAGE {role} hi\n")
        assert (error.message, error.line) == (ERR_INVALID_ROLE, 2)


# ---------------------------------------------------------------------------------------
# The reader against ollama-facts.md 1.2-1.7


def test_instruction_names_and_stored_names() -> None:
    text = (
        "FrOm base\nTEMPLATE t\nsystem s\nADAPTER a\nLICENSE l\nRENDERER r\nPARSER p\n"
        "REQUIRES 0.14\nDRAFT d\nPARAMETER Top_k 5\nMESSAGE assistant hi\n"
    )
    assert parse_modelfile(text) == [
        Command("model", "base"),
        Command("template", "t"),
        Command("system", "s"),
        Command("adapter", "a"),
        Command("license", "l"),
        Command("renderer", "r"),
        Command("parser", "p"),
        Command("requires", "0.14"),
        Command("draft", "d"),
        Command("Top_k", "5"),
        Command("message", "assistant: hi"),
    ]


@pytest.mark.parametrize("line", ["SYSTEM2 x", "FOO-BAR x", "FOO x", "PROMPT x", '"SYSTEM" x'])
def test_invalid_instructions(line: str) -> None:
    error = parse_error(line + "\nFROM base\n")
    assert (error.message, error.line) == (ERR_INVALID_COMMAND, 1)
    assert str(error) == f"(line 1): {ERR_INVALID_COMMAND}"


@pytest.mark.parametrize(
    ("text", "commands"),
    [
        # 1.3: newlines, blanks and comments
        ("FROM a\rSYSTEM x\r", [Command("model", "a"), Command("system", "x")]),
        ("\n\n  \tFROM a\n\n", [Command("model", "a")]),
        ("# c\n  # c2 FROM x\nFROM a", [Command("model", "a")]),
        ("\ufeff# a BOM, then a comment\nFROM a\n", [Command("model", "a")]),
        ("FROM llama3 # note\n", [Command("model", "llama3 # note")]),
        ("FROM a\nSYSTEM #hi\n", [Command("model", "a"), Command("system", "#hi")]),
        ("FROM a\nSYSTEM\tx\n", [Command("model", "a"), Command("system", "x")]),
    ],
)
def test_lines_and_comments(text: str, commands: list[Command]) -> None:
    assert parse_modelfile(text) == commands


@pytest.mark.parametrize(
    ("text", "commands"),
    [
        ("SYSTEM   a   b  \n", [Command("system", "a   b")]),
        ('SYSTEM "  hi  "\n', [Command("system", "  hi  ")]),
        ('SYSTEM say "hi" now\n', [Command("system", 'say "hi" now')]),
        ("SYSTEM 'a b'\n", [Command("system", "'a b'")]),
        (
            'SYSTEM "abc" def\nPARAMETER stop "x"\n',
            [Command("system", 'abc" def\nPARAMETER stop "x')],
        ),
        ('SYSTEM "a" "b"\n', [Command("system", 'a" "b')]),
        ('SYSTEM """a"""" \n', [Command("system", 'a"')]),
        ('SYSTEM """a """ b"""\n', [Command("system", 'a """ b')]),
        ('SYSTEM """\nline 1\n  line 2\n"""\n', [Command("system", "\nline 1\n  line 2\n")]),
        ('SYSTEM ""\n', [Command("system", "")]),
        ('SYSTEM """"""\n', [Command("system", "")]),
        ("SYSTEM \n", [Command("system", "")]),
        ('SYSTEM """"\nabc"""\n', [Command("system", '"\nabc')]),
        ('SYSTEM """""\nabc"""\n', [Command("system", '""\nabc')]),
        ('SYSTEM """""""""\n', [Command("system", '"""')]),
        ('MESSAGE user "hi: there"\n', [Command("message", "user: hi: there")]),
    ],
)
def test_values(text: str, commands: list[Command]) -> None:
    assert after_from(text) == commands


@pytest.mark.parametrize(
    ("text", "message", "line"),
    [
        ('SYSTEM "abc" def\nPARAMETER stop x\n', ERR_EOF, None),  # swallowed to EOF
        ('SYSTEM """ab"""\ncd"""\n', ERR_INVALID_COMMAND, 3),
        ("SYSTEM\nFROM b\n", ERR_INVALID_COMMAND, 3),  # reported on the next line
        ("SYSTEM", ERR_EOF, None),
        ('SYSTEM """"\n', ERR_EOF, None),
        ('SYSTEM "unterminated', ERR_EOF, None),
        ("PARAMETER", ERR_EOF, None),
        ("PARAMETER stop", ERR_EOF, None),
        ("MESSAGE user", ERR_EOF, None),
    ],
)
def test_value_errors(text: str, message: str, line: int | None) -> None:
    error = parse_error("FROM base\n" + text)
    assert (error.message, error.line) == (message, line)


@pytest.mark.parametrize(
    ("value", "read"),
    [
        ("a\x01b\x7fc\x1bd", "abcd"),
        ("a\xa0b", "ab"),
        ("\U0001f468\u200d\U0001f469\u200d\U0001f467", "\U0001f468\U0001f469\U0001f467"),
        ('"a\u200bb\u00adc\u2060d\ufeffe"', "abcde"),  # dropped inside quotes too
        ("a\x85b\u2028c\u2029d\u3000e\u202ff\u205fg\u2000h\u200ai", "abcdefghi"),
        ("a\u200eb\u202ec\U000e0041d\ue000e\u0378f\x0bg\x0ch\x00i", "abcdefghi"),
        ("\u2764\ufe0f \ufffd", "\u2764\ufe0f \ufffd"),  # VS16 and U+FFFD are kept
    ],
)
def test_dropped_characters_in_values(value: str, read: str) -> None:
    assert after_from(f"SYSTEM {value}\n") == [Command("system", read)]


@pytest.mark.parametrize(
    ("text", "message", "line"),
    [
        ("FROM a\nPARAMETER top-k 5\n", "unexpected EOF: top", None),
        ('FROM a\nPARAMETER "stop" x\n', "unexpected EOF: ", None),
        ("FROM a\nPARAMETER num_ctx\n", "unexpected EOF: num_ctx", None),
        ("FROM a\nMESSAGE user: hi\n", "unexpected EOF: user", None),
        ("FROM a\nMESSAGE User hi\n", ERR_INVALID_ROLE, 2),
        ("FROM a\nMESSAGE tool hi\n", ERR_INVALID_ROLE, 2),
        ("FROM a\r\nSYSTEM x\r\nFOO bar\r\n", ERR_INVALID_COMMAND, 5),  # CRLF counts twice
        ("FROM a\r\nMESSAGE tool hi\r\n", ERR_INVALID_ROLE, 3),
        ("", ERR_NO_FROM, None),
        ("# only a comment\n", ERR_NO_FROM, None),
        ("SYSTEM x\n", ERR_NO_FROM, None),
    ],
)
def test_errors(text: str, message: str, line: int | None) -> None:
    error = parse_error(text)
    assert (error.message, error.line) == (message, line)
    assert str(error) == (message if line is None else f"(line {line}): {message}")


# ---------------------------------------------------------------------------------------
# ollama-facts.md 1.12: Ollama's own `quote` round trips, and what mpl writes instead


def go_quote(s: str) -> str:
    """parser.go ``quote``, as ollama-facts.md 1.12 describes it."""
    if "\n" in s or s.startswith(" ") or s.endswith(" "):
        return Q3 + s + Q3 if '"' in s else '"' + s + '"'
    return s


@pytest.mark.parametrize(
    ("original", "written", "read"),
    [
        ("\tx", "\tx", "x"),
        ("a\rb", "a\rb", ERR_INVALID_COMMAND),
        ('"hi"', '"hi"', "hi"),
        ('"hi', '"hi', ERR_EOF),
        (Q3, Q3, ERR_EOF),
        ('abc"""\nmore', Q3 + 'abc"""\nmore' + Q3, ERR_INVALID_COMMAND),
        ("a\x01b", "a\x01b", "ab"),
        ("", "", ""),
    ],
)
def test_go_quote_round_trips(original: str, written: str, read: str) -> None:
    assert go_quote(original) == written
    text = f"FROM base\nSYSTEM {written}\n"
    if read in (ERR_INVALID_COMMAND, ERR_EOF):
        assert parse_error(text).message == read
    else:
        assert parse_modelfile(text)[1:] == [Command("system", read)]
    # mpl either writes something that reads back, or says why it cannot.
    encoded = encode_value(original)
    if isinstance(encoded, Refusal):
        assert original in ('abc"""\nmore', "a\x01b")
    else:
        assert after_from(f"SYSTEM {encoded}\n") == [Command("system", original)]


def test_message_role_tool_is_rejected() -> None:
    assert "tool" not in MODELFILE_ROLES
    assert parse_error("FROM a\nMESSAGE tool hi\n").message == ERR_INVALID_ROLE


@pytest.mark.parametrize(
    ("line", "result"),
    [
        ("PARAMETER num_ctx 1e+06", "invalid int value [1e+06]"),
        ("PARAMETER seed 1.234567e+06", "invalid int value [1.234567e+06]"),
        ("PARAMETER temperature 1e-05", {"temperature": 1e-05}),
    ],
)
def test_show_exponent_values(line: str, result: object, tmp_path: Path) -> None:
    commands = parse_modelfile(f"FROM base\n{line}\n")
    if isinstance(result, str):
        with pytest.raises(ModelfileError) as info:
            create_request(commands, tmp_path)
        assert str(info.value) == result
    else:
        assert create_request(commands, tmp_path)["parameters"] == result


# ---------------------------------------------------------------------------------------
# ollama-facts.md 2.1-2.2: FormatParams and the CLI's accumulation


def request_for(lines: str, directory: Path, warnings: list[str] | None = None) -> dict:
    return create_request(parse_modelfile("FROM base\n" + lines), directory, warnings=warnings)


def params_for(lines: str, directory: Path) -> dict:
    return request_for(lines, directory).get("parameters", {})


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("temperature", "0.7", 0.7),
        ("temperature", "1e-3", 0.001),
        ("top_p", "0x1p-2", 0.25),
        ("top_p", "0X1.8P-1", 0.75),
        ("min_p", "1_0", 10.0),
        ("min_p", "0x_1p-2", 0.25),
        ("repeat_penalty", "+1.5", 1.5),
        ("repeat_penalty", ".5", 0.5),
        ("repeat_penalty", "5.", 5.0),
        ("typical_p", "1E3", 1000.0),
        ("presence_penalty", "-0", -0.0),
        ("frequency_penalty", "3.4028235e38", 3.4028235e38),
        ("frequency_penalty", "1e-50", 0.0),  # underflow is not an error
        ("num_ctx", "+5", 5),
        ("num_ctx", "007", 7),
        ("seed", "-1", -1),
        ("seed", "9223372036854775807", 2**63 - 1),
        ("seed", "-9223372036854775808", -(2**63)),
        ("main_gpu", "0", 0),
        ("draft_num_predict", "4", 4),
        ("use_mmap", "1", True),
        ("use_mmap", "t", True),
        ("use_mmap", "T", True),
        ("use_mmap", "TRUE", True),
        ("use_mmap", "true", True),
        ("use_mmap", "True", True),
        ("use_mmap", "0", False),
        ("use_mmap", "f", False),
        ("use_mmap", "F", False),
        ("use_mmap", "FALSE", False),
        ("use_mmap", "false", False),
        ("use_mmap", "False", False),
        ("stop", "", [""]),
        ("stop", "a b  c", ["a b  c"]),
    ],
)
def test_format_params_accepts(name: str, value: str, expected: object) -> None:
    result = format_params({name: [value]})
    assert result == {name: expected}
    assert type(result[name]) is type(expected)
    if isinstance(expected, float):
        assert math.copysign(1, result[name]) == math.copysign(1, expected)


@pytest.mark.parametrize(
    ("name", "value", "error"),
    [
        ("temperature", "abc", "invalid float value [abc]"),
        ("temperature", " 0.5", "invalid float value [ 0.5]"),
        ("temperature", "0.5 ", "invalid float value [0.5 ]"),
        ("temperature", "1e39", "invalid float value [1e39]"),
        ("temperature", "0x10", "invalid float value [0x10]"),
        ("temperature", "1__0", "invalid float value [1__0]"),
        ("temperature", "_1", "invalid float value [_1]"),
        ("temperature", "1_", "invalid float value [1_]"),
        ("temperature", "infx", "invalid float value [infx]"),
        ("temperature", "infin", "invalid float value [infin]"),
        ("temperature", "+nan", "invalid float value [+nan]"),
        ("temperature", "", "invalid float value []"),
        ("temperature", "1e", "invalid float value [1e]"),
        ("temperature", "1,5", "invalid float value [1,5]"),
        ("temperature", "\u0663", "invalid float value [\u0663]"),
        ("num_ctx", "4096.0", "invalid int value [4096.0]"),
        ("num_ctx", "0x10", "invalid int value [0x10]"),
        ("num_ctx", "1e3", "invalid int value [1e3]"),
        ("num_ctx", "1_000", "invalid int value [1_000]"),
        ("num_ctx", "\u0663", "invalid int value [\u0663]"),
        ("seed", "9223372036854775808", "invalid int value [9223372036854775808]"),
        ("seed", "-9223372036854775809", "invalid int value [-9223372036854775809]"),
        ("main_gpu", "x", "invalid int value [x]"),
        ("use_mmap", "yes", "invalid bool value [yes]"),
        ("use_mmap", "tRUE", "invalid bool value [tRUE]"),
        ("TEMPERATURE", "1", "unknown parameter 'TEMPERATURE'"),
        ("tfs_z", "1", "unknown parameter 'tfs_z'"),
        ("numa", "true", "unknown parameter 'numa'"),
        ("num_gqa", "1", "unknown parameter 'num_gqa'"),
        ("rope_frequency_base", "1", "unknown parameter 'rope_frequency_base'"),
        ("rope_frequency_scale", "1", "unknown parameter 'rope_frequency_scale'"),
        ("embedding_only", "true", "unknown parameter 'embedding_only'"),
    ],
)
def test_format_params_rejects(name: str, value: str, error: str) -> None:
    with pytest.raises(ModelfileError) as info:
        format_params({name: [value]})
    assert str(info.value) == error
    assert info.value.line is None


@pytest.mark.parametrize(
    ("value", "shown"),
    [("inf", "+Inf"), ("Infinity", "+Inf"), ("+INF", "+Inf"), ("-inf", "-Inf"), ("NaN", "NaN")],
)
def test_infinite_floats_pass_format_params_then_fail_json(
    value: str, shown: str, tmp_path: Path
) -> None:
    (result,) = format_params({"temperature": [value]}).values()
    assert math.isinf(result) or math.isnan(result)
    with pytest.raises(ModelfileError) as info:
        request_for(f"PARAMETER temperature {value}\n", tmp_path)
    assert str(info.value) == f"json: unsupported value: {shown}"
    # A later finite value replaces it before encoding.
    assert params_for(f"PARAMETER temperature {value}\nPARAMETER temperature 1\n", tmp_path) == {
        "temperature": 1.0
    }


def test_parameter_accumulation(tmp_path: Path) -> None:
    lines = (
        'PARAMETER stop "<|im_end|>"\nPARAMETER temperature 0.1\nPARAMETER stop ""\n'
        'PARAMETER temperature 0.2\nPARAMETER stop " a b "\nPARAMETER num_ctx 4096\n'
    )
    assert params_for(lines, tmp_path) == {
        "stop": ["<|im_end|>", "", " a b "],
        "temperature": 0.2,
        "num_ctx": 4096,
    }


def test_quoted_number_with_space_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ModelfileError, match=r"^invalid float value \[ 0\.5\]$"):
        request_for('PARAMETER temperature " 0.5"\n', tmp_path)


def test_unknown_parameter_case_matters(tmp_path: Path) -> None:
    with pytest.raises(ModelfileError, match=r"^unknown parameter 'TEMPERATURE'$"):
        request_for("PARAMETER TEMPERATURE 1\n", tmp_path)


def test_deprecated_parameters_are_dropped_with_a_warning(tmp_path: Path) -> None:
    lines = "".join(f"PARAMETER {name} not-a-number\n" for name in DEPRECATED_PARAMETERS)
    warnings: list[str] = []
    body = request_for(lines + "PARAMETER top_k 5\n", tmp_path, warnings)
    assert body["parameters"] == {"top_k": 5}
    assert warnings == [
        f"warning: parameter {name} is deprecated" for name in DEPRECATED_PARAMETERS
    ]
    assert len(DEPRECATED_PARAMETERS) == 9
    with pytest.raises(ModelfileError, match=r"^unknown parameter 'Mirostat'$"):
        request_for("PARAMETER Mirostat 1\n", tmp_path)  # matched case-sensitively


# ---------------------------------------------------------------------------------------
# ollama-facts.md 1.9-1.11: the rest of CreateRequest


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def test_create_request_fields(tmp_path: Path) -> None:
    text = (
        "FROM qwen2.5-coder:7b\n"
        "TEMPLATE first\nTEMPLATE {{ .Prompt }}\n"
        "SYSTEM first\nSYSTEM You are Meton.\n"
        "LICENSE MIT\nLICENSE Apache-2.0\n"
        'MESSAGE user "hi: there"\nMESSAGE assistant ""\n'
        "RENDERER qwen3-coder\nPARSER qwen3-coder\n"
        "REQUIRES v0.14.0\n"
    )
    assert create_request(parse_modelfile(text), tmp_path) == {
        "from": "qwen2.5-coder:7b",
        "template": "{{ .Prompt }}",
        "license": ["MIT", "Apache-2.0"],
        "system": "You are Meton.",
        "messages": [
            {"role": "user", "content": "hi: there"},
            {"role": "assistant", "content": ""},
        ],
        "renderer": "qwen3-coder",
        "parser": "qwen3-coder",
        "requires": "0.14.0",
    }


def test_empty_system_and_template_are_left_out(tmp_path: Path) -> None:
    assert request_for('SYSTEM ""\nTEMPLATE """"""\n', tmp_path) == {"from": "base"}


def test_from_paths(tmp_path: Path) -> None:
    (tmp_path / "llama3").write_bytes(b"a local model")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "m.gguf").write_bytes(b"gguf")
    other = tmp_path / "elsewhere.gguf"
    other.write_bytes(b"other")
    text = f"FROM llama3\nFROM ./sub/../sub/m.gguf\nFROM {other}\n"
    assert create_request(parse_modelfile(text), tmp_path) == {
        "files": {
            "llama3": sha256(b"a local model"),
            "m.gguf": sha256(b"gguf"),
            "elsewhere.gguf": sha256(b"other"),
        }
    }
    # A path that does not exist is sent as a model name; `from` is last-wins.
    text = "FROM llama3\nFROM ./missing.gguf\nFROM mymodel.gguf\n"
    assert create_request(parse_modelfile(text), tmp_path) == {
        "from": "mymodel.gguf",
        "files": {"llama3": sha256(b"a local model")},
    }
    text = "FROM ~/surely-not-there-mpl-test.gguf\n"
    assert create_request(parse_modelfile(text), tmp_path) == {
        "from": "~/surely-not-there-mpl-test.gguf"
    }


def test_from_unknown_user(tmp_path: Path) -> None:
    commands = parse_modelfile("FROM ~no-such-user-mpl/x.gguf\n")
    with pytest.raises(ModelfileError, match=r"^failed to find user 'no-such-user-mpl': "):
        create_request(commands, tmp_path)


def test_adapters(tmp_path: Path) -> None:
    (tmp_path / "a.gguf").write_bytes(b"first")
    (tmp_path / "b.gguf").write_bytes(b"second")
    body = request_for("ADAPTER a.gguf\nADAPTER ./b.gguf\n", tmp_path)
    assert body == {"from": "base", "adapters": {"b.gguf": sha256(b"second")}}
    with pytest.raises(ModelfileError) as info:
        request_for("ADAPTER missing.gguf\n", tmp_path)
    assert str(info.value) == f"stat {tmp_path / 'missing.gguf'}: no such file or directory"


@pytest.mark.parametrize(
    ("written", "stored"),
    [
        ("0.14.0", "0.14.0"),
        ("v0.14.0", "0.14.0"),
        ("0.14", "0.14"),
        ("1", "1"),
        ("0.14.0-rc1", "0.14.0-rc1"),
        ("0.14.0+build", "0.14.0+build"),
        ("1.2.3-rc.1.x-y+b.01", "1.2.3-rc.1.x-y+b.01"),
    ],
)
def test_requires_accepts(written: str, stored: str, tmp_path: Path) -> None:
    assert request_for(f"REQUIRES {written}\n", tmp_path)["requires"] == stored


@pytest.mark.parametrize(
    "written",
    [
        "01.2.3",
        "0.14.0.1",
        "V0.14.0",
        "latest",
        '""',
        "0.14-rc1",
        "1.2.3-01",
        "1.2.3-",
        "1.2.3+",
        "vv1",
    ],
)
def test_requires_rejects(written: str, tmp_path: Path) -> None:
    with pytest.raises(ModelfileError) as info:
        request_for(f"REQUIRES {written}\n", tmp_path)
    assert str(info.value) == ERR_REQUIRES

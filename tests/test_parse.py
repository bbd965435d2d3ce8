"""Parse: the grammar, the syntax tree, positions, strings and error recovery."""

from __future__ import annotations

import pytest

from helpers import EXAMPLES, assert_diagnostics, labels, run
from mpl.compiler import nodes
from mpl.compiler.parse import _Nodes, decode_string, parse, parser
from mpl.diagnostics import Sink
from mpl.source import SourceFile


def parse_text(text: str) -> tuple[nodes.File, Sink]:
    src = SourceFile("t.mprof", text)
    sink = Sink(src)
    return parse(src, sink), sink


def test_every_grammar_rule_has_a_transformer_method() -> None:
    rules = {str(rule.origin.name) for rule in parser().rules if not rule.options.expand1}
    public = {r for r in rules if not r.startswith("_") and not r.startswith("__")}
    missing = sorted(r for r in public if not hasattr(_Nodes, r))
    assert not missing, f"grammar rules without a transformer method: {missing}"


@pytest.mark.parametrize("name", ["meton", "finetune", "legacy-ollama"])
def test_examples_parse_without_errors(name: str) -> None:
    text = (EXAMPLES / f"{name}.mprof").read_text()
    file, sink = parse_text(text)
    assert not sink.diagnostics and file.syntax_ok


def test_design_example_shapes() -> None:
    file, _ = parse_text(
        'profile debugging extends precise for debug, review < mirostat 2; top_k 20 >\n'
        'model "meton:7b" from meton-custom\n'
    )
    profile, model = file.decls
    assert isinstance(profile, nodes.ProfileDecl)
    assert profile.parent.value == "precise"
    assert [t.value for t in profile.tasks] == ["debug", "review"]
    assert [s.name.value for s in profile.block.stmts] == ["mirostat", "top_k"]
    assert isinstance(model, nodes.ModelDecl) and model.block is None
    assert isinstance(model.name, nodes.String) and isinstance(model.source, nodes.Name)


def test_values() -> None:
    file, _ = parse_text('profile p <\n  a 1\n  b -2.5e3\n  c true\n  d false\n  e "x"\n  f ["a",\n    # note\n    "b",]\n  g += "z"\n>')
    values = {s.name.value: s.value for s in file.decls[0].block.stmts}
    assert values["a"].value == 1 and isinstance(values["a"].value, int)
    assert values["b"].value == -2500.0
    assert values["c"].value is True and values["d"].value is False
    assert values["e"].value == "x"
    assert [i.value for i in values["f"].items] == ["a", "b"]
    assert file.decls[0].block.stmts[-1].append


def test_when_blocks_and_unset() -> None:
    file, _ = parse_text("profile p <\n  when task is docs < top_k 1 >\n  when task in [a,\n b] < unset top_k, top_p >\n>")
    when_is, when_in = file.decls[0].block.stmts
    assert when_is.form == "is" and [t.value for t in when_is.tasks] == ["docs"]
    assert when_in.form == "in" and [t.value for t in when_in.tasks] == ["a", "b"]
    assert [n.value for n in when_in.block.stmts[0].names] == ["top_k", "top_p"]


def test_model_statements() -> None:
    file, _ = parse_text(
        'model m from "x" <\n  adapter "a.gguf"\n  use p for debug\n  system "s"\n  template "t"\n'
        '  message system "hi"\n  license "MIT"\n  requires "0.14.0"\n>'
    )
    kinds = [type(s).__name__ for s in file.decls[0].block.stmts]
    assert kinds == ["AdapterStmt", "UseStmt", "TextStmt", "TextStmt", "MessageStmt", "TextStmt", "TextStmt"]
    assert file.decls[0].block.stmts[4].role.value == "system"


def test_positions_with_crlf_and_non_ascii() -> None:
    text = 'profile p <\r\n  "Café ☕ profile"\r\n  min_pp 0.1\r\n>\r\n'
    assert labels(run(text)) [0] == "MPL301@3:3"
    src = SourceFile("t", text)
    offset = text.index("min_pp")
    assert src.line_col(offset) == (3, 3)
    assert src.lsp_position(text.index("profile\"")) == (1, 10)


def test_lsp_positions_count_utf16_units() -> None:
    src = SourceFile("t", 'x "😀" y')
    assert src.lsp_position(6) == (0, 7)
    assert src.offset_from_lsp(0, 7) == 6


def test_comments_are_collected_but_not_inside_strings() -> None:
    file, _ = parse_text('# head\nprofile p < system_x "# no" # tail\n>')
    assert [c.text for c in file.comments] == ["# head", "# tail"]


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        (r'"a\"b"', 'a"b'),
        (r'"a\\b"', "a\\b"),
        (r'"\n\r\t\0"', "\n\r\t\0"),
        (r'"\u00e9\u{1F600}"', "é😀"),
        ('"""\nline one\nline two"""', "line one\nline two"),
        ('"""\r\nwindows\r\n"""', "windows\n"),
        ('"""no leading newline"""', "no leading newline"),
        ('"""  "quoted"  """', '  "quoted"  '),
    ],
)
def test_string_escapes(raw: str, value: str) -> None:
    assert decode_string(raw, 0, None)[0] == value


@pytest.mark.parametrize("raw", [r'"\q"', r'"\u{110000}"', r'"\uD800"', r'"\x41"'])
def test_unknown_escapes_are_reported(raw: str) -> None:
    sink = Sink(SourceFile("t", raw))
    decode_string(raw, 0, sink)
    assert [d.code for d in sink.diagnostics] == ["MPL104"]


def test_recovery_keeps_semantic_diagnostics_of_the_rest() -> None:
    text = "profile a <\n  temperature 0.5\n  top_k\n>\nprofile b <\n  min_pp 0.1\n>\n"
    analysis = run(text)
    assert labels(analysis) == ["MPL101@3:8", "MPL301@6:3"]


def test_unclosed_block_names_the_block() -> None:
    analysis = run("profile base <\n  temperature 0.5\n")
    (diag,) = analysis.diagnostics
    assert diag.code == "MPL102"
    assert "expected `>` to close `profile base` opened at 1:14" in diag.message


def test_unexpected_token_says_what_was_expected() -> None:
    (diag,) = run("profile p extends < >").diagnostics
    assert diag.code == "MPL101" and diag.help == "expected a name"


def test_keywords_are_contextual() -> None:
    """A keyword is only a keyword where one may stand: `model` can name a profile."""
    analysis = run("profile model < temperature 0.5 >\nmodel m from x < use model >\nmodel x from y")
    assert not analysis.has_errors and "model" in analysis.program.profiles


def test_an_unclosed_block_costs_only_its_declaration() -> None:
    """`mpl check` parses each declaration alone after a syntax error, as the language server does."""
    text = "profile a < top_k 1\n\nprofile b extends a < min_pp 0.1 >\nprofile c extends b < temperature 0.2 >\n"
    analysis = assert_diagnostics(text, "MPL101@3:1", "MPL301@3:23", exact=True, targets=("options",))
    assert analysis.diagnostics[0].help == "expected `>` to close `profile a` opened at 1:11"
    assert [d.name.value for d in analysis.tree.decls] == ["a", "b", "c"]


def _syntax(text: str) -> list[tuple[str, str, str | None]]:
    source = SourceFile("p.mprof", text)
    sink = Sink(source)
    parse(source, sink)
    return [(d.code, "{}:{}".format(*source.line_col(d.span.start)), d.help) for d in sink.diagnostics]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("profile p <\n  temperature = 0.7\n>\n", ("MPL101", "2:15", "no `=`: write `temperature 0.7`")),
        ("profile p <\n  top_k: 40\n>\n", ("MPL101", "2:8", "no `:`: write `top_k 40`")),
        (
            "profile p <\n  PARAMETER temperature 0.7\n>\n",
            ("MPL101", "2:13", "`PARAMETER` is Modelfile syntax: in a profile write `temperature 0.7` (`mpl import` converts a Modelfile)"),
        ),
        (
            'SYSTEM "be brief"\n',
            ("MPL101", "1:1", '`SYSTEM` is Modelfile syntax: in a profile write `system "be brief"` (`mpl import` converts a Modelfile)'),
        ),
    ],
)
def test_syntax_from_other_formats_gets_a_hint(text: str, expected: tuple[str, str, str]) -> None:
    assert _syntax(text) == [expected]


def test_braces_get_one_hint_and_no_follow_on_errors() -> None:
    text = "profile p {\n  temperature 0.7\n  top_k 40\n}\n\nprofile q < seed 1 >\n"
    assert _syntax(text) == [("MPL101", "1:11", "blocks use `< >`: write `profile p <` and close the block with `>`")]
    source = SourceFile("p.mprof", text)
    decls = parse(source, Sink(source)).decls
    assert [d.name.value for d in decls] == ["p", "q"]
    assert [s.name.value for s in decls[0].block.stmts] == ["temperature", "top_k"]


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (r'"\uD800"', r"`\uD800` is a lone surrogate, and a lone surrogate is not a character"),
        (r'"\u{dfff}"', r"`\u{dfff}` is a lone surrogate, and a lone surrogate is not a character"),
        (r'"\u{110000}"', r"`\u{110000}` is beyond U+10FFFF, the last code point"),
        (r'"\q"', r"unknown escape sequence `\q`"),
    ],
)
def test_escape_messages_say_what_is_wrong(raw: str, message: str) -> None:
    sink = Sink(SourceFile("t", raw))
    decode_string(raw, 0, sink)
    assert [(d.code, d.message, d.span.start, d.span.end) for d in sink.diagnostics] == [("MPL104", message, 1, len(raw) - 1)]


@pytest.mark.parametrize(
    ("literal", "value"),
    [('"""say "hi""""', 'say "hi"'), ('"""say ""hi"""""', 'say ""hi""'), ('""""""', ""), ('"""a""" ', "a")],
)
def test_a_triple_quoted_string_may_end_in_quotes(literal: str, value: str) -> None:
    text = f"profile p <\n  system {literal}\n>\n"
    source = SourceFile("p.mprof", text)
    sink = Sink(source)
    file = parse(source, sink)
    assert sink.diagnostics == []
    assert file.decls[0].block.stmts[0].text.value == value

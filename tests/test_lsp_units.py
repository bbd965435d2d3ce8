"""The language server's pure parts, without a server: positions, chunks, context, index, features."""

from __future__ import annotations

import subprocess
import sys

import pytest
from lsprotocol import types

from helpers import EXAMPLES, FIXTURES
from mpl.compiler.parse import parse
from mpl.diagnostics import Sink
from mpl.lsp import features
from mpl.compiler.chunks import ChunkParser, chunk_starts
from mpl.lsp.completion import completion
from mpl.lsp.context import completion_context
from mpl.lsp.document import analyze_document, parse_version
from mpl.lsp.hover import hover
from mpl.lsp.positions import PositionMap
from mpl.source import SourceFile

URI = "untitled:test.mprof"


def doc_of(text: str, **kw):
    return analyze_document(URI, text, 1, **kw)


def at(text: str, needle: str, skip: int = 0) -> int:
    """The offset of `needle` in `text`, plus `skip`."""
    return text.index(needle) + skip


def pos(text: str, needle: str, skip: int = 0) -> types.Position:
    """The LSP position of `needle` in `text` (ASCII text), plus `skip` characters."""
    offset = at(text, needle, skip)
    return types.Position(line=text.count("\n", 0, offset), character=offset - text.rfind("\n", 0, offset) - 1)


# -- positions ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "offset", "encoding", "expected"),
    [
        ("abc\ndef", 5, "utf-16", (1, 1)),
        ("abc\r\ndef", 6, "utf-16", (1, 1)),
        ("abc\rdef", 5, "utf-16", (1, 1)),
        ("a😀b", 2, "utf-16", (0, 3)),
        ("a😀b", 2, "utf-8", (0, 5)),
        ("a😀b", 2, "utf-32", (0, 2)),
        ("é\x0cx\ny", 3, "utf-16", (0, 3)),  # a form feed does not end a line for LSP
        ("ab", 99, "utf-16", (0, 2)),
    ],
)
def test_position_of_offset(text, offset, encoding, expected):
    pos = PositionMap(SourceFile("a", text), encoding).position(offset)
    assert (pos.line, pos.character) == expected


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16", "utf-32"])
def test_offsets_round_trip_through_positions(encoding):
    text = "profile é < # 😀 comment\r\n  temperature 0.5\r>\n\"𝄞\"\n"
    pm = PositionMap(SourceFile("a", text), encoding)
    for offset in range(len(text) + 1):
        if offset < len(text) and text[offset - 1 : offset + 1] == "\r\n":
            continue  # between CR and LF is no position of its own
        assert pm.offset(pm.position(offset)) == offset


def test_position_past_the_end_clamps():
    pm = PositionMap(SourceFile("a", "ab\ncd"))
    assert pm.offset(types.Position(line=0, character=40)) == 2
    assert pm.offset(types.Position(line=9, character=0)) == 5
    assert pm.full_range().end == types.Position(line=1, character=2)


# -- chunked parsing ----------------------------------------------------------------------

# MPL007's fixture nests past what a recursive reader reads; whether a chunk of it is read depends on the stack.
SOURCES = [p for p in sorted(EXAMPLES.glob("*.mprof")) + sorted((FIXTURES / "diagnostics").glob("*.mprof"))
           if not p.name.startswith("MPL007")]


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.stem)
def test_chunks_parse_like_the_whole_file(path):
    source = SourceFile(str(path), path.read_text(encoding="utf-8", errors="replace"))
    sink = Sink(source)
    whole = parse(source, sink)
    chunked, diags = ChunkParser().parse(source)
    if whole.syntax_ok:  # the same tree and the same diagnostics (escapes, say)
        assert chunked == whole
        assert diags == sink.diagnostics
    else:
        assert not chunked.syntax_ok and diags  # errors stay errors


def test_an_edit_reparses_only_its_chunk():
    text = (EXAMPLES / "meton.mprof").read_text(encoding="utf-8")
    parser = ChunkParser()
    parser.parse(SourceFile("a", text))
    assert parser.reparsed == len(chunk_starts(text))
    edited = text.replace("temperature 0.7", "temperature 0.75 # warmer")
    file, diags = parser.parse(SourceFile("a", edited))
    assert parser.reparsed == 1 and diags == []
    assert file == parse(SourceFile("a", edited))


def test_an_unclosed_block_costs_only_its_declaration():
    text = "tasks a, b\nprofile p <\n  temperature 0.5\nprofile q for a <\n  min_pp 0.1\n>\nprofile r extends q for b < >\n"
    doc = doc_of(text)
    codes = [(d.code, doc.source.line_col(d.span.start)) for d in doc.diagnostics if d.span]
    assert ("MPL101", (4, 1)) in codes  # the unclosed `<` is reported at the next declaration
    assert ("MPL301", (5, 3)) in codes  # and the declarations after it are still checked
    assert not any(d.code == "MPL201" for d in doc.diagnostics)  # `q` still exists
    syntax = next(d for d in doc.diagnostics if d.code == "MPL101")
    assert syntax.help == "expected `>` to close `profile p` opened at 2:11"


def test_a_keyword_inside_a_prompt_is_no_boundary():
    text = 'model m from "x" <\n  system """\nprofile of the user\n"""\n>\n'
    assert [s for s, _ in chunk_starts(text)] == [0]
    assert not [d.code for d in doc_of(text).diagnostics if d.code.startswith("MPL1")]


# -- completion context ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "names", "keywords"),
    [
        ("", (), ("ollama", "tasks", "default", "profile", "model")),
        ("prof", (), ("ollama", "tasks", "default", "profile", "model")),
        ("default pre", ("profile",), ()),
        ("profile p extends ", ("profile",), ()),
        ("profile p ", (), ("extends", "for")),
        ("profile p extends b ", (), ("for",)),
        ("profile p for a, ", ("task",), ()),
        ("model m ", (), ("from",)),
        ("model m from ", ("model",), ()),
        ("profile p <\n  ", ("parameter",), ("unset", "when")),
        ("profile p < top_k 4; te", ("parameter",), ("unset", "when")),
        ("profile p <\n  when ", (), ("task",)),
        ("profile p <\n  when task ", (), ("is", "in")),
        ("profile p <\n  when task is ", ("task",), ()),
        ("profile p <\n  when task in [a,\n  ", ("task",), ()),
        ("profile p <\n  when task is a <\n    ", ("parameter",), ("unset",)),
        ("profile p <\n  unset top_k, ", ("parameter",), ()),
        ("model m from x <\n  ", ("parameter",), ("adapter", "use", "system", "template", "message", "license", "requires", "unset")),
        ("model m from x <\n  use ", ("profile",), ()),
        ("model m from x <\n  use p ", (), ("for",)),
        ("model m from x <\n  use p for ", ("task",), ()),
        ("model m from x <\n  message ", ("role",), ()),
        ("profile p < top_k 4 >\n", (), ("ollama", "tasks", "default", "profile", "model")),
        ('model m from x <\n  system "a < b ', (), ()),  # inside a string
        ('model m from x <\n  system """\nprofile ', (), ()),  # inside a multi-line string
        ("profile p < # top", (), ()),  # inside a comment
        ("profile p <\n  top_k 4", (), ()),  # a number
        ("tasks a, ", (), ()),
    ],
)
def test_completion_context(text, names, keywords):
    ctx = completion_context(text, len(text))
    assert (ctx.names, ctx.keywords) == (names, keywords)


def test_completion_context_names_the_word_typed_and_the_list_written():
    text = "profile p <\n  when task in [a, b, "
    ctx = completion_context(text, len(text))
    assert ctx.exclude == {"a", "b"}
    ctx = completion_context("profile p <\n  temp-x", 20)
    assert (ctx.partial, ctx.start) == ("temp-x", 14)
    assert completion_context("profile p <\n  mirostat ", 23).value_of == "mirostat"


# -- features over an analysed document ----------------------------------------------------------

METON = (EXAMPLES / "meton.mprof").read_text(encoding="utf-8")


def test_notes_are_published_as_hints_every_one_of_them():
    """`mpl check` sums notes up in one line; the editor keeps each, as a hint beside its code."""
    doc = doc_of(METON)
    notes = [d for d in doc.diagnostics if d.severity.value == "note"]
    published = features.lsp_diagnostics(doc)
    hints = [d for d in published if d.severity == types.DiagnosticSeverity.Hint]
    assert len(notes) >= 3 and [d.code for d in hints] == [d.code for d in notes]
    assert not [d for d in published if d.severity == types.DiagnosticSeverity.Information]


def test_diagnostic_is_rendered_for_the_editor():
    text = 'tasks a\nprofile p for a < min_pp 0.1 >\nprofile p < >\n'
    doc = doc_of(text)
    diags = {d.code: d for d in features.lsp_diagnostics(doc)}
    unknown = diags["MPL301"]
    assert unknown.message == "unknown parameter `min_pp`\nhelp: did you mean `min_p`?"
    assert unknown.source == "mpl" and unknown.severity == types.DiagnosticSeverity.Error
    assert unknown.code_description is None  # only a configured `docs-url` gives an address
    linked = features.lsp_diagnostic(doc, unknown_diag := next(d for d in doc.diagnostics if d.code == "MPL301"),
                                     "https://docs.example.org/d.html")
    assert linked.code_description.href == "https://docs.example.org/d.html#mpl301" and unknown_diag.code == "MPL301"
    assert (unknown.range.start.line, unknown.range.start.character, unknown.range.end.character) == (1, 18, 24)
    duplicate = diags["MPL203"]
    assert duplicate.related_information[0].message == "first defined here"
    assert duplicate.related_information[0].location.range.start == types.Position(line=1, character=8)


def test_client_version_applies_only_without_an_ollama_line():
    text = "profile p < mirostat 2 >"
    assert "MPL401" in [d.code for d in doc_of(text).diagnostics]
    assert "MPL401" not in [d.code for d in doc_of(text, ollama=parse_version("0.6")).diagnostics]
    pinned = 'ollama "0.12"\n' + text
    assert "MPL401" in [d.code for d in doc_of(pinned, ollama=parse_version("0.6")).diagnostics]
    with pytest.raises(ValueError):
        parse_version("zero.six")


def test_hover_on_a_removed_parameter_names_the_release():
    doc = doc_of(METON)
    text = hover(doc, at(METON, "mirostat 2")).contents.value
    assert "removed in Ollama 0.7.0" in text and "Ollama 0.12.0 does not know it" in text


def test_hover_on_a_profile_shows_provenance():
    doc = doc_of(METON)
    text = hover(doc, at(METON, "default precise", 8)).contents.value
    assert "**profile `precise`** extends `base`" in text
    assert "| `num_ctx` | `32768` | profile base, line 16 |" in text
    assert "| `top_k` | `40` | profile precise, line 24 |" in text
    task = hover(doc, at(METON, "for explain, docs", 13)).contents.value
    assert "→ profile `explanation`" in task and "when task is docs, line 54" in task


def test_definition_references_and_rename_of_a_profile():
    doc = doc_of(METON)
    offset = at(METON, "use precise", 5)
    (definition,) = features.definition(doc, offset)
    assert definition.range.start == pos(METON, "profile precise", 8)
    refs = features.references(doc, offset, include_declaration=True)
    expected = [pos(METON, "default precise", 8), pos(METON, "profile precise", 8), pos(METON, "extends precise", 8), pos(METON, "use precise", 4)]
    assert [r.range.start for r in refs] == expected
    assert len(features.references(doc, offset, include_declaration=False)) == 3
    edit = features.rename(doc, offset, "exact")
    assert {e.new_text for e in edit.changes[URI]} == {"exact"} and len(edit.changes[URI]) == 4


@pytest.mark.parametrize(
    ("new_name", "message"),
    [("2fast", "not a valid profile name"), ("extends", "is a keyword"), ("base", "already exists")],
)
def test_rename_refuses_bad_names(new_name, message):
    doc = doc_of(METON)
    with pytest.raises(features.FeatureError, match=message):
        features.rename(doc, at(METON, "profile precise", 8), new_name)


def test_models_are_not_renamed():
    doc = doc_of(METON)
    with pytest.raises(features.FeatureError, match="renames profiles and tasks"):
        features.prepare_rename(doc, at(METON, "model meton-custom", 6))


def test_completion_offers_parameters_with_their_docs():
    text = METON + "\nprofile extra extends base <\n  mir"
    doc = doc_of(METON)
    current = PositionMap(SourceFile(URI, text))
    items = {i.label: i for i in completion(doc, len(text), current).items}
    assert items["temperature"].kind == types.CompletionItemKind.Property
    assert items["temperature"].detail.startswith("float")
    assert items["mirostat"].tags == [types.CompletionItemTag.Deprecated]
    assert "removed in Ollama 0.7.0" in items["mirostat"].documentation.value
    assert items["temperature"].text_edit.range.start == pos(text, "extends base <\n  mir", 17)


def test_document_symbols_outline_declarations_and_parameters():
    symbols = features.document_symbols(doc_of(METON))
    assert [s.name for s in symbols][:4] == ["ollama", "tasks", "default", "base"]
    base = symbols[3]
    assert base.kind == types.SymbolKind.Class
    assert [c.name for c in base.children] == ["num_ctx", "num_predict", "seed"]
    explanation = next(s for s in symbols if s.name == "explanation")
    assert explanation.children[-1].name == "when task is docs"


def test_formatting_is_one_edit_or_none():
    from mpl.fmt import format_text

    messy = "profile p<temperature 0.5;top_k 40>\n"
    (edit,) = features.formatting(doc_of(messy))
    assert edit.new_text == format_text(messy)
    assert features.formatting(doc_of(edit.new_text)) == []
    assert features.formatting(doc_of("profile p < temperature >")) == []


def test_mpl_check_does_not_import_pygls():
    code = (
        "import sys; from typer.testing import CliRunner; from mpl.cli import app; "
        "CliRunner().invoke(app, ['check', sys.argv[1]]); import mpl.lsp.document; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'pygls'))"
    )
    out = subprocess.run([sys.executable, "-c", code, str(EXAMPLES / "meton.mprof")], capture_output=True, text=True)
    assert out.stdout.strip() == "[]", out.stderr


def test_models_navigate_through_from():
    text = 'model base-model from "qwen2.5:7b"\nmodel Child from Base-Model < num_ctx 4096 >\n'
    doc = doc_of(text)
    (definition,) = features.definition(doc, at(text, "Base-Model", 2))
    assert definition.range.start == pos(text, "base-model")
    refs = features.references(doc, at(text, "model base-model", 7), include_declaration=False)
    assert [r.range.start for r in refs] == [pos(text, "Base-Model")]
    assert "from `Base-Model` (model in this file)" in hover(doc, at(text, "Child")).contents.value


def _truncations(text: str) -> list[str]:
    """The text cut at many points, as it is while being typed."""
    return [text[:cut] for cut in range(0, len(text), max(1, len(text) // 60))]


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.mprof")), ids=lambda p: p.stem)
def test_features_never_raise_on_half_typed_text(path):
    """Every request at every place of every prefix of an example answers (or refuses cleanly)."""
    for text in _truncations(path.read_text(encoding="utf-8")) + [path.read_text(encoding="utf-8")]:
        doc = doc_of(text)
        features.lsp_diagnostics(doc)
        features.document_symbols(doc)
        for offset in range(0, len(text) + 1, 5):
            hover(doc, offset)
            completion(doc, offset)
            features.definition(doc, offset)
            features.references(doc, offset, include_declaration=True)
            features.highlights(doc, offset)
            try:
                features.prepare_rename(doc, offset)
                features.rename(doc, offset, "renamed_name")
            except features.FeatureError:
                pass


def test_warm_up_leaves_the_collector_on_with_the_start_up_heap_frozen() -> None:
    """The server's one step about the collector: what start-up and the warm-up built is frozen, and the collector runs."""
    code = (
        "import gc\n"
        "from mpl.lsp.server import warm_up\n"
        "warm_up()\n"
        "print(gc.isenabled(), gc.get_freeze_count() > 10_000, len(gc.get_objects()) < 1_000)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.splitlines()[-1] == "True True True", out.stdout + out.stderr

"""Properties: string literals round-trip, and no input makes the compiler raise."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers import EXAMPLES
from mpl.pipeline import analyze
from mpl.compiler.parse import decode_string, quote_string
from mpl.source import SourceFile

TRICKY = st.sampled_from(['"', '""', '"""', "\\", "\n", "\r", "\r\n", "\t", "#", "<", ">", ";", "[", "]", "\x00", "\u00a0", "\u200d", "😀", "\u2028"])
STRINGS = st.one_of(st.text(), st.lists(st.one_of(TRICKY, st.text(max_size=3)), max_size=12).map("".join))


@given(STRINGS)
def test_literal_round_trips(value: str) -> None:
    assert decode_string(quote_string(value), 0, None)[0] == value
    assert decode_string(quote_string(value, triple=False), 0, None)[0] == value


@given(STRINGS)
@settings(suppress_health_check=[HealthCheck.too_slow], max_examples=200)
def test_literal_round_trips_through_the_parser(value: str) -> None:
    analysis = analyze(SourceFile("p.mprof", f"profile p <\n  stop {quote_string(value)}\n>\n"), targets=("options",))
    assert not [d for d in analysis.diagnostics if d.code.startswith("MPL1")], analysis.diagnostics
    assert analysis.program.resolve("p")["stop"].value == (value,)


SOURCE_ALPHABET = st.sampled_from(
    list("profile model tasks when task is in for extends from unset use system < > [ ] ; , \" # \n\r\t += 0.5 -1 x y")
    + ["profile", "model", "when", "task", "\"\"\"", "temperature", "stop", "use", "default", "ollama", "1e39", "\\q"]
)


@given(st.lists(SOURCE_ALPHABET, max_size=60).map(" ".join))
@settings(suppress_health_check=[HealthCheck.too_slow], max_examples=300, deadline=None)
def test_token_soup_never_raises(text: str) -> None:
    _assert_sane(text)


@given(st.text(max_size=200))
@settings(max_examples=300, deadline=None)
def test_arbitrary_text_never_raises(text: str) -> None:
    _assert_sane(text)


EXAMPLE = (EXAMPLES / "meton.mprof").read_text()


@given(st.integers(0, len(EXAMPLE)), st.integers(0, 40), st.text(max_size=5))
@settings(max_examples=300, deadline=None)
def test_edited_example_never_raises(at: int, cut: int, insert: str) -> None:
    _assert_sane(EXAMPLE[:at] + insert + EXAMPLE[at + cut :])


def _assert_sane(text: str) -> None:
    analysis = analyze(SourceFile("f.mprof", text), base_dir=EXAMPLES)
    for diag in analysis.diagnostics:
        if diag.span is not None:
            assert 0 <= diag.span.start <= diag.span.end <= len(text), diag
    if not analysis.has_errors and analysis.program is not None:
        # A source with no errors compiles: every target emits without raising.
        from mpl.targets import get_target

        for target in ("options", "meton", "modelfile"):
            for output in get_target(target).emit(analysis.program, EXAMPLES / "out"):
                assert output.path and "/" not in output.path

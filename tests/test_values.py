"""Option values: one verdict for the checker and the API; numbers as Ollama (Go float32/int64) reads them."""

from __future__ import annotations

import json
import math
import typing as t
import warnings
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers import labels, run
from mpl.api import MplError, MplWarning, validate_overrides
from mpl.catalog import catalog, validate
from mpl.catalog.values import FLOAT32_MAX, Written, float32_of, read_prompt, shortest_float32
from mpl.compiler.parse import quote_string
from mpl.targets import get_target
from mpl.targets.ollama import create_request

VALUE_CODES = {"MPL302", "MPL303", "MPL306", "MPL308"}
OPTION_NAMES = sorted(catalog().options)


# -- one verdict: the checker and the API ---------------------------------------------


def _source(name: str, value: object) -> str | None:
    """`value` as profile source text, or None where the syntax cannot write it (NaN)."""
    spec = catalog().options[name]
    if isinstance(value, str) and read_prompt(spec, value) is not value:
        return value.strip()  # typed at a prompt: the text is what the syntax reads
    return _literal(value)


def _literal(value: object) -> str | None:
    match value:
        case bool():
            return "true" if value else "false"
        case int():
            return str(value)
        case float() if math.isnan(value):
            return None
        case float() if math.isinf(value):
            return "1e999" if value > 0 else "-1e999"
        case float():
            return repr(value)
        case str():
            return quote_string(value, triple=False)
        case list():
            items = [_literal(item) for item in value]
            return None if None in items else "[" + ", ".join(t.cast(str, i) for i in items) + "]"
    raise AssertionError(value)  # pragma: no cover





def _checker_codes(name: str, text: str) -> set[str]:
    analysis = run(f"profile p < {name} {text} >", targets=("options",))
    return {label.split("@")[0] for label in labels(analysis)} & VALUE_CODES


def _api_codes(name: str, value: object) -> set[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            validate_overrides({name: value})
        except MplError as exc:
            return {d.code for d in exc.diagnostics}
    return {w.message.diagnostic.code for w in caught if isinstance(w.message, MplWarning)}


_PROMPT_TEXT = st.sampled_from(
    ["0.7", " 20 ", "-3", "+5", "1e39", "1e-46", "3.4028235e38", "true", "false", "</s>", "abc", "", "1_0", "inf", "0x10"]
)
_SCALARS = st.one_of(
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.integers(min_value=-(10**420), max_value=10**420),
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=-1e-44, max_value=1e-44),
    st.sampled_from([FLOAT32_MAX, 3.4028235677973366e38, 3.402823567797337e38, 1.000000059604644775390625, 0.0, -0.0]),
    st.text(max_size=8),
    _PROMPT_TEXT,
)
_VALUES = st.one_of(_SCALARS, st.lists(st.one_of(_SCALARS, st.lists(st.text(max_size=3), max_size=2)), max_size=3))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(OPTION_NAMES), value=_VALUES)
def test_checker_and_api_give_the_same_verdict(name: str, value: object) -> None:
    text = _source(name, value)
    api = _api_codes(name, value)
    if text is None:  # not writable in a profile (NaN): the API still refuses it
        assert api and api <= {"MPL302", "MPL306"}
        return
    assert _checker_codes(name, text) == api, (name, value, text)


@pytest.mark.parametrize(
    ("name", "value", "code"),
    [("temperature", 1e39, "MPL306"), ("seed", 2**70, "MPL306"), ("top_k", 20.0, "MPL302"),
     ("repeat_penalty", 3.4028236e38, "MPL306"), ("top_p", 1.5, "MPL303"), ("use_mmap", 1, "MPL302")],
)
def test_the_divergences_found_are_one_verdict_now(name: str, value: object, code: str) -> None:
    assert _api_codes(name, value) == {code} == _checker_codes(name, _literal(value))


def test_prompt_strings_convert_as_the_syntax_reads_them() -> None:
    assert validate_overrides({"temperature": "0.7", "use_mmap": "true", "stop": "</s>", "top_k": " 20 "}) == {
        "temperature": 0.7, "use_mmap": True, "stop": ["</s>"], "top_k": 20,
    }
    with pytest.raises(MplError) as info:
        validate_overrides({"temperature": True})
    assert [d.code for d in info.value.diagnostics] == ["MPL302"]


def test_verdict_is_data() -> None:
    verdict = validate(catalog().options["stop"], ["a", 5])
    assert not verdict.ok and verdict.error.code == "MPL302" and verdict.error.index == 1
    assert verdict.error.message == "`stop` takes strings, not `5`"
    ok = validate(catalog().options["temperature"], Written(0.70, "0.70"))
    assert ok.ok and ok.value == 0.7 and ok.problems == ()


# -- a 401-digit integer for a float option ---------------------------------------------

HUGE = "1" + "0" * 400


def test_a_401_digit_integer_is_a_diagnostic_in_check() -> None:
    analysis = run(f"profile p < temperature {HUGE} >")
    assert labels(analysis, severity="error") == ["MPL306@1:25"]
    message = next(d.message for d in analysis.diagnostics if d.code == "MPL306")
    assert "401 characters" in message and len(message) < 120


def test_a_401_digit_integer_is_a_diagnostic_in_compile(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from mpl.cli import app

    path = tmp_path / "huge.mprof"
    path.write_text(f'model m from "llama3" < temperature {HUGE}; seed -{HUGE} >\n', encoding="utf-8")
    result = CliRunner().invoke(app, ["compile", str(path), "-o", str(tmp_path / "out")])
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "error[MPL306]" in result.output and not (tmp_path / "out").exists()


# -- float32, as Go's strconv.ParseFloat(v, 32) reads it -------------------------------


def _outputs(text: str) -> dict[str, object]:
    """The temperature written by every target for `model m` / `profile p`."""
    analysis = run(text)
    assert not analysis.has_errors, labels(analysis)
    program = analysis.program
    out: dict[str, object] = {}
    for name in ("options", "meton", "modelfile"):
        files = get_target(name).emit(program, program.base_dir)
        out[name] = "\n".join(f.content for f in files)
    out["request"] = json.dumps(create_request(program, program.model("m")))
    return out


def test_a_float32_midpoint_is_written_as_the_float32_it_rounds_to() -> None:
    outputs = _outputs(
        'profile p < temperature 1.000000059604644775390625 >\nmodel m from "llama3" < use p >\n'
    )
    assert "PARAMETER temperature 1.0\n" in outputs["modelfile"]
    assert '"temperature": 1.0' in outputs["options"] and '"temperature": 1.0' in outputs["request"]
    assert "temperature: 1.0" in outputs["meton"]
    for text in outputs.values():
        assert "1.0000000596" not in t.cast(str, text)


def test_every_target_writes_the_shortest_float32() -> None:
    outputs = _outputs('profile p < temperature 0.1; top_p 0.95 >\nmodel m from "llama3" < use p; min_p 0.05 >\n')
    assert "PARAMETER min_p 0.05\n" in outputs["modelfile"] and '"min_p": 0.05' in outputs["request"]
    assert '"top_p": 0.95' in outputs["options"] and "top_p: 0.95" in outputs["meton"]


def test_shortest_float32_reads_back_to_the_same_float32() -> None:
    import random
    import struct

    rng = random.Random(12)
    for _ in range(2000):
        f = struct.unpack("<f", struct.pack("<I", rng.randrange(1, 0x7F7FFFFF)))[0]
        short = shortest_float32(f)
        digits = repr(short).split("e")[0].replace("-", "").replace(".", "").strip("0")
        assert float32_of(repr(short)) == f and len(digits) <= 9


def test_float32_max_is_accepted_and_above_max_plus_half_ulp_is_not() -> None:
    assert not run('profile p < repeat_penalty 3.4028235e38 >', targets=("options",)).has_errors
    # max + half an ulp is 340282356779733661637539395458142568448: just below rounds to the max,
    # the tie itself rounds to even (out of range), as Go does
    assert not run('profile p < repeat_penalty 3.40282356779733661637539395458142568447e38 >', targets=("options",)).has_errors
    for text in ("340282356779733661637539395458142568448", "3.4028236e38", "1e39"):
        assert "MPL306@1:28" in labels(run(f"profile p < repeat_penalty {text} >", targets=("options",)))
    out = _outputs('profile p < >\nmodel m from "llama3" < repeat_penalty 3.4028235e38 >\n')
    assert "PARAMETER repeat_penalty 3.4028235e+38\n" in t.cast(str, out["modelfile"])


def test_a_float_that_underflows_to_zero_is_a_warning() -> None:
    analysis = run("profile p < temperature 1e-46 >", targets=("options",))
    assert labels(analysis) == ["MPL308@1:25"]
    diag = analysis.diagnostics[0]
    assert diag.severity.value == "warning" and "reads `temperature` as 0" in diag.message
    assert diag.help is not None and "greedy" in diag.help
    assert "MPL308" not in labels(run("profile p < temperature 0 >", targets=("options",)))
    assert "MPL308" not in labels(run("profile p < temperature 1e-45 >", targets=("options",)))  # the smallest subnormal
    with pytest.warns(MplWarning, match="MPL308"):
        assert validate_overrides({"temperature": 1e-46}) == {"temperature": 0.0}


# -- old releases ------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["true", "false"])
def test_use_mmap_in_a_model_is_an_error_at_0_1_45(value: str) -> None:
    text = f'model m from "llama3" <\n  use_mmap {value}\n>\n'
    analysis = run(text, ollama="0.1.45", targets=("modelfile",))
    assert labels(analysis, severity="error") == ["MPL407@2:3"]
    assert f"invalid int value [{value}]" in analysis.diagnostics[-1].message or any(
        f"invalid int value [{value}]" in d.message for d in analysis.diagnostics
    )
    for version in ("0.1.44", "0.1.46", "0.32.15"):
        assert not run(text, ollama=version, targets=("modelfile",)).has_errors
    # a runtime option is read by FromMap, which takes a JSON boolean there
    assert not run(f"profile p < use_mmap {value} >", ollama="0.1.45", targets=("options",)).has_errors


@pytest.mark.parametrize(
    ("version", "statement", "keyword"),
    [("0.0.8", 'system "s"', "SYSTEM"), ("0.0.8", 'template "t"', "TEMPLATE"),
     ("0.0.7", 'license "l"', "LICENSE"), ("0.0.14", 'adapter "a.gguf"', "ADAPTER")],
)
def test_instructions_older_releases_skip_are_warnings(version: str, statement: str, keyword: str, tmp_path: Path) -> None:
    (tmp_path / "a.gguf").write_bytes(b"GGUF")
    analysis = run(f'model m from "llama3" < {statement} >', ollama=version, targets=("modelfile",), base_dir=tmp_path)
    found = [d for d in analysis.diagnostics if d.code == "MPL404"]
    assert len(found) == 1 and found[0].severity.value == "warning" and keyword in found[0].message
    assert "skips it" in found[0].message
    newer = {"SYSTEM": "0.0.9", "TEMPLATE": "0.0.9", "LICENSE": "0.0.8", "ADAPTER": "0.0.15"}[keyword]
    later = run(f'model m from "llama3" < {statement} >', ollama=newer, targets=("modelfile",), base_dir=tmp_path)
    assert "MPL404" not in {d.code for d in later.diagnostics}


def test_a_model_before_the_first_modelfile_release_is_an_error() -> None:
    analysis = run('model m from "llama3" < temperature 0.5 >', ollama="0.0.5", targets=("modelfile",))
    assert labels(analysis, severity="error") == ["MPL404@1:14"]
    assert "0.0.6" in analysis.diagnostics[-1].message or any("0.0.6" in d.message for d in analysis.diagnostics)
    assert not run('model m from "llama3" < temperature 0.5 >', ollama="0.0.6", targets=("modelfile",)).has_errors


def test_a_gguf_adapter_is_never_an_error_at_0_34_1(tmp_path: Path) -> None:
    import shutil

    from helpers import EXAMPLES

    shutil.copy(EXAMPLES / "adapters" / "meton-lora.gguf", tmp_path / "a.gguf")
    analysis = run('ollama "0.34.1"\nmodel m from "x" < adapter "a.gguf" >', base_dir=tmp_path)
    assert not analysis.has_errors, labels(analysis)
    d = next(d for d in analysis.diagnostics if d.code == "MPL405")
    # What is known and what to do, nothing else: no third-party citations to weigh.
    assert d.message == ("Ollama 0.34.1 may refuse to create this model with its adapter: from 0.34.1, `ollama create` "
                         "is said to refuse an ADAPTER line; whether the server's /api/create (`mpl build`) does is not known")
    assert d.help.startswith("build as usual; if the create refuses the adapter, merge it") and "llama-export-lora" in d.help
    from mpl.diagnostics import CODES

    spec = CODES["MPL405"]
    assert "#" not in spec.summary + spec.why + spec.fix and "third-party" not in spec.why
    assert spec.fix.startswith("Keep the adapter and build as usual.")


def test_a_decimal_next_to_a_float32_midpoint_is_rounded_once_in_every_target() -> None:
    # float("0.70000001788139343") is exactly halfway between the float32s 0.7 and
    # 0.70000005; the decimal is below it, so Go's ParseFloat(v, 32) reads 0.7.
    assert float("0.70000001788139343") == (float32_of("0.7") + float32_of("0.70000005")) / 2
    assert float32_of("0.70000001788139343") == float32_of("0.7")
    outputs = _outputs('profile p < top_p 0.70000001788139343 >\nmodel m from "llama3" < use p >\n')
    assert "PARAMETER top_p 0.7\n" in outputs["modelfile"]
    assert '"top_p": 0.7' in outputs["options"] and '"top_p": 0.7' in outputs["request"]
    assert "top_p: 0.7\n" in outputs["meton"]
    for text in outputs.values():
        assert "0.70000005" not in t.cast(str, text)


def test_negative_zero_is_written_as_negative_zero_after_a_positive_zero(tmp_path: Path) -> None:
    # Both zeros compare equal; a cache keyed by value once wrote the first one seen for both.
    assert repr(shortest_float32(0.0)) == "0.0" and repr(shortest_float32(-0.0)) == "-0.0"
    analysis = run("profile a < temperature 0.0 >\nprofile b < temperature -0.0 >\n")
    (out,) = get_target("options").emit(analysis.program, tmp_path)
    profiles = json.loads(out.content)["profiles"]
    assert repr(profiles["a"]["options"]["temperature"]) == "0.0"
    assert repr(profiles["b"]["options"]["temperature"]) == "-0.0"

"""The short fuzz budget of the suite: generated programs, mutated sources and mutated config.yaml files
(see tests/fuzz.py), hostile LSP messages (tests/fuzz_lsp.py)."""

from __future__ import annotations

import io
import random

from hypothesis import HealthCheck, given, settings

import fuzz_lsp
from fuzz import (TIME_BOUND, check_program, fuzz, hostile_yaml, mutants, programs, run_one, run_yaml_one, seeds,
                  yaml_mutants, yaml_seeds)


@given(programs())
@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
def test_generated_programs_check_compile_and_keep_their_meaning_when_formatted(tmp_path_factory, text):
    check_program(text, tmp_path_factory.mktemp("fuzz"))


def test_mutated_examples_and_fixtures_end_in_a_verdict(tmp_path):
    rng = random.Random(20261204)
    pool = seeds()
    assert len(pool) > 50
    verdicts = {True: 0, False: 0}
    for _, data in zip(range(150), mutants(rng, pool)):
        errors, _ = run_one(data, tmp_path)  # raises on a crash, a bad span or no verdict within TIME_BOUND
        verdicts[errors] += 1
    assert verdicts[True] and verdicts[False]


def test_the_known_crashers_end_in_diagnostics(tmp_path):
    nine = b"9" * 5000
    for data in (
        b"profile p <\n  seed " + nine + b"\n>\n",  # more digits than int() reads
        b"profile p <\n  temperature -" + nine + b"\n>\n",
        b'model m from "./' + b"x" * 5000 + b'.gguf" < seed 1 >\n',  # a path too long for the system
        b'model m from "x" < adapter "./' + b"y/" * 3000 + b'a.gguf" >\n',
        b"profile p <" * 5000,
        b"profile p < system \"\x00\xff\" >\n",
    ):
        errors, _ = run_one(data, tmp_path)
        assert errors, data[:60]
    assert run_one(b"\xef\xbb\xbfprofile p <\r  seed 1\r>\r", tmp_path)[0] is False  # a BOM and CR-only lines are fine


def test_mutated_meton_configs_end_in_a_verdict_through_import_and_into(tmp_path):
    rng = random.Random(20261206)
    pool = yaml_seeds()
    assert len(pool) > 25
    verdicts = {(i, r): 0 for i in (True, False) for r in (True, False)}
    for _, data in zip(range(150), yaml_mutants(rng, pool)):
        verdicts[run_yaml_one(data, tmp_path)] += 1  # raises on a crash, a changed refused file or no verdict in time
    assert verdicts[(True, True)] and verdicts[(False, False)], verdicts


def test_the_hostile_yaml_seeds_are_refused_in_time(tmp_path):
    refused = 0
    for data in hostile_yaml():
        import_errors, into_refused = run_yaml_one(data, tmp_path)
        refused += import_errors and into_refused
    assert refused >= 15  # bombs, nesting, tabs, several documents, binary: both commands refuse


def test_the_long_run_prints_its_counts():
    out = io.StringIO()
    counts = fuzz(6, seed=1, out=out)
    assert counts["failures"] == 0, out.getvalue()
    assert counts["programs"] > 0 and counts["mutants"] > 0 and counts["yaml mutants"] > 0
    assert counts["slowest ms"] < TIME_BOUND * 1000
    assert out.getvalue().startswith("seed 1: programs ")


def test_hostile_lsp_messages_never_silence_desynchronise_or_end_the_server():
    out = io.StringIO()
    counts = fuzz_lsp.fuzz(6, seed=20261206, out=out)
    assert counts["failures"] == 0, out.getvalue()
    assert counts["batches"] >= 20 and counts["requests answered"] >= 20, out.getvalue()
    assert out.getvalue().startswith("seed 20261206: batches ")

"""The untrusted-input layer of the suite loader: its limits hold exactly at their boundaries."""

from __future__ import annotations

import math
import os
from pathlib import Path

import pytest

from mspgt_bench.suite import guards
from mspgt_bench.suite.limits import OPTION_LIMITS
from mspgt_bench.suite.loader import SuiteError, load_suite
from mspgt_bench.suite.problems import LINE_LIMIT, MAX_SHOWN, Problem
from mspgt_bench.suite.reading import MAX_DEPTH, MAX_FILE_BYTES, MAX_NODES, ReadError, parse, read_text


def test_a_duplicate_key_is_named_with_its_file_lines_and_key_path(write_suite, minimal_suite):
    text = write_suite(minimal_suite()).read_text() + "run:\n  seed: 1\n  seed: 2\n"
    path = write_suite(text.replace("run:\n  batch_size: 4\n", ""))
    with pytest.raises(SuiteError) as info:
        load_suite(path)
    (problem,) = info.value.problems
    line = path.read_text().splitlines().index("  seed: 2") + 1
    assert problem == Problem(
        str(path),
        "run.seed",
        f"line {line}, column 3: duplicate key (first at line {line - 1}, column 3); YAML would keep only the last "
        "value silently, so remove one of them",
    )


def test_refused_values_are_reported_once_beside_the_other_problems(write_suite, minimal_suite):
    suite = minimal_suite(
        bootstrap={"n_boot": 10**9}, models=[{"name": "tiny-llama", "args": {"trust_remote_code": 1}}]
    )
    suite["predictions"][0]["threshold"] = math.nan
    suite["predictions"][0]["options"]["n_boot"] = 10**9  # not an option of profile_contrast either
    with pytest.raises(SuiteError) as info:
        load_suite(write_suite(suite))
    assert [p.path for p in info.value.problems] == [
        "models[0].args.trust_remote_code",
        "predictions[0].threshold",
        "predictions[0].options.n_boot",
        "bootstrap.n_boot",
    ]


@pytest.mark.parametrize("depth", [MAX_DEPTH, MAX_DEPTH + 1])
def test_nesting_is_refused_one_level_past_the_limit(depth: int):
    text = "[" * depth + "]" * depth
    if depth <= MAX_DEPTH:
        assert parse(text) is not None
    else:
        with pytest.raises(ReadError, match=f"nested more than {MAX_DEPTH} levels deep"):
            parse(text)


@pytest.mark.parametrize("values", [MAX_NODES - 1, MAX_NODES])
def test_a_document_may_hold_max_nodes_values_with_its_root(values: int):
    text = "[" + ", ".join(["0"] * values) + "]"
    if values + 1 <= MAX_NODES:
        assert len(parse(text)) == values
    else:
        with pytest.raises(ReadError, match=f"more than {MAX_NODES} keys and values"):
            parse(text)


def test_aliases_count_as_often_as_they_are_expanded():
    ten = "a: &a [" + ", ".join(["0"] * 9) + "]\n"  # a list and nine values: ten nodes
    uses = (MAX_NODES // 10) + 1
    text = ten + "b: [" + ", ".join(["*a"] * uses) + "]\n"
    assert len(text) < 40_000  # a few kilobytes that would expand past the limit
    with pytest.raises(ReadError, match="through aliases"):
        parse(text)
    assert parse(ten + "b: [*a, *a]\n")["b"] == [[0] * 9] * 2  # legitimate reuse still reads


@pytest.mark.parametrize("size", [MAX_FILE_BYTES, MAX_FILE_BYTES + 1])
def test_the_file_size_limit_is_inclusive(tmp_path: Path, size: int):
    path = tmp_path / "suite.yaml"
    path.write_bytes(b"a: 1\n#" + b"x" * (size - 6))
    assert path.stat().st_size == size
    if size <= MAX_FILE_BYTES:
        assert read_text(path).startswith("a: 1")
    else:
        with pytest.raises(ReadError, match="larger than 1024 KiB"):
            read_text(path)


@pytest.mark.parametrize("key", sorted(guards.CODE_KEYS))
def test_every_code_loading_key_is_refused_at_any_depth(key: str):
    data = {"models": [{"name": "m", "args": {"engine_args": {key: False}}}]}
    assert guards.findings(data) == [(("models", 0, "args", "engine_args", key), guards.CODE_KEYS[key])]


@pytest.mark.parametrize("backend", [*guards.EXECUTOR_BACKENDS, None])
def test_vllm_built_in_executors_pass_the_guard(backend: str | None):
    assert guards.findings({"models": [{"args": {"distributed_executor_backend": backend}}]}) == []


@pytest.mark.parametrize(("name", "limit"), sorted(OPTION_LIMITS.items()))
def test_option_limits_are_inclusive_and_apply_inside_options_only(name: str, limit: int):
    assert guards.findings({"signals": [{"options": {name: limit}}]}) == []
    assert guards.findings({"signals": [{"options": {name: 0}}]}) == []
    for outside in (limit + 1, -1, float(limit + 1), str(limit + 1)):
        ((where, message),) = guards.findings({"signals": [{"options": {name: outside}}]})
        assert where == ("signals", 0, "options", name) and f"outside 0..{limit}" in message
    assert guards.findings({"run": {name: limit + 1}}) == []  # the schema's own fields have their own limits


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_non_finite_numbers_are_refused_anywhere(value: float):
    ((where, message),) = guards.findings({"suite": {"description": [value]}})
    assert where == ("suite", "description", 0) and "not a finite number" in message


def test_text_that_reads_as_non_finite_is_refused_only_in_plugin_options():
    assert guards.findings({"suite": {"description": "nan"}}) == []
    ((where, _),) = guards.findings({"detectors": [{"options": {"min_evidence": "NaN"}}]})
    assert where == ("detectors", 0, "options", "min_evidence")


def test_a_problem_is_one_printable_line_and_long_lists_are_cut():
    problem = Problem("s.yaml", "a\nb", "line\x1b[2J\u202e" + "x" * 5000)
    text = str(problem)
    assert text.isprintable() and text.startswith("s.yaml: a\\nb: line\\x1b[2J\\u202e")
    assert len(text) == LINE_LIMIT and text.endswith("xx...")
    error = SuiteError([problem] * (MAX_SHOWN + 5))
    assert len(error.problems) == MAX_SHOWN + 5
    assert str(error).count("\n  - ") == MAX_SHOWN and str(error).endswith("... and 5 more (fix these first)")


def test_an_included_pipe_is_refused_without_being_opened(write_suite, minimal_suite, tmp_path: Path):
    os.mkfifo(tmp_path / "pipe.yaml")  # opening it would block until a writer came
    path = write_suite({"include": ["pipe.yaml"], **minimal_suite()})
    with pytest.raises(SuiteError, match="pipe.yaml: \\(top level\\): is not a regular file"):
        load_suite(path)

"""Fuzzing the suite loader: whatever the file holds, ``load_suite`` returns a Suite or raises ``SuiteError``.

Two generators: suite-shaped mappings (the minimal suite with random values put at random key
paths, plus random sections and keys) written as YAML, and the minimal suite's text with random
YAML-ish fragments or raw bytes spliced in. Any other exception fails the test; so does a
problem that is not one printable line, or a file written beside the suite.
"""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mspgt_bench.suite.loader import LoadedSuite, SuiteError, load_suite

FUZZ = settings(
    max_examples=200,
    deadline=None,
    database=None,  # no .hypothesis folder written into the working tree
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

KEYS = [
    *("suite", "models", "stimuli", "signals", "detectors", "interventions", "generation", "predictions"),
    *("controls", "bootstrap", "run", "output", "include", "name", "id", "options", "args", "threshold"),
    *("direction", "statistic", "n", "seed", "max_tokens", "n_boot", "batch_size", "segments", "segments_from"),
    *("trust_remote_code", "model_kwargs", "detector", "intervention", "profile", "source", "n_prompts"),
]
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(["tiny-llama", "logit_lens", "fused", "within", "greater", "[0, 1]", "nan", "1e9", "../x"]),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
FRAGMENTS = st.one_of(
    st.text(
        alphabet=st.sampled_from(list("{}[],:&*!|>-?#'\"%@`~<.\n\t 0123456789abcxyz\\\x00\x1b\x85\u2028")), max_size=30
    ),
    st.sampled_from(
        ["&a [*a]", "*a", "<<: *a", "!!python/name:os.system", "? [a]\n: 1", ".nan", ".inf", "0x" + "f" * 30]
    ),
)

SEEN: Counter[str] = Counter()


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every key path inside ``value``, the root included."""
    yield prefix
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        yield from _paths(item, (*prefix, key))


def _put(suite: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    if not path:
        return value
    target = suite
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return suite


@st.composite
def suite_mappings(draw: st.DrawFn, base: dict[str, Any]) -> Any:
    """The base suite with one to three random values put at random key paths, and maybe an extra key."""
    suite: Any = copy.deepcopy(base)
    for _ in range(draw(st.integers(1, 3))):
        if not isinstance(suite, dict):
            break
        path = draw(st.sampled_from(list(_paths(suite))))
        suite = _put(suite, path, draw(VALUES))
    if isinstance(suite, dict) and draw(st.booleans()):
        suite[draw(st.sampled_from(KEYS))] = draw(VALUES)
    return suite


def _check(path: Path) -> None:
    """``load_suite`` answers with a suite or one-line problems, and writes nothing."""
    before = sorted(path.parent.iterdir())
    try:
        loaded = load_suite(path)
    except SuiteError as exc:
        lines = [str(p) for p in exc.problems]
        assert lines and all(line.isprintable() and line.startswith(str(path.parent)) for line in lines), lines
        SEEN["clear error"] += 1
    else:
        assert isinstance(loaded, LoadedSuite)
        SEEN["valid"] += 1
    assert sorted(path.parent.iterdir()) == before


@FUZZ
@given(data=st.data())
def test_suite_shaped_mappings_load_or_fail_clearly(data: st.DataObject, tmp_path: Path, minimal_suite) -> None:
    suite = data.draw(suite_mappings(minimal_suite()))
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump(suite, sort_keys=False, allow_unicode=data.draw(st.booleans())))
    _check(path)


@FUZZ
@given(data=st.data())
def test_spliced_text_and_bytes_load_or_fail_clearly(data: st.DataObject, tmp_path: Path, minimal_suite) -> None:
    text = yaml.safe_dump(minimal_suite(), sort_keys=False).encode()
    start = data.draw(st.integers(0, len(text)))
    end = data.draw(st.integers(start, min(len(text), start + 20)))
    fragment = data.draw(FRAGMENTS.map(str.encode) | st.binary(max_size=16))
    path = tmp_path / "suite.yaml"
    path.write_bytes(text[:start] + fragment + text[end:])
    _check(path)


@pytest.fixture(scope="module", autouse=True)
def _print_counts() -> Iterator[None]:
    yield
    if SEEN:
        print(f"\n\nfuzzed suites: {sum(SEEN.values())}, clear errors {SEEN['clear error']}, valid {SEEN['valid']}")

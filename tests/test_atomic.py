"""JSON for other readers is standard (no bare NaN or Infinity); the run's own caches keep NaN exactly."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mspgt_bench.atomic import dumps, write_json


def _strict(text: str):
    def refuse(constant: str):
        raise ValueError(f"bare {constant} is not JSON")

    return json.loads(text, parse_constant=refuse)


def test_non_finite_numbers_become_null_at_any_depth(tmp_path):
    data = {"a": float("nan"), "b": [1.5, float("inf"), {"c": -float("inf")}], "d": np.array([0.25, np.nan]),
            "e": np.float64("nan"), "f": (2, np.float32(0.5))}  # fmt: skip
    write_json(tmp_path / "x.json", data, standard=True)
    assert _strict((tmp_path / "x.json").read_text()) == {
        "a": None, "b": [1.5, None, {"c": None}], "d": [0.25, None], "e": None, "f": [2, 0.5]
    }  # fmt: skip


def test_a_cache_write_keeps_nan_exactly(tmp_path):
    write_json(tmp_path / "cache.json", {"v": [float("nan"), 1.0]})
    assert np.isnan(json.loads((tmp_path / "cache.json").read_text())["v"][0])


def test_plain_json_without_non_finite_numbers_is_unchanged():
    data = {"x": [1, 2.5, "three", None, True]}
    assert dumps(data) == json.dumps(data)


def test_objects_json_cannot_hold_are_refused():
    with pytest.raises(TypeError, match="cannot serialise object"):
        dumps({"x": object()})


def test_a_null_profile_value_reads_back_as_nan():
    from mspgt_bench.result_schema import ProfileRow

    row = {"model": "m", "family": None, "condition": "trained", "signal": "s", "metric": "x", "layer": 0,
           "depth": 0.5, "value": float("nan"), "ci_low": None, "ci_high": 1.0, "n": 3, "convention": "stream"}  # fmt: skip
    parsed = ProfileRow.model_validate(json.loads(dumps(row)))
    assert np.isnan(parsed.value) and np.isnan(parsed.ci_low) and parsed.ci_high == 1.0

"""Depth-window contrast: PASS when built to hold, FAIL when built to fail, INCONCLUSIVE between."""

from __future__ import annotations

import numpy as np
import pytest

from mspgt_bench.predictions.base import ZERO_WIDTH, PredictionContext, decide
from mspgt_bench.predictions.contrast import ProfileContrast
from mspgt_bench.signals.base import BootstrapConfig, Profile
from mspgt_bench.suite.schema import PredictionSpec


@pytest.mark.parametrize(
    ("lo", "hi", "direction", "expected"),
    [
        (0.1, 0.3, "greater", "PASS"),
        (-0.3, -0.1, "greater", "FAIL"),
        (-0.1, 0.1, "greater", "INCONCLUSIVE"),
        (-0.3, -0.1, "less", "PASS"),
        (0.1, 0.3, "less", "FAIL"),
        (-0.1, 0.1, "less", "INCONCLUSIVE"),
        (0.0, 0.2, "greater", "INCONCLUSIVE"),
    ],
)
def test_decide(lo, hi, direction, expected):
    assert decide(lo, hi, 0.0, direction) == expected


def _context(per_stimulus: np.ndarray) -> PredictionContext:
    n_layers = per_stimulus.shape[1]
    layers = np.arange(n_layers)
    profile = Profile(
        "sig", "m", layers, per_stimulus.mean(0), per_stimulus.min(0), per_stimulus.max(0),
        per_stimulus.shape[0], (layers + 1) / n_layers, "test", per_stimulus,
    )
    return PredictionContext("m", "f", "trained", n_layers, {"sig.m": profile}, BootstrapConfig(n_boot=500, seed=1))


def _prediction(direction: str = "greater") -> ProfileContrast:
    spec = PredictionSpec(
        id="T", name="profile_contrast", statistic="mean_difference", threshold=0.0, direction=direction,
        options={"profile": "sig.m", "window_a": {"start": 0.0, "end": 0.5}, "window_b": {"start": 0.51, "end": 1.0}},
    )
    return ProfileContrast(spec)


def _data(shift: float, noise: float = 0.1, n: int = 40, layers: int = 10) -> np.ndarray:
    rng = np.random.default_rng(0)
    data = rng.normal(0, noise, size=(n, layers))
    data[:, : layers // 2] += shift
    return data


def test_pass_fail_inconclusive_on_built_inputs():
    assert _prediction().evaluate(_context(_data(1.0))).status == "PASS"
    assert _prediction().evaluate(_context(_data(-1.0))).status == "FAIL"
    assert _prediction("less").evaluate(_context(_data(-1.0))).status == "PASS"
    outcome = _prediction().evaluate(_context(_data(0.0, noise=1.0, n=8)))
    assert outcome.status == "INCONCLUSIVE" and outcome.ci_low < 0 < outcome.ci_high


def test_value_is_the_hand_computed_difference():
    data = _data(0.7, noise=0.0)
    outcome = _prediction().evaluate(_context(data))
    assert outcome.value == pytest.approx(0.7)
    assert outcome.details["layers_a"] == [0, 1, 2, 3, 4] and outcome.details["layers_b"] == [5, 6, 7, 8, 9]


def test_missing_profile_names_the_fix():
    prediction = _prediction()
    ctx = _context(_data(1.0))
    ctx.profiles = {}
    with pytest.raises(LookupError, match="add the signal to `signals:`"):
        prediction.evaluate(ctx)


def test_a_zero_width_interval_is_flagged_and_a_real_one_is_not():
    exact = _prediction().evaluate(_context(_data(0.7, noise=0.0)))  # every stimulus differs by exactly 0.7
    assert exact.ci_low == exact.ci_high and exact.status == "PASS"
    assert exact.details["zero_width_interval"] == ZERO_WIDTH
    noisy = _prediction().evaluate(_context(_data(1.0)))
    assert noisy.ci_low < noisy.ci_high and "zero_width_interval" not in noisy.details

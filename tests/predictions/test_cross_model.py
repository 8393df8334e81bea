"""P5 boundary CV across a family's models: PASS when positions match, FAIL when they scatter, SKIP when too few."""

from __future__ import annotations

import numpy as np
import pytest

from mspgt_bench.detectors.plugins import ChangePoint
from mspgt_bench.predictions.base import PredictionContext
from mspgt_bench.predictions.cross_model import BoundaryCV
from mspgt_bench.signals.base import BootstrapConfig, Profile
from mspgt_bench.suite.schema import PredictionSpec

BOOT = BootstrapConfig(n_boot=50, seed=0)


def _context(name: str, n_layers: int, fractions: tuple[float, float], seed: int, family: str = "llama") -> PredictionContext:
    rng = np.random.default_rng(seed)
    b1, b2 = (round(f * n_layers) for f in fractions)
    mean = np.ones(n_layers)
    mean[b1:] = 3.0
    mean[b2:] = 2.0
    data = mean + rng.normal(0, 0.05, size=(20, n_layers))
    layers = np.arange(n_layers)
    profile = Profile("s", "m", layers, data.mean(0), data.min(0), data.max(0), 20, (layers + 1) / n_layers, "t", data)
    detection = ChangePoint(label="det", profiles={"s.m": 1.0}, n_boot=20).detect({"s.m": profile}, n_layers, BOOT)
    return PredictionContext(name, family, "trained", n_layers, {"s.m": profile}, BOOT, {"det": detection})


def _prediction(threshold: float = 0.1, direction: str = "less") -> BoundaryCV:
    spec = PredictionSpec(
        id="P5", name="boundary_cv", statistic="boundary_cv", threshold=threshold, direction=direction,
        options={"family": "llama", "detector": "det", "n_boot": 50},
    )
    return BoundaryCV(spec)


def test_stable_positions_across_sizes_pass_strong_dominance():
    contexts = [_context(f"m{L}", L, (0.25, 0.6), seed=L) for L in (16, 24, 32)]
    outcome = _prediction().evaluate_many(contexts)["llama"]
    assert outcome.status == "PASS" and outcome.value < 0.05


def test_scattered_positions_fail_strong_and_pass_weak_dominance():
    contexts = [_context("a", 24, (0.2, 0.5), 1), _context("b", 24, (0.45, 0.75), 2), _context("c", 24, (0.1, 0.3), 3)]
    assert _prediction().evaluate_many(contexts)["llama"].status == "FAIL"
    assert _prediction(0.3, "greater").evaluate_many(contexts)["llama"].status == "PASS"


def test_too_few_models_of_the_family_is_a_skip_with_the_reason():
    contexts = [_context("a", 24, (0.25, 0.6), 1), _context("q", 24, (0.25, 0.6), 2, family="qwen2")]
    outcome = _prediction().evaluate_many(contexts)["llama"]
    assert outcome.status == "SKIP" and "at least 3 models" in outcome.reason and "(a)" in outcome.reason


def test_evaluate_alone_is_refused():
    with pytest.raises(TypeError, match="evaluate_many"):
        _prediction().evaluate(_context("a", 24, (0.25, 0.6), 1))

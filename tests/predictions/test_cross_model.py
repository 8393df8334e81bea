"""P5 boundary CV across a family's models: hand-derived CVs for two and three sizes, PASS when positions match,
FAIL when they scatter, SKIP when fewer models than the suite declares."""

from __future__ import annotations

import numpy as np
import pytest

from mspgt_bench.detectors.plugins import ChangePoint
from mspgt_bench.predictions.base import PredictionContext
from mspgt_bench.predictions.cross_model import BoundaryCV, coefficient_of_variation
from mspgt_bench.signals.base import BootstrapConfig, Profile
from mspgt_bench.suite.schema import PredictionSpec

BOOT = BootstrapConfig(n_boot=50, seed=0)


def _context(
    name: str, n_layers: int, fractions: tuple[float, float], seed: int, family: str = "llama"
) -> PredictionContext:
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


def _prediction(threshold: float = 0.1, direction: str = "less", min_models: int = 3) -> BoundaryCV:
    spec = PredictionSpec(
        id="P5",
        name="boundary_cv",
        statistic="boundary_cv",
        threshold=threshold,
        direction=direction,
        options={"family": "llama", "detector": "det", "min_models": min_models, "n_boot": 50},
    )
    return BoundaryCV(spec)


def test_the_cv_of_two_fractions_is_root_two_times_their_gap_over_their_sum():
    # a = 0.5, b = 0.75: sd(ddof=1) = 0.25/√2, mean = 0.625, CV = √2·0.25/1.25 = √2/5
    assert coefficient_of_variation(np.array([[0.5], [0.75]]))[0] == pytest.approx(np.sqrt(2) / 5)
    # a = 0.25, b = 0.75: CV = √2·0.5/1.0 = 1/√2; identical fractions: 0
    assert coefficient_of_variation(np.array([[0.25, 0.4], [0.75, 0.4]])).tolist() == pytest.approx([2**-0.5, 0.0])


def test_two_sizes_give_the_hand_derived_cv_flagged_as_two_points():
    # boundaries at layers (5, 10) of 20 and (5, 15) of 20: fractions (0.25, 0.5) and (0.25, 0.75);
    # boundary 1 has CV 0, boundary 2 has CV √2·|0.5 − 0.75|/(0.5 + 0.75) = √2/5 ≈ 0.283 (the statistic)
    contexts = [_context("small", 20, (0.25, 0.5), seed=1), _context("large", 20, (0.25, 0.75), seed=2)]
    outcome = _prediction(0.1, "less", min_models=2).evaluate_many(contexts)["llama"]
    assert outcome.value == pytest.approx(np.sqrt(2) / 5)
    # the steps are 20 noise SDs tall: every resample refits the same boundaries
    assert outcome.ci_low == pytest.approx(np.sqrt(2) / 5) and outcome.ci_high == pytest.approx(np.sqrt(2) / 5)
    assert outcome.status == "FAIL" and outcome.n == 2
    assert outcome.details["n_sizes"] == 2 and "two sizes" in outcome.details["note"]
    assert outcome.details["depths"] == {"small": [0.25, 0.5], "large": [0.25, 0.75]}
    assert _prediction(0.4, "greater", min_models=2).evaluate_many(contexts)["llama"].status == "FAIL"
    assert _prediction(0.25, "greater", min_models=2).evaluate_many(contexts)["llama"].status == "PASS"


def test_three_sizes_give_the_hand_derived_cv_without_the_two_point_note():
    # fractions of boundary 1: 0.25, 0.25, 0.5 (mean 1/3, sd(ddof=1) = √(3/144) = 1/(4√3)), CV = √3/4 ≈ 0.433;
    # boundary 2 sits at 0.75 in all three (CV 0)
    contexts = [
        _context(name, 24, (f, 0.75), seed=i) for i, (name, f) in enumerate([("a", 0.25), ("b", 0.25), ("c", 0.5)])
    ]
    outcome = _prediction(0.4, "greater").evaluate_many(contexts)["llama"]
    assert outcome.value == pytest.approx(np.sqrt(3) / 4) and outcome.status == "PASS"
    assert outcome.details["n_sizes"] == 3 and "note" not in outcome.details


def test_the_suite_must_declare_the_minimum_number_of_sizes():
    spec = PredictionSpec(
        id="P5",
        name="boundary_cv",
        statistic="boundary_cv",
        threshold=0.1,
        direction="less",
        options={"family": "llama", "detector": "det"},
    )
    with pytest.raises(ValueError, match="min_models"):
        BoundaryCV(spec)


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
    assert outcome.status == "SKIP" and "at least 3 models (sizes)" in outcome.reason and "(a)" in outcome.reason
    two = _prediction(min_models=2).evaluate_many(contexts)["llama"]
    assert two.status == "SKIP" and "at least 2 models" in two.reason


def test_evaluate_alone_is_refused():
    with pytest.raises(TypeError, match="evaluate_many"):
        _prediction().evaluate(_context("a", 24, (0.25, 0.6), 1))

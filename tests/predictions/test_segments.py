"""Segment predictions (P1, P2, P3, P7): PASS on inputs built to satisfy them, FAIL on violations."""

from __future__ import annotations

import numpy as np
import pytest

from mspgt_bench.detectors.plugins import ChangePoint
from mspgt_bench.predictions.base import PredictionContext
from mspgt_bench.predictions.segments import BoundaryAgreement, BoundaryPosition, ExtremumInSegment, SegmentCount
from mspgt_bench.signals.base import BootstrapConfig, Profile
from mspgt_bench.suite.schema import PredictionSpec

L = 24
BOOT = BootstrapConfig(n_boot=100, seed=3)


def _profile(name: str, levels: list[float], starts: list[int], seed: int, noise: float = 0.05) -> Profile:
    rng = np.random.default_rng(seed)
    mean = np.zeros(L)
    for level, start in zip(levels, starts):
        mean[start:] = level
    data = mean + rng.normal(0, noise, size=(30, L))
    layers = np.arange(L)
    return Profile(name, "m", layers, data.mean(0), data.min(0), data.max(0), 30, (layers + 1) / L, "test", data)


def _context(**profiles: Profile) -> PredictionContext:
    by_key = {f"{p.signal}.{p.metric}": p for p in profiles.values()}
    detections = {
        label: ChangePoint(label=label, profiles={f"{p.signal}.m": 1.0}, n_boot=30).detect(by_key, L, BOOT)
        for label, p in profiles.items()
        if label.startswith("det")
    }
    return PredictionContext("m", "f", "trained", L, by_key, BOOT, detections)


def _spec(name: str, statistic: str, threshold, direction: str, **options) -> PredictionSpec:
    return PredictionSpec(id="T", name=name, statistic=statistic, threshold=threshold, direction=direction, options={"n_boot": 50, **options})


THREE = dict(levels=[1.0, 3.0, 2.0], starts=[0, 6, 15])
FOUR = dict(levels=[1.0, 3.0, 1.5, 3.5], starts=[0, 5, 11, 17])


def test_p1_three_segments_pass_four_fail():
    spec = _spec("segment_count", "criterion_margin", 0.0, "greater", detector="det")
    assert SegmentCount(spec).evaluate(_context(det=_profile("a", **THREE, seed=1))).status == "PASS"
    assert SegmentCount(spec).evaluate(_context(det=_profile("a", **FOUR, seed=1))).status == "FAIL"


@pytest.mark.parametrize(("window", "expected"), [((0.2, 0.3), "PASS"), ((0.5, 0.7), "FAIL")])
def test_p2_boundary_depth_window(window, expected):
    spec = _spec("boundary_position", "boundary_depth", window, "within", detector="det", boundary=1)
    outcome = BoundaryPosition(spec).evaluate(_context(det=_profile("a", **THREE, seed=2)))
    assert outcome.status == expected and outcome.value == pytest.approx(6 / L)


def test_p2_segment_sizes():
    spec = _spec("boundary_position", "later_minus_local", 0.0, "greater", detector="det")
    assert BoundaryPosition(spec).evaluate(_context(det=_profile("a", **THREE, seed=3))).status == "PASS"
    late = _profile("a", levels=[1.0, 3.0, 2.0], starts=[0, 16, 20], seed=3)
    assert BoundaryPosition(spec).evaluate(_context(det=late)).status == "FAIL"


def test_p3_agreement():
    spec = _spec("boundary_agreement", "max_depth_gap", 0.1, "less", detectors=["det_a", "det_b"])
    same = _context(det_a=_profile("a", **THREE, seed=4), det_b=_profile("b", **THREE, seed=5))
    assert BoundaryAgreement(spec).evaluate(same).status == "PASS"
    other = _profile("b", levels=[1.0, 3.0, 2.0], starts=[0, 12, 20], seed=5)
    assert BoundaryAgreement(spec).evaluate(_context(det_a=_profile("a", **THREE, seed=4), det_b=other)).status == "FAIL"


@pytest.mark.parametrize(("minimum_at", "expected"), [(10, "PASS"), (2, "FAIL")])
def test_p7_extremum_in_intermediate_segment(minimum_at, expected):
    valley = _profile("v", levels=[1.0], starts=[0], seed=6, noise=0.01)
    valley.per_stimulus[:, minimum_at] -= 0.5
    spec = _spec("extremum_in_segment", "inside_margin", -0.5, "greater", detector="det", profile="v.m")
    outcome = ExtremumInSegment(spec).evaluate(_context(det=_profile("a", **THREE, seed=7), v=valley))
    assert outcome.status == expected and outcome.details["extremum_layer"] == minimum_at


def test_a_model_too_shallow_for_the_claim_is_a_skip_with_the_reason():
    rng = np.random.default_rng(0)
    data = rng.normal(size=(10, 4))
    layers = np.arange(4)
    profile = Profile("s", "m", layers, data.mean(0), data.min(0), data.max(0), 10, (layers + 1) / 4, "t", data)
    detection = ChangePoint(label="det", profiles={"s.m": 1.0}, n_boot=20).detect({"s.m": profile}, 4, BOOT)
    ctx = PredictionContext("m", "f", "trained", 4, {"s.m": profile}, BOOT, {"det": detection})
    outcome = SegmentCount(_spec("segment_count", "criterion_margin", 0.0, "greater", detector="det")).evaluate(ctx)
    assert outcome.status == "SKIP" and "need at least 6 layers" in outcome.reason

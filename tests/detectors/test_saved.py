"""A detection read back from its JSON document equals the one computed: rows, intervals, null and refits."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mspgt_bench.content import content_digest
from mspgt_bench.detectors.plugins import BoundaryEvidence, ChangePoint, Detection, Detector, V1Rule
from mspgt_bench.detectors.saved import detection_document, detection_from_document
from mspgt_bench.signals.base import BootstrapConfig, Profile

L = 16
BOOT = BootstrapConfig(n_boot=50, seed=5)


def _profile(name: str, kind: str, seed: int) -> Profile:
    """Steps at layers 5 and 11 (level) or spikes there (change), with stimulus noise."""
    rng = np.random.default_rng(seed)
    mean = np.ones(L)
    if kind == "level":
        mean[5:], mean[11:] = 3.0, 2.0
    else:
        mean[[5, 11]] = 4.0
    data = mean + rng.normal(0, 0.1, size=(12, L))
    layers = np.arange(L)
    return Profile(name, "m", layers, data.mean(0), data.min(0), data.max(0), 12, (layers + 1) / L, "t", data, kind)


PROFILES = {"a.m": _profile("a", "level", 1), "b.m": _profile("b", "change", 2)}
DETECTORS = [
    BoundaryEvidence(label="fused", profiles={"a.m": 1.0, "b.m": 0.5}, n_boot=30, n_null=40),
    ChangePoint(label="steps", profiles={"a.m": 1.0}, n_boot=30),
    V1Rule(label="v1", profiles={"a.m": 1.0}),
]


def _read_back(detector: Detector) -> tuple[Detection, Detection]:
    computed = detector.detect(PROFILES, L, BOOT)
    document = json.loads(json.dumps(detection_document(computed)))  # through text, as the cache stores it
    return computed, detection_from_document(document, detector)


@pytest.mark.parametrize("detector", DETECTORS, ids=lambda d: d.name)
def test_a_read_back_detection_gives_the_same_rows_intervals_and_null(detector):
    computed, saved = _read_back(detector)
    assert saved.rows() == computed.rows()
    for name in ("segmentation", "bootstrap"):  # exact, NaN costs included
        assert content_digest(getattr(saved, name)) == content_digest(getattr(computed, name))
    for name in ("per_stimulus", "evidence"):
        a, b = getattr(computed, name), getattr(saved, name)
        assert (a is None and b is None) or (a.dtype == b.dtype and np.array_equal(a, b))
    if computed.null is not None:
        assert saved.null.threshold == computed.null.threshold
        assert np.array_equal(saved.null.maxima, computed.null.maxima)
    assert (saved.segment is None) == (computed.segment is None) and saved.note == computed.note


@pytest.mark.parametrize("detector", DETECTORS[:2], ids=lambda d: d.name)
def test_rebuilt_rules_refit_resamples_as_the_computed_ones(detector):
    computed, saved = _read_back(detector)
    assert computed.segmentation.boundaries == (5, 11)  # the planted steps and spikes
    rng = np.random.default_rng(0)
    for _ in range(20):
        mean = computed.per_stimulus[rng.integers(0, 12, size=12)].mean(axis=0)
        assert saved.segment(mean) == computed.segment(mean)
        for n in (1, 2, 3):
            assert saved.fit(mean, n) == computed.fit(mean, n)
    assert saved.segments(3) == computed.segments(3) == ((0, 5), (5, 11), (11, L))


def test_a_detection_whose_rules_cannot_be_rebuilt_is_not_saved():
    computed = DETECTORS[1].detect(PROFILES, L, BOOT)
    computed.rule_state = None  # a plugin's detection with closures and no state
    assert not computed.savable
    with pytest.raises(ValueError, match="cannot rebuild"):
        detection_document(computed)

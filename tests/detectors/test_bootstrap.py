from __future__ import annotations

import numpy as np
import pytest

from mspgt_bench.detectors.bootstrap import BoundaryStability, bootstrap_boundaries
from mspgt_bench.detectors.changepoint import detect_bic

LEVELS = np.r_[np.zeros(8), 2.0 * np.ones(13), np.ones(9)]


def detect(profile: np.ndarray) -> tuple[int, ...]:
    return detect_bic(profile).boundaries


def test_planted_boundaries_are_stable() -> None:
    rng = np.random.default_rng(7)
    per_stimulus = LEVELS + rng.normal(scale=0.6, size=(30, LEVELS.size))
    result = bootstrap_boundaries(per_stimulus, detect, n_boot=100, rng=rng)
    assert result.modal_count == 2
    assert sum(result.count_distribution.values()) == pytest.approx(1.0)
    assert len(result.resampled) == 100
    planted: dict[int, BoundaryStability | None] = {8: None, 21: None}
    for stability in result.stability:
        for b in planted:
            if abs(stability.boundary - b) <= 1:
                planted[b] = stability
    for b, stability in planted.items():
        assert stability is not None, f"planted boundary {b} not detected on the full data"
        assert stability.low <= b <= stability.high
        assert stability.within_tolerance >= 0.9


def test_multivariate_per_stimulus_and_seed_reproducibility() -> None:
    levels = np.column_stack([LEVELS, -LEVELS])
    per_stimulus = levels + np.random.default_rng(3).normal(scale=0.6, size=(20, *levels.shape))
    first = bootstrap_boundaries(per_stimulus, detect, n_boot=20, rng=11)
    second = bootstrap_boundaries(per_stimulus, detect, n_boot=20, rng=11)
    assert first == second
    assert first.boundaries == (8, 21)


def test_no_boundaries_leaves_stability_empty() -> None:
    per_stimulus = np.random.default_rng(0).normal(size=(10, 12))
    result = bootstrap_boundaries(per_stimulus, lambda p: (), n_boot=5, rng=0)
    assert result.stability == () and result.modal_count == 0
    assert result.count_distribution == {0: 1.0}


def test_invalid_inputs() -> None:
    with pytest.raises(ValueError):
        bootstrap_boundaries(np.ones((1, 10)), detect, n_boot=5, rng=0)
    with pytest.raises(ValueError):
        bootstrap_boundaries(np.ones((5, 10)), detect, n_boot=0, rng=0)
    with pytest.raises(ValueError):
        bootstrap_boundaries(np.ones((5, 10)), lambda p: (10,), n_boot=1, rng=0)

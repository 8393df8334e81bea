"""The null a boundary must beat (``detectors.null``): its threshold follows the noise."""

from __future__ import annotations

import numpy as np
import pytest

from mspgt_bench.detectors.evidence import EvidenceRule
from mspgt_bench.detectors.null import calibrate

RULE = EvidenceRule(("change",), (1.0,))


def _noisy(noise: float, n_stimuli: int = 24, n_layers: int = 16, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (1.0 + rng.normal(0, noise, size=(n_stimuli, n_layers)))[:, :, None]


def test_noise_threshold_grows_with_the_noise_and_falls_with_more_stimuli():
    def noise_threshold(noise: float, n_stimuli: int) -> float:
        return calibrate(
            _noisy(noise, n_stimuli), RULE, min_evidence=1.0, n_null=200, level=0.95,
            rng=np.random.default_rng(1), min_size=2,
        ).noise_threshold

    assert noise_threshold(0.02, 24) < noise_threshold(0.2, 24)
    assert noise_threshold(0.2, 96) < noise_threshold(0.2, 24)


def test_threshold_is_the_larger_null_and_quantiles_are_shares():
    quiet = calibrate(_noisy(0.001), RULE, min_evidence=1.0, n_null=100, level=0.95, rng=np.random.default_rng(0), min_size=2)
    assert quiet.threshold == 1.0 and quiet.source == "effect size"
    loud = calibrate(_noisy(1.0), RULE, min_evidence=0.1, n_null=100, level=0.95, rng=np.random.default_rng(0), min_size=2)
    assert loud.threshold == loud.noise_threshold > 0.1 and loud.source.startswith("sampling noise")
    assert loud.quantile_of(np.inf) == 1.0 and loud.quantile_of(-1.0) == 0.0


def test_flat_noise_clears_its_own_null_in_about_five_percent_of_draws():
    """The max statistic controls the chance of any spurious boundary across the stack."""
    exceed = 0
    for seed in range(40):
        data = _noisy(0.3, seed=seed)
        null = calibrate(data, RULE, min_evidence=1e-9, n_null=200, level=0.95, rng=np.random.default_rng(seed), min_size=2)
        observed = RULE.evidence(data.mean(axis=0))[1:-2].max()
        exceed += observed > null.noise_threshold
    assert exceed / 40 <= 0.15


@pytest.mark.parametrize(("kwargs", "message"), [({"min_evidence": 0.0}, "min_evidence"), ({"level": 1.0}, "level")])
def test_bad_settings_are_refused(kwargs, message):
    settings = {"min_evidence": 1.0, "n_null": 20, "level": 0.95, "rng": np.random.default_rng(0), "min_size": 2} | kwargs
    with pytest.raises(ValueError, match=message):
        calibrate(_noisy(0.1), RULE, **settings)

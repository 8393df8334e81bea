"""How much boundary evidence a structureless profile gives: the threshold a boundary must beat.

Two nulls, and a boundary must beat both:

* **Effect size** (declared, ``min_evidence``): structureless models are not flat. A
  random-weight network's layers differ by chance, so its profiles wiggle from layer to layer
  in the same way for every stimulus, and no amount of stimuli averages that away. The
  evidence of such wiggles, measured on random-weight configs of real architectures and on
  synthetic smooth, flat and noisy profiles, sets the declared floor (see
  ``tests/detectors/test_planted_bank.py``, which prints the false-positive rate it gives).
* **Sampling noise** (calibrated per profile): with few or noisy stimuli the mean profile's
  noise makes spikes of its own. Surrogates keep the profile's smooth part and add the noise
  of the mean: for each bootstrap resample of the stimuli (drawn with replacement), the gap
  series becomes ``baseline + (e_resample − e)``, where ``baseline`` is the running median of
  the full-data gap series ``e`` (``detectors.evidence``); its fused evidence is computed as for
  the data, with the full data's units (baseline or floor), and the largest evidence over the gaps a boundary may
  take is one draw of the null. The ``level`` quantile of these maxima is the noise threshold
  (a max statistic, so it bounds the chance of any spurious boundary across the stack, not per
  gap).

Each found boundary reports its evidence and its null quantile: the share of surrogate maxima
below it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mspgt_bench.detectors.evidence import EvidenceRule


@dataclass(frozen=True)
class NullCalibration:
    """The threshold a boundary's evidence must exceed, and where it came from."""

    threshold: float
    min_evidence: float
    noise_threshold: float
    maxima: np.ndarray
    """Largest surrogate evidence of each null draw."""
    level: float

    def quantile_of(self, evidence: float) -> float:
        """Share of the null draws whose largest evidence lies below ``evidence``."""
        return float(np.mean(self.maxima < evidence)) if len(self.maxima) else float("nan")

    @property
    def source(self) -> str:
        """Which null set the threshold."""
        return "effect size" if self.min_evidence >= self.noise_threshold else f"sampling noise (q{self.level:g})"


def admissible(evidence: np.ndarray, min_size: int) -> np.ndarray:
    """Evidence at the gaps a boundary may take (both segments ``>= min_size`` layers)."""
    n_layers = len(evidence) + 1
    return evidence[min_size - 1 : n_layers - min_size]


def noise_maxima(
    per_stimulus: np.ndarray, rule: EvidenceRule, n_null: int, rng: np.random.Generator, min_size: int
) -> np.ndarray:
    """``[n_null]`` largest admissible evidence of each sampling-noise surrogate (module docstring)."""
    data = np.asarray(per_stimulus, dtype=float)
    n_stimuli = data.shape[0]
    mean = data.mean(axis=0)
    gaps = rule.gaps(mean)
    units, baseline = rule.units(mean, gaps), rule.baseline(gaps)
    maxima = np.empty(n_null)
    for draw in range(n_null):
        resampled = rule.gaps(data[rng.integers(0, n_stimuli, size=n_stimuli)].mean(axis=0))
        surrogate = baseline + (resampled - gaps)
        window = admissible(rule.fuse(surrogate, units), min_size)
        maxima[draw] = window.max() if len(window) else 0.0
    return maxima


def calibrate(
    per_stimulus: np.ndarray,
    rule: EvidenceRule,
    *,
    min_evidence: float,
    n_null: int,
    level: float,
    rng: np.random.Generator,
    min_size: int,
) -> NullCalibration:
    """The threshold ``max(min_evidence, level-quantile of the noise maxima)``."""
    if not min_evidence > 0:
        raise ValueError(f"min_evidence must be positive, got {min_evidence}")
    if not 0 < level < 1:
        raise ValueError(f"level must lie in (0, 1), got {level}")
    if per_stimulus.shape[0] < 2:
        raise ValueError(f"the sampling-noise null needs >= 2 stimuli, got {per_stimulus.shape[0]}")
    maxima = noise_maxima(per_stimulus, rule, n_null, rng, min_size)
    noise = float(np.quantile(maxima, level))
    return NullCalibration(max(min_evidence, noise), min_evidence, noise, maxima, level)

"""Bootstrap over stimuli for the stability of detected boundaries.

Method (nonparametric bootstrap, Efron & Tibshirani 1993, with percentile intervals): the
per-layer profile is the mean over stimuli of per-stimulus profiles. Each resample draws
n stimuli with replacement, averages them, and runs the same detector. The full-data
detection is the reference.

Matching: each reference boundary b is matched, in every resample, to the resampled boundary
nearest to it (ties go to the smaller layer). Matching is per reference boundary, not
one-to-one, so two reference boundaries may match the same resampled boundary; a resample
with no boundaries leaves every reference boundary unmatched. For each reference boundary we
report the percentile interval of the matched positions (over the resamples that matched it)
and the fraction of all resamples holding a boundary within ``±tolerance`` layers of it
(unmatched resamples count as misses).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from mspgt_bench.detectors.base import validate_boundaries

Detector = Callable[[np.ndarray], tuple[int, ...]]


@dataclass(frozen=True)
class BoundaryStability:
    """Bootstrap summary of one full-data boundary.

    ``low`` and ``high`` bound the percentile interval of the nearest resampled boundary (NaN
    when no resample had a boundary); ``within_tolerance`` is the fraction of all resamples
    with a boundary within ``±tolerance`` layers; ``n_matched`` counts resamples with any
    boundary.
    """

    boundary: int
    low: float
    high: float
    within_tolerance: float
    n_matched: int


@dataclass(frozen=True)
class BootstrapResult:
    """Full-data boundaries, every resample's boundaries, and their summaries.

    ``count_distribution`` maps a number of boundaries to the fraction of resamples that found
    it; ``modal_count`` is the most frequent number (ties go to the smaller number).
    """

    boundaries: tuple[int, ...]
    resampled: tuple[tuple[int, ...], ...]
    count_distribution: dict[int, float]
    modal_count: int
    stability: tuple[BoundaryStability, ...]
    level: float
    tolerance: int


def _nearest(reference: int, candidates: tuple[int, ...]) -> int | None:
    if not candidates:
        return None
    return min(candidates, key=lambda c: (abs(c - reference), c))


def bootstrap_boundaries(
    per_stimulus: ArrayLike,
    detect: Detector,
    n_boot: int,
    rng: np.random.Generator | int | None,
    *,
    level: float = 0.95,
    tolerance: int = 1,
) -> BootstrapResult:
    """Distribution of boundaries detected on stimulus-resampled mean profiles.

    ``per_stimulus`` is ``[n_stimuli, L]`` or ``[n_stimuli, L, k]``; ``detect`` maps a mean
    profile (``[L]`` or ``[L, k]``) to its boundaries (e.g.
    ``lambda p: detect_bic(p).boundaries``). ``rng`` is a Generator or a seed. The interval
    for each boundary spans the ``(1 − level)/2`` and ``(1 + level)/2`` quantiles (linear
    interpolation) of its matched positions. Raises ValueError on fewer than 2 stimuli,
    non-finite values, ``n_boot < 1``, a level outside (0, 1) or a negative tolerance.
    """
    data = np.asarray(per_stimulus, dtype=float)
    if data.ndim not in (2, 3) or data.shape[0] < 2:
        raise ValueError(
            f"per_stimulus must be [n_stimuli >= 2, L] or [n_stimuli, L, k], got shape {data.shape}"
        )
    if not np.all(np.isfinite(data)):
        raise ValueError("per_stimulus contains NaN or inf")
    if n_boot < 1:
        raise ValueError(f"n_boot must be >= 1, got {n_boot}")
    if not 0 < level < 1:
        raise ValueError(f"level must lie in (0, 1), got {level}")
    if tolerance < 0:
        raise ValueError(f"tolerance must be >= 0, got {tolerance}")
    generator = np.random.default_rng(rng)
    n_stimuli, n_layers = data.shape[:2]

    reference = validate_boundaries(detect(data.mean(axis=0)), n_layers)
    resampled = tuple(
        validate_boundaries(
            detect(data[generator.integers(0, n_stimuli, size=n_stimuli)].mean(axis=0)), n_layers
        )
        for _ in range(n_boot)
    )

    counts = Counter(len(b) for b in resampled)
    distribution = {k: counts[k] / n_boot for k in sorted(counts)}
    modal = min(counts, key=lambda k: (-counts[k], k))

    quantiles = ((1 - level) / 2, (1 + level) / 2)
    stability = []
    for b in reference:
        matched = [m for m in (_nearest(b, r) for r in resampled) if m is not None]
        low, high = np.quantile(matched, quantiles) if matched else (np.nan, np.nan)
        hits = sum(abs(m - b) <= tolerance for m in matched)
        stability.append(BoundaryStability(b, float(low), float(high), hits / n_boot, len(matched)))
    return BootstrapResult(
        reference, resampled, distribution, modal, tuple(stability), level, tolerance
    )

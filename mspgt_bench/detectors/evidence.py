"""Boundary evidence per layer gap: one domain in which profiles of every kind are fused.

Grid: the ``L`` layer outputs (``layer_grid``); gap ``b`` (``b = 1 … L−1``) lies between the
outputs of layers ``b − 1`` and ``b``, and a boundary at ``b`` means "layer ``b`` starts a new
segment" (``detectors.base``).

A profile is one of three kinds, declared by its signal (``Signal.kind``) and overridable in a
suite:

* ``level`` — a state of layer ``l`` (entropy, intrinsic dimension, logit-lens KL to the final).
  A boundary is a *step*: the gap series is ``e[b] = |x[b] − x[b−1]|``.
* ``change`` — a distance between layer ``l``'s input and output (angular distance, block
  influence), placed at layer ``l``. A boundary is a *peak*: ``e[b] = c[b]``. ``c[0]``, the first
  layer's change, is no gap and is not used.
* ``similarity`` — the same for a similarity (adjacent CKA or MI). A boundary is a *dip*: the
  gap series is the distance from the profile's highest similarity, ``e[b] = max(c) − c[b]``.

So every kind gives a non-negative gap series ``e`` in which a boundary is a one-gap spike and
a smooth trend (a monotone drift of a level, a smooth decay of a change) is smooth. The
evidence for a boundary at ``b`` is the spike's height above the series' local baseline,
relative to that baseline:

    m[b] = median(e[b−r … b+r]),    X[b] = max(0, e[b] − m[b]) / max(m[b], f)

so ``X = 1`` is a gap that changes the profile twice as much as the gaps around it, wherever
in the stack it lies. The floor ``f`` keeps a near-zero baseline from turning noise into
evidence: a fifth of the profile's mean absolute level for a level (a nearly flat level's
per-gap change is its noise; a step must also be a sizeable share of the level, as in the
``changepoint`` detector's default 20% relative jump), a fifth of the median gap change for a
change or similarity.

The window is symmetric and shrinks at the ends to the radius that fits (``r_b =
min(r, b − 1, L − 1 − b)``): the median of a symmetric window of a monotone series is its
centre, so a monotone series has zero evidence everywhere, edges included (gap 1 has no
window and never has evidence). With ``r = 2`` a spike stands out as long as no more than two of
the five gaps around it are spikes, so boundaries two layers apart are both seen.

Fusion (the combination rule): the weighted mean of the kinds' evidence,
``X[b] = Σ_i w_i X_i[b] / Σ_i w_i``. Each ``X_i`` is already unit-free, and a spike in one
signal is not cancelled by a dip in another because each ``X_i ≥ 0``.

How much evidence makes a boundary is decided against a null (``detectors.null``); this module
only computes evidence and turns it into candidate boundaries.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from mspgt_bench.detectors.base import CandidateFit, validate_boundaries
from mspgt_bench.signals.base import KINDS, Kind

DEFAULT_RADIUS = 2
_EVIDENCE_FLOOR = 1e-6
"""Evidence below this share of the threshold counts as this share in the count table (keeps logs finite)."""


def gap_series(column: np.ndarray, kind: Kind) -> np.ndarray:
    """The non-negative ``[L − 1]`` gap series of one ``[L]`` profile on the layer grid (module docstring)."""
    x = np.asarray(column, dtype=float)
    if kind == "level":
        return np.abs(np.diff(x))
    if kind == "change":
        return x[1:]
    if kind == "similarity":
        return x.max() - x[1:]
    raise ValueError(f"unknown profile kind {kind!r}; expected one of {', '.join(KINDS)}")


def running_median(series: np.ndarray, radius: int) -> np.ndarray:
    """Median of ``series[i − r_i … i + r_i]`` with ``r_i = min(radius, i, n − 1 − i)`` (symmetric window)."""
    x = np.asarray(series, dtype=float)
    n = len(x)
    out = x.copy()
    width = min(radius, (n - 1) // 2)
    if width:
        out[width : n - width] = np.median(np.lib.stride_tricks.sliding_window_view(x, 2 * width + 1), axis=-1)
    for i in [*range(1, width), *range(n - width, n - 1)]:  # shrunken windows near the ends
        r = min(i, n - 1 - i)
        out[i] = np.median(x[i - r : i + r + 1])
    return out


FLOOR_SHARE = 0.2
"""The floor of the evidence unit: this share of a level's mean absolute level, or of a change's median gap change."""


def unit_floor(column: np.ndarray, gaps: np.ndarray, kind: Kind) -> float:
    """The smallest baseline an evidence unit may have (module docstring); 1 for an all-zero profile."""
    scale = float(np.abs(column).mean()) if kind == "level" else float(np.median(gaps))
    if scale <= 0:  # most gaps exactly zero: fall back on the mean gap change
        scale = float(np.mean(gaps))
    return FLOOR_SHARE * scale if scale > 0 else 1.0


@dataclass(frozen=True)
class EvidenceRule:
    """How a ``[L, k]`` matrix of profiles on the layer grid becomes fused evidence ``[L − 1]`` per gap."""

    kinds: tuple[Kind, ...]
    weights: tuple[float, ...]
    radius: int = DEFAULT_RADIUS

    def __post_init__(self) -> None:
        if len(self.kinds) != len(self.weights) or not self.kinds:
            raise ValueError("one kind and one weight per profile are needed")
        for kind in self.kinds:
            if kind not in KINDS:
                raise ValueError(f"unknown profile kind {kind!r}; expected one of {', '.join(KINDS)}")
        if any(not math.isfinite(w) or w < 0 for w in self.weights) or not any(self.weights):
            raise ValueError(f"weights must be finite, non-negative and not all zero, got {self.weights}")
        if self.radius < 1:
            raise ValueError(f"radius must be >= 1, got {self.radius}")

    def gaps(self, mean: np.ndarray) -> np.ndarray:
        """``[L − 1, k]`` gap series of each column of a mean profile ``[L, k]``."""
        if mean.ndim != 2 or mean.shape[1] != len(self.kinds) or mean.shape[0] < 3:
            raise ValueError(f"expected a [L >= 3, {len(self.kinds)}] profile matrix, got shape {mean.shape}")
        return np.column_stack([gap_series(mean[:, j], kind) for j, kind in enumerate(self.kinds)])

    def baseline(self, gaps: np.ndarray) -> np.ndarray:
        """``[L − 1, k]`` running-median baseline of each gap series."""
        return np.column_stack([running_median(gaps[:, j], self.radius) for j in range(gaps.shape[1])])

    def units(self, mean: np.ndarray, gaps: np.ndarray) -> np.ndarray:
        """``[L − 1, k]`` the unit of each gap's evidence: its baseline, at least the column's floor."""
        floors = [unit_floor(mean[:, j], gaps[:, j], kind) for j, kind in enumerate(self.kinds)]
        return np.maximum(self.baseline(gaps), np.array(floors))

    def fuse(self, gaps: np.ndarray, units: np.ndarray) -> np.ndarray:
        """``[L − 1]`` fused evidence ``Σ w_i max(0, e_i − baseline_i) / unit_i / Σ w_i`` (baselines of ``gaps``)."""
        excess = np.maximum(gaps - self.baseline(gaps), 0.0) / units
        weights = np.asarray(self.weights) / sum(self.weights)
        return excess @ weights

    def evidence(self, mean: np.ndarray) -> np.ndarray:
        """Fused evidence of a mean profile ``[L, k]``, gap ``b`` at index ``b − 1``."""
        gaps = self.gaps(mean)
        return self.fuse(gaps, self.units(mean, gaps))


def ranked(evidence: np.ndarray, min_size: int, limit: int) -> list[int]:
    """Up to ``limit`` boundaries in the order a greedy pick takes them: highest evidence first (ties
    to the shallower gap), skipping gaps that would leave a segment shorter than ``min_size`` layers."""
    n_layers = len(evidence) + 1
    picks: list[int] = []
    for b in sorted(range(1, n_layers), key=lambda gap: (-evidence[gap - 1], gap)):
        if len(picks) == limit:
            break
        if min_size <= b <= n_layers - min_size and all(abs(b - c) >= min_size for c in picks):
            picks.append(b)
    return picks


def strongest(evidence: np.ndarray, n_boundaries: int, min_size: int) -> tuple[int, ...]:
    """The ``n_boundaries`` first picks of :func:`ranked`, sorted; ValueError when the depth cannot hold them."""
    picks = ranked(evidence, min_size, n_boundaries)
    if len(picks) < n_boundaries:
        raise ValueError(
            f"{n_boundaries} boundaries do not fit {len(evidence) + 1} layers with segments of >= {min_size} layers"
        )
    return validate_boundaries(picks, len(evidence) + 1)


def count_table(evidence: np.ndarray, threshold: float, k_max: int, min_size: int) -> tuple[CandidateFit, ...]:
    """Candidates with k = 0..k_max boundaries (the k first picks of :func:`ranked`), scored for choosing the count.

    ``score(k) = Σ_{i ≤ k} log(τ / X_(i))`` with ``X_(i)`` the evidence of the i-th pick and τ the
    threshold: each boundary above the threshold lowers the score, each below raises it, so
    the minimum is at k = the number of picks above the threshold, and
    ``min_{k≠n} score(k) − score(n) = min(log(X_(n)/τ), log(τ/X_(n+1)))`` (picks come in
    decreasing evidence): positive exactly when n boundaries, and no more, clear the threshold.
    ``cost`` is the evidence the candidate leaves unclaimed. Evidence below ``1e-6 τ`` counts
    as ``1e-6 τ``.
    """
    if not threshold > 0:
        raise ValueError(f"threshold must be positive, got {threshold}")
    n_layers = len(evidence) + 1
    picks = ranked(evidence, min_size, k_max)
    scores = np.concatenate(
        [[0.0], np.cumsum([math.log(threshold / max(float(evidence[b - 1]), _EVIDENCE_FLOOR * threshold)) for b in picks])]
    )
    total = float(evidence.sum())
    return tuple(
        CandidateFit(
            k,
            validate_boundaries(picks[:k], n_layers),
            total - float(sum(evidence[b - 1] for b in picks[:k])),
            float(scores[k]),
        )
        for k in range(len(picks) + 1)
    )

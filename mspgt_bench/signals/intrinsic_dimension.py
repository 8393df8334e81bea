"""Intrinsic dimension of the stimulus cloud at each stream state.

At each stream state ``x_l`` (``x_0`` = embeddings … ``x_L`` = last layer output, before the
final norm) the ``n`` stimuli give a point cloud ``X_l [n, d]`` of pooled states (last real
token by default, or the token mean: option ``token``). Metrics, one value per point:

* ``twonn``: TwoNN (Facco et al. 2017): with ``μ_i = r_2(i) / r_1(i)`` (ratio of the distances
  to the second and first nearest neighbours), the slope through the origin of
  ``−log(1 − k/N)`` against the ``k``-th smallest ``log μ``, largest ``1 − mu_fraction`` (10%) of
  the ratios dropped (:func:`~mspgt_bench.metrics.intrinsic_dimension.twonn_from_neighbours`);
* ``gride``: GRIDE (Denti et al. 2022) at neighbour orders ``(n1, 2·n1)``: the maximum-likelihood
  ID of the ratios ``r_{2·n1}(i) / r_{n1}(i)``
  (:func:`~mspgt_bench.metrics.intrinsic_dimension.gride_from_neighbours`);
* ``pca99``: number of principal components explaining 99% of the variance (linear control);
* ``participation_ratio``: ``(Σλ)² / Σλ²`` of the covariance spectrum (linear control).

TwoNN and GRIDE follow dadapy 0.3.4 (``compute_id_2NN(algorithm="base")``,
``return_id_scaling_gride``; Glielmo et al. 2022) step by step, batched over the ``L+1`` points;
the tests check them against dadapy and the profiles against a dadapy-based statistic.

The nonlinear estimators work on the *unique* rows of ``X_l`` (exact duplicates give zero
neighbour distances): a bootstrap resample, which repeats about 37% of the stimuli, is
estimated on its ~63% distinct stimuli, so its TwoNN/GRIDE value has the variability of a
smaller sample; the interval is conservative rather than optimistic. Distinct stimuli can
still share a row at a point (with ``token="last"``, point 0 of stimuli ending in the same
token); those are collapsed too, point by point. PCA and the
participation ratio see the repeats as weights: they are computed from the covariance spectrum
of the resampled cloud, obtained exactly from its distinct rows weighted by ``√count``
(:func:`~mspgt_bench.signals.dataset.distinct_rows`), with the formulas of
:func:`~mspgt_bench.metrics.intrinsic_dimension.pca_dimension` and
:func:`~mspgt_bench.metrics.intrinsic_dimension.participation_ratio` (tests check agreement).

Computed once per :meth:`~mspgt_bench.signals.dataset.DatasetSignal.profiles` call (dropped by
:meth:`release`): each point's ``[n, n]`` float64 Euclidean distance matrix
(:func:`~mspgt_bench.metrics.intrinsic_dimension.pairwise_distances`) and labels marking its
identical rows (:func:`~mspgt_bench.metrics.intrinsic_dimension.row_labels`). A resample then
takes the sub-matrix of its distinct stimuli, keeps one stimulus per label at each point, and
sorts the neighbour distances of all points at once.

GRIDE scale: ``n1 = gride_n1`` (a power of two) lowered once, before bootstrapping, to the
largest power of two with ``2·n1 ≤ ⌊n/2⌋ − 1`` so that the full sample and every resample
are estimated at the same neighbour order (a resample holds ~0.63·n distinct points); only
where a point has fewer unique rows than that needs is it lowered further, as
:func:`~mspgt_bench.metrics.intrinsic_dimension.gride` does.

Cheng et al. (2025, "Emergence of a High-Dimensional Abstraction Phase in Language
Transformers") report a central high-ID phase in trained models, absent at random
initialisation and reduced on shuffled text.

Cost: each resample recomputes four estimators at ``L+1`` states; the default cap is
``n_boot = 200`` resamples. Measured per resample for L = 30, d = 576 on a busy 2-core machine:
15 ms at n = 32 (TwoNN and GRIDE ~4 ms, the SVDs of PCA and participation ratio ~10 ms;
``profiles()`` with 200 resamples 3.2 s), 0.17 s at n = 200, 0.96 s at n = 500 (the SVDs
0.83 s of it), plus the distance matrices once per ``profiles()`` call (0.01 s at n = 32, 0.9 s
at n = 500).
Memory: ``4·(L+1)·d`` bytes per stimulus, and ``8·(L+1)·n²`` bytes of distances during
``profiles()`` (62 MB at n = 500).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch
from pydantic import Field, field_validator

from mspgt_bench.metrics.intrinsic_dimension import (
    first_occurrences,
    gride_from_neighbours,
    gride_order,
    neighbour_distances,
    pairwise_distances,
    row_labels,
    twonn_from_neighbours,
)
from mspgt_bench.metrics.matrix_entropy import singular_values
from mspgt_bench.signals.dataset import DatasetSignal, distinct_rows

__all__ = ["IntrinsicDimension", "linear_dimensions"]


class IntrinsicDimension(DatasetSignal):
    name = "intrinsic_dimension"
    default_n_boot: ClassVar[int | None] = 200

    class Options(DatasetSignal.Options):
        gride_n1: int = Field(16, ge=1, description="GRIDE first neighbour order n1 (power of two; n2 = 2·n1).")
        mu_fraction: float = Field(0.9, gt=0, le=1, description="TwoNN: fraction of the smallest ratios kept.")

        @field_validator("gride_n1")
        @classmethod
        def _power_of_two(cls, value: int) -> int:
            if value & (value - 1):
                raise ValueError("gride_n1 must be a power of two")
            return value

    def __init__(self, n_layers: int, label: str | None = None, **options: Any) -> None:
        super().__init__(n_layers, label, **options)
        self._n1: int | None = None
        self._distances: np.ndarray | None = None  # [L+1, n, n] float64
        self._labels: np.ndarray | None = None  # [L+1, n]: equal labels = identical rows

    def gride_n1(self, n: int) -> int:
        """The GRIDE order used for ``n`` stimuli (see module doc); at least 1."""
        n1 = self.options.gride_n1
        while n1 > 1 and 2 * n1 > n // 2 - 1:
            n1 //= 2
        return n1

    def release(self) -> None:
        self._n1 = self._distances = self._labels = None

    def _prepare(self) -> None:
        """Cache what every resample reuses: the GRIDE order, each point's distances and duplicate labels."""
        if self._distances is None:
            clouds = self.by_point()
            self._n1 = self.gride_n1(clouds.shape[1])
            self._labels = row_labels(clouds.numpy())
            self._distances = pairwise_distances(clouds)

    def statistic(self, indices: np.ndarray) -> dict[str, np.ndarray]:
        self._prepare()
        distinct = np.unique(indices)
        keep = first_occurrences(self._labels[:, distinct])  # [L+1, m]: one row per distinct state
        n1 = np.array([gride_order(self._n1, int(m)) for m in keep.sum(axis=1)])
        r = neighbour_distances(self._distances[:, distinct[:, None], distinct], max(2, 2 * int(n1.max())), keep)
        pca, ratio = linear_dimensions(distinct_rows(self.by_point(), indices, center=True))
        return {
            "twonn": twonn_from_neighbours(r, self.options.mu_fraction, keep),
            "gride": gride_from_neighbours(r, n1, keep),
            "pca99": pca.numpy(),
            "participation_ratio": ratio.numpy(),
        }


def linear_dimensions(rows: torch.Tensor, variance: float = 0.99) -> tuple[torch.Tensor, torch.Tensor]:
    """PCA dimension and participation ratio of the scatter ``rowsᵀ rows`` of ``rows [..., m, d]`` (no centring).

    Same formulas as :func:`~mspgt_bench.metrics.intrinsic_dimension.pca_dimension` (smallest
    ``k`` with ``Σ_{i≤k} λ_i / Σλ ≥ variance``, relative tolerance 1e-9, 0 for constant data) and
    :func:`~mspgt_bench.metrics.intrinsic_dimension.participation_ratio` (``(Σλ)² / Σλ²``);
    both are scale-free, so the ``1/(n−1)`` of the covariance is left out.
    """
    lam = singular_values(rows) ** 2
    total = lam.sum(dim=-1, keepdim=True)
    frac = torch.cumsum(lam, dim=-1) / total.clamp_min(1e-300)
    k = (frac < variance - 1e-9).sum(dim=-1) + 1
    pca = torch.where(total.squeeze(-1) > 0, k, torch.zeros_like(k)).double()
    return pca, total.squeeze(-1) ** 2 / (lam**2).sum(dim=-1)

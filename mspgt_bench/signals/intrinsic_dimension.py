"""Intrinsic dimension of the stimulus cloud at each stream state.

At each stream state ``x_l`` (``x_0`` = embeddings … ``x_L`` = last layer output, before the
final norm) the ``n`` stimuli give a point cloud ``X_l [n, d]`` of pooled states (last real
token by default, or the token mean: option ``token``). Metrics, one value per point:

* ``twonn``: TwoNN (Facco et al. 2017), dadapy ``compute_id_2NN``, largest 10% of ratios dropped;
* ``gride``: GRIDE (Denti et al. 2022) at neighbour orders ``(n1, 2·n1)``;
* ``pca99``: number of principal components explaining 99% of the variance (linear control);
* ``participation_ratio``: ``(Σλ)² / Σλ²`` of the covariance spectrum (linear control).

The nonlinear estimators work on the *unique* rows of ``X_l`` (exact duplicates give zero
neighbour distances): a bootstrap resample, which repeats about 37% of the stimuli, is
estimated on its ~63% distinct stimuli, so its TwoNN/GRIDE value has the variability of a
smaller sample; the interval is conservative rather than optimistic. PCA and the
participation ratio see the repeats as weights: they are computed from the covariance spectrum
of the resampled cloud, obtained exactly from its distinct rows weighted by ``√count``
(:func:`~mspgt_bench.signals.dataset.distinct_rows`), with the formulas of
:func:`~mspgt_bench.metrics.intrinsic_dimension.pca_dimension` and
:func:`~mspgt_bench.metrics.intrinsic_dimension.participation_ratio` (tests check agreement).

GRIDE scale: ``n1 = gride_n1`` (a power of two) lowered once, before bootstrapping, to the
largest power of two with ``2·n1 ≤ ⌊n/2⌋ − 1`` so that the full sample and every resample
are estimated at the same neighbour order (a resample holds ~0.63·n distinct points).

Cheng et al. (2025, "Emergence of a High-Dimensional Abstraction Phase in Language
Transformers") report a central high-ID phase in trained models, absent at random
initialisation and reduced on shuffled text.

Cost: each resample recomputes four estimators at ``L+1`` states; the default cap is
``n_boot = 200`` resamples. Measured per resample for L = 30, d = 576 on a busy 2-core machine:
0.6 s at n = 200, 2.4 s at n = 500 (dataset entropy: 0.17 s / 1.1 s; adjacent MI: 0.14 s / 1.1 s).
Memory: ``4·(L+1)·d`` bytes per stimulus.

Threads: the dadapy estimators call scikit-learn's OpenMP neighbour search while torch's
OpenMP pool is loaded; on few cores the two runtimes contend and each call on a small cloud
(n ≲ 100) costs ~40 ms instead of ~1 ms. :meth:`statistic` limits the OpenMP pools to one
thread around those calls (and :meth:`profiles` runs single-threaded anyway, see
:mod:`mspgt_bench.signals.dataset`).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch
from pydantic import Field, field_validator

from mspgt_bench.metrics.intrinsic_dimension import gride, twonn
from mspgt_bench.signals.base import BootstrapConfig, Profile
from mspgt_bench.signals.dataset import DatasetSignal, distinct_rows, threadpools

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

    def gride_n1(self, n: int) -> int:
        """The GRIDE order used for ``n`` stimuli (see module doc); at least 1."""
        n1 = self.options.gride_n1
        while n1 > 1 and 2 * n1 > n // 2 - 1:
            n1 //= 2
        return n1

    def profiles(self, boot: BootstrapConfig) -> list[Profile]:
        # one GRIDE scale for the full sample and every resample
        self._n1 = self.gride_n1(self.data().shape[0])
        return super().profiles(boot)

    def release(self) -> None:
        self._n1 = None

    def statistic(self, indices: np.ndarray) -> dict[str, np.ndarray]:
        data = self.data()
        n1 = self._n1 if self._n1 is not None else self.gride_n1(data.shape[0])
        # the nonlinear estimators drop repeated rows anyway: give them the distinct stimuli only
        clouds = data[np.unique(indices)].astype(np.float64).transpose(1, 0, 2)  # [L+1, m, d]
        with threadpools().limit(limits=1, user_api="openmp"):
            twonn_ids = np.array([twonn(cloud, mu_fraction=self.options.mu_fraction) for cloud in clouds])
            gride_ids = np.array([gride(cloud, n1=n1) for cloud in clouds])
        pca, ratio = linear_dimensions(distinct_rows(self.by_point(), indices, center=True))
        return {"twonn": twonn_ids, "gride": gride_ids, "pca99": pca.numpy(), "participation_ratio": ratio.numpy()}


def linear_dimensions(rows: torch.Tensor, variance: float = 0.99) -> tuple[torch.Tensor, torch.Tensor]:
    """PCA dimension and participation ratio of the scatter ``rowsᵀ rows`` of ``rows [..., m, d]`` (no centring).

    Same formulas as :func:`~mspgt_bench.metrics.intrinsic_dimension.pca_dimension` (smallest
    ``k`` with ``Σ_{i≤k} λ_i / Σλ ≥ variance``, relative tolerance 1e-9, 0 for constant data) and
    :func:`~mspgt_bench.metrics.intrinsic_dimension.participation_ratio` (``(Σλ)² / Σλ²``);
    both are scale-free, so the ``1/(n−1)`` of the covariance is left out.
    """
    lam = torch.linalg.svdvals(rows) ** 2
    total = lam.sum(dim=-1, keepdim=True)
    frac = torch.cumsum(lam, dim=-1) / total.clamp_min(1e-300)
    k = (frac < variance - 1e-9).sum(dim=-1) + 1
    pca = torch.where(total.squeeze(-1) > 0, k, torch.zeros_like(k)).double()
    return pca, total.squeeze(-1) ** 2 / (lam**2).sum(dim=-1)

"""Mutual information between adjacent stream states (the MSPGT v1 signal).

MSPGT v1 (Zhang & Dong 2025) places a boundary where the first difference of the adjacent-layer
MI series falls more than 2σ below its mean, without stating the estimator. Ours, declared:

* samples: the ``n`` stimuli; stimulus ``i`` gives the pair ``(x_l[i], x_{l+1}[i])`` of its
  pooled states (last real token by default; option ``token``) at stream states ``l`` and
  ``l+1`` (``x_0`` = embeddings … ``x_L`` = last layer output, before the final norm);
* estimator: matrix-based Rényi α = 1 mutual information (Giraldo, Rao & Principe 2014),
  ``I(X_l; X_{l+1}) = S(A_l) + S(A_{l+1}) − S(A_l∘A_{l+1})`` with ``A_l`` the unit-trace
  Gaussian Gram of ``X_l``, in nats (:mod:`mspgt_bench.metrics.mutual_information`);
* kernel bandwidth: the median heuristic, separately at each stream state (states differ in
  scale by orders of magnitude across depth) and recomputed on each bootstrap resample, so the
  bandwidth rule is part of the estimator;
* optional PCA reduction (``pca_dim = k``): each ``X_l`` is centred and projected on its top-k
  principal directions, fitted **once on all n stimuli** (a fixed preprocessing, not refitted
  per resample). Distances, hence the Gaussian Gram, are unchanged when ``k`` ≥ the rank of ``X_l``.

Metrics, points ``l = 0 … L−1`` (the pair ``x_l, x_{l+1}``, i.e. across decoder layer ``l``),
depth ``(l + ½) / L``:

* ``mi``: ``I(X_l; X_{l+1})`` in nats (it grows with ``n``: compare at equal ``n``);
* ``mi_normalized``: ``I / min(S(A_l), S(A_{l+1}))`` in [0, 1] by Giraldo et al.'s bound
  (NaN where a state has zero entropy, e.g. identical last-token embeddings at ``x_0``).

Note that ``I(X; X) = 2S(A) − S(A∘A) < S(A)`` for a Gaussian kernel, so identical adjacent
states do not give ``mi_normalized = 1`` (see :mod:`mspgt_bench.metrics.mutual_information`).

Computation: the squared distances between all stimuli are computed once per state
(transient ``(L+1)·n²`` float64 during :meth:`AdjacentMI.profiles`: 62 MB for L = 30, n = 500).
A resample that draws distinct stimulus ``j`` ``c_j`` times has the Gram ``P K Pᵀ`` (``P`` the
``n × m`` selection matrix), whose non-zero eigenvalues are those of ``C^½ K_UU C^½`` on the
``m ≈ 0.63·n`` distinct stimuli; its median bandwidth is the count-weighted lower median of the
pairwise distances (duplicate pairs at distance 0 included), exactly as
:func:`~mspgt_bench.metrics.mutual_information.median_bandwidth` computes it on the repeated rows.
Tests check the result against the kernels on the materialised resample. Cost per
evaluation: ``2L+1`` symmetric eigendecompositions of ``m × m``; default cap ``n_boot = 100``.
Memory: ``4·(L+1)·d`` bytes per stimulus.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch
from pydantic import Field

from mspgt_bench.metrics.matrix_entropy import renyi_entropy_from_eigenvalues
from mspgt_bench.metrics.mutual_information import pairwise_sq_distances
from mspgt_bench.signals.dataset import DatasetSignal, resample_weights

__all__ = ["AdjacentMI", "pca_reduce", "weighted_lower_median"]


def pca_reduce(x: torch.Tensor, k: int) -> torch.Tensor:
    """``x [n, d]`` centred and projected on its top-``k`` principal directions → ``[n, min(k, n, d)]``."""
    xc = x - x.mean(dim=0, keepdim=True)
    u, s, _ = torch.linalg.svd(xc, full_matrices=False)
    k = min(k, s.shape[0])
    return u[:, :k] * s[:k]


def weighted_lower_median(values: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """The lower median (``torch.median``'s convention) of ``values`` repeated ``weights`` times (integer counts)."""
    order = torch.argsort(values)
    cumulative = torch.cumsum(weights[order], dim=0)
    rank = torch.floor((cumulative[-1] - 1) / 2)  # 0-based position of the lower median
    position = torch.searchsorted(cumulative, (rank + 1).reshape(1)).clamp(max=len(values) - 1)
    return values[order][position[0]]


def _median_bandwidth(d2: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
    """Median-heuristic σ of a resample from the squared distances ``d2 [m, m]`` among its distinct rows."""
    m = d2.shape[-1]
    iu = torch.triu_indices(m, m, offset=1)
    d = d2[iu[0], iu[1]].sqrt()
    w = counts[iu[0]] * counts[iu[1]]
    ties = (counts * (counts - 1) / 2).sum()  # pairs of copies of one stimulus: distance 0
    values = torch.cat([d, torch.zeros(1, dtype=d.dtype)])
    weights = torch.cat([w, ties.reshape(1)])
    keep = weights > 0
    if not bool(keep.any()):
        return torch.ones((), dtype=torch.float64)
    sigma = weighted_lower_median(values[keep], weights[keep])
    if not sigma > 0:
        nonzero = (values > 0) & keep
        sigma = weighted_lower_median(values[nonzero], weights[nonzero]) if bool(nonzero.any()) else sigma
    return sigma if bool(torch.isfinite(sigma)) and sigma > 0 else torch.ones((), dtype=torch.float64)


def _weighted_entropy(gram: torch.Tensor, root: torch.Tensor, n: int) -> torch.Tensor:
    """α = 1 entropy of the unit-trace resample Gram from its distinct-row block (``diag(gram) = 1``)."""
    a = root[:, None] * gram * root[None, :] / n
    return renyi_entropy_from_eigenvalues(torch.linalg.eigvalsh(0.5 * (a + a.T)), 1.0)


class AdjacentMI(DatasetSignal):
    name = "mutual_information"
    kinds = {"mi": "similarity", "mi_normalized": "similarity"}
    default_n_boot: ClassVar[int | None] = 100
    convention = (
        "x_l = input of layer l (x_0 = embeddings, x_L = last layer output before the final norm), "
        "pooled per stimulus; point l = pair (x_l, x_{l+1}), depth (l + 1/2)/L; "
        "matrix Renyi alpha=1 MI, Gaussian kernel, median bandwidth per state"
    )

    class Options(DatasetSignal.Options):
        pca_dim: int | None = Field(
            None, ge=1, description="Project each state on its top-k principal directions (fitted on all stimuli) first."
        )

    def __init__(self, n_layers: int, label: str | None = None, **options: Any) -> None:
        super().__init__(n_layers, label, **options)
        self._d2: list[torch.Tensor] | None = None

    def points(self) -> np.ndarray:
        return np.arange(self.n_layers)

    def depth(self) -> np.ndarray:
        return (self.points() + 0.5) / self.n_layers

    def release(self) -> None:
        self._d2 = None

    def squared_distances(self) -> list[torch.Tensor]:
        """Per stream state, ``[n, n]`` squared distances between all stimuli (after the optional PCA)."""
        if self._d2 is None:
            n = self.data().shape[0]
            self._d2 = []
            for point in range(self.n_layers + 1):
                x = self.states_at(np.arange(n), point).reshape(n, -1)
                if self.options.pca_dim is not None:
                    x = pca_reduce(x, self.options.pca_dim)
                self._d2.append(pairwise_sq_distances(x))
        return self._d2

    def statistic(self, indices: np.ndarray) -> dict[str, np.ndarray]:
        unique, counts = resample_weights(indices)
        select = torch.from_numpy(unique)
        root, n = counts.sqrt(), len(indices)
        grams = []
        for d2_full in self.squared_distances():
            d2 = d2_full[select][:, select]
            sigma = _median_bandwidth(d2, counts)
            grams.append(torch.exp(-d2 / (2.0 * sigma**2)))
        entropy = torch.stack([_weighted_entropy(g, root, n) for g in grams])
        joint = torch.stack([_weighted_entropy(grams[l] * grams[l + 1], root, n) for l in range(self.n_layers)])
        mi = entropy[:-1] + entropy[1:] - joint
        smaller = torch.minimum(entropy[:-1], entropy[1:])
        nan = torch.full_like(mi, float("nan"))
        normalized = torch.where(smaller > 1e-12, mi / smaller.clamp_min(1e-12), nan)
        return {"mi": mi.numpy(), "mi_normalized": normalized.numpy()}

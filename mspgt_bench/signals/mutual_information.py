"""Mutual information between adjacent stream states (the MSPGT v1 signal).

MSPGT v1 (Zhang & Dong 2025) places a boundary where the first difference of the adjacent-layer
MI series falls more than 2σ below its mean, without stating the estimator. Ours, declared:

* samples: the ``n`` stimuli; stimulus ``i`` gives the pair ``(x_l[i], x_{l+1}[i])`` of its
  pooled states (last real token by default; option ``token``) at stream states ``l`` and
  ``l+1`` (``x_0`` = embeddings … ``x_L`` = last layer output, before the final norm);
* estimator: matrix-based Rényi α = 1 mutual information (Giraldo, Rao & Principe 2014),
  ``I(X_l; X_{l+1}) = S(A_l) + S(A_{l+1}) − S(A_l∘A_{l+1})`` with ``A_l`` the unit-trace
  Gaussian Gram of ``X_l``, in nats;
* kernel bandwidth: the median heuristic, separately at each stream state (states differ in
  scale by orders of magnitude across depth) and recomputed on each bootstrap resample, so the
  bandwidth rule is part of the estimator;
* optional PCA reduction (``pca_dim = k``): each ``X_l`` is centred and projected on its top-k
  principal directions (fitted on the same rows) before the kernel. Distances, hence the
  Gaussian Gram, are unchanged when ``k`` ≥ the rank of ``X_l``.

Metrics, points ``l = 0 … L−1`` (the pair ``x_l, x_{l+1}``, i.e. across decoder layer ``l``),
depth ``(l + ½) / L``:

* ``mi``: ``I(X_l; X_{l+1})`` in nats (it grows with ``n``: compare at equal ``n``);
* ``mi_normalized``: ``I / min(S(A_l), S(A_{l+1}))`` in [0, 1] by Giraldo et al.'s bound
  (NaN where a state has zero entropy, e.g. identical last-token embeddings at ``x_0``).

Note that ``I(X; X) = 2S(A) − S(A∘A) < S(A)`` for a Gaussian kernel, so identical adjacent
states do not give ``mi_normalized = 1`` (see :mod:`mspgt_bench.metrics.mutual_information`).

Cost: per evaluation ``L+1`` Grams and ``2L+1`` eigendecompositions of ``n × n`` matrices
(O(L·n³)); the default cap is ``n_boot = 100`` resamples. Memory: ``4·(L+1)·d`` bytes per stimulus.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import torch
from pydantic import Field

from mspgt_bench.metrics.mutual_information import gaussian_gram, joint_renyi_entropy, matrix_renyi_entropy
from mspgt_bench.signals.dataset import DatasetSignal

__all__ = ["AdjacentMI", "pca_reduce"]


def pca_reduce(x: torch.Tensor, k: int) -> torch.Tensor:
    """``x [n, d]`` centred and projected on its top-``k`` principal directions → ``[n, min(k, n, d)]``."""
    xc = x - x.mean(dim=0, keepdim=True)
    u, s, _ = torch.linalg.svd(xc, full_matrices=False)
    k = min(k, s.shape[0])
    return u[:, :k] * s[:k]


class AdjacentMI(DatasetSignal):
    name = "mutual_information"
    default_n_boot: ClassVar[int | None] = 100
    convention = (
        "x_l = input of layer l (x_0 = embeddings, x_L = last layer output before the final norm), "
        "pooled per stimulus; point l = pair (x_l, x_{l+1}), depth (l + 1/2)/L; "
        "matrix Renyi alpha=1 MI, Gaussian kernel, median bandwidth per state"
    )

    class Options(DatasetSignal.Options):
        pca_dim: int | None = Field(None, ge=1, description="Project each state on its top-k principal directions first.")

    def points(self) -> np.ndarray:
        return np.arange(self.n_layers)

    def depth(self) -> np.ndarray:
        return (self.points() + 0.5) / self.n_layers

    def statistic(self, indices: np.ndarray) -> dict[str, np.ndarray]:
        grams = []
        for point in range(self.n_layers + 1):
            x = self.states_at(indices, point).reshape(len(indices), -1)
            if self.options.pca_dim is not None:
                x = pca_reduce(x, self.options.pca_dim)
            grams.append(gaussian_gram(x))
        entropy = torch.stack([matrix_renyi_entropy(g) for g in grams])
        joint = torch.stack([joint_renyi_entropy(grams[l], grams[l + 1]) for l in range(self.n_layers)])
        mi = entropy[:-1] + entropy[1:] - joint
        smaller = torch.minimum(entropy[:-1], entropy[1:])
        nan = torch.full_like(mi, float("nan"))
        normalized = torch.where(smaller > 1e-12, mi / smaller.clamp_min(1e-12), nan)
        return {"mi": mi.numpy(), "mi_normalized": normalized.numpy()}

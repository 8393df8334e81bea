"""Dataset matrix entropy and effective rank at each stream state (Skean et al. 2025).

At each stream state ``x_l`` (``x_0`` = embeddings … ``x_L`` = last layer output, before the
final norm) the *dataset matrix* ``Z_l [n, d]`` stacks one pooled state per stimulus (last real
token by default; option ``token``). Metrics, one value per point:

* ``entropy``: Rényi α = 1 (von Neumann) matrix entropy, in nats, of the linear Gram
  ``Z Zᵀ / tr(Z Zᵀ)``: ``−Σ λ_i log λ_i`` (Giraldo et al. 2014; Skean et al. 2025, "Layer by
  Layer: Uncovering Hidden Representations in Language Models", their *dataset entropy*);
* ``effective_rank``: ``exp(H(p))``, ``p_i = σ_i / Σσ`` the normalised singular values of ``Z``
  (Roy & Vetterli 2007).

Choices: ``Z`` is used uncentred by default, as in Skean et al. (option ``center``; an
uncentred anisotropic cloud has one dominant direction, hence low entropy). ``normalize``
divides the entropy by ``log n`` (``"log_n"``) or by the log of the numerical rank
(``"log_rank"``); default ``None`` (raw nats, which grow with ``n`` up to ``log min(n, d)``:
compare models at equal ``n``). One log base (e) throughout; eigenvalues always, never the
α = 2 Frobenius shortcut (see :mod:`mspgt_bench.metrics.matrix_entropy`).

Bootstrap: resampled stimuli repeat rows of ``Z``; the statistic is that of the resampled
matrix, repeats included. It is computed exactly on the distinct rows weighted by
``√count`` (:func:`~mspgt_bench.signals.dataset.distinct_rows`: same singular values), which
makes a resample ~2.5× cheaper; both metrics come from one SVD, with the formulas of
:func:`~mspgt_bench.metrics.matrix_entropy.matrix_entropy` and
:func:`~mspgt_bench.metrics.matrix_entropy.effective_rank` (tests check agreement). Cost per
resample: one batched SVD of ``[L+1, ~0.63·n, d]``; default cap ``n_boot = 200``. Memory: ``4·(L+1)·d`` bytes per stimulus. ``normalize="log_n"``
divides by the log of the resample size ``n``.
"""

from __future__ import annotations

import math
from typing import ClassVar, Literal

import numpy as np
import torch
from pydantic import Field

from mspgt_bench.metrics.matrix_entropy import numerical_rank, renyi_entropy_from_eigenvalues, singular_values
from mspgt_bench.signals.dataset import DatasetSignal, distinct_rows

__all__ = ["DatasetEntropy"]


class DatasetEntropy(DatasetSignal):
    name = "dataset_entropy"
    default_n_boot: ClassVar[int | None] = 200

    class Options(DatasetSignal.Options):
        center: bool = Field(False, description="Subtract the mean over stimuli before the Gram (Skean et al.: no).")
        normalize: Literal["log_n", "log_rank"] | None = Field(
            None, description="Divide the entropy by log n or log(numerical rank); None: raw nats."
        )

    def statistic(self, indices: np.ndarray) -> dict[str, np.ndarray]:
        z = distinct_rows(self.by_point(), indices, center=self.options.center)  # [L+1, m, d], already centred
        # one SVD for both metrics; same formulas as metrics.matrix_entropy.matrix_entropy / effective_rank
        sigma = singular_values(z)
        lam = sigma**2 / (sigma**2).sum(dim=-1, keepdim=True)
        entropy = renyi_entropy_from_eigenvalues(lam, 1.0)
        if self.options.normalize is not None:
            if self.options.normalize == "log_n":
                denom = torch.full_like(entropy, math.log(len(indices)))
            else:
                denom = numerical_rank(lam).to(torch.float64).clamp_min(1.0).log()
            entropy = torch.where(denom > 0, entropy / denom.clamp_min(1e-300), torch.zeros_like(entropy))
        p = sigma / sigma.sum(dim=-1, keepdim=True)
        erank = torch.exp(-torch.special.xlogy(p, p).sum(dim=-1))
        return {"entropy": entropy.numpy(), "effective_rank": erank.numpy()}

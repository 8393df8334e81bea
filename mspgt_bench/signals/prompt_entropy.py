"""Prompt entropy (matrix-based Rényi entropy of a prompt's token matrix) and effective rank.

For one stimulus at one stream state, ``Z ∈ R^{n×d}`` stacks the states of its n real tokens.
With the linear kernel ``K = Z Zᵀ`` normalised to unit trace, ``A = K / tr(K)``, eigenvalues
``λ_i`` (``Σ λ_i = 1``) and singular values ``σ_i`` of ``Z``:

* ``entropy``: ``S_α(A) / log n`` — the Rényi-α matrix entropy (α = 1 by default:
  ``S_1 = −Σ λ_i log λ_i``; α ≠ 1: ``log(Σ λ_i^α) / (1 − α)``), in nats, **normalised by
  ``log n``** with n the prompt's number of real tokens (the maximum entropy of an ``n × n``
  Gram), so in [0, 1]; a one-token prompt gives 0. ``normalize="log_rank"`` divides by the log
  of the numerical rank of Z instead, ``normalize="none"`` leaves nats;
* ``entropy_nats``: ``S_α(A)`` in nats, unnormalised;
* ``effective_rank``: ``exp(−Σ p_i log p_i)`` with ``p_i = σ_i / Σ σ_j`` (Roy & Vetterli 2007:
  normalised singular values, not their squares).

Sources: Giraldo, Rao & Principe 2014 (matrix-based entropy); Skean et al. 2025, "Layer by
Layer: Uncovering Hidden Representations in Language Models" (prompt entropy and effective rank
per layer; a mid-depth valley in autoregressive models). Pitfalls of the reference code are
avoided (docs/operationalisation.md §2.4): one log base (nats) throughout, and every α goes through the eigenvalues
(no Frobenius-norm shortcut). ``Z`` is used uncentred by default, as in Skean et al.
(``center=True`` subtracts the mean over the prompt's tokens).

States: ``x_s`` for s = 0 .. L, with ``x_0`` the embedding output (``resid_pre[0]``) and
``x_s = resid_post[s−1]`` the raw output of layer s−1 (before the final norm, also for the last
layer). Point s is state s, at depth s / L. All real tokens are used.

Kernels: :mod:`mspgt_bench.metrics.matrix_entropy`. One SVD per (stimulus, state) serves
both metrics; the batch is decomposed at once with padding rows set to zero, which adds only
zero singular values, so the result equals that of the unpadded prompt.
"""

from __future__ import annotations

from typing import Literal

import torch
from pydantic import Field

from mspgt_bench.capture import CapturedBatch
from mspgt_bench.metrics.matrix_entropy import (
    numerical_rank,
    renyi_entropy_from_eigenvalues,
    singular_values,
)
from mspgt_bench.options import Strict
from mspgt_bench.signals.base import StreamSignal, masked_token_mean


class PromptEntropy(StreamSignal):
    name = "prompt_entropy"
    convention = (
        "stream state s = 0..L: x_0 = embeddings (resid_pre[0]), x_s = resid_post[s-1] (raw, before "
        "the final norm); point s = state s, depth s / L; token matrix of all real tokens of a prompt"
    )

    class Options(Strict):
        alpha: float = Field(1.0, gt=0, description="Rényi order of the matrix entropy (1 = von Neumann).")
        normalize: Literal["log_n", "log_rank", "none"] = Field(
            "log_n",
            description="Divide the entropy by log(number of tokens), by log(numerical rank), or not at all.",
        )
        center: bool = Field(False, description="Subtract the mean over the prompt's tokens before the SVD.")

    def values(self, captured: CapturedBatch) -> dict[str, torch.Tensor]:
        mask = captured.mask
        log_n = mask.sum(dim=1).double().log()
        columns: dict[str, list[torch.Tensor]] = {"entropy": [], "entropy_nats": [], "effective_rank": []}
        for state in captured.stream():
            sigma = singular_values(self._token_matrix(state, mask))  # [B, min(T, d)], descending
            lam = sigma**2 / (sigma**2).sum(dim=-1, keepdim=True)
            nats = renyi_entropy_from_eigenvalues(lam, self.options.alpha)
            columns["entropy_nats"].append(nats)
            columns["entropy"].append(self._normalise(nats, lam, log_n))
            p = sigma / sigma.sum(dim=-1, keepdim=True)
            columns["effective_rank"].append(torch.exp(-torch.special.xlogy(p, p).sum(dim=-1)))
        return {metric: torch.stack(values, dim=1) for metric, values in columns.items()}

    def _token_matrix(self, state: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """``[B, T, d]`` float64 with padding rows zeroed (and centred over real tokens if asked)."""
        z = state.double()
        if self.options.center:
            z = z - masked_token_mean(z, mask).unsqueeze(1)
        return z * mask.unsqueeze(-1).double()

    def _normalise(self, nats: torch.Tensor, lam: torch.Tensor, log_n: torch.Tensor) -> torch.Tensor:
        if self.options.normalize == "none":
            return nats
        if self.options.normalize == "log_n":
            denom = log_n
        else:
            denom = numerical_rank(lam).double().clamp_min(1.0).log()
        return torch.where(denom > 0, nats / denom.clamp_min(1e-300), torch.zeros_like(nats))

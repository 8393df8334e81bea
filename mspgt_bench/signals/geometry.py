"""Representation geometry at each state of the residual stream: anisotropy, norm, massive activations.

For the real token states ``h_1 … h_n`` (``h_t ∈ R^d``) of one stimulus at one stream state:

* ``anisotropy``: mean cosine similarity between distinct tokens,
  ``(1 / (n(n−1))) Σ_{i≠j} cos(h_i, h_j)`` (Ethayarajh 2019; Razzhigaev et al. 2024, "The Shape
  of Learning: Anisotropy and Intrinsic Dimensions in Transformer-Based Models");
* ``norm``: mean residual norm ``(1/n) Σ_t ‖h_t‖₂``;
* ``massive_max``: the largest activation magnitude ``max_{t,j} |h_t[j]|``;
* ``massive_ratio``: ``max_{t,j} |h_t[j]| / median_{t,j} |h_t[j]|`` (lower median), Sun et al.
  2024, "Massive Activations in Large Language Models" (they call an activation massive at
  magnitude > 100 and ~1000× the median).

All real tokens are used, the first one included (massive activations sit mostly on the first
token and delimiters, so excluding it would hide them). These are signals in their own right
and confound monitors for the other signals (norm growth, outlier dimensions).

States: ``x_s`` for s = 0 .. L, with ``x_0`` the embedding output (``resid_pre[0]``) and
``x_s = resid_post[s−1]`` the raw output of layer s−1 (before the final norm, also for the last
layer). Point s is state s, at depth s / L. Kernels: :mod:`mspgt_bench.metrics.geometry`.
"""

from __future__ import annotations

import torch

from mspgt_bench.capture import CapturedBatch
from mspgt_bench.metrics.geometry import anisotropy, massive_activation, residual_norm
from mspgt_bench.signals.base import StreamSignal, masked_token_mean


class Geometry(StreamSignal):
    name = "geometry"
    convention = (
        "stream state s = 0..L: x_0 = embeddings (resid_pre[0]), x_s = resid_post[s-1] (raw, before "
        "the final norm); point s = state s, depth s / L; all real tokens"
    )

    def values(self, captured: CapturedBatch) -> dict[str, torch.Tensor]:
        mask = captured.mask
        columns: dict[str, list[torch.Tensor]] = {"anisotropy": [], "norm": [], "massive_max": [], "massive_ratio": []}
        for state in captured.stream():
            columns["anisotropy"].append(anisotropy(state, mask))
            columns["norm"].append(masked_token_mean(residual_norm(state), mask))
            peak, ratio = massive_activation(state, mask)
            columns["massive_max"].append(peak)
            columns["massive_ratio"].append(ratio)
        return {metric: torch.stack(values, dim=1) for metric, values in columns.items()}

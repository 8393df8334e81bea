"""Curvature of the token trajectory at each state of the residual stream.

For the token states ``x_1 … x_n`` of one stimulus at one stream state, the steps are
``v_k = x_{k+1} − x_k`` and the curvature is the mean turning angle between consecutive steps,

    ``curvature = mean_k arccos( v_{k+1}·v_k / (‖v_{k+1}‖ ‖v_k‖) )``  (radians, in [0, π]).

0 = straight trajectory, π/2 = right-angle turns on average, π = back-and-forth.
Sources: Hosseini & Fedorenko 2023, "Large language models implicitly learn to straighten
neural sentence trajectories"; Skean et al. 2025, "Layer by Layer: Uncovering Hidden
Representations in Language Models".

No ``abs()`` (docs/operationalisation.md §2.4): the Skean et al. reference code takes the absolute value of the dot
product before ``arccos``, folding every turn sharper than 90° onto a gentle one; here the
signed cosine is used (:func:`mspgt_bench.metrics.curvature.trajectory_curvature`).

States: ``x_s`` for s = 0 .. L, with ``x_0`` the embedding output (``resid_pre[0]``) and
``x_s = resid_post[s−1]`` the raw output of layer s−1 (before the final norm, also for the last
layer). Point s is state s, at depth s / L. All real tokens of a stimulus are used. A zero step
(consecutive identical states, e.g. a repeated token at the embedding state x_0) has no direction:
the turning angles that involve it are left out of the mean. A stimulus with no valid angle
(fewer than 3 tokens) gives NaN.
"""

from __future__ import annotations

import torch

from mspgt_bench.capture import CapturedBatch
from mspgt_bench.metrics.curvature import trajectory_curvature
from mspgt_bench.signals.base import StreamSignal


class Curvature(StreamSignal):
    name = "curvature"
    kinds = {"curvature": "change"}
    def values(self, captured: CapturedBatch) -> dict[str, torch.Tensor]:
        mask = captured.mask
        return {
            "curvature": torch.stack([trajectory_curvature(state, mask) for state in captured.stream()], dim=1)
        }

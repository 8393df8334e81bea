"""Mean curvature of the token trajectory within one layer.

Hosseini & Fedorenko 2023 ("Large language models implicitly learn to straighten neural
sentence trajectories"); Skean et al. 2025 ("Layer by Layer"). For token states
``x_1 … x_T`` of one layer, the steps are ``v_k = x_{k+1} − x_k`` and the curvature at ``k``
is the turning angle between consecutive steps

    ``c_k = arccos( v_{k+1}·v_k / (‖v_{k+1}‖ ‖v_k‖) ) ∈ [0, π]``,

averaged over ``k``. Straight line: 0; right-angle zig-zag: π/2; full reversal: π.

"No abs" (docs/operationalisation.md §2.4): the Skean et al. reference code takes ``abs()`` of the **dot
product** before ``arccos``, i.e. it computes ``arccos(|cos|) = min(θ, π − θ) ∈ [0, π/2]``,
which folds every turn sharper than 90° back onto a gentle one (a reversal scores 0, like a
straight line). Here the signed cosine is used, so ``c_k`` spans the full ``[0, π]``.
:func:`folded_curvature` reproduces the reference behaviour for comparison only.

Angles use the numerically stable form of :func:`mspgt_bench.metrics.angular.angle`.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from mspgt_bench.metrics.angular import angle

__all__ = ["folded_curvature", "step_angles", "trajectory_curvature"]


def step_angles(x: Tensor, mask: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """Turning angles ``c_k`` of ``x [..., T, d]`` and their validity, both ``[..., T−2]``.

    ``c_k`` (radians) uses positions ``k, k+1, k+2``; it is valid when all three are real
    (``mask`` ``[..., T]``, 1/True = real token) and both steps are non-zero (a zero step
    has no direction). Invalid entries are NaN. With contiguous padding this is exactly the
    curvature of the unpadded sequence; a hole in the mask is not bridged.
    """
    if x.shape[-2] < 3:
        shape = (*x.shape[:-2], 0)
        empty = torch.zeros(shape, dtype=torch.float64, device=x.device)
        return empty, torch.zeros(shape, dtype=torch.bool, device=x.device)
    v = x[..., 1:, :] - x[..., :-1, :]
    c = angle(v[..., 1:, :], v[..., :-1, :])  # NaN where a step is zero
    valid = torch.isfinite(c)
    if mask is not None:
        m = mask.bool().to(x.device)
        valid = valid & m[..., :-2] & m[..., 1:-1] & m[..., 2:]
    return c.masked_fill(~valid, float("nan")), valid


def trajectory_curvature(x: Tensor, mask: Tensor | None = None) -> Tensor:
    """Mean turning angle (radians, in [0, π]) of ``x [..., T, d]`` over valid ``k``, ``[...]``.

    NaN when a sequence has no valid triple (fewer than 3 real tokens).
    """
    c, valid = step_angles(x, mask)
    total = torch.where(valid, c, torch.zeros_like(c)).sum(dim=-1)
    count = valid.sum(dim=-1)
    out = total / count.clamp_min(1)
    return out.masked_fill(count == 0, float("nan"))


def folded_curvature(x: Tensor, mask: Tensor | None = None) -> Tensor:
    """The reference-code variant ``mean_k arccos(|cos|)`` — for comparison only, not a signal."""
    c, valid = step_angles(x, mask)
    folded = torch.minimum(c, math.pi - c)
    total = torch.where(valid, folded, torch.zeros_like(folded)).sum(dim=-1)
    count = valid.sum(dim=-1)
    return (total / count.clamp_min(1)).masked_fill(count == 0, float("nan"))

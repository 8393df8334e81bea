"""Angles between representation vectors: angular distance and Block Influence.

- Angular distance (Gromov et al. 2024, "The Unreasonable Ineffectiveness of the Deeper
  Layers"): ``d(a, b) = arccos(cos(a, b)) / π ∈ [0, 1]``; 0 for parallel, 0.5 for orthogonal,
  1 for opposite vectors.
- Block Influence (Men et al. 2024, "ShortGPT"): ``BI = 1 − cos(h_in, h_out)``, per token;
  the paper's layer score is its mean over tokens and samples (left to the caller).

Numerics: ``arccos`` of a cosine loses about half the digits near ±1 (``arccos(1−ε) ≈ √(2ε)``),
so the angle is computed with Kahan's formula ``θ = 2·atan2(‖â − b̂‖, ‖â + b̂‖)`` with unit
vectors ``â, b̂``, which is exact up to rounding over the whole range; likewise
``1 − cos θ = 2·sin²(θ/2)`` from that angle. A zero vector has no direction: its results are NaN.
Callers comparing many pairs of the same states normalise each state once (:func:`unit`) and
use :func:`unit_angle`.
Half precision is upcast to float32; float64 stays float64.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = [
    "angle",
    "angular_distance",
    "block_influence",
    "block_influence_from_angle",
    "cosine_similarity",
    "unit",
    "unit_angle",
]


def unit(x: Tensor) -> Tensor:
    """``x / ‖x‖`` along the last dimension (float32, or float64 for float64 input; NaN for a zero vector)."""
    dt = torch.float64 if x.dtype == torch.float64 else torch.float32
    x = x.to(dt)
    norm = torch.linalg.vector_norm(x, dim=-1, keepdim=True)
    nan = torch.full((), float("nan"), dtype=dt, device=x.device)
    return torch.where(norm > 0, x / norm.clamp_min(torch.finfo(dt).tiny), nan)


def cosine_similarity(a: Tensor, b: Tensor) -> Tensor:
    """``cos(a, b) = a·b / (‖a‖‖b‖)`` along the last dimension (NaN if either is zero)."""
    ua, ub = unit(a), unit(b)
    return (ua * ub).sum(dim=-1).clamp(-1.0, 1.0)


def angle(a: Tensor, b: Tensor) -> Tensor:
    """Angle ``θ = arccos(cos(a, b)) ∈ [0, π]`` in radians along the last dimension.

    Computed as ``2·atan2(‖â − b̂‖, ‖â + b̂‖)`` (Kahan), which equals ``arccos(cos)`` but
    stays accurate for nearly parallel or antiparallel vectors.
    """
    return unit_angle(unit(a), unit(b))


def unit_angle(ua: Tensor, ub: Tensor) -> Tensor:
    """The angle between unit vectors ``ua``, ``ub`` (see :func:`angle`): ``2·atan2(‖ua − ub‖, ‖ua + ub‖)``."""
    ua, ub = torch.broadcast_tensors(ua, ub)
    diff = torch.linalg.vector_norm(ua - ub, dim=-1)
    summ = torch.linalg.vector_norm(ua + ub, dim=-1)
    return 2.0 * torch.atan2(diff, summ)


def angular_distance(a: Tensor, b: Tensor) -> Tensor:
    """Angular distance ``arccos(cos(a, b)) / π ∈ [0, 1]`` (Gromov et al. 2024).

    Args:
        a, b: broadcastable tensors ``[..., d]``, e.g. last-token states of layers l and l+n.

    Returns:
        Tensor ``[...]``.
    """
    return angle(a, b) / math.pi


def block_influence(h_in: Tensor, h_out: Tensor) -> Tensor:
    """Block Influence ``BI = 1 − cos(h_in, h_out) ∈ [0, 2]`` per token (Men et al. 2024).

    ``h_in`` is the residual stream entering a block and ``h_out`` the one leaving it.
    Computed from the angle as ``2·sin²(θ/2)`` to avoid cancellation when ``cos ≈ 1``.
    """
    return block_influence_from_angle(angle(h_in, h_out))


def block_influence_from_angle(theta: Tensor) -> Tensor:
    """``1 − cos θ = 2·sin²(θ/2)`` for angles ``theta`` in radians."""
    return 2.0 * torch.sin(0.5 * theta) ** 2

"""Representation geometry monitors: anisotropy, residual norm, massive activations.

- Anisotropy (Ethayarajh 2019; Razzhigaev et al. 2024, "The Shape of Learning: Anisotropy
  and Intrinsic Dimensions in Transformer-Based Models"): mean cosine similarity between
  distinct token representations, ``(1 / (n(n−1))) Σ_{i≠j} cos(h_i, h_j)``; self pairs are
  excluded. Computed in O(n·d) from unit vectors ``u_i``:
  ``Σ_{i≠j} u_i·u_j = ‖Σ_i u_i‖² − n``.
- Residual norm: ``‖h‖₂`` of each residual-stream vector.
- Massive activations (Sun et al. 2024, "Massive Activations in Large Language Models"):
  the largest activation magnitude ``max |h|`` over all tokens and dimensions of a
  sequence, and its ratio to the median magnitude ``max|h| / median|h|`` (Sun et al. call
  an activation massive at magnitude > 100 and ~1000× the median).
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["anisotropy", "massive_activation", "residual_norm"]


def _as_float(x: Tensor) -> Tensor:
    return x.to(torch.float64 if x.dtype == torch.float64 else torch.float32)


def anisotropy(h: Tensor, mask: Tensor | None = None) -> Tensor:
    """Mean pairwise cosine between distinct rows of ``h [..., n, d]`` → ``[...]``.

    ``mask [..., n]`` (1/True = include) drops padding rows. Zero vectors are treated as
    padding (they have no direction). NaN when fewer than 2 rows remain.
    """
    h = _as_float(h)
    norm = torch.linalg.vector_norm(h, dim=-1, keepdim=True)
    keep = norm.squeeze(-1) > 0
    if mask is not None:
        keep = keep & mask.bool().to(h.device)
    u = torch.where(keep[..., None], h / norm.clamp_min(torch.finfo(h.dtype).tiny), torch.zeros_like(h))
    n = keep.sum(dim=-1).to(h.dtype)
    total = (u.sum(dim=-2) ** 2).sum(dim=-1) - n
    out = total / (n * (n - 1)).clamp_min(1.0)
    return out.masked_fill(n < 2, float("nan"))


def residual_norm(h: Tensor) -> Tensor:
    """Euclidean norm ``‖h‖₂`` along the last dimension, ``[...]``."""
    return torch.linalg.vector_norm(_as_float(h), dim=-1)


def massive_activation(h: Tensor, mask: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """``(max|h|, max|h| / median|h|)`` over tokens and dimensions of ``h [..., T, d]`` → ``[...]``.

    ``mask [..., T]`` excludes padding tokens. The median is torch's lower median for an
    even count. All-masked sequences give NaN; a zero median gives ``inf`` (or NaN if the
    max is 0 too).
    """
    a = _as_float(h).abs()
    if mask is not None:
        keep = mask.bool().to(a.device)[..., None].expand_as(a)
        a = torch.where(keep, a, torch.full((), float("nan"), dtype=a.dtype, device=a.device))
    flat = a.flatten(start_dim=-2)
    mx = torch.where(torch.isnan(flat), torch.full((), -1.0, dtype=a.dtype, device=a.device), flat).amax(dim=-1)
    mx = mx.masked_fill(mx < 0, float("nan"))
    med = torch.nanmedian(flat, dim=-1).values
    return mx, mx / med

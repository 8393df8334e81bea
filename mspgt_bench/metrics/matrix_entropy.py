"""Matrix-based Rényi entropy of a representation matrix, and effective rank.

Matrix entropy (Giraldo, Rao & Principe 2014; used layer-wise by Skean et al. 2025, "Layer
by Layer: Uncovering Hidden Representations in Language Models"): for ``Z [n, d]`` (rows =
tokens or prompts) take the linear-kernel Gram ``K = Z Zᵀ``, normalise it to unit trace,
``A = K / tr(K)``, with eigenvalues ``λ_i ≥ 0``, ``Σλ_i = 1``, and

- α = 1 (von Neumann / Shannon): ``S₁(A) = −Σ λ_i log λ_i``;
- α ≠ 1: ``S_α(A) = log(Σ λ_i^α) / (1 − α)``.

Pitfalls avoided (both appear in reference code, see docs/operationalisation.md §2.4):

- one log base throughout: everything is in **nats** (natural log);
- every α goes through the eigenvalues. A "Frobenius shortcut" such as ``−log ‖K‖_F²`` is
  not used: it equals ``S₂`` only when the trace normalisation is squared as well,
  ``S₂(A) = −log Σλ² = −log(‖K‖_F² / tr(K)²)``, and it is never a stand-in for α = 1
  (``S₂ ≤ S₁``, with equality only for a flat spectrum).

Eigenvalues are ``σ_i² / Σσ²`` with ``σ`` the singular values of ``Z``, obtained by
:func:`singular_values` from the eigenvalues of the smaller Gram matrix.

Normalisation (optional): divide by ``log n`` (max entropy of an ``n × n`` Gram) or by
``log r`` with ``r`` the numerical rank (then 1 means "flat spectrum on its support").

Effective rank (Roy & Vetterli 2007, "The effective rank: a measure of effective
dimensionality"): ``erank(X) = exp(H(p))`` with ``p_i = σ_i / Σσ`` the normalised
**singular values** (not their squares) of ``X``.

By default ``Z`` is used as given (no centring), matching Skean et al.; ``center=True``
subtracts the column mean first.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

__all__ = [
    "effective_rank",
    "gram_spectrum",
    "matrix_entropy",
    "numerical_rank",
    "renyi_entropy_from_eigenvalues",
    "singular_values",
]

Normalization = Literal["log_n", "log_rank"]


def _prep(z: Tensor, center: bool) -> Tensor:
    zd = z.to(torch.float64)
    if center:
        zd = zd - zd.mean(dim=-2, keepdim=True)
    return zd


def singular_values(z: Tensor) -> Tensor:
    """Singular values (descending, float64) of ``z [..., n, d]``: ``[..., min(n, d)]``.

    ``σ_i² = λ_i(ZZᵀ)`` (or ``λ_i(ZᵀZ)`` when ``d < n``): one product and a symmetric eigensolver on
    the smaller Gram instead of an SVD of ``Z`` (on a 2-core CPU 5x faster single-threaded for
    ``[8, 96, 576]``, and free of the LAPACK thread contention that made the SVD 4-25x slower under
    load). Accuracy: the eigenvalues carry an absolute error of a few ``eps·σ_max²``, so those below
    ``m·eps·σ_max²`` (``m = min(n, d)``, the threshold :func:`renyi_entropy_from_eigenvalues` and
    :func:`numerical_rank` use) are set to exactly 0: a rank-deficient ``Z`` keeps exact zeros, and
    genuine singular values below ``√(m·eps)·σ_max`` (~1e-7 relative) read as 0.
    """
    zd = z.to(torch.float64)
    gram = zd @ zd.transpose(-1, -2) if zd.shape[-2] <= zd.shape[-1] else zd.transpose(-1, -2) @ zd
    lam = torch.linalg.eigvalsh(gram).flip(-1)
    noise = lam.shape[-1] * torch.finfo(torch.float64).eps * lam[..., :1].clamp_min(0.0)
    return torch.where(lam > noise, lam, torch.zeros_like(lam)).sqrt()


def gram_spectrum(z: Tensor, center: bool = False) -> Tensor:
    """Eigenvalues (descending, summing to 1) of ``ZZᵀ / tr(ZZᵀ)`` for ``z [..., n, d]``.

    Returns ``[..., min(n, d)]`` float64 (the remaining eigenvalues are exactly 0).
    All-zero input gives NaN.
    """
    s2 = singular_values(_prep(z, center)) ** 2
    return s2 / s2.sum(dim=-1, keepdim=True)


def renyi_entropy_from_eigenvalues(lam: Tensor, alpha: float = 1.0) -> Tensor:
    """Rényi entropy (nats) of a spectrum ``lam [..., m]``.

    Eigenvalues below round-off level (``m · eps(float64) · max λ``, negative ones included)
    are set to 0 — otherwise, for α < 1, ``λ^α`` of numerically-zero eigenvalues would leak
    into the sum — and the spectrum is renormalised to sum to 1.
    α = 1: ``−Σ λ log λ``; α ≠ 1: ``log(Σ λ^α) / (1 − α)``; α must be > 0.
    """
    if alpha <= 0:
        raise ValueError("alpha must be > 0")
    lam = lam.to(torch.float64)
    tol = lam.shape[-1] * torch.finfo(torch.float64).eps * lam.amax(dim=-1, keepdim=True)
    lam = torch.where(lam > tol, lam, torch.zeros_like(lam))
    lam = lam / lam.sum(dim=-1, keepdim=True)
    if abs(alpha - 1.0) < 1e-12:
        return -torch.special.xlogy(lam, lam).sum(dim=-1)
    pos = lam > 0
    powered = torch.where(pos, lam.clamp_min(1e-300) ** alpha, torch.zeros_like(lam))
    return torch.log(powered.sum(dim=-1)) / (1.0 - alpha)


def numerical_rank(lam: Tensor, rtol: float | None = None) -> Tensor:
    """Number of eigenvalues above ``rtol · max λ`` (default ``rtol = m · eps(float64)``)."""
    m = lam.shape[-1]
    tol = rtol if rtol is not None else m * torch.finfo(torch.float64).eps
    top = lam.amax(dim=-1, keepdim=True)
    return (lam > tol * top).sum(dim=-1)


def matrix_entropy(
    z: Tensor,
    alpha: float = 1.0,
    normalize: Normalization | None = None,
    center: bool = False,
) -> Tensor:
    """Rényi-α matrix entropy (nats) of the linear Gram of ``z [..., n, d]``.

    ``normalize``: ``None`` (raw nats), ``"log_n"`` (divide by ``log n``) or ``"log_rank"``
    (divide by ``log`` of the numerical rank); a zero denominator (n = 1 or rank 1) gives 0.
    Returns float64 ``[...]``.
    """
    lam = gram_spectrum(z, center=center)
    s = renyi_entropy_from_eigenvalues(lam, alpha)
    if normalize is None:
        return s
    if normalize == "log_n":
        denom = torch.full_like(s, float(z.shape[-2])).log()
    elif normalize == "log_rank":
        denom = numerical_rank(lam).to(torch.float64).clamp_min(1.0).log()
    else:
        raise ValueError(f"normalize must be None, 'log_n' or 'log_rank', got {normalize!r}")
    return torch.where(denom > 0, s / denom.clamp_min(1e-300), torch.zeros_like(s))


def effective_rank(x: Tensor, center: bool = False) -> Tensor:
    """Effective rank ``exp(−Σ p log p)``, ``p = σ / Σσ`` (Roy & Vetterli 2007), ``[...]``."""
    s = singular_values(_prep(x, center))
    p = s / s.sum(dim=-1, keepdim=True)
    return torch.exp(-torch.special.xlogy(p, p).sum(dim=-1))

"""Matrix-based Rényi α-order mutual information (Giraldo, Rao & Principe 2014).

"Measures of Entropy from Data Using Infinitely Divisible Kernels" (IEEE Trans. Inf. Theory
2015; arXiv 1211.2459). For paired samples ``(x_i, y_i)``, ``i = 1…n``:

- Gram matrices ``K_x``, ``K_y`` of a Gaussian kernel, normalised to unit trace:
  ``A = K_x / tr(K_x)``, ``B = K_y / tr(K_y)``;
- entropy ``S_α(A) = log(Σ_i λ_i(A)^α) / (1 − α)`` (α = 1: ``−Σ λ log λ``), nats;
- joint entropy ``S_α(A, B) = S_α(A∘B / tr(A∘B))`` (Hadamard product);
- mutual information ``I_α(X; Y) = S_α(A) + S_α(B) − S_α(A, B)``.

For α = 1 Giraldo et al. show ``max(S(A), S(B)) ≤ S(A, B) ≤ S(A) + S(B)``, hence
``0 ≤ I ≤ min(S(A), S(B))``. Note ``I(X; X) = 2S(A) − S(A∘A)`` equals ``S(A)`` only when
``A∘A ∝ A`` (a 0/1 kernel, e.g. well-separated clusters at a small bandwidth); for a
Gaussian kernel ``A∘A`` is the Gram at bandwidth ``σ/√2``, so in general ``I(X; X) < S(A)``.

Kernel: ``k(x, x') = exp(−‖x − x'‖² / (2σ²))``. Bandwidth by the **median heuristic**:
``σ`` = median of the Euclidean distances over pairs ``i < j`` (if that median is 0 because
most points coincide, the median of the non-zero distances; if every distance is 0, σ = 1).
Pass ``sigma`` to fix it (e.g. the same σ for every layer). All in float64.
"""

from __future__ import annotations

import torch
from torch import Tensor

from mspgt_bench.metrics.matrix_entropy import renyi_entropy_from_eigenvalues

__all__ = [
    "gaussian_gram",
    "gaussian_matrix_entropy",
    "joint_renyi_entropy",
    "matrix_mutual_information",
    "matrix_renyi_entropy",
    "median_bandwidth",
    "mutual_information_from_grams",
    "pairwise_sq_distances",
]


def pairwise_sq_distances(x: Tensor) -> Tensor:
    """Squared Euclidean distances between rows of ``x [..., n, d]`` → ``[..., n, n]`` (float64)."""
    xd = x.to(torch.float64)
    d2 = torch.cdist(xd, xd, compute_mode="donot_use_mm_for_euclid_dist") ** 2
    return d2 - torch.diag_embed(torch.diagonal(d2, dim1=-2, dim2=-1))


def median_bandwidth(d2: Tensor) -> Tensor:
    """Median-heuristic σ from squared distances ``[..., n, n]`` → ``[...]`` (see module doc)."""
    n = d2.shape[-1]
    iu = torch.triu_indices(n, n, offset=1, device=d2.device)
    d = d2[..., iu[0], iu[1]].sqrt()  # [..., n(n-1)/2]
    if d.shape[-1] == 0:
        return torch.ones(d.shape[:-1], dtype=torch.float64, device=d2.device)
    med = d.median(dim=-1).values
    nz = torch.where(d > 0, d, torch.full((), float("nan"), dtype=d.dtype, device=d.device))
    med_nz = torch.nanmedian(nz, dim=-1).values
    sigma = torch.where(med > 0, med, med_nz)
    return torch.where(torch.isfinite(sigma) & (sigma > 0), sigma, torch.ones_like(sigma))


def gaussian_gram(x: Tensor, sigma: float | Tensor | None = None) -> Tensor:
    """Gaussian-kernel Gram ``exp(−‖x_i − x_j‖² / (2σ²))`` of ``x [..., n, d]`` (float64).

    ``sigma=None`` uses :func:`median_bandwidth`.
    """
    d2 = pairwise_sq_distances(x)
    if sigma is None:
        s = median_bandwidth(d2)
    else:
        s = torch.as_tensor(sigma, dtype=torch.float64, device=d2.device)
    s = s[..., None, None] if s.dim() > 0 else s
    return torch.exp(-d2 / (2.0 * s**2))


def matrix_renyi_entropy(k: Tensor, alpha: float = 1.0) -> Tensor:
    """``S_α`` (nats) of a PSD Gram ``k [..., n, n]`` after normalising it to unit trace."""
    kd = k.to(torch.float64)
    tr = torch.diagonal(kd, dim1=-2, dim2=-1).sum(dim=-1)
    a = kd / tr[..., None, None]
    lam = torch.linalg.eigvalsh(0.5 * (a + a.transpose(-1, -2)))
    return renyi_entropy_from_eigenvalues(lam, alpha)


def joint_renyi_entropy(kx: Tensor, ky: Tensor, alpha: float = 1.0) -> Tensor:
    """Joint entropy ``S_α(A∘B / tr(A∘B))`` of two Grams ``[..., n, n]``."""
    return matrix_renyi_entropy(kx.to(torch.float64) * ky.to(torch.float64), alpha)


def mutual_information_from_grams(kx: Tensor, ky: Tensor, alpha: float = 1.0) -> Tensor:
    """``I_α = S_α(A) + S_α(B) − S_α(A∘B)`` from two PSD Grams (any kernel) ``[..., n, n]``."""
    return (
        matrix_renyi_entropy(kx, alpha)
        + matrix_renyi_entropy(ky, alpha)
        - joint_renyi_entropy(kx, ky, alpha)
    )


def gaussian_matrix_entropy(
    x: Tensor, alpha: float = 1.0, sigma: float | Tensor | None = None
) -> Tensor:
    """``S_α(X)``: matrix entropy of the Gaussian Gram of ``x [..., n, d]`` (nats)."""
    return matrix_renyi_entropy(gaussian_gram(x, sigma), alpha)


def matrix_mutual_information(
    x: Tensor,
    y: Tensor,
    alpha: float = 1.0,
    sigma_x: float | Tensor | None = None,
    sigma_y: float | Tensor | None = None,
) -> Tensor:
    """Matrix-based Rényi MI ``I_α(X; Y)`` (nats) between paired rows of ``x [..., n, dx]``
    and ``y [..., n, dy]`` with Gaussian kernels (median-heuristic bandwidths by default)."""
    if x.shape[-2] != y.shape[-2]:
        raise ValueError("x and y need the same number of rows (paired samples)")
    return mutual_information_from_grams(gaussian_gram(x, sigma_x), gaussian_gram(y, sigma_y), alpha)

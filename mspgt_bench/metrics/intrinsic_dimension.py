"""Intrinsic dimension of a point cloud (rows of ``X [n, d]``): nonlinear and linear estimators.

Nonlinear (via ``dadapy``, Glielmo et al. 2022):

- TwoNN (Facco et al. 2017, "Estimating the intrinsic dimension of datasets by a minimal
  neighborhood information"): ``μ_i = r_2(i) / r_1(i)`` is Pareto(ID) distributed; ID is the
  slope of ``−log(1 − F(μ))`` against ``log μ`` through the origin, discarding the largest
  10% of ``μ`` (dadapy ``compute_id_2NN(algorithm="base", mu_fraction=0.9)``).
- GRIDE (Denti et al. 2022, "The generalized ratios intrinsic dimension estimator"):
  maximum likelihood on ``r_{n2} / r_{n1}`` with ``n2 = 2·n1``; scanning ``n1 = 1, 2, 4, …``
  probes coarser scales and is robust to noise.

Duplicates: identical rows give zero neighbour distances and infinite ratios (dadapy warns
and the estimate is biased), so the estimators work on the **unique rows** of ``X``
(exact deduplication with ``np.unique(axis=0)``; no jitter is added). The number of unique
rows actually used is what limits the available GRIDE scales.

Linear controls (torch, batched over leading dimensions, on column-centred data with
covariance eigenvalues ``λ``):

- PCA dimension: the smallest ``k`` with ``Σ_{i≤k} λ_i / Σ λ ≥ variance`` (default 0.99).
- Participation ratio ``PR = (Σλ)² / Σλ²`` (Gao et al. 2017; Recanatesi et al. 2022).
"""

from __future__ import annotations

import contextlib
import io
import math
import warnings

import numpy as np
import torch
from torch import Tensor

__all__ = [
    "covariance_eigenvalues",
    "gride",
    "gride_scaling",
    "participation_ratio",
    "pca_dimension",
    "twonn",
    "unique_rows",
]


def unique_rows(x: Tensor | np.ndarray) -> np.ndarray:
    """``X`` as a float64 numpy ``[n, d]`` array with exact duplicate rows removed."""
    if isinstance(x, Tensor):
        arr = x.detach().to("cpu", torch.float64).numpy()
    else:
        arr = np.asarray(x, dtype=np.float64)
    arr = arr.reshape(arr.shape[0], -1) if arr.ndim != 2 else arr
    if not np.all(np.isfinite(arr)):
        raise ValueError("X contains non-finite values")
    # rows compared as raw bytes (np.unique(axis=0) builds a d-field record type per call, 12x
    # slower at d = 576); + 0.0 turns -0.0 into 0.0 so equal values have equal bytes; the result
    # is sorted lexicographically, as np.unique(axis=0) returns it
    rows = np.ascontiguousarray(arr + 0.0)
    keys = rows.view(np.dtype((np.void, rows.dtype.itemsize * rows.shape[1]))).ravel()
    kept = rows[np.unique(keys, return_index=True)[1]]
    return kept[np.lexsort(kept.T[::-1])]


@contextlib.contextmanager
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with contextlib.redirect_stdout(io.StringIO()):
            yield


def twonn(x: Tensor | np.ndarray, mu_fraction: float = 0.9) -> float:
    """TwoNN intrinsic dimension of the unique rows of ``x [n, d]`` (NaN if fewer than 3)."""
    from dadapy import Data

    pts = unique_rows(x)
    if pts.shape[0] < 3:
        return float("nan")
    with _quiet():
        data = Data(coordinates=pts, maxk=min(3, pts.shape[0] - 1), verbose=False, n_jobs=1)
        id_, _, _ = data.compute_id_2NN(algorithm="base", mu_fraction=mu_fraction)
    return float(id_)


def gride_scaling(x: Tensor | np.ndarray, range_max: int = 64) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """GRIDE estimates at scales ``n2 = 2, 4, …, range_max`` (``n1 = n2 / 2``).

    ``range_max`` is lowered to the largest power of two ``≤ n_unique − 1``.
    Returns ``(ids, standard_errors, n2_ranks)`` as numpy arrays (empty if ``n_unique < 3``).
    """
    from dadapy import Data

    pts = unique_rows(x)
    n = pts.shape[0]
    if n < 3:
        empty = np.zeros(0)
        return empty, empty, np.zeros(0, dtype=np.int64)
    rmax = 2 ** int(math.floor(math.log2(min(int(range_max), n - 1))))
    rmax = max(rmax, 2)
    with _quiet():
        data = Data(coordinates=pts, maxk=rmax, verbose=False, n_jobs=1)
        ids, errs, ranks = data.return_id_scaling_gride(range_max=rmax, return_ranks=True)
    return np.asarray(ids, dtype=np.float64), np.asarray(errs, dtype=np.float64), np.asarray(ranks)


def gride(x: Tensor | np.ndarray, n1: int = 16) -> float:
    """GRIDE intrinsic dimension at neighbour orders ``(n1, 2·n1)``.

    ``n1`` must be a power of two; if the data has too few unique rows it is lowered to the
    largest power of two with ``2·n1 ≤ n_unique − 1`` (so small prompts still give an
    estimate, at a finer scale). NaN if fewer than 3 unique rows.
    """
    if n1 < 1 or (n1 & (n1 - 1)) != 0:
        raise ValueError("n1 must be a power of two")
    ids, _, _ = gride_scaling(x, range_max=2 * n1)
    return float(ids[-1]) if ids.size else float("nan")


def covariance_eigenvalues(x: Tensor) -> Tensor:
    """Eigenvalues (descending) of the sample covariance of ``x [..., n, d]`` (float64).

    Computed as ``σ² / (n − 1)`` from the singular values of the column-centred ``x``.
    """
    xd = x.to(torch.float64)
    xc = xd - xd.mean(dim=-2, keepdim=True)
    n = xc.shape[-2]
    s = torch.linalg.svdvals(xc)
    return s**2 / max(n - 1, 1)


def pca_dimension(x: Tensor, variance: float = 0.99) -> Tensor:
    """Number of principal components explaining a ``variance`` fraction of ``x [..., n, d]``.

    ``min{k : Σ_{i≤k} λ_i / Σ λ ≥ variance}`` (relative tolerance 1e-9, so exactly rank-r
    data gives r at ``variance = 1``). Returns int64 ``[...]`` (0 for constant data).
    """
    if not 0.0 < variance <= 1.0:
        raise ValueError("variance must be in (0, 1]")
    lam = covariance_eigenvalues(x)
    total = lam.sum(dim=-1, keepdim=True)
    frac = torch.cumsum(lam, dim=-1) / total.clamp_min(1e-300)
    k = (frac < variance - 1e-9).sum(dim=-1) + 1
    return torch.where(total.squeeze(-1) > 0, k, torch.zeros_like(k))


def participation_ratio(x: Tensor) -> Tensor:
    """Participation ratio ``(Σλ)² / Σλ²`` of the covariance of ``x [..., n, d]`` (float64)."""
    lam = covariance_eigenvalues(x)
    return lam.sum(dim=-1) ** 2 / (lam**2).sum(dim=-1)

"""Intrinsic dimension of a point cloud (rows of ``X [n, d]``): nonlinear and linear estimators.

Nonlinear, from each row's sorted neighbour distances ``r_0 = 0 ≤ r_1 ≤ r_2 ≤ …`` (numpy
re-implementations of the estimators of ``dadapy`` 0.3.4, Glielmo et al. 2022, "DADApy:
Distance-based analysis of data-manifolds in Python"; the tests check agreement with dadapy):

- TwoNN (Facco et al. 2017, "Estimating the intrinsic dimension of datasets by a minimal
  neighborhood information"): ``μ_i = r_2(i) / r_1(i)`` is Pareto(ID) distributed; ID is the
  slope of ``−log(1 − F(μ))`` against ``log μ`` through the origin, discarding the largest
  10% of ``μ`` (dadapy ``compute_id_2NN(algorithm="base", mu_fraction=0.9)``).
- GRIDE (Denti et al. 2022, "The generalized ratios intrinsic dimension estimator"):
  maximum likelihood on ``r_{n2} / r_{n1}`` with ``n2 = 2·n1``; scanning ``n1 = 1, 2, 4, …``
  probes coarser scales and is robust to noise (dadapy ``return_id_scaling_gride``).

Both start from the exact Euclidean distance matrix (:func:`pairwise_distances`, ``n²`` float64:
8 MB at ``n = 1000``) and its sorted rows (:func:`neighbour_distances`). The ``*_from_neighbours``
forms are batched over leading dimensions (many clouds, e.g. stream points, in one call) and take
a mask ``keep [..., n]`` of the rows that form each cloud: a left-out row is nobody's neighbour
and gives no ratio, so a caller holding one distance matrix can estimate any subset of its rows.

Duplicates: identical rows give zero neighbour distances and infinite ratios (dadapy warns
and the estimate is biased), so the estimators work on the **unique rows** of ``X``
(exact deduplication, as ``np.unique(axis=0)``; no jitter is added). The number of unique
rows actually used is what limits the available GRIDE scales. :func:`row_labels` and
:func:`first_occurrences` give the same deduplication as a ``keep`` mask.

Linear controls (torch, batched over leading dimensions, on column-centred data with
covariance eigenvalues ``λ``):

- PCA dimension: the smallest ``k`` with ``Σ_{i≤k} λ_i / Σ λ ≥ variance`` (default 0.99).
- Participation ratio ``PR = (Σλ)² / Σλ²`` (Gao et al. 2017; Recanatesi et al. 2022).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable

import numpy as np
import torch
from torch import Tensor

from mspgt_bench.metrics.matrix_entropy import singular_values

__all__ = [
    "covariance_eigenvalues",
    "first_occurrences",
    "gride",
    "gride_from_neighbours",
    "gride_order",
    "gride_scaling",
    "neighbour_distances",
    "pairwise_distances",
    "participation_ratio",
    "pca_dimension",
    "row_labels",
    "twonn",
    "twonn_from_neighbours",
    "unique_rows",
]

_EPS = float(np.finfo(np.float64).eps)
# dadapy's GRIDE search: bisection on [0.001, 1000] down to a bracket of width 1e-7
_GRIDE_BRACKET = (0.001, 1000.0)
_GRIDE_TOL = 1e-7


# -- duplicate rows ----------------------------------------------------------------------------
def _row_keys(rows: np.ndarray) -> np.ndarray:
    """``[..., n]``: one opaque key per row of ``rows [..., n, d]``, equal iff the rows are equal."""
    if not np.all(np.isfinite(rows)):
        raise ValueError("X contains non-finite values")
    # rows compared as raw bytes (np.unique(axis=0) builds a d-field record type per call, 12x
    # slower at d = 576); + 0.0 turns -0.0 into 0.0 so equal values have equal bytes
    rows = np.ascontiguousarray(rows + 0.0)
    return rows.view(np.dtype((np.void, rows.dtype.itemsize * rows.shape[-1])))[..., 0]


def unique_rows(x: Tensor | np.ndarray) -> np.ndarray:
    """``X`` as a float64 numpy ``[n, d]`` array with exact duplicate rows removed (sorted as ``np.unique(axis=0)``)."""
    if isinstance(x, Tensor):
        arr = x.detach().to("cpu", torch.float64).numpy()
    else:
        arr = np.asarray(x, dtype=np.float64)
    arr = arr.reshape(arr.shape[0], -1) if arr.ndim != 2 else arr
    kept = arr[np.unique(_row_keys(arr), return_index=True)[1]]
    return kept[np.lexsort(kept.T[::-1])]


def row_labels(x: np.ndarray) -> np.ndarray:
    """``[..., n]`` int64: a label per row of ``x [..., n, d]``, equal iff the rows are identical (``-0.0 = 0.0``)."""
    keys = _row_keys(np.asarray(x))
    labels = [np.unique(k, return_inverse=True)[1] for k in keys.reshape(-1, keys.shape[-1])]
    return np.stack(labels).reshape(keys.shape)


def first_occurrences(labels: np.ndarray) -> np.ndarray:
    """``[..., n]`` bool: ``True`` at the first row of each label along the last axis of ``labels [..., n]``."""
    order = np.argsort(labels, axis=-1, kind="stable")
    ranked = np.take_along_axis(labels, order, axis=-1)
    first = np.ones(labels.shape, dtype=bool)
    first[..., 1:] = ranked[..., 1:] != ranked[..., :-1]
    keep = np.empty_like(first)
    np.put_along_axis(keep, order, first, axis=-1)
    return keep


# -- neighbour distances -------------------------------------------------------------------
def pairwise_distances(x: Tensor | np.ndarray) -> np.ndarray:
    """``[..., n, n]`` float64 Euclidean distances ``‖x_i − x_j‖`` between the rows of ``x [..., n, d]``.

    Summed from the coordinate differences (``torch.pdist``), not from the Gram expansion
    ``‖x_i‖² + ‖x_j‖² − 2 x_i·x_j`` (scikit-learn's, which loses relative accuracy when the rows
    share a large offset); the diagonal is exactly 0.
    """
    if isinstance(x, Tensor):
        t = x.detach().to("cpu", torch.float64)
    else:
        t = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float64))
    n = t.shape[-2]
    clouds = t.reshape(-1, n, t.shape[-1])
    upper, lower = torch.triu_indices(n, n, offset=1)
    out = torch.zeros(clouds.shape[0], n, n, dtype=torch.float64)
    for cloud, dist in zip(clouds, out):
        pairs = torch.pdist(cloud)
        dist[upper, lower] = pairs
        dist[lower, upper] = pairs
    return out.reshape(*t.shape[:-1], n).numpy()


def neighbour_distances(distances: np.ndarray, k: int, keep: np.ndarray | None = None) -> np.ndarray:
    """``[..., n, k+1]``: each row's sorted ``r_0 ≤ r_1 ≤ … ≤ r_k`` from ``distances [..., n, n]``.

    ``r_0`` is the distance to itself (0), ``r_j`` to its ``j``-th nearest neighbour. Columns
    outside ``keep [..., n]`` are skipped (those rows are not in the cloud); ranks beyond the
    cloud are ``inf``.
    """
    n = distances.shape[-1]
    if keep is not None:
        distances = np.where(keep[..., None, :], distances, np.inf)
    if k + 1 < n:
        distances = np.partition(distances, k, axis=-1)[..., : k + 1]
    r = np.sort(distances, axis=-1)
    return np.pad(r, [(0, 0)] * (r.ndim - 1) + [(0, k + 1 - r.shape[-1])], constant_values=np.inf)


def _all_rows(r: np.ndarray) -> np.ndarray:
    return np.ones(r.shape[:-1], dtype=bool)


# -- TwoNN ---------------------------------------------------------------------------------
def _slope_through_origin(x: np.ndarray, n: np.ndarray, fraction: float) -> np.ndarray:
    """``Σ x_k y_k / Σ x_k²`` over ranks ``k ≤ ⌊n·fraction⌋`` of the sorted ``x [..., m]``, ``y_k = −log(1 − k/n)``."""
    rank = np.arange(1, x.shape[-1] + 1)
    n = n[..., None]
    used = rank <= np.floor(n * fraction)
    y = -np.log(1 - np.where(used, rank / n, 0.0))
    x = np.where(used, x, 0.0)
    return (x * y).sum(axis=-1) / (x * x).sum(axis=-1)


def twonn_from_neighbours(r: np.ndarray, mu_fraction: float = 0.9, keep: np.ndarray | None = None) -> np.ndarray:
    """TwoNN intrinsic dimension ``[...]`` of each cloud from its neighbour distances ``r [..., n, ≥3]``.

    Over the ``N`` rows in ``keep [..., n]`` (default all), ``μ_i = r_2(i) / r_1(i)``; with
    ``x_(1) ≤ … ≤ x_(N)`` the sorted ``log μ`` and ``y_k = −log(1 − k/N)`` (the empirical Pareto
    CDF), the ID is the least-squares slope through the origin over the
    ``n_eff = ⌊N·mu_fraction⌋`` smallest ratios, ``Σ_{k≤n_eff} x_(k) y_k / Σ_{k≤n_eff} x_(k)²``
    (Facco et al. 2017; dadapy 0.3.4 ``compute_id_2NN(algorithm="base", mu_fraction)``, whose
    ``curve_fit`` of ``m·x`` returns this slope to ~1e-9 relative). As in dadapy,
    ``mu_fraction = 1`` switches to the maximum likelihood ``(N − 1) / Σ_i log μ_i``.
    NaN where ``N < 3``.
    """
    keep = _all_rows(r) if keep is None else keep
    n = keep.sum(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_mu = np.where(keep, np.log(r[..., 2] / r[..., 1]), np.inf)
        if math.isclose(mu_fraction, 1.0):
            ids = (n - 1) / np.where(keep, log_mu, 0.0).sum(axis=-1)
        else:
            ids = _slope_through_origin(np.sort(log_mu, axis=-1), n, mu_fraction)
    return np.where(n >= 3, ids, np.nan)


def twonn(x: Tensor | np.ndarray, mu_fraction: float = 0.9) -> float:
    """TwoNN intrinsic dimension of the unique rows of ``x [n, d]`` (NaN if fewer than 3); see :func:`twonn_from_neighbours`."""
    r = neighbour_distances(pairwise_distances(unique_rows(x)), 2)
    return float(twonn_from_neighbours(r, mu_fraction))


# -- GRIDE ---------------------------------------------------------------------------------
def _gride_ratios(r: np.ndarray, n1: np.ndarray | int) -> np.ndarray:
    """``[..., n]``: ``μ = r_{2·n1} / r_{n1}`` per row of ``r [..., n, k+1]`` (``n1`` broadcast over ``[...]``).

    As dadapy: distances below machine epsilon ``ε`` are raised to ``ε`` (``remove_zero_dists``)
    and ``μ = 1`` becomes ``1 + 10ε`` (``_filter_mus``).
    """
    n1 = np.asarray(n1)[..., None, None]

    def rank(k: np.ndarray) -> np.ndarray:
        return np.maximum(np.take_along_axis(r, np.broadcast_to(k, r.shape[:-1] + (1,)), axis=-1)[..., 0], _EPS)

    mus = rank(2 * n1) / rank(n1)
    return np.where(mus == 1, mus + 10 * _EPS, mus)


def _bisect(score: Callable[[np.ndarray], np.ndarray], shape: tuple[int, ...]) -> np.ndarray:
    """Dadapy's bisection for the sign change of ``score`` on ``_GRIDE_BRACKET``, elementwise over ``shape``.

    The bracket end whose score has the sign of ``score(1000)`` moves to the midpoint until the
    bracket is at most ``_GRIDE_TOL`` wide; returns its midpoint.
    """
    lo, hi = (np.full(shape, end) for end in _GRIDE_BRACKET)
    at_hi = score(hi)
    active = np.abs(lo - hi) > _GRIDE_TOL
    while active.any():
        mid = (lo + hi) / 2.0
        same = score(mid) * at_hi > 0
        hi = np.where(active & same, mid, hi)
        lo = np.where(active & ~same, mid, lo)
        active = np.abs(lo - hi) > _GRIDE_TOL
    return (lo + hi) / 2.0


def _gride_mle(mus: np.ndarray, keep: np.ndarray, n1: np.ndarray | int) -> np.ndarray:
    """``[...]``: the GRIDE estimate from the ratios ``mus [..., n]`` of the kept rows (see :func:`gride_from_neighbours`)."""
    mus = np.where(keep, mus, np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # clouds without ratios give NaN anyway
        q95, q50 = np.nanpercentile(mus, [95, 50], axis=-1, keepdims=True)
    used = mus < 20 * (q95 - q50) + q50
    n_used = used.sum(axis=-1)
    log_mu = np.log(mus)
    n1 = np.asarray(n1)[..., None]
    n2 = 2 * n1

    def score(d: np.ndarray) -> np.ndarray:  # dadapy _neg_dloglik_did
        one_minus = np.maximum(1.0 - mus ** -d[..., None], 2 * _GRIDE_TOL)
        terms = ((1 - n2 + n1) / one_minus + n2 - 1.0) * log_mu
        return np.where(used, terms, 0.0).sum(axis=-1) - (n_used - 1) / d

    return _bisect(score, n_used.shape)


def gride_from_neighbours(r: np.ndarray, n1: np.ndarray | int, keep: np.ndarray | None = None) -> np.ndarray:
    """GRIDE intrinsic dimension ``[...]`` of each cloud at orders ``(n1, n2 = 2·n1)`` from ``r [..., n, ≥ n2+1]``.

    ``n1`` is an int or an int array broadcast over the clouds ``[...]``. Denti et al. (2022):
    ``μ_i = r_{n2}(i) / r_{n1}(i)`` has density
    ``f(μ) = d (μ^d − 1)^{n2−n1−1} / (B(n2 − n1, n1) μ^{(n2−1)d+1})``, ``μ > 1``; the estimate
    solves dadapy 0.3.4's score equation (its likelihood has ``N − 1`` where the paper has ``N``)

        ``(N − 1) / d = Σ_i [(n2 − 1) − (n2 − n1 − 1) / (1 − μ_i^{−d})] log μ_i``

    over the ``N`` kept ratios below ``q50 + 20·(q95 − q50)`` (``_filter_mus``: larger ones are
    likely overlapping points), with ``1 − μ^{−d}`` floored at ``2·10⁻⁷``, by bisection on
    ``[0.001, 1000]`` to a bracket of ``10⁻⁷`` (``_utils.utils._argmax_loglik``), the same steps
    for every cloud at once. Rows outside ``keep [..., n]`` (default all) are not in the cloud.
    NaN where fewer than 3 rows are kept.
    """
    keep = _all_rows(r) if keep is None else keep
    with np.errstate(divide="ignore", invalid="ignore"):
        ids = _gride_mle(_gride_ratios(r, n1), keep, n1)
    return np.where(keep.sum(axis=-1) >= 3, ids, np.nan)


def _gride_error(ids: np.ndarray, mus: np.ndarray, n1: np.ndarray) -> np.ndarray:
    """``[...]``: standard error ``I(d)^{−1/2}`` of the GRIDE estimates ``ids [...]`` from all ratios ``mus [..., n]``.

    Fisher information ``I(d) = N/d² + Σ_i (n2 − n1 − 1) (log μ_i / (1 − μ_i^{−d}))² μ_i^{−d}``,
    ``1 − μ^{−d}`` floored at ``5ε`` (dadapy ``_fisher_info_scaling``, on the unfiltered ratios).
    """
    d = ids[..., None]
    n1 = np.asarray(n1)[..., None]
    n2 = 2 * n1
    one_minus = np.maximum(1.0 - mus ** (-1.0 * d), 5 * _EPS)
    terms = (np.log(mus) / one_minus) ** 2 * mus ** (-d)
    info = mus.shape[-1] / ids**2 + ((n2 - n1 - 1) * terms).sum(axis=-1)
    return (1 / info) ** 0.5


def _max_rank(range_max: int, n: int) -> int:
    """The top GRIDE order ``n2`` for ``n`` unique rows: the largest power of two ``≤ min(range_max, n − 1)``, at least 2."""
    return max(2, 1 << (max(1, min(int(range_max), n - 1)).bit_length() - 1))


def gride_order(n1: int, n_unique: int) -> int:
    """The ``n1`` used for ``n_unique`` rows: lowered to the largest power of two with ``2·n1 ≤ n_unique − 1`` (at least 1)."""
    return _max_rank(2 * n1, n_unique) // 2


def gride_scaling(x: Tensor | np.ndarray, range_max: int = 64) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """GRIDE estimates at scales ``n2 = 2, 4, …, range_max`` (``n1 = n2 / 2``) on the unique rows of ``x``.

    ``range_max`` is lowered to the largest power of two ``≤ n_unique − 1``. Returns
    ``(ids, standard_errors, n2_ranks)`` as numpy arrays (empty if ``n_unique < 3``), as dadapy
    0.3.4 ``return_id_scaling_gride(range_max, return_ranks=True)``: the estimates of
    :func:`gride_from_neighbours`, their errors from the Fisher information.
    """
    pts = unique_rows(x)
    if pts.shape[0] < 3:
        empty = np.zeros(0)
        return empty, empty, np.zeros(0, dtype=np.int64)
    ranks = 2 ** np.arange(1, _max_rank(range_max, pts.shape[0]).bit_length())
    r = neighbour_distances(pairwise_distances(pts), int(ranks[-1]))
    scales = np.broadcast_to(r, (len(ranks), *r.shape))
    mus = _gride_ratios(scales, ranks // 2)
    ids = _gride_mle(mus, _all_rows(scales), ranks // 2)
    return ids, _gride_error(ids, mus, ranks // 2), ranks


def gride(x: Tensor | np.ndarray, n1: int = 16) -> float:
    """GRIDE intrinsic dimension of the unique rows of ``x [n, d]`` at neighbour orders ``(n1, 2·n1)``.

    ``n1`` must be a power of two; if the data has too few unique rows it is lowered to the
    largest power of two with ``2·n1 ≤ n_unique − 1`` (:func:`gride_order`; small prompts still
    give an estimate, at a finer scale). NaN if fewer than 3 unique rows. See
    :func:`gride_from_neighbours`.
    """
    if n1 < 1 or (n1 & (n1 - 1)) != 0:
        raise ValueError("n1 must be a power of two")
    pts = unique_rows(x)
    n1 = gride_order(n1, pts.shape[0])
    r = neighbour_distances(pairwise_distances(pts), 2 * n1)
    return float(gride_from_neighbours(r, n1))


# -- linear controls -----------------------------------------------------------------------
def covariance_eigenvalues(x: Tensor) -> Tensor:
    """Eigenvalues (descending) of the sample covariance of ``x [..., n, d]`` (float64).

    Computed as ``σ² / (n − 1)`` from the singular values of the column-centred ``x``.
    """
    xd = x.to(torch.float64)
    xc = xd - xd.mean(dim=-2, keepdim=True)
    n = xc.shape[-2]
    s = singular_values(xc)
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

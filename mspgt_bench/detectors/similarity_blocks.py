"""Contiguous block segmentation of a layer×layer similarity matrix (CKA, 1 − angular distance).

Method: the similarity matrix S is treated as a kernel over layers, and a contiguous block
B = [a, b) costs its kernel scatter (kernel change-point cost; Arlot, Celisse & Harchaoui 2019,
JMLR 20:1–56, "A kernel multiple change-point algorithm via model selection")

    C(B) = Σ_{i∈B} S_ii − (1/|B|) Σ_{i,j∈B} S_ij = (1/|B|) Σ_{i,j∈B} D_ij,

with the within-block "distance" D_ij = (S_ii + S_jj)/2 − S_ij (the second form needs S
symmetric). With a unit diagonal (CKA, 1 − angular distance)
D = 1 − S and ``Σ_B C(B) = L − Σ_B |B| · mean_{i,j∈B} S_ij``: minimising the total cost is
maximising the size-weighted mean within-block similarity. For each number of blocks K the
exact minimiser over contiguous partitions with blocks of at least ``min_size`` layers is found
by dynamic programming (O(K·L²) with 2-D prefix sums).

The number of blocks is chosen by a declared criterion:

- ``"penalty"``: minimise ``cost_K + pen · (K − 1)``;
- ``"bic"``: treat the scatter as the residual sum of squares of a one-dimensional Gaussian
  model with one mean per block (the feature space's dimension is unknown), giving
  ``BIC_K = L·log(cost_K / L) + (2K − 1)·log L`` ((K − 1) boundary positions and K means).
  This is a heuristic analogue of ``changepoint.detect_bic``, not a likelihood of S.
  A floor of ``1e-12 · cost_1`` keeps the logarithm finite.

A uniform matrix (all off-diagonal similarities equal to c) has ``cost_K = (1 − c)(L − K)``:
extra blocks gain about one unit of ``L·log cost`` each, far below ``2·log L``, so one block.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

from mspgt_bench.detectors.base import CandidateFit, Segmentation

DEFAULT_MAX_BLOCKS = 7


def as_similarity_matrix(similarity: ArrayLike) -> np.ndarray:
    """Return ``similarity`` as a float ``[L, L]`` array, checked finite and symmetric.

    Raises ValueError otherwise (symmetry within ``atol=1e-8``, ``rtol=1e-6``).
    """
    s = np.asarray(similarity, dtype=float)
    if s.ndim != 2 or s.shape[0] != s.shape[1] or s.shape[0] < 1:
        raise ValueError(f"similarity must be a square [L, L] matrix, got shape {s.shape}")
    if not np.all(np.isfinite(s)):
        raise ValueError("similarity contains NaN or inf")
    if not np.allclose(s, s.T, rtol=1e-6, atol=1e-8):
        raise ValueError("similarity must be symmetric")
    return s


def block_costs(similarity: ArrayLike) -> np.ndarray:
    """``C[a, b]``: kernel scatter of the block ``[a, b)`` (``0 <= a < b <= L``); NaN elsewhere."""
    s = as_similarity_matrix(similarity)
    n = s.shape[0]
    prefix = np.zeros((n + 1, n + 1))
    prefix[1:, 1:] = s.cumsum(axis=0).cumsum(axis=1)
    diag_prefix = np.concatenate(([0.0], np.cumsum(np.diag(s))))
    a, b = np.meshgrid(np.arange(n + 1), np.arange(n + 1), indexing="ij")
    valid = b > a
    block_sum = prefix[b, b] - prefix[a, b] - prefix[b, a] + prefix[a, a]
    size = np.where(valid, b - a, 1)
    return np.where(valid, diag_prefix[b] - diag_prefix[a] - block_sum / size, np.nan)


def max_blocks_possible(n_layers: int, min_size: int) -> int:
    """The most blocks of at least ``min_size`` layers that ``n_layers`` layers can hold."""
    return max(n_layers // min_size, 1)


def block_path(
    similarity: ArrayLike, max_blocks: int, *, min_size: int = 2
) -> tuple[CandidateFit, ...]:
    """Exact minimum-cost contiguous partitions into K = 1..max_blocks blocks.

    Entry K − 1 holds the K-block partition (``n_boundaries = K − 1``) and its total cost;
    scores are NaN. ``max_blocks`` is capped at what ``min_size`` allows. A matrix with fewer
    than ``min_size`` layers yields the single block.
    """
    if min_size < 1:
        raise ValueError(f"min_size must be >= 1, got {min_size}")
    if max_blocks < 1:
        raise ValueError(f"max_blocks must be >= 1, got {max_blocks}")
    cost = block_costs(similarity)
    n = cost.shape[0] - 1
    top = min(max_blocks, max_blocks_possible(n, min_size))
    # best[k, e]: least cost of covering layers [0, e) with k + 1 blocks;
    # start[k, e]: where the last of those blocks starts.
    best = np.full((top, n + 1), np.inf)
    start = np.zeros((top, n + 1), dtype=int)
    best[0, min_size:] = cost[0, min_size:]
    for k in range(1, top):
        for e in range((k + 1) * min_size, n + 1):
            starts = np.arange(k * min_size, e - min_size + 1)
            totals = best[k - 1, starts] + cost[starts, e]
            i = int(np.argmin(totals))
            best[k, e], start[k, e] = totals[i], starts[i]
    fits = [CandidateFit(0, (), float(cost[0, n]))]
    for k in range(1, top):
        boundaries: list[int] = []
        e = n
        for level in range(k, 0, -1):
            e = int(start[level, e])
            boundaries.append(e)
        fits.append(CandidateFit(k, tuple(sorted(boundaries)), float(best[k, n])))
    return tuple(fits)


def best_blocks(similarity: ArrayLike, n_blocks: int, *, min_size: int = 2) -> CandidateFit:
    """The exact minimum-cost partition into ``n_blocks`` contiguous blocks.

    Raises ValueError when ``min_size`` makes ``n_blocks`` impossible.
    """
    n = as_similarity_matrix(similarity).shape[0]
    if not 1 <= n_blocks <= max_blocks_possible(n, min_size):
        raise ValueError(f"{n_blocks} blocks impossible on {n} layers with min_size {min_size}")
    return block_path(similarity, n_blocks, min_size=min_size)[n_blocks - 1]


def segment_similarity(
    similarity: ArrayLike,
    *,
    criterion: Literal["bic", "penalty"] = "bic",
    pen: float | None = None,
    max_blocks: int = DEFAULT_MAX_BLOCKS,
    min_size: int = 2,
) -> Segmentation:
    """Contiguous blocks of a similarity matrix, their number chosen by BIC or a penalty.

    ``pen`` is required for (and only allowed with) ``criterion="penalty"``. The table has one
    entry per number of blocks (``n_boundaries = K − 1``) with its cost and criterion value;
    ties go to fewer blocks.
    """
    if criterion == "penalty":
        if pen is None or not math.isfinite(pen) or pen < 0:
            raise ValueError(f"criterion 'penalty' needs a finite non-negative pen, got {pen!r}")
    elif criterion == "bic":
        if pen is not None:
            raise ValueError("pen is only used with criterion 'penalty'")
    else:
        raise ValueError(f"unknown criterion {criterion!r}; expected 'bic' or 'penalty'")
    matrix = as_similarity_matrix(similarity)
    n = matrix.shape[0]
    path = block_path(matrix, max_blocks, min_size=min_size)
    if criterion == "penalty":
        scores = [f.cost + pen * f.n_boundaries for f in path]
    else:
        floor = max(1e-12 * path[0].cost, np.finfo(float).tiny)
        scores = [
            n * math.log(max(f.cost, floor) / n) + (2 * f.n_boundaries + 1) * math.log(n)
            for f in path
        ]
    table = tuple(
        CandidateFit(f.n_boundaries, f.boundaries, f.cost, score) for f, score in zip(path, scores)
    )
    chosen = min(table, key=lambda f: (f.score, f.n_boundaries))
    return Segmentation(chosen.boundaries, n, f"blocks-{criterion}", chosen.cost, table)

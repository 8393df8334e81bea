"""Monte-Carlo permutation tests, two-sample and paired (Good 2005, "Permutation, Parametric
and Bootstrap Tests of Hypotheses").

- Two-sample: under H₀ the group labels are exchangeable; the pooled rows are randomly
  re-split into groups of the original sizes. Default statistic ``mean(x) − mean(y)``.
- Paired: under H₀ each difference ``d_i = x_i − y_i`` is symmetric about 0; signs are
  flipped independently at random. Default statistic ``mean(d)``.

p-value with the +1 correction (Phipson & Smyth 2010, "Permutation P-values Should Never
Be Zero"): ``p = (1 + #{T* at least as extreme as T_obs}) / (1 + n_permutations)``.
"At least as extreme": ``|T*| ≥ |T_obs|`` (two-sided), ``T* ≥ T_obs`` (greater),
``T* ≤ T_obs`` (less), with a relative tolerance of 1e-12 so that ties count as extreme.

Rows are the first axis; trailing axes are tested element-wise with the same permutations
(e.g. ``[n_stimuli, n_layers]`` gives one p-value per layer), vectorised for the default
statistics.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, NamedTuple

import numpy as np

__all__ = ["PermutationResult", "permutation_test"]

Alternative = Literal["two-sided", "greater", "less"]
_CHUNK_ELEMENTS = 1 << 22


class PermutationResult(NamedTuple):
    """Observed statistic and p-value (arrays with the statistic's shape; 0-d for scalars)."""

    statistic: np.ndarray
    pvalue: np.ndarray
    n_permutations: int


def _extreme(tstar: np.ndarray, tobs: np.ndarray, alternative: Alternative) -> np.ndarray:
    tol = 1e-12 * np.abs(tobs)
    if alternative == "two-sided":
        return np.abs(tstar) >= np.abs(tobs) - tol
    if alternative == "greater":
        return tstar >= tobs - tol
    if alternative == "less":
        return tstar <= tobs + tol
    raise ValueError(f"alternative must be 'two-sided', 'greater' or 'less', got {alternative!r}")


def permutation_test(
    x: np.ndarray,
    y: np.ndarray,
    paired: bool = False,
    statistic: Callable[[np.ndarray, np.ndarray], np.ndarray | float] | None = None,
    n_permutations: int = 9999,
    alternative: Alternative = "two-sided",
    rng: np.random.Generator | int | None = None,
) -> PermutationResult:
    """Permutation test of ``x`` vs ``y`` (rows = observations).

    Args:
        x, y: ``[n_x, ...]`` and ``[n_y, ...]`` (``n_x = n_y`` when ``paired``).
        paired: sign-flip test on ``x − y`` instead of a label permutation.
        statistic: ``None`` for the mean difference, or ``f(x, y)`` (axis-0 semantics),
            called once per permutation (slower).
        n_permutations: number of random permutations.
        alternative: ``"two-sided"``, ``"greater"`` (x > y) or ``"less"``.
        rng: ``np.random.Generator`` or seed.
    """
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    xa = np.asarray(x, dtype=np.float64)
    ya = np.asarray(y, dtype=np.float64)
    if xa.shape[1:] != ya.shape[1:]:
        raise ValueError("x and y must have the same trailing shape")
    if paired and xa.shape[0] != ya.shape[0]:
        raise ValueError("paired test needs len(x) == len(y)")
    if n_permutations < 1:
        raise ValueError("n_permutations must be >= 1")
    nx, ny = xa.shape[0], ya.shape[0]
    out_shape = xa.shape[1:] if statistic is None else np.shape(statistic(xa, ya))

    count = np.zeros(int(np.prod(out_shape, dtype=np.int64)), dtype=np.int64)
    if statistic is None and paired:
        d = (xa - ya).reshape(nx, -1)
        tobs = d.mean(axis=0)
        chunk = max(1, _CHUNK_ELEMENTS // max(nx, 1))
        for start in range(0, n_permutations, chunk):
            c = min(chunk, n_permutations - start)
            signs = gen.integers(0, 2, size=(c, nx)).astype(np.float64) * 2.0 - 1.0
            tstar = signs @ d / nx
            count += _extreme(tstar, tobs, alternative).sum(axis=0)
    elif statistic is None:
        pooled = np.concatenate([xa, ya], axis=0).reshape(nx + ny, -1)
        total = pooled.sum(axis=0)
        tobs = pooled[:nx].mean(axis=0) - pooled[nx:].mean(axis=0)
        n = nx + ny
        chunk = max(1, _CHUNK_ELEMENTS // n)
        for start in range(0, n_permutations, chunk):
            c = min(chunk, n_permutations - start)
            perms = gen.permuted(np.tile(np.arange(n), (c, 1)), axis=1)
            w = np.zeros((c, n))
            np.put_along_axis(w, perms[:, :nx], 1.0, axis=1)
            sx = w @ pooled
            tstar = sx / nx - (total[None, :] - sx) / ny
            count += _extreme(tstar, tobs, alternative).sum(axis=0)
    else:
        tobs = np.asarray(statistic(xa, ya), dtype=np.float64).reshape(-1)
        if paired:
            for _ in range(n_permutations):
                flip = gen.integers(0, 2, size=nx).astype(bool)
                flip_b = flip.reshape((nx,) + (1,) * (xa.ndim - 1))
                xs = np.where(flip_b, ya, xa)
                ys = np.where(flip_b, xa, ya)
                tstar = np.asarray(statistic(xs, ys), dtype=np.float64).reshape(-1)
                count += _extreme(tstar, tobs, alternative)
        else:
            pooled = np.concatenate([xa, ya], axis=0)
            for _ in range(n_permutations):
                perm = gen.permutation(nx + ny)
                tstar = np.asarray(statistic(pooled[perm[:nx]], pooled[perm[nx:]]), dtype=np.float64).reshape(-1)
                count += _extreme(tstar, tobs, alternative)

    pvalue = (1.0 + count) / (1.0 + n_permutations)
    return PermutationResult(
        np.asarray(tobs).reshape(out_shape), pvalue.reshape(out_shape), int(n_permutations)
    )

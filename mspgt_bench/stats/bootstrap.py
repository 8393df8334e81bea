"""Nonparametric bootstrap confidence intervals over stimuli (Efron & Tibshirani 1993).

Resampling unit: the first axis of ``samples`` (one row per stimulus). Every other axis is
carried along, so a ``[n_stimuli, n_layers]`` matrix yields per-layer intervals from one
call, and each resample keeps the rows of a stimulus together (layers stay paired).

Methods:

- ``"percentile"``: ``[Q_{(1−level)/2}, Q_{(1+level)/2}]`` of the bootstrap distribution
  ``θ*_b`` (linear interpolation between order statistics, numpy's default).
- ``"bca"`` (bias-corrected and accelerated; Efron 1987, "Better Bootstrap Confidence
  Intervals"): bias ``z₀ = Φ⁻¹(#{θ*_b < θ̂}/B + ½·#{θ*_b = θ̂}/B)`` (the proportion is
  kept within ``[½/B, 1 − ½/B]`` so ``z₀`` stays finite), jackknife acceleration
  ``a = Σ(θ̄₍·₎ − θ₍ᵢ₎)³ / (6 [Σ(θ̄₍·₎ − θ₍ᵢ₎)²]^{3/2})`` (``a = 0`` when the jackknife
  values are all equal), and the interval is ``[Q_{α₁}, Q_{α₂}]`` with
  ``α_{1,2} = Φ(z₀ + (z₀ + z_{α}) / (1 − a(z₀ + z_{α})))`` for ``z_α = Φ⁻¹((1 ∓ level)/2)``.

The point estimate is the statistic on the full sample (not the bootstrap mean).
The default statistic (mean over axis 0) is vectorised: each resample is a multinomial
count vector, so the bootstrap means are one matrix product. A custom statistic is a
callable on an **index array**: ``statistic(idx) -> array_like`` evaluated on the rows
``idx`` of the caller's data (use :func:`resample_indices` directly when a dataset-level
statistic must be recomputed per resample).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, NamedTuple

import numpy as np
from scipy.special import ndtr, ndtri

__all__ = ["BootstrapCI", "bootstrap_ci", "resample_indices"]

Statistic = Callable[[np.ndarray], "np.ndarray | float"]

_CHUNK_ELEMENTS = 1 << 22  # resamples are generated in blocks of about this many indices


class BootstrapCI(NamedTuple):
    """``(estimate, lo, hi)``; arrays with the statistic's shape (0-d for a scalar)."""

    estimate: np.ndarray
    lo: np.ndarray
    hi: np.ndarray


def _rng(rng: np.random.Generator | int | None) -> np.random.Generator:
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


def resample_indices(n: int, n_boot: int, rng: np.random.Generator | int | None = None) -> np.ndarray:
    """``[n_boot, n]`` int64 array; row ``b`` holds the ``n`` indices (drawn uniformly with
    replacement from ``0 … n−1``) of bootstrap resample ``b``."""
    if n < 1 or n_boot < 1:
        raise ValueError("n and n_boot must be >= 1")
    return _rng(rng).integers(0, n, size=(n_boot, n), dtype=np.int64)


def _counts(idx: np.ndarray, n: int) -> np.ndarray:
    b = idx.shape[0]
    flat = (idx + n * np.arange(b, dtype=np.int64)[:, None]).ravel()
    return np.bincount(flat, minlength=b * n).reshape(b, n).astype(np.float64)


def _quantile_columns(sorted_boot: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Per-column quantile ``q[j]`` of ``sorted_boot [B, m]`` with linear interpolation."""
    b = sorted_boot.shape[0]
    pos = np.clip(q, 0.0, 1.0) * (b - 1)
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, b - 1)
    frac = pos - lo
    cols = np.arange(sorted_boot.shape[1])
    a = sorted_boot[lo, cols]
    c = sorted_boot[hi, cols]
    return a + frac * (c - a)


def bootstrap_ci(
    samples: np.ndarray,
    statistic: Statistic | None = None,
    n_boot: int = 2000,
    level: float = 0.95,
    method: Literal["percentile", "bca"] = "percentile",
    rng: np.random.Generator | int | None = None,
) -> BootstrapCI:
    """Bootstrap interval for a statistic of ``samples [n, ...]`` resampled along axis 0.

    Args:
        samples: ``[n, ...]`` data (n ≥ 2). With a custom ``statistic`` only ``len(samples)``
            is used (pass the data or ``np.arange(n)``).
        statistic: ``None`` for the mean over axis 0 (vectorised), or a callable on an index
            array returning an array-like of fixed shape.
        n_boot: number of resamples B.
        level: two-sided confidence level in (0, 1).
        method: ``"percentile"`` or ``"bca"``.
        rng: a ``np.random.Generator`` (or a seed).

    Returns:
        :class:`BootstrapCI` ``(estimate, lo, hi)``. NaNs in the data propagate.
    """
    if not 0.0 < level < 1.0:
        raise ValueError("level must be in (0, 1)")
    if method not in ("percentile", "bca"):
        raise ValueError(f"method must be 'percentile' or 'bca', got {method!r}")
    gen = _rng(rng)
    n = len(samples)
    if n < 2:
        raise ValueError("need at least 2 samples")

    if statistic is None:
        data = np.asarray(samples, dtype=np.float64)
        flat = data.reshape(n, -1)
        out_shape = data.shape[1:]
        estimate = flat.mean(axis=0)
        chunk = max(1, _CHUNK_ELEMENTS // n)
        parts = []
        for start in range(0, n_boot, chunk):
            idx = resample_indices(n, min(chunk, n_boot - start), gen)
            parts.append(_counts(idx, n) @ flat / n)
        boot = np.concatenate(parts, axis=0)
        jack = ((flat.sum(axis=0)[None, :] - flat) / (n - 1)) if method == "bca" else None
    else:
        est_arr = np.asarray(statistic(np.arange(n)), dtype=np.float64)
        out_shape = est_arr.shape
        estimate = est_arr.reshape(-1)
        boot = np.empty((n_boot, estimate.size))
        for start in range(0, n_boot, max(1, _CHUNK_ELEMENTS // n)):
            stop = min(n_boot, start + max(1, _CHUNK_ELEMENTS // n))
            idx = resample_indices(n, stop - start, gen)
            for r, row in enumerate(idx):
                boot[start + r] = np.asarray(statistic(row), dtype=np.float64).reshape(-1)
        jack = None
        if method == "bca":
            allidx = np.arange(n)
            jack = np.stack(
                [np.asarray(statistic(np.delete(allidx, i)), dtype=np.float64).reshape(-1) for i in range(n)]
            )

    alpha = (1.0 - level) / 2.0
    if method == "percentile":
        lo, hi = np.quantile(boot, [alpha, 1.0 - alpha], axis=0)
    else:
        assert jack is not None
        b = boot.shape[0]
        prop = ((boot < estimate).sum(axis=0) + 0.5 * (boot == estimate).sum(axis=0)) / b
        z0 = ndtri(np.clip(prop, 0.5 / b, 1.0 - 0.5 / b))
        dev = jack.mean(axis=0) - jack
        num = (dev**3).sum(axis=0)
        den = 6.0 * ((dev**2).sum(axis=0)) ** 1.5
        with np.errstate(invalid="ignore", divide="ignore"):
            acc = np.where(den > 0, num / np.where(den > 0, den, 1.0), 0.0)
        qs = []
        for z_alpha in (ndtri(alpha), ndtri(1.0 - alpha)):
            zz = z0 + z_alpha
            qs.append(ndtr(z0 + zz / (1.0 - acc * zz)))
        sorted_boot = np.sort(boot, axis=0)
        lo = _quantile_columns(sorted_boot, qs[0])
        hi = _quantile_columns(sorted_boot, qs[1])
        nan_cols = np.isnan(boot).any(axis=0) | np.isnan(estimate)
        lo = np.where(nan_cols, np.nan, lo)
        hi = np.where(nan_cols, np.nan, hi)

    return BootstrapCI(
        np.asarray(estimate).reshape(out_shape),
        np.asarray(lo).reshape(out_shape),
        np.asarray(hi).reshape(out_shape),
    )

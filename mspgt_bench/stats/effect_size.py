"""Standardised mean differences (Cohen 1988; Hedges 1981; Lakens 2013).

- Cohen's d (pooled): ``d = (x̄ − ȳ) / s_p``,
  ``s_p = √(((n_x − 1)s_x² + (n_y − 1)s_y²) / (n_x + n_y − 2))`` with unbiased variances.
- Hedges' g: ``g = J(ν)·d``, ``ν = n_x + n_y − 2``, exact small-sample correction
  ``J(ν) = Γ(ν/2) / (√(ν/2) Γ((ν − 1)/2))`` (≈ ``1 − 3/(4ν − 1)``; Hedges 1981).
- Paired d (Cohen's ``d_z``): ``mean(x − y) / sd(x − y)`` (sd with ``n − 1``).

All functions reduce over ``axis`` (default 0, the observation axis) so ``[n, n_layers]``
inputs give one effect size per layer. A zero denominator gives ±inf (or NaN for 0/0).
"""

from __future__ import annotations

import numpy as np
from scipy.special import gammaln

__all__ = ["cohens_d", "hedges_correction", "hedges_g", "paired_d"]


def cohens_d(x: np.ndarray, y: np.ndarray, axis: int = 0) -> np.ndarray:
    """Cohen's d with pooled standard deviation (needs ``n_x + n_y > 2``)."""
    xa = np.asarray(x, dtype=np.float64)
    ya = np.asarray(y, dtype=np.float64)
    nx, ny = xa.shape[axis], ya.shape[axis]
    if nx + ny <= 2:
        raise ValueError("need n_x + n_y > 2")
    vx = xa.var(axis=axis, ddof=1) if nx > 1 else np.zeros_like(xa.mean(axis=axis))
    vy = ya.var(axis=axis, ddof=1) if ny > 1 else np.zeros_like(ya.mean(axis=axis))
    sp = np.sqrt(((nx - 1) * vx + (ny - 1) * vy) / (nx + ny - 2))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray((xa.mean(axis=axis) - ya.mean(axis=axis)) / sp)


def hedges_correction(dof: float) -> float:
    """Exact Hedges correction ``J(ν) = Γ(ν/2) / (√(ν/2) Γ((ν−1)/2))`` for ``ν > 1``."""
    if dof <= 1:
        raise ValueError("degrees of freedom must be > 1")
    return float(np.exp(gammaln(dof / 2.0) - gammaln((dof - 1.0) / 2.0)) / np.sqrt(dof / 2.0))


def hedges_g(x: np.ndarray, y: np.ndarray, axis: int = 0) -> np.ndarray:
    """Hedges' g = ``J(n_x + n_y − 2) · d`` (bias-corrected Cohen's d)."""
    nx = np.asarray(x).shape[axis]
    ny = np.asarray(y).shape[axis]
    return np.asarray(hedges_correction(nx + ny - 2) * cohens_d(x, y, axis=axis))


def paired_d(x: np.ndarray, y: np.ndarray, axis: int = 0) -> np.ndarray:
    """Paired standardised difference ``d_z = mean(x − y) / sd(x − y)``."""
    d = np.asarray(x, dtype=np.float64) - np.asarray(y, dtype=np.float64)
    if d.shape[axis] < 2:
        raise ValueError("need at least 2 pairs")
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(d.mean(axis=axis) / d.std(axis=axis, ddof=1))

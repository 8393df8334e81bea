"""Putting per-layer signal profiles on a common scale: z-scoring, linear fusion, stacking.

Linear fusion follows the MSPGT v1 rule (Zhang & Dong, arXiv 2505.18244 v1)
``S(l) = α·S_probe(l) + β·S_attn(l) + γ·S_MI(l)`` with α + β + γ = 1, applied here to
z-scored profiles so that no signal dominates through its units. Stacking keeps the signals
as separate columns of an ``[L, k]`` array for multivariate change-point detection instead.

Signs are not aligned here: a profile whose informative change has the opposite sign to the
others (entropy rising where KL falls) cancels in a weighted sum, so callers negate such
profiles before fusing.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
from numpy.typing import ArrayLike


def zscore(profile: ArrayLike) -> np.ndarray:
    """Standardise a profile over layers: ``(x - mean) / std`` with the population std.

    A 1-D profile ``[L]`` is standardised as a whole; a 2-D ``[L, k]`` array column by column.
    A constant profile (or column) carries no layer information and maps to zeros.
    Raises ValueError on non-finite values or an empty profile.
    """
    x = np.asarray(profile, dtype=float)
    if x.ndim not in (1, 2) or x.shape[0] == 0:
        raise ValueError(f"profile must be a non-empty [L] or [L, k] array, got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError("profile contains NaN or inf")
    centred = x - x.mean(axis=0)
    std = x.std(axis=0)
    return np.divide(centred, std, out=np.zeros_like(centred), where=std > 0)


def _validated_profiles(profiles: Mapping[str, ArrayLike]) -> dict[str, np.ndarray]:
    if not profiles:
        raise ValueError("no profiles given")
    arrays = {name: np.asarray(p, dtype=float) for name, p in profiles.items()}
    lengths = set()
    for name, arr in arrays.items():
        if arr.ndim != 1:
            raise ValueError(f"profile {name!r} must be 1-D [L], got shape {arr.shape}")
        lengths.add(arr.shape[0])
    if len(lengths) != 1:
        lengths_by_name = {name: arr.shape[0] for name, arr in arrays.items()}
        raise ValueError(f"profiles differ in length: {lengths_by_name}")
    return arrays


def fuse_profiles(
    profiles: Mapping[str, ArrayLike],
    weights: Mapping[str, float],
    *,
    require_unit_sum: bool = False,
) -> np.ndarray:
    """Weighted sum of z-scored 1-D profiles, ``S(l) = Σ_s w_s · zscore(profile_s)(l)``.

    ``weights`` must have exactly the keys of ``profiles``, be finite and non-negative, and
    not all zero. With ``require_unit_sum=True`` they must also sum to 1 (within 1e-9), as the
    MSPGT v1 rule requires (α + β + γ = 1). Without it, any non-negative weights are accepted:
    scaling all weights by c > 0 scales the fused profile by c, which leaves BIC-type choices
    of the number of boundaries unchanged (they depend on log RSS differences) but changes
    what a fixed numeric penalty means.
    Raises ValueError on any violation.
    """
    arrays = _validated_profiles(profiles)
    if set(weights) != set(arrays):
        missing = sorted(set(arrays) - set(weights))
        extra = sorted(set(weights) - set(arrays))
        raise ValueError(f"weights must match profile names: missing {missing}, unknown {extra}")
    w = {name: float(weights[name]) for name in arrays}
    bad = {name: v for name, v in w.items() if not math.isfinite(v) or v < 0}
    if bad:
        raise ValueError(f"weights must be finite and non-negative, got {bad}")
    total = sum(w.values())
    if total == 0:
        raise ValueError("all weights are zero")
    if require_unit_sum and abs(total - 1.0) > 1e-9:
        raise ValueError(f"weights must sum to 1 (MSPGT v1 rule), got {total!r}")
    return sum(w[name] * zscore(arr) for name, arr in arrays.items())


def stack_profiles(profiles: Mapping[str, ArrayLike], *, standardize: bool = True) -> np.ndarray:
    """Stack 1-D profiles as the columns of an ``[L, k]`` array, in the mapping's order.

    With ``standardize=True`` (default) each column is z-scored, which the multivariate
    change-point criteria assume (one noise variance shared by all columns).
    Raises ValueError on an empty mapping or profiles of different lengths.
    """
    arrays = _validated_profiles(profiles)
    stacked = np.column_stack(list(arrays.values()))
    return zscore(stacked) if standardize else stacked

"""Putting per-layer signal profiles on a common scale: z-scoring over layers.

The detectors that combine profiles of different units standardise them first: the
``changepoint`` detector's stacked or summed fusion and the MSPGT v1 rule's
``S(l) = α·S_probe(l) + β·S_attn(l) + γ·S_MI(l)`` (``detectors.plugins``).
"""

from __future__ import annotations

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

"""The MSPGT v1 boundary rule on the adjacent-layer mutual-information series.

Source: Zhang & Dong, arXiv 2505.18244 v1: with m the mutual information between adjacent
layers and Δ its first difference, a boundary lies where Δ falls more than 2σ below its mean.
We state the rule precisely:

    Δ[j] = m[j+1] − m[j]  for j = 0..len(m) − 2;
    flag j  iff  Δ[j] < mean(Δ) − factor · std(Δ),

with the sample standard deviation (ddof = 1) and ``factor = 2.0`` by default. A constant Δ
flags nothing; so that rounding in a linear series cannot create boundaries, "constant" means
std(Δ) at most 1e-9 of max |Δ|. Every flagged j is reported, so a drop spread over two
adjacent pairs can give two adjacent boundaries; the flagged drop itself inflates std(Δ), so
several drops in a short series can mask each other.

Mapping to the layer-boundary convention (a boundary is the first layer of a new segment).
Each MI value belongs to a pair of adjacent layers, and a flagged Δ[j] says that the pair
behind m[j+1] is much less coupled than the pair before it; the boundary is the later layer of
that pair:

- ``len(m) == L − 1``: ``m[p] = MI(layer p, layer p+1)`` → boundary ``b = j + 2``;
- ``len(m) == L``: ``m[p] = MI(layer p−1, layer p)``, layer −1 being the embedding output
  (HF ``hidden_states[0]``) → boundary ``b = j + 1``.

Both give ``1 <= b <= L − 1``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from mspgt_bench.detectors.base import Segmentation


@dataclass(frozen=True, eq=False)
class V1RuleResult:
    """The rule's boundaries with the first differences and the threshold they were held to.

    Compared by identity (``eq=False``) because it holds an array.
    """

    segmentation: Segmentation
    differences: np.ndarray
    threshold: float


def v1_rule(mi: ArrayLike, n_layers: int, *, factor: float = 2.0) -> V1RuleResult:
    """Boundaries where the MI first difference falls ``factor`` sample stds below its mean.

    ``mi`` has length ``n_layers − 1`` or ``n_layers`` (see the module docstring for which
    layers each entry pairs and how flagged differences map to boundaries). Needs at least
    three MI values (two differences). Raises ValueError on other lengths, non-finite values,
    or a negative ``factor``.
    """
    m = np.asarray(mi, dtype=float)
    if m.ndim != 1 or m.shape[0] not in (n_layers - 1, n_layers):
        raise ValueError(
            f"mi must be 1-D of length n_layers - 1 or n_layers ({n_layers - 1} or {n_layers}), "
            f"got shape {m.shape}"
        )
    if m.shape[0] < 3:
        raise ValueError(f"the rule needs at least 3 MI values, got {m.shape[0]}")
    if not np.all(np.isfinite(m)):
        raise ValueError("mi contains NaN or inf")
    if factor < 0:
        raise ValueError(f"factor must be non-negative, got {factor}")
    differences = np.diff(m)
    spread = float(differences.std(ddof=1))
    threshold = float(differences.mean()) - factor * spread
    offset = 2 if m.shape[0] == n_layers - 1 else 1
    constant = spread <= 1e-9 * float(np.abs(differences).max())
    flagged = np.array([], dtype=int) if constant else np.flatnonzero(differences < threshold)
    segmentation = Segmentation(
        tuple(int(j) + offset for j in flagged), n_layers, f"v1-rule(factor={factor:g})"
    )
    return V1RuleResult(segmentation, differences, threshold)

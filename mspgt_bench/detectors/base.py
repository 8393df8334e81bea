"""Result types shared by the boundary detectors.

Boundary convention (used by every detector in this package): a boundary ``b`` is the index
of the first layer of a new segment. Boundaries ``(b1, b2)`` on ``L`` layers therefore give
the segments ``[0, b1)``, ``[b1, b2)``, ``[b2, L)``, and every boundary satisfies
``0 < b < L``. Boundaries are stored as sorted tuples of Python ints.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass


def validate_boundaries(boundaries: Iterable[int], n_layers: int) -> tuple[int, ...]:
    """Return ``boundaries`` as a sorted tuple of ints after checking ``0 < b < n_layers``.

    Raises ValueError on duplicates, out-of-range values or ``n_layers < 1``.
    """
    if n_layers < 1:
        raise ValueError(f"n_layers must be >= 1, got {n_layers}")
    result = tuple(sorted(int(b) for b in boundaries))
    if len(set(result)) != len(result):
        raise ValueError(f"duplicate boundaries: {result}")
    if result and (result[0] <= 0 or result[-1] >= n_layers):
        raise ValueError(f"boundaries must lie in 1..{n_layers - 1}, got {result}")
    return result


@dataclass(frozen=True)
class CandidateFit:
    """The best segmentation a detector found for one fixed number of boundaries.

    ``cost`` is the detector's segmentation cost (lower is a better fit); ``score`` is the
    value of the model-selection criterion for this candidate (lower is better), or NaN when
    the candidate was fitted without a criterion.
    """

    n_boundaries: int
    boundaries: tuple[int, ...]
    cost: float
    score: float = math.nan


@dataclass(frozen=True)
class Segmentation:
    """A segmentation of ``n_layers`` layers into contiguous segments.

    ``criterion`` names the declared rule that chose the number of boundaries (e.g. ``"bic"``,
    ``"penalty"``); ``cost`` is the segmentation cost of the chosen boundaries (NaN for rules
    without one); ``table`` holds one :class:`CandidateFit` per number of boundaries that the
    rule compared, so callers can compare, say, 1 vs 2 vs 3 boundaries.
    """

    boundaries: tuple[int, ...]
    n_layers: int
    criterion: str
    cost: float = math.nan
    table: tuple[CandidateFit, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "boundaries", validate_boundaries(self.boundaries, self.n_layers))

    @property
    def n_segments(self) -> int:
        """Number of segments (boundaries + 1)."""
        return len(self.boundaries) + 1

    def segments(self) -> tuple[tuple[int, int], ...]:
        """Half-open layer ranges ``(start, stop)`` of the segments, in order."""
        edges = (0, *self.boundaries, self.n_layers)
        return tuple(zip(edges[:-1], edges[1:]))

    def fractions(self) -> tuple[float, ...]:
        """Boundaries as fractions of depth, ``b / n_layers``: the share of layers before each."""
        return tuple(b / self.n_layers for b in self.boundaries)

    def candidate(self, n_boundaries: int) -> CandidateFit:
        """The table entry for ``n_boundaries`` boundaries; KeyError if it was not compared."""
        for fit in self.table:
            if fit.n_boundaries == n_boundaries:
                return fit
        raise KeyError(f"no candidate with {n_boundaries} boundaries in the table")

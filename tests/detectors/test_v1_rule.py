from __future__ import annotations

import numpy as np
import pytest

from mspgt_bench.detectors.v1_rule import v1_rule

L = 30


def one_drop(length: int, position: int) -> np.ndarray:
    """A gently falling MI series with one sharp drop between entries position-1 and position."""
    m = 3.0 - 0.02 * np.arange(length)
    m[position:] -= 1.0
    return m


def test_single_drop_with_pairs_l_to_l_plus_1() -> None:
    # m[p] = MI(p, p+1); the drop starts at pair (12, 13), so layer 13 opens a segment.
    result = v1_rule(one_drop(L - 1, 12), L)
    assert result.segmentation.boundaries == (13,)
    assert result.differences.shape == (L - 2,)


def test_single_drop_with_embedding_pairs() -> None:
    # m[p] = MI(p-1, p); the drop starts at pair (11, 12), so layer 12 opens a segment.
    assert v1_rule(one_drop(L, 12), L).segmentation.boundaries == (12,)


@pytest.mark.parametrize(
    "series",
    [3.0 - 0.03 * np.arange(L - 1), 2.0 + 0.3 * np.sin(np.arange(L - 1) / 5.0), np.ones(L - 1)],
)
def test_smooth_series_has_no_boundary(series: np.ndarray) -> None:
    assert v1_rule(series, L).segmentation.boundaries == ()


def test_factor_is_configurable() -> None:
    m = one_drop(L - 1, 12)
    assert v1_rule(m, L, factor=100.0).segmentation.boundaries == ()
    assert v1_rule(m, L, factor=2.0).threshold < v1_rule(m, L, factor=1.0).threshold


def test_invalid_length() -> None:
    with pytest.raises(ValueError, match="length"):
        v1_rule(np.ones(L - 3), L)

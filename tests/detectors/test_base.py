from __future__ import annotations

import pytest

from mspgt_bench.detectors.base import CandidateFit, Segmentation, validate_boundaries


def test_segments_and_fractions() -> None:
    seg = Segmentation((21, 8), 30, "test")
    assert seg.boundaries == (8, 21)
    assert seg.n_segments == 3
    assert seg.segments() == ((0, 8), (8, 21), (21, 30))
    assert seg.fractions() == pytest.approx((8 / 30, 21 / 30))


def test_no_boundaries_is_one_segment() -> None:
    assert Segmentation((), 12, "test").segments() == ((0, 12),)


@pytest.mark.parametrize("bad", [(0,), (30,), (5, 5), (-1,)])
def test_invalid_boundaries_rejected(bad: tuple[int, ...]) -> None:
    with pytest.raises(ValueError):
        validate_boundaries(bad, 30)


def test_candidate_lookup() -> None:
    table = (CandidateFit(0, (), 5.0), CandidateFit(1, (4,), 1.0))
    seg = Segmentation((4,), 10, "test", 1.0, table)
    assert seg.candidate(1).cost == 1.0
    with pytest.raises(KeyError):
        seg.candidate(2)

"""Known answers for boundary evidence per layer gap (``detectors.evidence``)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mspgt_bench.detectors.evidence import EvidenceRule, count_table, gap_series, ranked, running_median, strongest


def test_gap_series_of_each_kind():
    x = np.array([1.0, 1.0, 3.0, 3.0])
    assert gap_series(x, "level").tolist() == [0.0, 2.0, 0.0]  # a step at gap 2
    assert gap_series(x, "change").tolist() == [1.0, 3.0, 3.0]  # layer 0's change is no gap
    assert gap_series(np.array([0.9, 0.9, 0.5, 0.9]), "similarity").tolist() == pytest.approx([0.0, 0.4, 0.0])
    with pytest.raises(ValueError, match="unknown profile kind 'peak'"):
        gap_series(x, "peak")


def test_running_median_keeps_a_monotone_series_and_drops_a_spike():
    assert running_median(np.arange(7.0), 2).tolist() == list(np.arange(7.0))
    assert running_median(np.array([1.0, 1, 9, 1, 1]), 2).tolist() == [1.0, 1, 1, 1, 1]


def test_a_spike_three_times_its_neighbours_has_evidence_two():
    change = np.ones(10)
    change[5] = 3.0
    evidence = EvidenceRule(("change",), (1.0,)).evidence(change[:, None])
    assert evidence[5 - 1] == pytest.approx(2.0)  # (3 − 1) / 1
    assert np.count_nonzero(evidence) == 1


def test_a_step_in_level_is_one_spike_not_two():
    level = np.r_[np.full(6, 1.0), np.full(6, 2.0)]
    evidence = EvidenceRule(("level",), (1.0,)).evidence(level[:, None])
    # |Δx| = 1 at gap 6 only; its unit is the floor, a fifth of the mean level 1.5
    assert evidence[6 - 1] == pytest.approx(1.0 / (0.2 * 1.5))
    assert np.count_nonzero(evidence) == 1


@pytest.mark.parametrize(("kind", "profile"), [("change", np.exp(-np.arange(20) / 4)), ("level", np.linspace(5, 1, 20))])
def test_smooth_monotone_profiles_have_no_evidence(kind, profile):
    assert EvidenceRule((kind,), (1.0,)).evidence(profile[:, None]).max() < 1e-12  # rounding of equal steps


def test_fusion_is_the_weighted_mean_of_evidence():
    change = np.ones(10)
    change[4] = 3.0  # evidence 2 at gap 4
    level = np.r_[np.full(7, 1.0), np.full(3, 1.5)]  # evidence 0.5 / (0.2 · 1.15) at gap 7
    rule = EvidenceRule(("change", "level"), (3.0, 1.0))
    fused = rule.evidence(np.column_stack([change, level]))
    assert fused[3] == pytest.approx(0.75 * 2.0)
    assert fused[6] == pytest.approx(0.25 * 0.5 / (0.2 * level.mean()))


def test_picks_respect_min_size_and_come_strongest_first():
    evidence = np.array([0.0, 5.0, 4.0, 0.0, 3.0, 0.0, 0.0])  # gaps 1..7 of 8 layers
    assert ranked(evidence, 2, 3) == [2, 5]  # gap 3 is one layer from gap 2
    assert ranked(evidence, 1, 3) == [2, 3, 5]
    assert strongest(evidence, 2, 2) == (2, 5)
    with pytest.raises(ValueError, match="do not fit 8 layers"):
        strongest(evidence, 4, 2)


def test_count_table_margin_is_positive_exactly_when_two_clear_the_threshold():
    evidence = np.array([0.0, 4.0, 0.0, 0.0, 2.0, 0.0, 0.0, 0.5, 0.0, 0.0, 0.0])
    table = count_table(evidence, 1.0, 5, 2)
    scores = {fit.n_boundaries: fit.score for fit in table}
    assert min(table, key=lambda f: f.score).boundaries == (2, 5)
    margin = min(s for k, s in scores.items() if k != 2) - scores[2]
    assert margin == pytest.approx(min(math.log(2.0 / 1.0), math.log(1.0 / 0.5)))
    assert table[1].cost == pytest.approx(2.5)  # evidence left unclaimed by the strongest boundary

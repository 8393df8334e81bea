from __future__ import annotations

import itertools

import numpy as np
import pytest

from mspgt_bench.detectors.similarity_blocks import best_blocks, block_costs, segment_similarity

L = 30
LABELS = np.repeat([0, 1, 2], [6, 14, 10])


def noisy_symmetric(base: np.ndarray, seed: int, sigma: float = 0.03) -> np.ndarray:
    noise = np.random.default_rng(seed).normal(scale=sigma, size=base.shape)
    s = base + (noise + noise.T) / 2
    np.fill_diagonal(s, 1.0)
    return s


def planted_blocks(seed: int) -> np.ndarray:
    return noisy_symmetric(np.where(LABELS[:, None] == LABELS[None, :], 0.9, 0.3), seed)


@pytest.mark.parametrize("seed", range(5))
def test_planted_blocks_recovered(seed: int) -> None:
    result = segment_similarity(planted_blocks(seed))
    assert result.boundaries == (6, 20)
    by_penalty = segment_similarity(planted_blocks(seed), criterion="penalty", pen=1.0)
    assert by_penalty.boundaries == (6, 20)


@pytest.mark.parametrize("seed", range(5))
def test_uniform_matrix_is_one_block(seed: int) -> None:
    assert segment_similarity(noisy_symmetric(np.full((L, L), 0.6), seed)).boundaries == ()


def test_block_cost_is_size_weighted_dissimilarity() -> None:
    s = planted_blocks(0)
    cost = block_costs(s)
    block = s[6:20, 6:20]
    assert cost[6, 20] == pytest.approx(14 - block.mean() * 14)
    assert np.isnan(cost[5, 5])


def test_dynamic_programme_matches_enumeration() -> None:
    x = np.random.default_rng(1).normal(size=(9, 4))
    s = x @ x.T
    cost = block_costs(s)
    for n_blocks in range(1, 5):
        best = min(
            sum(cost[a, b] for a, b in zip((0, *cut), (*cut, 9)))
            for cut in itertools.combinations(range(1, 9), n_blocks - 1)
            if min(np.diff((0, *cut, 9))) >= 2
        )
        assert best_blocks(s, n_blocks).cost == pytest.approx(best)


def test_invalid_inputs() -> None:
    with pytest.raises(ValueError, match="symmetric"):
        segment_similarity(np.triu(np.ones((5, 5))))
    with pytest.raises(ValueError, match="pen"):
        segment_similarity(np.eye(5), criterion="penalty")
    with pytest.raises(ValueError, match="impossible"):
        best_blocks(np.eye(5), 3)

"""Signal plumbing: position sampling and masked means, with hand-computed answers."""

from __future__ import annotations

import torch

from mspgt_bench.signals.base import BootstrapConfig, gather_positions, masked_token_mean, spread_positions


def test_spread_positions_hand_computed():
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 0, 0, 0]])
    index, valid = spread_positions(mask, 3)
    assert index[0].tolist() == [0, 2, 4]
    assert index[1, :2].tolist() == [0, 1] and valid.tolist() == [[True, True, True], [True, True, False]]
    everything, all_valid = spread_positions(mask, None)
    assert everything[0].tolist() == [0, 1, 2, 3, 4] and all_valid.sum().item() == 7


def test_gather_and_masked_mean():
    values = torch.arange(10.0).view(2, 5, 1)
    index = torch.tensor([[0, 4], [1, 0]])
    picked = gather_positions(values, index)
    assert picked.squeeze(-1).tolist() == [[0.0, 4.0], [6.0, 5.0]]
    mean = masked_token_mean(picked, torch.tensor([[True, True], [True, False]]))
    assert mean.squeeze(-1).tolist() == [2.0, 6.0]


def test_masked_mean_ignores_nan_at_padding():
    values = torch.tensor([[1.0, 3.0, float("nan")]])
    assert masked_token_mean(values, torch.tensor([[1, 1, 0]])).tolist() == [2.0]


def test_rng_salts_are_hashed_whole_so_shared_prefixes_draw_differently():
    boot = BootstrapConfig(seed=0)
    same_prefix = [boot.rng("P1-fused", "trained").integers(0, 10**9, 8) for _ in range(2)]
    assert (same_prefix[0] == same_prefix[1]).all()  # reproducible
    longer = boot.rng("P1-fused-bic", "trained").integers(0, 10**9, 8)
    assert not (longer == same_prefix[0]).all()
    assert not (BootstrapConfig(seed=1).rng("P1-fused", "trained").integers(0, 10**9, 8) == same_prefix[0]).all()

"""DatasetSignal: per-stimulus state storage, pooling, and the recompute-per-resample bootstrap."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mspgt_bench.capture import capture_pass
from mspgt_bench.models.sites import Site
from mspgt_bench.signals.base import BootstrapConfig
from mspgt_bench.signals.dataset import DatasetSignal
from mspgt_bench.stats.bootstrap import bootstrap_ci
from mspgt_bench.stimuli.stdlib import stdlib_prose


class MeanFirstCoordinate(DatasetSignal):
    """Test double: the mean over stimuli of coordinate 0 at each point (a per-stimulus mean in disguise)."""

    name = "mean_first"
    default_n_boot = None

    def statistic(self, indices):
        return {"mean": self.data()[indices, :, 0].astype(np.float64).mean(axis=0)}


def test_percentile_interval_matches_bootstrap_ci_for_a_mean():
    rng = np.random.default_rng(0)
    states = rng.normal(size=(40, 3, 5))
    signal = MeanFirstCoordinate(2, interval="percentile")
    signal.add_states(list(range(40)), states)
    boot = BootstrapConfig(n_boot=300, seed=4)
    (profile,) = signal.profiles(boot)
    expected = bootstrap_ci(states[:, :, 0].astype(np.float32).astype(np.float64), n_boot=300, rng=boot.rng("mean_first"))
    np.testing.assert_allclose(profile.value, expected.estimate, rtol=1e-12)
    np.testing.assert_allclose(profile.lo, expected.lo, rtol=1e-12)
    np.testing.assert_allclose(profile.hi, expected.hi, rtol=1e-12)
    assert profile.per_stimulus is None and profile.n == 40
    assert profile.layers.tolist() == [0, 1, 2] and profile.depth.tolist() == [0.0, 0.5, 1.0]


def test_recentred_interval_keeps_the_spread_around_the_estimate():
    rng = np.random.default_rng(1)
    states = rng.exponential(size=(30, 2, 1))
    plain = MeanFirstCoordinate(1, interval="percentile")
    centred = MeanFirstCoordinate(1)
    for signal in (plain, centred):
        signal.add_states(range(30), states)
    boot = BootstrapConfig(n_boot=200)
    (p,), (c,) = plain.profiles(boot), centred.profiles(boot)
    np.testing.assert_allclose(c.hi - c.lo, p.hi - p.lo, rtol=1e-12)
    median = np.median(centred.replicates["mean"], axis=0)
    np.testing.assert_allclose(c.lo, p.lo + c.value - median, rtol=1e-12)
    assert np.all(c.lo <= c.value) and np.all(c.value <= c.hi)


def test_resample_cap_and_small_samples():
    signal = MeanFirstCoordinate(1, n_boot=7)
    signal.add_states([3, 1], np.arange(8, dtype=float).reshape(2, 2, 2))
    assert signal.data()[0, 0, 0] == 4.0  # rows ordered by stimulus index
    signal.profiles(BootstrapConfig(n_boot=50))
    assert signal.replicates["mean"].shape == (7, 2)
    single = MeanFirstCoordinate(1)
    single.add_states([0], np.ones((1, 2, 2)))
    (profile,) = single.profiles(BootstrapConfig(n_boot=20))
    assert np.all(np.isnan(profile.lo)) and np.all(profile.value == 1.0)
    with pytest.raises(ValueError):
        single.add_states([0, 1], np.ones((1, 2, 2)))


@pytest.mark.parametrize("token", ["last", "mean"])
def test_stored_states_are_pooled_stream_states(tiny_adapter, token):
    """One [L+1, d] float32 array per stimulus, equal to the pooled residual stream."""
    adapter = tiny_adapter("qwen2")
    stimuli = stdlib_prose(n=5, seed=4)
    signal = MeanFirstCoordinate(adapter.n_layers, token=token)
    capture_pass(adapter, stimuli, [signal], batch_size=2, max_tokens=20)
    assert sorted(signal._states) == list(range(5))
    for row, stimulus in enumerate(stimuli):
        kept = signal._states[row]
        assert kept.shape == (adapter.n_layers + 1, adapter.d_model) and kept.dtype == np.float32
        ids = adapter.tokenizer(stimulus.text, return_tensors="pt", truncation=True, max_length=20).input_ids
        sites = [Site("resid_pre", 0)] + [Site("resid_post", l) for l in range(adapter.n_layers)]
        with adapter.capture(sites) as acts, torch.inference_mode():
            adapter.model(ids)
        for point, site in enumerate(sites):
            states = acts[site][0].float()
            expected = states[-1] if token == "last" else states[1:].mean(dim=0)
            np.testing.assert_allclose(kept[point], expected.numpy(), rtol=1e-4, atol=1e-4)

"""Scale sensitivity: zero for an unchanged copy, extra passes counted, every family runs."""

from __future__ import annotations

import numpy as np
import pytest

from mspgt_bench.capture import capture_pass
from mspgt_bench.signals.base import BootstrapConfig
from mspgt_bench.signals.scale_sensitivity import ScaleSensitivity
from mspgt_bench.stimuli.stdlib import stdlib_prose


def _run(adapter, signal, n=4):
    calls = capture_pass(adapter, stdlib_prose(n=n, seed=4), [signal], batch_size=2, max_tokens=40)
    return calls, {p.metric: p for p in signal.profiles(BootstrapConfig(n_boot=50))}


def test_an_unchanged_copy_has_zero_distance_at_every_depth(tiny_adapter, monkeypatch):
    adapter = tiny_adapter("llama")
    signal = ScaleSensitivity(adapter.n_layers, perturbations=["shuffle_sentences"])
    monkeypatch.setattr(signal, "variants", lambda stimuli: {"identity": list(stimuli)})
    _, profiles = _run(adapter, signal)
    assert np.abs(profiles["identity"].per_stimulus).max() < 1e-3


@pytest.mark.parametrize("family", ["llama", "gemma3", "gpt2"])
def test_each_perturbation_is_a_metric_and_costs_one_pass_per_batch(tiny_adapter, family):
    adapter = tiny_adapter(family)
    signal = ScaleSensitivity(adapter.n_layers)
    calls, profiles = _run(adapter, signal)
    assert calls == 2 + 3 * 2  # main pass + three perturbations, two batches each
    assert set(profiles) == {"swap_adjacent_words", "shuffle_within_sentences", "shuffle_sentences"}
    for profile in profiles.values():
        assert profile.per_stimulus.shape == (4, adapter.n_layers + 1)
        assert np.isfinite(profile.value).all() and (profile.value[1:] > 0).all()

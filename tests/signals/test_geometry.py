"""Geometry: known embedding-state values, a slow reference, and every family."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from mspgt_bench.capture import capture_pass
from mspgt_bench.models.sites import Site
from mspgt_bench.signals.base import BootstrapConfig
from mspgt_bench.signals.geometry import Geometry
from mspgt_bench.stimuli.base import Stimulus
from mspgt_bench.stimuli.stdlib import stdlib_prose

FAMILIES = ["llama", "qwen2", "qwen3", "mistral", "gemma3", "gpt2"]
METRICS = ["anisotropy", "norm", "massive_max", "massive_ratio"]


def _stimulus(text: str, key: str) -> Stimulus:
    return Stimulus(key, text, "test", key, ((0, len(text)),))


def _run(adapter, stimuli, batch_size=2, max_tokens=24):
    signal = Geometry(adapter.n_layers)
    capture_pass(adapter, stimuli, [signal], batch_size=batch_size, max_tokens=max_tokens)
    return {p.metric: p for p in signal.profiles(BootstrapConfig(n_boot=50))}


def test_embedding_state_with_every_token_on_one_vector():
    """Every token embedded as the same v: cosines are all 1, norms ‖v‖, max |v|, ratio max/median."""
    from mspgt_bench.models.hf import HFAdapter

    adapter = HFAdapter("tiny-llama", seed=4)
    embed = adapter.model.get_input_embeddings()
    d = embed.weight.shape[1]
    signs = torch.tensor([1.0, -1.0]).repeat(d // 2)
    v = signs * torch.arange(1, d + 1).float() / 10  # |v| = 0.1 .. 6.4, lower median 3.2
    with torch.no_grad():
        embed.weight.copy_(v.expand_as(embed.weight))
    stimuli = [_stimulus("The cat sat on the mat.", "a"), _stimulus("Short one", "b")]
    profiles = _run(adapter, stimuli, batch_size=2)
    assert set(profiles) == set(METRICS)
    for profile in profiles.values():
        assert profile.layers.tolist() == list(range(adapter.n_layers + 1))
    x0 = {metric: profiles[metric].per_stimulus[:, 0] for metric in METRICS}
    np.testing.assert_allclose(x0["anisotropy"], 1.0, atol=1e-6)
    np.testing.assert_allclose(x0["norm"], float(v.norm()), rtol=1e-6)
    np.testing.assert_allclose(x0["massive_max"], 6.4, rtol=1e-6)
    np.testing.assert_allclose(x0["massive_ratio"], 2.0, rtol=1e-6)


def _raw_last_layer(adapter, ids):
    site = Site("resid_post", adapter.n_layers - 1)
    with adapter.capture([site]) as acts, torch.inference_mode():
        adapter.model(ids)
    return acts[site]


def _reference(x: torch.Tensor) -> dict[str, float]:
    n = x.shape[0]
    cosines = [float(x[i] @ x[j] / (x[i].norm() * x[j].norm())) for i, j in itertools.permutations(range(n), 2)]
    magnitudes = sorted(abs(float(a)) for a in x.flatten())
    lower_median = magnitudes[(len(magnitudes) - 1) // 2]
    return {
        "anisotropy": float(np.mean(cosines)),
        "norm": float(np.mean([float(x[t].norm()) for t in range(n)])),
        "massive_max": magnitudes[-1],
        "massive_ratio": magnitudes[-1] / lower_median,
    }


def test_matches_reference_on_hidden_states(tiny_adapter):
    adapter = tiny_adapter("qwen3")
    stimuli = stdlib_prose(n=3, seed=8)
    profiles = _run(adapter, stimuli, max_tokens=20)
    for row, stimulus in enumerate(stimuli):
        ids = adapter.tokenizer(stimulus.text, return_tensors="pt", truncation=True, max_length=20).input_ids
        with torch.inference_mode():
            hidden = adapter.model(ids, output_hidden_states=True).hidden_states
        # the last hidden state from transformers is after the final norm; rebuild the raw one
        states = list(hidden[:-1]) + [_raw_last_layer(adapter, ids)]
        for s, state in enumerate(states):
            for metric, value in _reference(state[0].double()).items():
                got = profiles[metric].per_stimulus[row, s]
                assert math.isclose(got, value, rel_tol=1e-4, abs_tol=1e-5), (metric, row, s, got, value)


@pytest.mark.parametrize("family", FAMILIES)
def test_every_family_gives_finite_profiles_independent_of_batching(tiny_adapter, family):
    adapter = tiny_adapter(family)
    stimuli = [_stimulus(s.text[: 10 + 12 * i], s.id) for i, s in enumerate(stdlib_prose(n=3, seed=9))]
    batched = _run(adapter, stimuli, batch_size=3, max_tokens=40)
    alone = _run(adapter, stimuli, batch_size=1, max_tokens=40)
    assert set(batched) == set(METRICS)
    for metric, profile in batched.items():
        assert profile.per_stimulus.shape == (3, adapter.n_layers + 1), metric
        assert np.all(np.isfinite(profile.per_stimulus)), metric
        np.testing.assert_allclose(profile.per_stimulus, alone[metric].per_stimulus, rtol=2e-4, atol=2e-5)
    assert np.all(batched["massive_ratio"].per_stimulus >= 1)
    assert np.all(np.abs(batched["anisotropy"].per_stimulus) <= 1 + 1e-6)

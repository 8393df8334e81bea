"""Prompt entropy and effective rank: known spectra, a slow reference, and every family."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from mspgt_bench.capture import capture_pass
from mspgt_bench.metrics.matrix_entropy import effective_rank, matrix_entropy
from mspgt_bench.models.sites import Site
from mspgt_bench.signals.base import BootstrapConfig
from mspgt_bench.signals.prompt_entropy import PromptEntropy
from mspgt_bench.stimuli.base import Stimulus
from mspgt_bench.stimuli.stdlib import stdlib_prose

FAMILIES = ["llama", "qwen2", "qwen3", "mistral", "gemma3", "gpt2"]
METRICS = ["entropy", "entropy_nats", "effective_rank"]


def _stimulus(text: str, key: str) -> Stimulus:
    return Stimulus(key, text, "test", key, ((0, len(text)),))


def _run(adapter, stimuli, batch_size=2, max_tokens=24, **options):
    signal = PromptEntropy(adapter.n_layers, **options)
    capture_pass(adapter, stimuli, [signal], batch_size=batch_size, max_tokens=max_tokens)
    return {p.metric: p for p in signal.profiles(BootstrapConfig(n_boot=50))}


def test_embedding_state_of_orthonormal_and_of_collinear_tokens():
    """Byte i embedded as unit vector e_(i mod d): n distinct tokens have a flat spectrum
    (entropy log n, normalised 1, effective rank n); 'aaaa' is rank 1 (entropy 0, rank 1)."""
    from mspgt_bench.models.hf import HFAdapter

    adapter = HFAdapter("tiny-llama", seed=6)
    embed = adapter.model.get_input_embeddings()
    vocab, d = embed.weight.shape
    with torch.no_grad():
        embed.weight.copy_(torch.eye(d)[torch.arange(vocab) % d])
    texts = ["abcdefgh", "aaaa", "abcdefghijklmnop"]
    stimuli = [_stimulus(text, f"s{i}") for i, text in enumerate(texts)]
    profiles = _run(adapter, stimuli, batch_size=3)
    assert set(profiles) == set(METRICS)
    for profile in profiles.values():
        assert profile.layers.tolist() == list(range(adapter.n_layers + 1))
        np.testing.assert_allclose(profile.depth, np.arange(adapter.n_layers + 1) / adapter.n_layers)
    x0 = {metric: profiles[metric].per_stimulus[:, 0] for metric in METRICS}
    np.testing.assert_allclose(x0["entropy_nats"], [math.log(8), 0.0, math.log(16)], atol=1e-9)
    np.testing.assert_allclose(x0["entropy"], [1.0, 0.0, 1.0], atol=1e-9)
    np.testing.assert_allclose(x0["effective_rank"], [8.0, 1.0, 16.0], rtol=1e-9)


def _raw_last_layer(adapter, ids):
    site = Site("resid_post", adapter.n_layers - 1)
    with adapter.capture([site]) as acts, torch.inference_mode():
        adapter.model(ids)
    return acts[site]


def _reference(x: np.ndarray, alpha: float, center: bool) -> tuple[float, float]:
    """Gram eigenvalues with numpy, Rényi entropy in nats, and effective rank from singular values."""
    if center:
        x = x - x.mean(axis=0)
    gram = x @ x.T
    lam = np.clip(np.linalg.eigvalsh(gram / np.trace(gram)), 0, None)
    lam = lam[lam > 1e-12]
    nats = -float(np.sum(lam * np.log(lam))) if alpha == 1 else float(np.log(np.sum(lam**alpha)) / (1 - alpha))
    sigma = np.linalg.svd(x, compute_uv=False)
    p = sigma[sigma > 1e-12 * sigma.max()] / sigma.sum()
    return nats, float(np.exp(-np.sum(p * np.log(p))))


@pytest.mark.parametrize("alpha, center", [(1.0, False), (2.0, True)])
def test_matches_reference_on_hidden_states(tiny_adapter, alpha, center):
    adapter = tiny_adapter("gemma3")
    stimuli = stdlib_prose(n=3, seed=10)
    profiles = _run(adapter, stimuli, max_tokens=24, alpha=alpha, center=center)
    for row, stimulus in enumerate(stimuli):
        ids = adapter.tokenizer(stimulus.text, return_tensors="pt", truncation=True, max_length=24).input_ids
        n = ids.shape[1]
        with torch.inference_mode():
            hidden = adapter.model(ids, output_hidden_states=True).hidden_states
        # the last hidden state from transformers is after the final norm; rebuild the raw one
        states = list(hidden[:-1]) + [_raw_last_layer(adapter, ids)]
        for s, state in enumerate(states):
            nats, erank = _reference(state[0].double().numpy(), alpha, center)
            got = {metric: profiles[metric].per_stimulus[row, s] for metric in METRICS}
            assert math.isclose(got["entropy_nats"], nats, rel_tol=1e-6, abs_tol=1e-8), (row, s)
            assert math.isclose(got["entropy"], nats / math.log(n), rel_tol=1e-6, abs_tol=1e-8), (row, s)
            assert math.isclose(got["effective_rank"], erank, rel_tol=1e-6), (row, s)
            if not center:  # the metric kernels agree on the unpadded prompt
                z = state[0].double()
                assert math.isclose(got["entropy"], float(matrix_entropy(z, alpha, "log_n")), rel_tol=1e-9)
                assert math.isclose(got["effective_rank"], float(effective_rank(z)), rel_tol=1e-9)


def test_normalisation_options(tiny_adapter):
    adapter = tiny_adapter("qwen2")
    stimuli = stdlib_prose(n=2, seed=11)
    raw = _run(adapter, stimuli, normalize="none")
    by_rank = _run(adapter, stimuli, normalize="log_rank")
    np.testing.assert_allclose(raw["entropy"].per_stimulus, raw["entropy_nats"].per_stimulus)
    # after layer 0 the matrix of 24 tokens in d = 64 has full rank 24, so log rank = log n there;
    # at the embeddings repeated bytes share a row, the rank is lower and the normalised value higher
    expected = raw["entropy_nats"].per_stimulus / math.log(24)
    np.testing.assert_allclose(by_rank["entropy"].per_stimulus[:, 1:], expected[:, 1:])
    assert np.all(by_rank["entropy"].per_stimulus[:, 0] > expected[:, 0])
    with pytest.raises(ValueError):
        PromptEntropy(4, alpha=0)
    with pytest.raises(ValueError):
        PromptEntropy(4, normalize="log2")


@pytest.mark.parametrize("family", FAMILIES)
def test_every_family_gives_finite_profiles_independent_of_batching(tiny_adapter, family):
    adapter = tiny_adapter(family)
    stimuli = [_stimulus(s.text[: 10 + 12 * i], s.id) for i, s in enumerate(stdlib_prose(n=3, seed=12))]
    batched = _run(adapter, stimuli, batch_size=3, max_tokens=40)
    alone = _run(adapter, stimuli, batch_size=1, max_tokens=40)
    assert set(batched) == set(METRICS)
    for metric, profile in batched.items():
        assert profile.per_stimulus.shape == (3, adapter.n_layers + 1), metric
        assert np.all(np.isfinite(profile.per_stimulus)), metric
        np.testing.assert_allclose(profile.per_stimulus, alone[metric].per_stimulus, rtol=2e-4, atol=2e-5)
    entropy = batched["entropy"].per_stimulus
    assert np.all((entropy >= 0) & (entropy <= 1 + 1e-9))

"""Attention signal: uniform attention known answers, a slow reference, and every family."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from mspgt_bench.capture import capture_pass
from mspgt_bench.signals.attention import AttentionSignal
from mspgt_bench.signals.base import BootstrapConfig
from mspgt_bench.stimuli.base import Stimulus
from mspgt_bench.stimuli.stdlib import stdlib_prose

FAMILIES = ["llama", "qwen2", "qwen3", "mistral", "gemma3", "gpt2"]
METRICS = ["entropy", "entropy_nats", "span", "sink", "prev_1", "prev_2", "prev_4", "prev_8", "prev_16"]


def _stimulus(text: str, key: str) -> Stimulus:
    return Stimulus(key, text, "test", key, ((0, len(text)),))


def _run(adapter, stimuli, batch_size=2, max_tokens=24, **options):
    signal = AttentionSignal(adapter.n_layers, **options)
    capture_pass(adapter, stimuli, [signal], batch_size=batch_size, max_tokens=max_tokens)
    return signal, {p.metric: p for p in signal.profiles(BootstrapConfig(n_boot=50))}


def test_uniform_attention_gives_the_hand_values():
    """With q = k = 0 every score is equal: query t attends 1/(t+1) to each of keys 0..t."""
    from mspgt_bench.models.hf import HFAdapter

    adapter = HFAdapter("tiny-llama", seed=11)
    with torch.no_grad():
        for layer in adapter.model.model.layers:
            layer.self_attn.q_proj.weight.zero_()
            layer.self_attn.k_proj.weight.zero_()
    # different lengths, batched together: right padding must not leak into the values
    texts = ["The cat sat on the mat.", "Short one", "A somewhat longer sentence, with a comma or two, here."]
    stimuli = [_stimulus(text, f"s{i}") for i, text in enumerate(texts)]
    _, profiles = _run(adapter, stimuli, batch_size=3, max_tokens=64)
    assert set(profiles) == set(METRICS)
    assert profiles["span"].layers.tolist() == [0, 1, 2, 3]
    np.testing.assert_allclose(profiles["span"].depth, [0.25, 0.5, 0.75, 1.0])
    for row, text in enumerate(texts):
        n = len(text.encode())
        t = np.arange(n)
        expected = {
            "entropy": (n - 1) / n,  # 1 for every query but the first (defined 0)
            "entropy_nats": np.mean(np.log(t + 1)),
            "span": (n - 1) / 4,  # mean over t of t/2
            "sink": np.mean(1 / (t + 1)),
            **{f"prev_{k}": np.mean(np.minimum(k, t) / (t + 1)) for k in (1, 2, 4, 8, 16)},
        }
        for metric, value in expected.items():
            got = profiles[metric].per_stimulus[row]
            np.testing.assert_allclose(got, value, rtol=1e-5, atol=1e-6, err_msg=f"{metric} row {row}")


def _reference(attn: torch.Tensor) -> dict[str, float]:
    """Plain loops over heads and queries of one unpadded ``[H, T, T]`` pattern."""
    heads, n, _ = attn.shape
    sums = dict.fromkeys(METRICS, 0.0)
    for t in range(n):
        for h in range(heads):
            row = [float(attn[h, t, i]) for i in range(t + 1)]
            nats = -sum(a * math.log(a) for a in row if a > 0)
            sums["entropy_nats"] += nats
            sums["entropy"] += nats / math.log(t + 1) if t > 0 else 0.0
            sums["span"] += sum(a * (t - i) for i, a in enumerate(row))
            sums["sink"] += row[0]
            for k in (1, 2, 4, 8, 16):
                sums[f"prev_{k}"] += sum(row[i] for i in range(max(0, t - k), t))
    return {metric: total / (heads * n) for metric, total in sums.items()}


@pytest.mark.parametrize("family", ["qwen2", "gemma3"])
def test_matches_reference_on_output_attentions(tiny_adapter, family):
    """gemma3's tiny config has a 16-token sliding window, shorter than these prompts."""
    adapter = tiny_adapter(family)
    stimuli = stdlib_prose(n=3, seed=4)
    _, profiles = _run(adapter, stimuli, max_tokens=24)
    previous = adapter.model.config._attn_implementation
    adapter.model.set_attn_implementation("eager")
    try:
        for row, stimulus in enumerate(stimuli):
            ids = adapter.tokenizer(stimulus.text, return_tensors="pt", truncation=True, max_length=24).input_ids
            with torch.inference_mode():
                attentions = adapter.model(ids, output_attentions=True).attentions
            assert len(attentions) == adapter.n_layers
            for layer, attn in enumerate(attentions):
                expected = _reference(attn[0].double())
                for metric, value in expected.items():
                    got = profiles[metric].per_stimulus[row, layer]
                    assert abs(got - value) < 1e-5, (family, metric, row, layer, got, value)
    finally:
        adapter.model.set_attn_implementation(previous)


@pytest.mark.parametrize("family", FAMILIES)
def test_every_family_gives_finite_profiles_independent_of_batching(tiny_adapter, family):
    adapter = tiny_adapter(family)
    # prompts of different lengths, so the batched run is padded
    stimuli = [_stimulus(s.text[: 10 + 12 * i], s.id) for i, s in enumerate(stdlib_prose(n=3, seed=5))]
    _, batched = _run(adapter, stimuli, batch_size=3, max_tokens=40)
    _, alone = _run(adapter, stimuli, batch_size=1, max_tokens=40)
    assert set(batched) == set(METRICS)
    for metric, profile in batched.items():
        assert profile.per_stimulus.shape == (3, adapter.n_layers), metric
        assert np.all(np.isfinite(profile.per_stimulus)), metric
        np.testing.assert_allclose(profile.per_stimulus, alone[metric].per_stimulus, rtol=2e-4, atol=2e-5)
    entropy = batched["entropy"].per_stimulus
    assert np.all((entropy >= 0) & (entropy <= 1 + 1e-6))


def test_options_select_the_windows():
    signal = AttentionSignal(4, ks=[3, 1])
    assert signal.options.ks == [3, 1]
    with pytest.raises(ValueError):
        AttentionSignal(4, ks=[0])
    with pytest.raises(ValueError):
        AttentionSignal(4, ks=[2, 2])

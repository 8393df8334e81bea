"""Scale probes: a label planted in one layer's states is found there only; the capture pass feeds them."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mspgt_bench.capture import CapturedBatch, capture_pass
from mspgt_bench.interventions.token_classes import token_sentences
from mspgt_bench.models.offsets import token_offsets
from mspgt_bench.models.sites import Site
from mspgt_bench.signals.base import BootstrapConfig
from mspgt_bench.signals.probes import ScaleProbes
from mspgt_bench.stimuli.stdlib import stdlib_prose

BOOT = BootstrapConfig(n_boot=200)


def _planted_batch(adapter, stimuli, indices, point: int, d: int = 16) -> CapturedBatch:
    """Random states, except that stream point ``point`` carries the sentence index (capped at 3) linearly."""
    rows = [stimuli[i] for i in indices]
    batch = adapter.tokenize([s.text for s in rows], indices, 400)
    offsets = token_offsets(adapter.tokenizer, [s.text for s in rows], batch)
    generator = torch.Generator().manual_seed(indices[0])
    stream = [torch.randn((len(rows), batch.input_ids.shape[1], d), generator=generator) for _ in range(adapter.n_layers + 1)]
    for row, spans in enumerate(offsets):
        sentence = torch.tensor(token_sentences(spans, rows[row].sentences)).clamp(0, 3)
        stream[point][row, : len(spans), :4] += 6.0 * torch.nn.functional.one_hot(sentence, 4)
    acts = {Site("resid_pre", 0): stream[0]} | {Site("resid_post", l): stream[l + 1] for l in range(adapter.n_layers)}
    return CapturedBatch(batch, acts, None, adapter, rows)


def test_a_label_planted_in_one_layer_is_decoded_there_and_nowhere_else(tiny_adapter):
    adapter = tiny_adapter("llama")
    stimuli = stdlib_prose(n=16, seed=1)
    signal = ScaleProbes(adapter.n_layers, max_tokens_per_stimulus=24)
    for start in range(0, 16, 4):
        signal.update(_planted_batch(adapter, stimuli, list(range(start, start + 4)), point=2))
    profiles = {p.metric: p for p in signal.profiles(BOOT)}
    accuracy, selectivity = profiles["global_accuracy"].value, profiles["global_selectivity"].value
    assert accuracy[2] > 0.95 and selectivity[2] > 0.4
    others = np.delete(np.arange(adapter.n_layers + 1), 2)
    assert np.all(np.abs(selectivity[others]) < 0.15)  # random states: the probe scores the shuffled control's chance
    assert profiles["global_selectivity"].lo[2] > 0.3


def test_runs_on_the_capture_pass_with_stimulus_level_profiles(tiny_adapter):
    adapter = tiny_adapter("qwen2")
    stimuli = stdlib_prose(n=6, seed=2)
    signal = ScaleProbes(adapter.n_layers, max_tokens_per_stimulus=10, n_folds=3)
    capture_pass(adapter, stimuli, [signal], batch_size=4, max_tokens=40)
    profiles = {p.metric: p for p in signal.profiles(BOOT)}
    assert set(profiles) == {f"{s}_{m}" for s in ("local", "intermediate", "global") for m in ("accuracy", "control", "selectivity")}
    n_points = adapter.n_layers + 1
    for profile in profiles.values():
        assert profile.per_stimulus.shape == (6, n_points) and profile.n == 6
        assert profile.depth.tolist() == [s / adapter.n_layers for s in range(n_points)]
        assert "3-fold CV split by stimulus" in profile.convention
    for scale in ("local", "intermediate", "global"):
        acc, control = profiles[f"{scale}_accuracy"], profiles[f"{scale}_control"]
        assert np.all((acc.per_stimulus >= 0) & (acc.per_stimulus <= 1))
        np.testing.assert_allclose(profiles[f"{scale}_selectivity"].per_stimulus, acc.per_stimulus - control.per_stimulus)


def test_keeps_a_bounded_sample_of_the_stream_states(tiny_adapter):
    adapter = tiny_adapter("gpt2")
    stimuli = stdlib_prose(n=3, seed=3)
    signal = ScaleProbes(adapter.n_layers, max_tokens_per_stimulus=5)
    capture_pass(adapter, stimuli, [signal], batch_size=3, max_tokens=30)
    kept = signal._kept[1]
    assert kept.states.shape == (adapter.n_layers + 1, 5, adapter.d_model) and kept.states.dtype == np.float32
    ids = adapter.tokenizer(stimuli[1].text, return_tensors="pt", truncation=True, max_length=30).input_ids
    sites = [Site("resid_pre", 0)] + [Site("resid_post", l) for l in range(adapter.n_layers)]
    with adapter.capture(sites) as acts, torch.inference_mode():
        adapter.model(ids)
    expected = 1 + np.round(np.linspace(0, ids.shape[1] - 2, 5)).astype(int)  # evenly spaced, position 0 left out
    np.testing.assert_array_equal(kept.token_ids, ids[0, expected].numpy())
    for point, site in enumerate(sites):
        np.testing.assert_allclose(kept.states[point], acts[site][0, expected].numpy(), rtol=1e-4, atol=1e-4)


def test_needs_two_stimuli_and_valid_options(tiny_adapter):
    adapter = tiny_adapter("llama")
    signal = ScaleProbes(adapter.n_layers)
    capture_pass(adapter, stdlib_prose(n=1, seed=0), [signal], batch_size=1, max_tokens=20)
    with pytest.raises(ValueError, match="at least 2 stimuli"):
        signal.profiles(BOOT)
    with pytest.raises(ValueError):
        ScaleProbes(adapter.n_layers, local_control="words")


@pytest.mark.slow
def test_smollm2_decodes_function_words_and_sentence_position_above_their_controls():
    from mspgt_bench.models.hf import HFAdapter

    adapter = HFAdapter("smollm2-135m")
    signal = ScaleProbes(adapter.n_layers, max_tokens_per_stimulus=32)
    capture_pass(adapter, stdlib_prose(n=32, seed=0), [signal], batch_size=8, max_tokens=96)
    profiles = {p.metric: p for p in signal.profiles(BOOT)}
    assert np.all(profiles["local_accuracy"].value > 0.85)  # function words are lexical: decodable everywhere
    middle = slice(adapter.n_layers // 3, 2 * adapter.n_layers // 3 + 1)
    assert np.all(profiles["local_selectivity"].lo[middle] > 0)  # beyond memorising token ids (Hewitt & Liang)
    intermediate = profiles["intermediate_selectivity"].value
    assert intermediate.max() > intermediate[0] + 0.05  # sentence position is built up by the layers

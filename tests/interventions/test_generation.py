"""Generation under segment interventions: exact identities, the KV-cache reference, hook hygiene, effect rows."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from pydantic import ValidationError

from mspgt_bench.interventions.generation import (
    GenerationOptions,
    continuation,
    generate_ids,
    generation_effects,
    prompt_ids,
    prompt_text,
    segment_edits,
)
from mspgt_bench.metrics.readouts import READOUT_SCALES
from mspgt_bench.models.base import TokenBatch
from mspgt_bench.models.resume import Step, recompute
from mspgt_bench.signals.base import BootstrapConfig

OPTIONS = GenerationOptions(max_new_tokens=8, prompt_tokens=24)


def _flat_encoder(sentences):
    return np.ones((len(sentences), 3))


def _hooks(adapter) -> list[tuple[list[int], list[int]]]:
    """The ids of every decoder layer's hooks (transformers may keep its own output-capturing ones)."""
    return [(list(layer._forward_hooks), list(layer._forward_pre_hooks)) for layer in adapter.layers]


def test_prompt_is_the_first_sentences(prose):
    stimulus = prose[0]
    assert prompt_text(stimulus, 1) == stimulus.sentence_texts[0]
    assert prompt_text(stimulus, 2) == stimulus.text[: stimulus.sentences[1][1]]
    assert prompt_text(stimulus, 99) == stimulus.text


def test_only_position_independent_interventions_are_accepted():
    with pytest.raises(ValidationError, match="only position-independent edits apply"):
        GenerationOptions(intervention="layer_swap")
    assert GenerationOptions(intervention="mean_ablation").intervention == "mean_ablation"


def test_zero_noise_equals_clean_and_deleting_every_layer_changes_the_text(tiny_adapter, prose):
    adapter = tiny_adapter("llama")
    n = adapter.n_layers
    clean = [generate_ids(adapter, p, {}, OPTIONS) for p in prose[:2]]
    quiet = segment_edits(adapter, prose[:2], [(0, n)], OPTIONS.model_copy(update={"intervention": "residual_noise", "sigma": 0.0}))
    deleted = segment_edits(adapter, prose[:2], [(0, n)], OPTIONS)
    for prompt, reference in zip(prose[:2], clean):
        assert torch.equal(generate_ids(adapter, prompt, quiet[0].steps(prompt), OPTIONS), reference)
        assert not torch.equal(generate_ids(adapter, prompt, deleted[0].steps(prompt), OPTIONS), reference)
    noisy = segment_edits(adapter, prose[:1], [(1, 3)], OPTIONS.model_copy(update={"intervention": "residual_noise"}))
    first, second = (generate_ids(adapter, prose[0], noisy[0].steps(prose[0]), OPTIONS) for _ in range(2))
    assert torch.equal(first, second)  # the noise is seeded per prompt and segment


@pytest.mark.parametrize("intervention", ["layer_deletion", "mean_ablation"])
def test_cached_generation_equals_greedy_decoding_by_full_recompute(tiny_adapter, prose, intervention):
    """The edits hold under the KV cache: the same tokens as re-running the whole sequence at every step."""
    adapter = tiny_adapter("qwen2")
    options = OPTIONS.model_copy(update={"intervention": intervention})
    (edit,) = segment_edits(adapter, prose, [(1, 3)], options)
    prompt = prose[1]
    steps = edit.steps(prompt)
    ids = prompt_ids(adapter, prompt, options)
    for _ in range(options.max_new_tokens):
        batch = TokenBatch(ids, torch.ones_like(ids), [0])
        ids = torch.cat([ids, recompute(adapter, batch, steps)[:, -1:].argmax(dim=-1)], dim=1)
    expected = ids[0, -options.max_new_tokens :]
    assert torch.equal(generate_ids(adapter, prompt, steps, options), expected)


def test_hooks_are_removed_and_outputs_are_bit_identical_after(tiny_adapter, prose, batch_of):
    adapter = tiny_adapter("gemma3")
    batch = batch_of(adapter, prose, 24)
    before, hooks = adapter.forward(batch), _hooks(adapter)
    (edit,) = segment_edits(adapter, prose, [(0, 2)], OPTIONS)
    continuation(adapter, prose[0], edit.steps(prose[0]), OPTIONS)
    assert _hooks(adapter) == hooks
    assert torch.equal(adapter.forward(batch), before)

    def broken(_h):
        raise RuntimeError("edit failed")

    with pytest.raises(RuntimeError, match="edit failed"):
        continuation(adapter, prose[0], {1: Step(pre=broken)}, OPTIONS)
    assert _hooks(adapter) == hooks
    assert torch.equal(adapter.forward(batch), before)


def test_effect_rows_are_intervened_minus_clean_per_prompt(tiny_adapter, prose):
    adapter = tiny_adapter("llama")
    options = {"max_new_tokens": 24, "prompt_tokens": 24, "prompt_sentences": 1}
    result = generation_effects(adapter, prose, [(0, 2), (2, 4)], options, BootstrapConfig(n_boot=200), encoder=_flat_encoder)
    assert set(result.texts) == {"clean", "delete[0:2]", "delete[2:4]"}
    assert len(result.rows) == 2 * len(READOUT_SCALES)
    values = {(r["stimulus"], r["target"], r["metric"]): r["value"] for r in result.per_prompt}
    for row in result.rows:
        assert row["scale"] == READOUT_SCALES[row["metric"]] and row["intervention"] == "layer_deletion"
        clean = np.array([values[(p.id, "clean", row["metric"])] for p in prose])
        intervened = np.array([values[(p.id, row["target"], row["metric"])] for p in prose])
        keep = ~np.isnan(clean) & ~np.isnan(intervened)
        assert row["n"] == keep.sum()
        if keep.sum() >= 2:
            assert row["value"] == pytest.approx(np.mean(intervened[keep] - clean[keep]))
            assert row["ci_low"] <= row["value"] <= row["ci_high"]
    assert sum(r["n"] >= 2 for r in result.rows) >= len(READOUT_SCALES)
    first = next(r for r in result.rows if r["target"] == "delete[0:2]")
    assert (first["layer"], first["layer_end"], first["layers"], first["depth"]) == (0, 1, "0-1", 0.5)
    again = generation_effects(adapter, prose, [(0, 2), (2, 4)], options, BootstrapConfig(n_boot=200), encoder=_flat_encoder)
    np.testing.assert_equal(again.rows, result.rows)  # reproducible (NaN equals NaN here)


def test_sampling_is_seeded_per_prompt(tiny_adapter, prose):
    adapter = tiny_adapter("llama")
    options = OPTIONS.model_copy(update={"sample": True, "max_new_tokens": 12})
    first, second = (generate_ids(adapter, prose[0], {}, options) for _ in range(2))
    assert torch.equal(first, second)
    other = generate_ids(adapter, prose[0], {}, options.model_copy(update={"seed": 1}))
    assert not torch.equal(first, other)


def test_segments_are_checked(tiny_adapter, prose):
    adapter = tiny_adapter("llama")
    with pytest.raises(ValueError, match="exceeds"):
        segment_edits(adapter, prose, [(2, adapter.n_layers + 1)], OPTIONS)


@pytest.mark.slow
def test_smollm2_generation_effects_run_offline_with_the_real_sentence_model():
    from mspgt_bench.models.hf import HFAdapter
    from mspgt_bench.stimuli.stdlib import stdlib_prose

    adapter = HFAdapter("smollm2-135m")
    prompts = stdlib_prose(2, 0)
    result = generation_effects(adapter, prompts, [(0, 10)], {"max_new_tokens": 16}, BootstrapConfig(n_boot=100))
    assert all(len(text.split()) >= 3 for text in result.texts["clean"])  # the trained model writes words
    assert result.texts["delete[0:10]"] != result.texts["clean"]
    assert {r["metric"] for r in result.rows} == set(READOUT_SCALES)

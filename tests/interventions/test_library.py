"""Known answers of the intervention plugins."""

from __future__ import annotations

import pytest
import torch
from pydantic import ValidationError

from mspgt_bench.interventions.base import BatchContext
from mspgt_bench.interventions.effects import CleanReference
from mspgt_bench.interventions.library import (
    INTERVENTIONS,
    ActivationPatching,
    BlockDrop,
    CausalTracing,
    LayerDeletion,
    LayerSwap,
    MeanAblation,
    ResampleAblation,
    ResidualNoise,
)
from mspgt_bench.interventions.sweep import sweep
from mspgt_bench.metrics.angular import angular_distance, block_influence
from mspgt_bench.models.hf import HFAdapter
from mspgt_bench.models.resume import record
from mspgt_bench.options import Strict


def _context(adapter, batch, stimuli) -> BatchContext:
    clean = record(adapter, batch)
    reference = CleanReference.of_resid(adapter, clean.states[-1], batch)
    return BatchContext(adapter, batch, clean, stimuli, reference=reference)


def _by_label(results, label):
    return {metric: values.tolist() for metric, values in results[label].items()}


def test_every_plugin_declares_name_options_and_a_sourced_formula():
    for name, cls in INTERVENTIONS.items():
        assert cls.name == name
        assert issubclass(cls.Options, Strict)
        doc = cls.__doc__ or ""
        assert "20" in doc and ("=" in doc or ":=" in doc), f"{name}: docstring needs a formula and a dated source"
    with pytest.raises(ValidationError):
        LayerDeletion(4, layer=[1])  # misspelt option
    with pytest.raises(ValueError, match="out of range"):
        LayerDeletion(4, layers=[4]).targets()


@pytest.mark.parametrize("family", ["llama", "gemma3", "gpt2"])
def test_deleting_a_layer_with_zeroed_output_projections_changes_nothing(family, prose, batch_of):
    adapter = HFAdapter(f"tiny-{family}")  # a private copy: its weights are edited
    layer = adapter.layers[2]
    with torch.no_grad():
        if family == "gpt2":
            for module in (layer.attn.c_proj, layer.mlp.c_proj):
                module.weight.zero_()
                module.bias.zero_()
        else:
            layer.self_attn.o_proj.weight.zero_()
            layer.mlp.down_proj.weight.zero_()
    ctx = _context(adapter, batch_of(adapter, prose), prose)
    results = LayerDeletion(4, layers=[1, 2]).evaluate(ctx)
    zeroed = _by_label(results, "delete[l=2]")
    assert max(zeroed["kl"]) <= 1e-6 and min(zeroed["top1_agreement"]) == 1.0
    assert max(abs(v) for v in zeroed["delta_loss"]) <= 1e-5
    assert min(_by_label(results, "delete[l=1]")["kl"]) > 1e-5  # an intact layer does matter


def test_noise_with_sigma_zero_is_exactly_the_clean_model(tiny_adapter, prose, batch_of):
    adapter = tiny_adapter("qwen2")
    ctx = _context(adapter, batch_of(adapter, prose), prose)
    results = ResidualNoise(4, sigmas=[0.0, 1.0]).evaluate(ctx)
    for layer in range(4):
        clean = _by_label(results, f"noise[l={layer},sigma=0]")
        assert clean["kl"] == [0.0] * 4 and clean["top1_agreement"] == [1.0] * 4
        assert clean["delta_loss"] == [0.0] * 4 and clean["delta_entropy"] == [0.0] * 4
        assert min(_by_label(results, f"noise[l={layer},sigma=1]")["kl"]) > 0


def test_noise_is_seeded_per_stimulus_and_scaled_by_the_residual_rms(tiny_adapter, prose, batch_of):
    adapter = tiny_adapter("llama")
    batch = batch_of(adapter, prose)
    ctx = _context(adapter, batch, prose)
    plugin = ResidualNoise(4, layers=[1], sigmas=[1.0])
    noise = plugin.noise(ctx, 1)
    lengths = ctx.lengths
    h = ctx.clean.states[1]
    rms = h[0, : lengths[0]].pow(2).mean(-1).sqrt()
    eps = noise[0, : lengths[0]] / rms.unsqueeze(-1)
    assert abs(eps.std().item() - 1.0) < 0.1  # ε ~ N(0, 1) after removing the token's RMS
    # the same stimulus gets the same noise in another batch composition
    other = _context(adapter, batch_of(adapter, prose[:2]), prose[:2])
    torch.testing.assert_close(plugin.noise(other, 1)[0, : lengths[0]], noise[0, : lengths[0]])


def test_swapping_a_layer_with_itself_is_the_identity(tiny_adapter, prose, batch_of):
    adapter = tiny_adapter("mistral")
    ctx = _context(adapter, batch_of(adapter, prose), prose)
    results = LayerSwap(4, offset=0).evaluate(ctx)
    assert len(results) == 4
    for label in results:
        values = _by_label(results, label)
        assert max(values["kl"]) <= 1e-7 and values["top1_agreement"] == [1.0] * 4
    swapped = LayerSwap(4).targets()
    assert [t.label for t in swapped] == ["swap[0<->1]", "swap[1<->2]", "swap[2<->3]"]


def test_mean_ablation_uses_the_mean_contribution_over_real_tokens(tiny_adapter, prose, batch_of):
    adapter = tiny_adapter("llama")
    batch = batch_of(adapter, prose)
    ctx = _context(adapter, batch, prose)
    plugin = MeanAblation(4, layers=[1], segments=[(1, 3)])
    plugin.fit(ctx)
    mask = batch.attention_mask.bool()
    states = ctx.clean.states
    torch.testing.assert_close(plugin.mean(1, 3).float(), (states[3] - states[1])[mask].mean(0), atol=1e-5, rtol=1e-5)
    steps = plugin.targets()[1].build(ctx)
    out = ctx.clean.resume(steps, start=1)
    expected_h3 = states[1] + plugin.mean(1, 3).float()
    torch.testing.assert_close(ctx.clean.run_layer(3, expected_h3), out, atol=1e-5, rtol=1e-5)
    assert [t.label for t in plugin.targets()] == ["mean[l=1]", "mean[1:3]"]


def test_resample_donors_are_other_seeded_stimuli_of_at_least_the_same_length(tiny_adapter, prose, batch_of):
    adapter = tiny_adapter("llama")
    batch = batch_of(adapter, prose, 400)  # no truncation: lengths differ
    ctx = _context(adapter, batch, prose)
    plugin = ResampleAblation(4, layers=[1])
    donors = plugin.donors(ctx)
    lengths = ctx.lengths
    for row, donor in enumerate(donors):
        assert donor != row
        if any(lengths[r] >= lengths[row] for r in range(4) if r != row):
            assert lengths[donor] >= lengths[row]
    fresh = _context(adapter, batch, prose)
    assert plugin.donors(fresh) == donors
    assert ResampleAblation(4, layers=[1], seed=5).donors(fresh) is not None


def test_block_drop_selects_by_angular_distance_and_block_influence(tiny_adapter, prose, batch_of):
    adapter = HFAdapter("tiny-llama", n_layers=6)
    batch = batch_of(adapter, prose)
    ctx = _context(adapter, batch, prose)
    states, mask = ctx.clean.states, batch.attention_mask.bool()
    last = batch.lengths - 1
    rows = torch.arange(4)
    angular = BlockDrop(6, n=[2])
    angular.fit(ctx)
    expected = [angular_distance(states[l][rows, last], states[l + 2][rows, last]).mean().item() for l in range(5)]
    start = min(range(5), key=lambda l: expected[l])
    assert angular.targets()[0].layers == (start, start + 1)
    bi = BlockDrop(6, n=[3], selection="block_influence")
    bi.fit(ctx)
    scores = [block_influence(states[l], states[l + 1])[mask].mean().item() for l in range(6)]
    assert bi.targets()[0].layers == tuple(sorted(sorted(range(6), key=lambda l: scores[l])[:3]))
    with pytest.raises(ValueError, match="leave no layer"):
        BlockDrop(6, n=[6])


def test_causal_tracing_known_answers(tiny_adapter, prose, batch_of):
    adapter = tiny_adapter("llama")
    ctx = _context(adapter, batch_of(adapter, prose), prose)
    ctx.sentence = torch.zeros_like(ctx.batch.input_ids)  # one sentence: the span is the first half
    # zero noise: the corrupted run is the clean run, so every effect is 0
    silent = CausalTracing(4, noise_scale=0.0, n_samples=2, layers=[1, 3])
    silent.fit(ctx)
    results = silent.evaluate(ctx)
    assert max(abs(v) for v in _by_label(results, "trace[total]")["total_effect"]) < 1e-6
    assert max(abs(v) for v in _by_label(results, "trace[pos=last,l=1]")["indirect_effect"]) < 1e-6
    # restoring the last layer's output at the measured position restores the clean output: IE = TE
    tracing = CausalTracing(4, n_samples=3, layers=[3], positions=["last"])
    tracing.fit(ctx)
    assert tracing.embedding_std > 0
    results = tracing.evaluate(ctx)
    total = _by_label(results, "trace[total]")
    restored = _by_label(results, "trace[pos=last,l=3]")
    torch.testing.assert_close(torch.tensor(restored["indirect_effect"]), torch.tensor(total["total_effect"]), atol=1e-5, rtol=0)
    torch.testing.assert_close(torch.tensor(restored["p_restored"]), torch.tensor(total["p_clean"]), atol=1e-5, rtol=0)
    assert max(abs(v) for v in total["total_effect"]) > 0


def test_activation_patching_shuffles_only_the_corrupted_span(tiny_adapter, prose, batch_of):
    adapter = tiny_adapter("gpt2")
    batch = batch_of(adapter, prose)
    ctx = _context(adapter, batch, prose)
    ctx.sentence = torch.zeros_like(batch.input_ids)
    patching = ActivationPatching(4, n_samples=1, layers=[0])
    span = patching.spans(ctx)
    assert span.sum(dim=1).tolist() == [n // 2 for n in ctx.lengths]
    corrupt = patching._corrupt(ctx, span, 0)
    for row in range(4):
        n = ctx.lengths[row] // 2
        # GPT-2's embedding output includes positions; compare token multisets through the embedding
        changed = corrupt.states[0][row, n:] - ctx.clean.states[0][row, n:]
        assert changed.abs().max() == 0  # tokens after the span are untouched
    assert set(patching.evaluate(ctx)) == {"patch[total]", "patch[pos=last_corrupted,l=0]", "patch[pos=last,l=0]"}


def test_sweep_over_all_plugins_runs_on_a_tiny_model(tiny_adapter, prose):
    adapter = tiny_adapter("qwen3")
    specs = [{"name": name, "options": {"layers": [1]}} for name in INTERVENTIONS if name != "block_drop"]
    specs.append({"name": "block_drop", "options": {"n": [1]}})
    specs[-2]["options"].update(n_samples=1)
    specs[-3]["options"].update(n_samples=1)
    result = sweep(adapter, prose, specs, batch_size=2, max_tokens=32)
    labels = {row["intervention"] for row in result.rows}
    assert labels == set(INTERVENTIONS) | {"token_classes"}

"""Cached-residual resume equals a full recompute through forward hooks, on every family."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from torch import nn

from mspgt_bench.interventions.base import BatchContext
from mspgt_bench.interventions.library import (
    BlockDrop,
    LayerDeletion,
    LayerSwap,
    MeanAblation,
    ResampleAblation,
    ResidualNoise,
)
from mspgt_bench.models.hf import HFAdapter
from mspgt_bench.models.resume import Step, count_layer_calls, recompute, record

FAMILIES = ["llama", "qwen2", "qwen3", "mistral", "gemma3", "gpt2"]


def _plugins(n_layers: int):
    return [
        LayerDeletion(n_layers, layers=[1], segments=[(1, 3)]),
        LayerSwap(n_layers, layers=[0, n_layers - 2]),
        ResidualNoise(n_layers, layers=[2], sigmas=[0.5]),
        MeanAblation(n_layers, layers=[1], segments=[(0, 2)]),
        ResampleAblation(n_layers, segments=[(1, 3)]),
        BlockDrop(n_layers, n=[2], selection="block_influence"),
    ]


def _check_all_targets(adapter, batch, stimuli) -> None:
    clean = record(adapter, batch)
    full = adapter.forward(batch)
    torch.testing.assert_close(clean.logits(), full, atol=1e-5, rtol=1e-5)
    ctx = BatchContext(adapter, batch, clean, stimuli)
    checked = 0
    for plugin in _plugins(adapter.n_layers):
        if plugin.needs_fit:
            plugin.fit(ctx)
        for target in plugin.targets():
            steps = target.build(ctx)
            resumed = clean.logits(clean.resume(steps))
            reference = recompute(adapter, batch, steps)
            torch.testing.assert_close(resumed, reference, atol=1e-5, rtol=1e-5, msg=target.label)
            assert (resumed - full).abs().max() > 1e-4, f"{target.label} changed nothing"
            checked += 1
    assert checked >= 9


@pytest.mark.parametrize("family", FAMILIES)
def test_resume_equals_full_recompute(tiny_adapter, family, prose, batch_of):
    adapter = tiny_adapter(family)
    _check_all_targets(adapter, batch_of(adapter, prose), prose)


def test_resume_gemma3_mixed_sliding_and_global_layers(prose, batch_of):
    """Layers 0-4 are sliding-window, layer 5 global: each keeps its own mask and rotary table."""
    adapter = HFAdapter("tiny-gemma3", n_layers=6)
    assert len(set(adapter.model.config.layer_types)) == 2
    batch = batch_of(adapter, prose, 48)  # longer than the sliding window of 16
    _check_all_targets(adapter, batch, prose)
    clean = record(adapter, batch)
    # the recorded arguments really differ per layer: sliding-window mask vs causal, local vs global rotary
    sliding, full = clean.calls[4].kwargs, clean.calls[5].kwargs
    assert full["attention_mask"] is None or not torch.equal(sliding["attention_mask"], full["attention_mask"])
    assert not torch.equal(sliding["position_embeddings"][0], full["position_embeddings"][0])
    steps = {4: Step(modules=(5,)), 5: Step(modules=(4,))}
    torch.testing.assert_close(clean.logits(clean.resume(steps)), recompute(adapter, batch, steps), atol=1e-5, rtol=1e-5)


class _ToyBlock(nn.Module):
    """A residual block that returns a tuple (pre-4.57 transformers style) and takes a per-layer kwarg."""

    def __init__(self, d: int) -> None:
        super().__init__()
        self.lin = nn.Linear(d, d)

    def forward(self, hidden_states, attention_mask=None, scale=1.0):
        return hidden_states + scale * torch.tanh(self.lin(hidden_states)), None


class _ToyBase(nn.Module):
    def __init__(self, n_layers: int, d: int, vocab: int) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, d)
        self.layers = nn.ModuleList(_ToyBlock(d) for _ in range(n_layers))

    def forward(self, input_ids=None, inputs_embeds=None, attention_mask=None, use_cache=False):
        h = self.embed(input_ids) if inputs_embeds is None else inputs_embeds
        for i, layer in enumerate(self.layers):
            if i % 2:  # hidden state as a keyword on odd layers
                h = layer(hidden_states=h, attention_mask=attention_mask, scale=0.5 + i)[0]
            else:
                h = layer(h, attention_mask=attention_mask, scale=0.5 + i)[0]
        return h


class _ToyLM(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.model = _ToyBase(5, 8, 11)
        self.lm_head = nn.Linear(8, 11)

    def forward(self, input_ids=None, inputs_embeds=None, attention_mask=None, use_cache=False):
        return SimpleNamespace(logits=self.lm_head(self.model(input_ids, inputs_embeds, attention_mask)))


def test_resume_handles_tuple_outputs_keyword_hidden_and_per_layer_kwargs():
    lm = _ToyLM().eval()
    adapter = SimpleNamespace(
        model=lm,
        layers=lm.model.layers,
        n_layers=5,
        map=SimpleNamespace(layers="model.layers"),
        logits_from_resid=lambda h: lm.lm_head(h),
    )
    ids = torch.randint(0, 11, (2, 6))
    batch = SimpleNamespace(input_ids=ids, attention_mask=torch.ones_like(ids), stimulus_index=[0, 1])
    clean = record(adapter, batch)
    assert [c.kwargs["scale"] for c in clean.calls] == [0.5, 1.5, 2.5, 3.5, 4.5]
    assert [c.hidden_as_kwarg for c in clean.calls] == [False, True, False, True, False]
    with torch.inference_mode():
        torch.testing.assert_close(clean.logits(), lm(ids).logits)
    for steps in ({2: Step(modules=())}, {1: Step(modules=(2,)), 2: Step(modules=(1,))}, {3: Step(pre=lambda h: h * 2)}):
        torch.testing.assert_close(clean.logits(clean.resume(steps)), recompute(adapter, batch, steps))


def test_deletion_sweep_executes_about_half_the_layers(batch_of, prose):
    adapter = HFAdapter("tiny-llama", n_layers=8)
    n = adapter.n_layers
    batch = batch_of(adapter, prose)
    with count_layer_calls(adapter) as resumed:
        clean = record(adapter, batch)
        for layer in range(n):
            clean.resume({layer: Step(modules=())})
    with count_layer_calls(adapter) as naive:
        adapter.forward(batch)  # the clean reference
        for layer in range(n):
            recompute(adapter, batch, {layer: Step(modules=())})
    # resume: one clean pass, then layers l+1 .. L-1 for deletion at l; naive: L full passes
    assert resumed.total == n + n * (n - 1) // 2 == 36
    assert naive.total == n + n * n == 72
    assert resumed.total / naive.total <= 0.6
    assert resumed.per_layer == [1 + k for k in range(n)]  # layer k runs once clean + once per earlier deletion


def test_cached_output_reused_only_while_the_stream_is_clean(tiny_adapter, batch_of, prose):
    adapter = tiny_adapter("llama")
    clean = record(adapter, batch_of(adapter, prose))
    with count_layer_calls(adapter) as counter:
        out = clean.resume({2: Step(post=lambda h, o: o)})  # an edit that changes nothing
    assert counter.total == 1  # layer 3 only: layer 2's output came from the cache
    torch.testing.assert_close(out, clean.states[-1])
    with count_layer_calls(adapter) as counter:
        clean.resume({1: Step(pre=lambda h: h)})
    assert counter.total == 3  # a pre-edit forces layers 1..3 to run


def test_resume_validates_steps(tiny_adapter, batch_of, prose):
    adapter = tiny_adapter("llama")
    clean = record(adapter, batch_of(adapter, prose))
    with pytest.raises(ValueError, match="outside"):
        clean.resume({7: Step(modules=())})
    with pytest.raises(ValueError, match="runs layer"):
        clean.resume({1: Step(modules=(9,))})

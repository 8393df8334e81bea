"""The HF adapter on tiny random configs of every supported family."""

from __future__ import annotations

import pytest
import torch

from mspgt_bench.models.sites import Site, SiteError, all_layers
from mspgt_bench.models.tiny import TINY_CONFIGS

FAMILIES = sorted(TINY_CONFIGS)

TEXTS = ["The cat sat on the mat. It was warm.", "Short text."]


def _hooks(adapter) -> list[tuple[list, list]]:
    """Every module's hook ids (transformers installs output-capturing hooks of its own, once: compare, do not count)."""
    return [(list(m._forward_hooks), list(m._forward_pre_hooks)) for m in adapter.model.modules()]


def _batch(adapter):
    return adapter.tokenize(TEXTS, [0, 1], 32)


@pytest.mark.parametrize("family", FAMILIES)
def test_every_site_resolves_and_hooks_are_removed(tiny_adapter, family):
    adapter = tiny_adapter(family)
    batch = _batch(adapter)
    before = adapter.forward(batch)
    hooks = _hooks(adapter)
    n = adapter.n_layers
    sites = [Site("logits")] + [s for kind in ("resid_pre", "resid_post", "attn_out", "mlp_out", "attn_pattern") for s in all_layers(kind, n)]
    with adapter.capture(sites) as acts:
        during = adapter.forward(batch)
    after = adapter.forward(batch)
    assert set(acts) == set(sites)
    assert torch.equal(before, after), "outputs changed after the hooked run"
    assert _hooks(adapter) == hooks
    mask = batch.attention_mask.bool()
    torch.testing.assert_close(during[mask], before[mask], atol=1e-4, rtol=1e-4)
    b, t = batch.input_ids.shape
    assert acts[Site("resid_post", 0)].shape == (b, t, adapter.d_model)
    pattern = acts[Site("attn_pattern", 0)]
    assert pattern.shape[0] == b and pattern.shape[-2:] == (t, t)
    rows = pattern.sum(-1)[:, :, mask[0]]
    torch.testing.assert_close(rows, torch.ones_like(rows), atol=1e-5, rtol=0)


@pytest.mark.parametrize("family", FAMILIES)
def test_residual_decomposition_and_logit_lens_at_last_layer(tiny_adapter, family):
    """resid_post[l] = resid_pre[l] + attn_out[l] + mlp_out[l]; the lens at the last layer is the output."""
    adapter = tiny_adapter(family)
    batch = _batch(adapter)
    n = adapter.n_layers
    sites = [Site(k, l) for k in ("resid_pre", "resid_post", "attn_out", "mlp_out") for l in range(n)]
    with adapter.capture(sites) as acts:
        logits = adapter.forward(batch)
    for layer in range(n):
        total = acts[Site("resid_pre", layer)] + acts[Site("attn_out", layer)] + acts[Site("mlp_out", layer)]
        torch.testing.assert_close(total, acts[Site("resid_post", layer)], atol=1e-5, rtol=1e-5)
        if layer + 1 < n:
            assert torch.equal(acts[Site("resid_post", layer)], acts[Site("resid_pre", layer + 1)])
    lens = adapter.logits_from_resid(acts[Site("resid_post", n - 1)])
    torch.testing.assert_close(lens, logits, atol=1e-5, rtol=1e-5)


def test_resid_post_matches_output_hidden_states(tiny_adapter):
    adapter = tiny_adapter("llama")
    batch = _batch(adapter)
    with adapter.capture(all_layers("resid_post", adapter.n_layers)) as acts:
        adapter.forward(batch)
    with torch.inference_mode():
        hidden = adapter.model(batch.input_ids, attention_mask=batch.attention_mask, output_hidden_states=True).hidden_states
    # hidden_states[l + 1] is layer l's output, except the last entry, which is after the final norm.
    for layer in range(adapter.n_layers - 1):
        torch.testing.assert_close(acts[Site("resid_post", layer)], hidden[layer + 1])
    torch.testing.assert_close(adapter.model.model.norm(acts[Site("resid_post", adapter.n_layers - 1)]), hidden[-1])


def test_attention_patterns_switch_to_eager_only_inside_capture(tiny_adapter):
    adapter = tiny_adapter("qwen2")
    before = adapter.model.config._attn_implementation
    with adapter.capture([Site("attn_pattern", 1)]):
        assert adapter.model.config._attn_implementation == "eager"
        adapter.forward(_batch(adapter))
    assert adapter.model.config._attn_implementation == before


def test_hooks_removed_when_the_body_raises(tiny_adapter):
    adapter = tiny_adapter("mistral")
    hooks = _hooks(adapter)
    with pytest.raises(RuntimeError, match="boom"), adapter.capture(all_layers("resid_post", adapter.n_layers)):
        assert _hooks(adapter) != hooks  # the capture hooks are in place inside
        raise RuntimeError("boom")
    assert _hooks(adapter) == hooks


def test_bad_sites_fail_fast(tiny_adapter):
    adapter = tiny_adapter("gpt2")
    with pytest.raises(SiteError, match="layers 0..3"), adapter.capture([Site("resid_post", 7)]):
        pass


def test_random_weight_twin_is_seeded_and_differs_from_trained():
    from mspgt_bench.models.hf import HFAdapter

    a = HFAdapter("tiny-llama", seed=1)
    b = HFAdapter("tiny-llama", seed=1)
    c = HFAdapter("tiny-llama", seed=2)
    wa, wb, wc = (m.model.model.layers[0].mlp.up_proj.weight for m in (a, b, c))
    assert torch.equal(wa, wb) and not torch.equal(wa, wc)


@pytest.mark.parametrize("family", FAMILIES)
def test_affine_readout_is_the_logit_lens(tiny_adapter, family):
    """No tiny family softcaps its logits: the read-out is W·norm(h) + b, equal to logits_from_resid."""
    adapter = tiny_adapter(family)
    affine = adapter.affine_readout()
    assert affine is not None and affine.weight.shape == (adapter.model.config.vocab_size, adapter.d_model)
    resid = torch.randn(2, 3, adapter.d_model)
    with torch.inference_mode():
        assert torch.equal(affine.logits(affine.norm(resid)), adapter.logits_from_resid(resid))

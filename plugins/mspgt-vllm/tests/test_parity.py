"""Parity of the vllm adapter with the HF adapter on the real SmolLM2-135M in float32.

Declared tolerances (the measured maxima are printed by each test; see the plugin README):

* residual stream, every layer: per-token relative error ``‖x_vllm − x_hf‖ / ‖x_hf‖ ≤ 1e-4``
  (SmolLM2's residual norms reach the thousands, so an absolute bound would say little);
* logits of the same residual (final norm + unembedding): ``≤ 1e-3`` absolute;
* prompt log-probabilities: ``≤ 2e-4`` nats absolute;
* intervention effects per stimulus (layer deletion, residual noise with a fixed seed, mean
  ablation): ``kl``, ``delta_loss``, ``delta_entropy`` and the per-class ``delta_loss`` within
  ``1e-3`` nats; ``top1_agreement`` within one flipped position of the shortest stimulus; the
  token-class fractions within one token of the shortest stimulus.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from mspgt_bench.interventions.sweep import sweep
from mspgt_bench.models.resume import Step
from mspgt_bench.models.sites import Site, SiteError
from mspgt_bench.signals.base import BootstrapConfig

from .conftest import tokenize

pytestmark = pytest.mark.slow

SPECS = [
    {"name": "layer_deletion", "options": {"layers": [0, 15]}},
    {"name": "residual_noise", "options": {"layers": [10], "sigmas": [0.3], "seed": 0}},
    {"name": "mean_ablation", "options": {"layers": [20]}},
    # token-shuffle corruption is recorded through record_residuals; the restore is a per-token edit
    {"name": "activation_patching", "options": {"layers": [3, 20], "n_samples": 2, "positions": ["last_corrupted"]}},
]


def report(capsys, text: str) -> None:
    with capsys.disabled():
        print(f"\n[vllm parity] {text}")


@pytest.fixture(scope="module")
def batches(vllm_adapter, hf_adapter, prose):
    return tokenize(vllm_adapter, prose), tokenize(hf_adapter, prose)


def test_tokenization_equals_hf(batches):
    ours, theirs = batches
    assert torch.equal(ours.input_ids, theirs.input_ids)
    assert torch.equal(ours.attention_mask, theirs.attention_mask)
    assert ours.lengths.min() < ours.lengths.max()  # the batch is really padded


def test_residual_stream_matches_hf_at_every_layer(vllm_adapter, hf_adapter, batches, capsys):
    ours, theirs = vllm_adapter.record_residuals(batches[0]), hf_adapter.record_residuals(batches[1])
    mask = batches[0].attention_mask.bool()
    assert len(ours.states) == len(theirs.states) == 31
    rel = [
        float(((a[mask] - b[mask]).norm(dim=-1) / b[mask].norm(dim=-1)).max())
        for a, b in zip(ours.states, theirs.states)
    ]
    absolute = max(float((a[mask] - b[mask]).abs().max()) for a, b in zip(ours.states, theirs.states))
    report(
        capsys,
        f"residual stream: max relative error {max(rel):.2e} (layer {int(np.argmax(rel))}), max abs {absolute:.2e}",
    )
    assert max(rel) <= 1e-4
    assert all(float(s[~mask].abs().sum()) == 0.0 for s in ours.states)  # right padding holds zeros
    logits = vllm_adapter.logits_from_resid(theirs.states[-1][:2])
    logit_err = float((logits - hf_adapter.logits_from_resid(theirs.states[-1][:2])).abs().max())
    report(capsys, f"final norm + unembedding of the same residual: max abs error {logit_err:.2e}")
    assert logit_err <= 1e-3


def test_sub_module_sites_and_logits_match_hf(vllm_adapter, hf_adapter, batches, capsys):
    sites = [Site("attn_out", 3), Site("mlp_out", 3), Site("resid_pre", 12), Site("logits")]
    mask = batches[0].attention_mask.bool()
    with vllm_adapter.capture(sites) as ours:
        logits = vllm_adapter.forward(batches[0])
    with hf_adapter.capture(sites) as theirs:
        hf_adapter.forward(batches[1])
    errors = {str(site): float((ours[site][mask] - theirs[site][mask]).abs().max()) for site in sites}
    report(capsys, "captured sites, max abs error: " + ", ".join(f"{k} {v:.2e}" for k, v in errors.items()))
    assert torch.equal(logits, ours[Site("logits")])
    assert errors["attn_out[3]"] <= 1e-3 and errors["mlp_out[3]"] <= 1e-3 and errors["logits"] <= 1e-3


def test_prompt_logprobs_match_hf(vllm_adapter, hf_adapter, batches, capsys):
    ours = vllm_adapter.prompt_logprobs(batches[0])
    ids = batches[1].input_ids
    logp = torch.log_softmax(hf_adapter.forward(batches[1]).float(), dim=-1)
    theirs = torch.full(ids.shape, math.nan)
    theirs[:, 1:] = logp[:, :-1].gather(-1, ids[:, 1:, None]).squeeze(-1)
    theirs[~batches[1].attention_mask.bool()] = math.nan
    assert torch.equal(ours.isnan(), theirs.isnan())
    real = ~theirs.isnan()
    error = float((ours[real] - theirs[real]).abs().max())
    report(capsys, f"prompt log-probabilities: max abs error {error:.2e} nats over {int(real.sum())} tokens")
    assert error <= 2e-4


def test_intervention_effects_match_hf(vllm_adapter, hf_adapter, prose, capsys):
    """One batch of four stimuli, token classes included (scored through prompt_logprobs on vLLM)."""
    stimuli, boot = prose[:4], BootstrapConfig(n_boot=50)
    ours = sweep(vllm_adapter, stimuli, SPECS, batch_size=4, max_tokens=40, boot=boot)
    theirs = sweep(hf_adapter, stimuli, SPECS, batch_size=4, max_tokens=40, boot=boot)
    assert ours.per_stimulus.keys() == theirs.per_stimulus.keys()
    shortest = int(tokenize(hf_adapter, stimuli, 40).lengths.min())
    worst: dict[str, float] = {}
    for key, metrics in theirs.per_stimulus.items():
        for metric, expected in metrics.items():
            got = ours.per_stimulus[key][metric]
            assert np.array_equal(np.isnan(got), np.isnan(expected)), (key, metric)
            error = float(np.nanmax(np.abs(got - expected), initial=0.0))
            worst[metric] = max(worst.get(metric, 0.0), error)
            bound = 1.0 / (shortest - 1) if metric == "top1_agreement" else 1e-3
            assert error <= bound, (key, metric, error)
    report(
        capsys,
        "intervention effects, max abs difference per metric: "
        + ", ".join(f"{m} {e:.2e}" for m, e in sorted(worst.items())),
    )
    fractions = {r["metric"]: r["value"] for r in ours.rows if r["intervention"] == "token_classes"}
    expected = {r["metric"]: r["value"] for r in theirs.rows if r["intervention"] == "token_classes"}
    report(capsys, f"token classes: vllm {fractions} hf {expected}")
    for metric, value in expected.items():
        assert abs(fractions[metric] - value) <= (1.0 if metric == "n_classified" else 1.0 / shortest)


def test_what_vllm_cannot_give_is_an_error_that_says_why(vllm_adapter, batches):
    with pytest.raises(SiteError, match="fused attention kernels"), vllm_adapter.capture([Site("attn_pattern", 2)]):
        pass
    clean = vllm_adapter.record_residuals(batches[0])
    with pytest.raises(NotImplementedError, match="layer swaps need the HF backend"):
        clean.resume({4: Step(modules=(5,)), 5: Step(modules=(4,))})
    with pytest.raises(NotImplementedError, match="replaced hidden state"):
        clean.resume({4: Step(modules=())}, start=4, hidden=clean.states[4])
    assert clean.resume({}) is clean.states[-1]


def test_an_intervention_the_backend_cannot_run_is_reported_and_the_others_go_on(vllm_adapter, prose):
    specs = [{"name": "causal_tracing", "options": {"layers": [3], "n_samples": 1}}, SPECS[0]]
    result = sweep(vllm_adapter, prose[:4], specs, batch_size=4, max_tokens=40, boot=BootstrapConfig(n_boot=20))
    assert "input embeddings" in result.unsupported["causal_tracing"] and "'vllm' backend" in result.unsupported["causal_tracing"]
    assert {r["intervention"] for r in result.rows} == {"layer_deletion", "token_classes"}

"""The real SmolLM2-135M: resume equals recompute, and the Lad et al. (2024) deletion anchors."""

from __future__ import annotations

import statistics

import pytest
import torch

from mspgt_bench.interventions.sweep import sweep
from mspgt_bench.models.hf import HFAdapter
from mspgt_bench.models.resume import Step, recompute, record
from mspgt_bench.signals.base import BootstrapConfig

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def smollm2() -> HFAdapter:
    return HFAdapter("smollm2-135m")


def test_resume_equals_recompute_on_real_weights(smollm2, prose, batch_of):
    batch = batch_of(smollm2, prose, 32)
    clean = record(smollm2, batch)
    for steps in ({7: Step(modules=())}, {14: Step(modules=(15,)), 15: Step(modules=(14,))}):
        torch.testing.assert_close(clean.logits(clean.resume(steps)), recompute(smollm2, batch, steps), atol=1e-4, rtol=1e-4)


def test_first_layer_deletion_is_catastrophic_and_middle_deletions_are_survivable(smollm2, prose):
    layers = [0, 5, 10, 15, 20, 25]
    rows = sweep(
        smollm2, prose, [{"name": "layer_deletion", "options": {"layers": layers}}], batch_size=4, max_tokens=48,
        boot=BootstrapConfig(n_boot=100), token_classes={"enabled": False},
    ).rows
    top1 = {r["layer"]: r["value"] for r in rows if r["metric"] == "top1_agreement"}
    assert top1[0] < 0.2  # Lad et al.: the first layer is catastrophic
    middle = statistics.median(top1[layer] for layer in layers[1:])
    assert 0.6 <= middle <= 0.95  # Lad et al.: 72-95% kept (looser bound for 4 stimuli and a 135M model)

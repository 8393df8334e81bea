"""Known answer on a real architecture: a Llama whose layers are built with planted segments.

Each decoder layer's attention output is zeroed and its MLP output rescaled so that the layer
moves the residual stream by a chosen ratio ‖Δh‖ / ‖h‖. Segments [0, 4), [4, 8), [8, 12) get
different ratios, so the true boundaries are 4 and 8; a model with one ratio everywhere has no
boundary. The detector must see this through the real capture pass and signals.
"""

from __future__ import annotations

import torch

from mspgt_bench.capture import capture_pass
from mspgt_bench.detectors.plugins import ChangePoint
from mspgt_bench.models.hf import HFAdapter
from mspgt_bench.models.sites import Site
from mspgt_bench.signals.angular import AngularDistance
from mspgt_bench.signals.base import BootstrapConfig
from mspgt_bench.stimuli.stdlib import stdlib_prose

N_LAYERS = 12


def planted_model(ratios: list[float]) -> HFAdapter:
    adapter = HFAdapter("tiny-llama", seed=11, n_layers=len(ratios))
    batch = adapter.tokenize([s.text for s in stdlib_prose(n=4, seed=9)], [0, 1, 2, 3], 48)
    mask = batch.attention_mask.bool()
    with torch.no_grad():
        for layer, ratio in enumerate(ratios):
            block = adapter.layers[layer]
            block.self_attn.o_proj.weight.zero_()
            sites = [Site("resid_pre", layer), Site("mlp_out", layer)]
            with adapter.capture(sites) as acts:
                adapter.forward(batch)
            current = (acts[sites[1]].norm(dim=-1) / acts[sites[0]].norm(dim=-1))[mask].mean()
            block.mlp.down_proj.weight.mul_(ratio / current)
    return adapter


def detect(adapter: HFAdapter):
    signal = AngularDistance(adapter.n_layers)
    capture_pass(adapter, stdlib_prose(n=12, seed=1), [signal], batch_size=6, max_tokens=48)
    boot = BootstrapConfig(n_boot=100, seed=0)
    profiles = {f"{p.signal}.{p.metric}": p for p in signal.profiles(boot)}
    detector = ChangePoint(profiles={"angular_distance.block_influence": 1.0, "angular_distance.angular_all": 1.0}, n_boot=50)
    return detector.detect(profiles, adapter.n_layers, boot)


def test_planted_boundaries_are_found_within_one_layer():
    detection = detect(planted_model([0.2] * 4 + [1.5] * 4 + [0.6] * 4))
    found = detection.segmentation.boundaries
    assert len(found) == 2, found
    assert abs(found[0] - 4) <= 1 and abs(found[1] - 8) <= 1, found
    for stability in detection.bootstrap.stability:
        assert stability.within_tolerance > 0.8


def test_no_boundary_in_a_model_built_without_one():
    detection = detect(planted_model([0.6] * N_LAYERS))
    assert detection.segmentation.boundaries == ()

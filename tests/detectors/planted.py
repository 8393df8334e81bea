"""Constructions with known boundaries, for the detector tests and the planted-structure bank.

Real architectures: random-weight configs of real transformers families whose decoder layers
are weight-edited so that each layer moves the residual stream by a chosen ratio
``‖Δh‖ / ‖h‖`` (attention output zeroed, MLP output rescaled). A boundary layer gets a large
ratio and every other layer a small one (a spike in the change profiles), or each segment gets
its own ratio (a step in the rate of change). The unplanted twin is the same random-weight
model, unedited.

Synthetic profiles: per-stimulus profiles (mean + Gaussian noise across stimuli) with steps in
a level, spikes in a change, both, or no structure at all (smooth decay, linear trend, slow
wave, flat, pure noise).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from mspgt_bench.capture import capture_pass
from mspgt_bench.models.hf import HFAdapter
from mspgt_bench.models.sites import Site
from mspgt_bench.signals.angular import AngularDistance
from mspgt_bench.signals.base import BootstrapConfig, Kind, Profile, Signal
from mspgt_bench.signals.logit_lens import LogitLens
from mspgt_bench.stimuli.stdlib import stdlib_prose

SPIKE, QUIET = 1.0, 0.05
"""Update ratios of a boundary layer and of every other layer in the spike construction."""


def _scale_mlp_output(block: torch.nn.Module, factor: float) -> None:
    """Multiply a decoder layer's MLP contribution to the residual stream by ``factor``."""
    post_norm = getattr(block, "post_feedforward_layernorm", None)
    if post_norm is not None:  # Gemma 3: the MLP output is normalised, then scaled by (1 + weight)
        post_norm.weight.copy_((1.0 + post_norm.weight) * factor - 1.0)
    else:
        block.mlp.down_proj.weight.mul_(factor)


def planted_model(family: str, ratios: Sequence[float], seed: int = 11) -> HFAdapter:
    """A ``tiny-<family>`` model with ``len(ratios)`` layers, layer l moving the stream by ``ratios[l]``."""
    adapter = HFAdapter(f"tiny-{family}", seed=seed, n_layers=len(ratios))
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
            _scale_mlp_output(block, ratio / float(current))
    return adapter


def spike_ratios(n_layers: int, boundaries: Sequence[int]) -> list[float]:
    """Large updates at layer 0 and at each boundary layer, small ones elsewhere."""
    return [SPIKE if layer == 0 or layer in boundaries else QUIET for layer in range(n_layers)]


def step_ratios(n_layers: int, boundaries: Sequence[int], levels: Sequence[float]) -> list[float]:
    """One update ratio per segment."""
    edges = [0, *boundaries, n_layers]
    return [level for level, start, stop in zip(levels, edges[:-1], edges[1:]) for _ in range(start, stop)]


def model_profiles(adapter: HFAdapter, n_stimuli: int = 12, boot: BootstrapConfig | None = None) -> dict[str, Profile]:
    """The quickstart's profiles (angular distance, logit-lens KL) of a model, by ``signal.metric``."""
    signals: list[Signal] = [AngularDistance(adapter.n_layers), LogitLens(adapter.n_layers, max_positions=16)]
    capture_pass(adapter, stdlib_prose(n=n_stimuli, seed=1), signals, batch_size=6, max_tokens=48)
    boot = boot or BootstrapConfig(n_boot=50, seed=0)
    return {f"{p.signal}.{p.metric}": p for signal in signals for p in signal.profiles(boot)}


def synthetic_profile(
    name: str, kind: Kind, mean: np.ndarray, noise: float, rng: np.random.Generator, n_stimuli: int = 24
) -> Profile:
    """A profile whose per-stimulus values are ``mean`` plus independent Gaussian noise of sd ``noise``."""
    data = mean + rng.normal(0.0, noise, size=(n_stimuli, len(mean)))
    layers = np.arange(len(mean))
    return Profile(
        name, "m", layers, data.mean(0), data.min(0), data.max(0), n_stimuli, (layers + 1) / len(mean), "synthetic", data,
        kind=kind,
    )


def step_level(n_layers: int, boundaries: Sequence[int], levels: Sequence[float], trend: float = 0.0) -> np.ndarray:
    """Piecewise-constant level (plus an optional linear trend of ``trend`` per layer)."""
    mean = np.full(n_layers, float(levels[0]))
    for boundary, level in zip(boundaries, levels[1:]):
        mean[boundary:] = level
    return mean + trend * np.arange(n_layers)


def spike_change(n_layers: int, boundaries: Sequence[int], height: float, decay: float = 0.0) -> np.ndarray:
    """A change profile: baseline 1 decaying by ``decay`` per layer, ``height`` times higher at each boundary."""
    base = np.exp(-decay * np.arange(n_layers))
    mean = base.copy()
    mean[list(boundaries)] *= height
    return mean


STRUCTURELESS: dict[str, tuple[Kind, callable]] = {
    "smooth decay (change)": ("change", lambda n: np.exp(-4.0 * np.arange(n) / n) + 0.1),
    "monotone trend (level)": ("level", lambda n: 5.0 - 4.0 * np.arange(n) / n),
    "sigmoid drift (level)": ("level", lambda n: 1.0 + 1.0 / (1.0 + np.exp(-(np.arange(n) - n / 2) / (n / 6)))),
    "slow wave (change)": ("change", lambda n: 1.0 + 0.3 * np.sin(2 * np.pi * np.arange(n) / n)),
    "flat (level)": ("level", lambda n: np.ones(n)),
    "flat (change)": ("change", lambda n: np.ones(n)),
}
"""Mean profiles without boundaries (``kind``, ``mean(n_layers)``); noise is added per stimulus."""

"""Put profiles with different point conventions on one grid of layers before fusing them.

Signals place their points at different depths (a layer's output sits at (l + 1)/L; a stream
state x_s at s/L; an adjacent-pair signal between two states). Detectors work on the grid of
the model's L layer outputs, depth (l + 1)/L for l = 0..L−1: each profile is linearly
interpolated over depth onto that grid, so a boundary b always means "layer b starts a new
segment", whichever signals were fused.
"""

from __future__ import annotations

import numpy as np

from mspgt_bench.signals.base import Profile


def layer_depths(n_layers: int) -> np.ndarray:
    """Depth of each layer output: (l + 1) / L."""
    return (np.arange(n_layers) + 1) / n_layers


def on_layer_grid(values: np.ndarray, depth: np.ndarray, n_layers: int) -> np.ndarray:
    """Interpolate ``values [..., points]`` given at ``depth [points]`` onto the layer grid."""
    grid = layer_depths(n_layers)
    order = np.argsort(depth)
    flat = values.reshape(-1, values.shape[-1])[:, order]
    out = np.stack([np.interp(grid, depth[order], row) for row in flat])
    return out.reshape(*values.shape[:-1], n_layers)


def per_stimulus_on_grid(profile: Profile, n_layers: int) -> np.ndarray:
    """``[n_stimuli, L]`` per-stimulus values of ``profile`` on the layer grid."""
    if profile.per_stimulus is None:
        raise ValueError(
            f"profile {profile.signal}.{profile.metric} is a dataset-level statistic with no per-stimulus "
            "values, so boundary intervals cannot be bootstrapped from it; use a per-stimulus signal"
        )
    return on_layer_grid(profile.per_stimulus, profile.depth, n_layers)

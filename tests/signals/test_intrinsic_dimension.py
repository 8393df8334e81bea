"""Intrinsic dimension signal: known dimensions of planted manifolds, tiny models of every family."""

from __future__ import annotations

import numpy as np
import pytest

from mspgt_bench.capture import capture_pass
from mspgt_bench.signals.base import BootstrapConfig
from mspgt_bench.signals.intrinsic_dimension import IntrinsicDimension
from mspgt_bench.stimuli.stdlib import stdlib_prose

FAMILIES = ["llama", "qwen2", "qwen3", "mistral", "gemma3", "gpt2"]


def planted(n: int, dims: list[int], d: int = 16, seed: int = 0) -> np.ndarray:
    """``[n, len(dims), d]``: at point p, isotropic Gaussian points on a random dims[p]-dimensional subspace."""
    rng = np.random.default_rng(seed)
    out = np.empty((n, len(dims), d))
    for p, k in enumerate(dims):
        basis, _ = np.linalg.qr(rng.normal(size=(d, d)))
        out[:, p] = rng.normal(size=(n, k)) @ basis[:k] + rng.normal(size=d)
    return out


def test_recovers_planted_dimensions():
    dims = [2, 4, 6]
    signal = IntrinsicDimension(len(dims) - 1, n_boot=5)
    signal.add_states(range(400), planted(400, dims))
    profiles = {p.metric: p for p in signal.profiles(BootstrapConfig(n_boot=5))}
    assert profiles["pca99"].value.tolist() == dims
    np.testing.assert_allclose(profiles["participation_ratio"].value, dims, rtol=0.15)
    np.testing.assert_allclose(profiles["twonn"].value, dims, rtol=0.2)
    np.testing.assert_allclose(profiles["gride"].value, dims, rtol=0.2)
    assert signal.gride_n1(400) == 16 and signal.gride_n1(20) == 4 and signal.gride_n1(6) == 1


def test_interval_narrows_with_more_stimuli():
    widths = []
    for n in (40, 400):
        signal = IntrinsicDimension(1, n_boot=40)
        signal.add_states(range(n), planted(n, [3, 3], seed=n))
        profiles = {p.metric: p for p in signal.profiles(BootstrapConfig(n_boot=40))}
        for p in profiles.values():
            assert np.all(p.lo <= p.value) and np.all(p.value <= p.hi)
        widths.append(np.mean(profiles["twonn"].hi - profiles["twonn"].lo))
    assert widths[1] < 0.6 * widths[0]


@pytest.mark.parametrize("family", FAMILIES)
def test_tiny_model_profiles_are_finite(tiny_adapter, family):
    adapter = tiny_adapter(family)
    signal = IntrinsicDimension(adapter.n_layers, n_boot=8)
    capture_pass(adapter, stdlib_prose(n=12, seed=5), [signal], batch_size=4, max_tokens=24)
    profiles = {p.metric: p for p in signal.profiles(BootstrapConfig(n_boot=50))}
    assert set(profiles) == {"twonn", "gride", "pca99", "participation_ratio"}
    for p in profiles.values():
        assert p.layers.tolist() == list(range(adapter.n_layers + 1)) and p.n == 12
        assert np.all(np.isfinite(p.value[1:])), (p.metric, p.value)
        assert np.all(np.isfinite(p.lo[1:]) & np.isfinite(p.hi[1:])), p.metric


def test_resample_statistic_equals_the_kernels_on_repeated_rows():
    import torch

    from mspgt_bench.metrics.intrinsic_dimension import gride, participation_ratio, pca_dimension, twonn

    rng = np.random.default_rng(7)
    states = planted(60, [2, 5], seed=7)
    signal = IntrinsicDimension(1)
    signal.add_states(range(60), states)
    indices = rng.integers(0, 60, size=60)
    values = signal.statistic(indices)
    for point in range(2):
        cloud = states[indices, point].astype(np.float32).astype(np.float64)
        assert values["twonn"][point] == pytest.approx(twonn(cloud), rel=1e-9)
        assert values["gride"][point] == pytest.approx(gride(cloud, n1=signal.gride_n1(60)), rel=1e-9)
        assert values["pca99"][point] == float(pca_dimension(torch.tensor(cloud)))
        assert values["participation_ratio"][point] == pytest.approx(float(participation_ratio(torch.tensor(cloud))), rel=1e-9)

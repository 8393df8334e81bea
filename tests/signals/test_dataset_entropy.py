"""Dataset matrix entropy and effective rank: closed forms, kernel agreement, bootstrap, tiny models."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from mspgt_bench.capture import capture_pass
from mspgt_bench.metrics.matrix_entropy import effective_rank, matrix_entropy
from mspgt_bench.signals.base import BootstrapConfig
from mspgt_bench.signals.dataset_entropy import DatasetEntropy
from mspgt_bench.stimuli.stdlib import stdlib_prose

FAMILIES = ["llama", "qwen2", "qwen3", "mistral", "gemma3", "gpt2"]


def test_closed_forms():
    """Orthogonal equal-norm rows: entropy log n, effective rank n; identical rows: 0 and 1."""
    n = 8
    states = np.stack([np.eye(n), 3 * np.eye(n)[::-1], np.ones((n, n))], axis=1)  # [n, 3 points, d = n]
    signal = DatasetEntropy(2, n_boot=5)
    signal.add_states(range(n), states)
    profiles = {p.metric: p for p in signal.profiles(BootstrapConfig(n_boot=5))}
    np.testing.assert_allclose(profiles["entropy"].value, [math.log(n), math.log(n), 0.0], atol=1e-9)
    np.testing.assert_allclose(profiles["effective_rank"].value, [n, n, 1.0], atol=1e-9)
    assert profiles["entropy"].depth.tolist() == [0.0, 0.5, 1.0]


@pytest.mark.parametrize("options", [{}, {"center": True, "normalize": "log_n"}])
def test_agrees_with_the_kernels(options):
    rng = np.random.default_rng(2)
    states = rng.normal(size=(30, 3, 12)) + rng.normal(size=(1, 3, 12)) * 4
    signal = DatasetEntropy(2, **options)
    signal.add_states(range(30), states)
    values = signal.statistic(np.arange(30))
    for point in range(3):
        z = torch.tensor(states[:, point].astype(np.float32), dtype=torch.float64)
        center = options.get("center", False)
        expected = matrix_entropy(z, normalize=options.get("normalize"), center=center)
        assert values["entropy"][point] == pytest.approx(float(expected), rel=1e-10)
        assert values["effective_rank"][point] == pytest.approx(float(effective_rank(z, center=center)), rel=1e-10)


def test_bootstrap_interval_covers_and_narrows():
    rng = np.random.default_rng(3)
    scales = np.array([4.0, 2.0, 1.0, 0.5, 0.25])
    widths = []
    for n in (40, 400):
        signal = DatasetEntropy(1, interval="percentile")
        signal.add_states(range(n), rng.normal(size=(n, 2, 5)) * scales)
        profiles = {p.metric: p for p in signal.profiles(BootstrapConfig(n_boot=200))}
        for p in profiles.values():  # n >> d: duplicated rows barely bias the spectrum, so even the plain interval covers
            assert np.all(p.lo <= p.value) and np.all(p.value <= p.hi), p.metric
        widths.append(profiles["entropy"].hi - profiles["entropy"].lo)
    assert np.all(widths[1] < 0.6 * widths[0])


@pytest.mark.parametrize("family", FAMILIES)
def test_tiny_model_profiles_are_finite(tiny_adapter, family):
    adapter = tiny_adapter(family)
    signal = DatasetEntropy(adapter.n_layers)
    capture_pass(adapter, stdlib_prose(n=12, seed=5), [signal], batch_size=4, max_tokens=24)
    profiles = {p.metric: p for p in signal.profiles(BootstrapConfig(n_boot=30))}
    assert set(profiles) == {"entropy", "effective_rank"}
    for p in profiles.values():
        assert p.layers.tolist() == list(range(adapter.n_layers + 1)) and p.n == 12
        assert np.all(np.isfinite(p.value) & np.isfinite(p.lo) & np.isfinite(p.hi)), p.metric
        assert np.all(p.lo <= p.value) and np.all(p.value <= p.hi)
    assert np.all(profiles["entropy"].value <= math.log(12) + 1e-9)


@pytest.mark.parametrize("options", [{}, {"center": True}, {"normalize": "log_n"}, {"normalize": "log_rank"}])
def test_resample_statistic_equals_the_kernels_on_repeated_rows(options):
    rng = np.random.default_rng(6)
    states = rng.normal(size=(20, 2, 30)) + 3
    states[:, 1, 10:] = 0  # rank-deficient second point
    signal = DatasetEntropy(1, **options)
    signal.add_states(range(20), states)
    indices = rng.integers(0, 20, size=20)
    values = signal.statistic(indices)
    for point in range(2):
        z = torch.tensor(states[indices, point].astype(np.float32), dtype=torch.float64)
        center = options.get("center", False)
        expected = matrix_entropy(z, normalize=options.get("normalize"), center=center)
        assert values["entropy"][point] == pytest.approx(float(expected), rel=1e-9)
        assert values["effective_rank"][point] == pytest.approx(float(effective_rank(z, center=center)), rel=1e-9)

"""Adjacent-state matrix-based Rényi MI: kernel agreement, known orderings, PCA invariance, tiny models."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mspgt_bench.capture import capture_pass
from mspgt_bench.metrics.mutual_information import gaussian_gram, matrix_mutual_information, matrix_renyi_entropy
from mspgt_bench.signals.base import BootstrapConfig
from mspgt_bench.signals.mutual_information import AdjacentMI
from mspgt_bench.stimuli.stdlib import stdlib_prose

FAMILIES = ["llama", "qwen2", "qwen3", "mistral", "gemma3", "gpt2"]


def _states(n=60, seed=0):
    """Points: X, a rotated and scaled copy of X, X plus noise, then an independent cloud."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 6))
    rotation, _ = np.linalg.qr(rng.normal(size=(6, 6)))
    noisy = x + 0.7 * rng.normal(size=x.shape)
    return np.stack([x, 5 * x @ rotation, noisy, rng.normal(size=x.shape)], axis=1)


def test_agrees_with_the_kernel_and_orders_dependence():
    states = _states()
    signal = AdjacentMI(3)
    signal.add_states(range(len(states)), states)
    (mi, normalized) = (p for p in signal.profiles(BootstrapConfig(n_boot=20)))
    assert mi.metric == "mi" and mi.layers.tolist() == [0, 1, 2]
    np.testing.assert_allclose(mi.depth, [0.5 / 3, 1.5 / 3, 2.5 / 3])
    data = torch.tensor(states.astype(np.float32), dtype=torch.float64)
    for l in range(3):
        expected = float(matrix_mutual_information(data[:, l], data[:, l + 1]))
        assert mi.value[l] == pytest.approx(expected, rel=1e-10)
    # a rotated, scaled copy has the same median-bandwidth Gram: I = 2 S(A) - S(A∘A)
    a = gaussian_gram(data[:, 0])
    assert mi.value[0] == pytest.approx(float(2 * matrix_renyi_entropy(a) - matrix_renyi_entropy(a * a)), rel=1e-6)
    assert mi.value[0] > mi.value[1] > mi.value[2]
    assert normalized.value[0] > normalized.value[1] > normalized.value[2] and np.all(normalized.value <= 1)
    assert np.all(mi.lo <= mi.value) and np.all(mi.value <= mi.hi)


def test_pca_reduction_is_exact_at_full_rank():
    rng = np.random.default_rng(1)
    states = np.einsum("npk,kd->npd", rng.normal(size=(40, 3, 3)), rng.normal(size=(3, 20)))  # rank 3 in 20-D
    full, reduced = AdjacentMI(2), AdjacentMI(2, pca_dim=3)
    for signal in (full, reduced):
        signal.add_states(range(40), states)
    np.testing.assert_allclose(reduced.statistic(np.arange(40))["mi"], full.statistic(np.arange(40))["mi"], rtol=1e-7)
    truncated = AdjacentMI(2, pca_dim=1)
    truncated.add_states(range(40), states)
    assert not np.allclose(truncated.statistic(np.arange(40))["mi"], full.statistic(np.arange(40))["mi"])


def test_interval_narrows_with_more_stimuli():
    widths = []
    for n in (16, 100):
        signal = AdjacentMI(3, n_boot=25)
        signal.add_states(range(n), _states(n, seed=n))
        (_, normalized) = signal.profiles(BootstrapConfig(n_boot=25))
        widths.append(np.mean(normalized.hi - normalized.lo))
    assert widths[1] < 0.7 * widths[0]


@pytest.mark.parametrize("family", FAMILIES)
def test_tiny_model_profiles_are_finite(tiny_adapter, family):
    adapter = tiny_adapter(family)
    signal = AdjacentMI(adapter.n_layers, pca_dim=8)
    capture_pass(adapter, stdlib_prose(n=12, seed=5), [signal], batch_size=4, max_tokens=24)
    profiles = {p.metric: p for p in signal.profiles(BootstrapConfig(n_boot=15))}
    assert set(profiles) == {"mi", "mi_normalized"}
    for p in profiles.values():
        assert p.layers.tolist() == list(range(adapter.n_layers)) and p.n == 12
        assert np.all(np.isfinite(p.value) & np.isfinite(p.lo) & np.isfinite(p.hi)), p.metric
    assert np.all(profiles["mi"].value > 0)


def test_weighted_lower_median_matches_torch_median():
    from mspgt_bench.signals.mutual_information import weighted_lower_median

    rng = np.random.default_rng(4)
    for size in (1, 2, 5, 12):
        values = torch.tensor(rng.normal(size=size))
        weights = torch.tensor(rng.integers(1, 4, size=size), dtype=torch.float64)
        repeated = values.repeat_interleave(weights.long())
        assert float(weighted_lower_median(values, weights)) == float(repeated.median())


@pytest.mark.parametrize("pca_dim", [None, 3])
def test_resample_statistic_equals_the_kernel_on_repeated_rows(pca_dim):
    """The distinct-row shortcut gives what the kernels give on the materialised resample, ties included."""
    from mspgt_bench.signals.mutual_information import pca_reduce

    rng = np.random.default_rng(5)
    states = _states(24, seed=5)
    states[:20, 0] = states[0, 0]  # most stimuli share one state at point 0: median distance 0, fallback used
    signal = AdjacentMI(3, pca_dim=pca_dim)
    signal.add_states(range(24), states)
    data = torch.tensor(states.astype(np.float32), dtype=torch.float64)
    reduced = [pca_reduce(data[:, p], pca_dim) if pca_dim else data[:, p] for p in range(4)]
    for indices in (np.arange(24), rng.integers(0, 24, size=24), np.sort(rng.integers(0, 24, size=24))):
        values = signal.statistic(indices)["mi"]
        expected = [float(matrix_mutual_information(reduced[l][indices], reduced[l + 1][indices])) for l in range(3)]
        np.testing.assert_allclose(values, expected, rtol=1e-9, atol=1e-12)

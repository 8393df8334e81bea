"""Intrinsic dimension signal: known dimensions of planted manifolds, tiny models of every family."""

from __future__ import annotations

import contextlib
import io
import warnings

import numpy as np
import pytest

from mspgt_bench.capture import capture_pass
from mspgt_bench.metrics.intrinsic_dimension import unique_rows
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


class DadapyIntrinsicDimension(IntrinsicDimension):
    """The former statistic: dadapy 0.3.4 on the unique rows of each point's resampled cloud."""

    def statistic(self, indices: np.ndarray) -> dict[str, np.ndarray]:
        from dadapy import Data

        values = super().statistic(indices)  # keeps pca99 and participation_ratio
        n1 = self.gride_n1(self.data().shape[0])
        twonn_ids, gride_ids = [], []
        for cloud in self.data()[np.unique(indices)].astype(np.float64).transpose(1, 0, 2):
            pts = unique_rows(cloud)
            rmax = max(2, 2 ** int(np.log2(min(2 * n1, pts.shape[0] - 1))))
            with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
                warnings.simplefilter("ignore")
                near, wide = (Data(coordinates=pts, maxk=k, verbose=False, n_jobs=1) for k in (2, rmax))
                twonn_ids.append(near.compute_id_2NN(algorithm="base", mu_fraction=self.options.mu_fraction)[0])
                gride_ids.append(wide.return_id_scaling_gride(range_max=rmax)[0][-1])
        return values | {"twonn": np.array(twonn_ids), "gride": np.array(gride_ids)}


@pytest.mark.parametrize("mu_fraction", [0.9, 0.75])
def test_profiles_equal_the_dadapy_implementation(mu_fraction):
    """Same values and intervals as the per-point dadapy statistic, duplicate rows at point 0 included."""
    states = planted(24, [3, 5, 8, 8, 12, 20], d=32, seed=3).astype(np.float32)
    states[[1, 5, 9, 13], 0] = states[0, 0]  # stimuli ending in the same token
    states[[2, 6], 0] = states[4, 0]
    boot = BootstrapConfig(n_boot=60)
    profiles = {}
    for cls in (IntrinsicDimension, DadapyIntrinsicDimension):
        signal = cls(5, mu_fraction=mu_fraction)
        signal.add_states(range(24), states)
        profiles[cls] = {p.metric: p for p in signal.profiles(boot)}
        assert signal._distances is None and signal._labels is None  # released
    for metric, want in profiles[DadapyIntrinsicDimension].items():
        got = profiles[IntrinsicDimension][metric]
        # dadapy's TwoNN slope comes from curve_fit (finite-difference Jacobian): ~1e-9 relative noise
        rtol = 1e-8 if metric == "twonn" else 1e-9
        for field in ("value", "lo", "hi"):
            np.testing.assert_allclose(getattr(got, field), getattr(want, field), rtol=rtol, atol=0, err_msg=metric)

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from mspgt_bench.stats.bootstrap import bootstrap_ci, resample_indices


def test_resample_indices_shape_and_range() -> None:
    idx = resample_indices(7, 50, np.random.default_rng(0))
    assert idx.shape == (50, 7) and idx.min() >= 0 and idx.max() <= 6
    assert np.array_equal(idx, resample_indices(7, 50, np.random.default_rng(0)))


@pytest.mark.parametrize("method", ["percentile", "bca"])
def test_coverage_on_normal_data(method: str) -> None:
    rng = np.random.default_rng(123)
    reps, n, mu = 300, 60, 2.0
    hits = 0
    for _ in range(reps):
        x = rng.normal(mu, 1.5, size=n)
        est, lo, hi = bootstrap_ci(x, n_boot=1000, level=0.95, method=method, rng=rng)
        assert lo <= est <= hi
        hits += int(lo <= mu <= hi)
    assert 0.91 <= hits / reps <= 0.98, hits / reps


@pytest.mark.parametrize("method", ["percentile", "bca"])
def test_matrix_input_gives_per_column_intervals(method: str) -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(40, 5)) + np.arange(5)
    est, lo, hi = bootstrap_ci(x, n_boot=500, method=method, rng=np.random.default_rng(9))
    assert est.shape == lo.shape == hi.shape == (5,)
    assert np.allclose(est, x.mean(axis=0))
    for j in range(5):  # same seed -> same resamples -> same per-column interval
        e, lo_j, hi_j = bootstrap_ci(x[:, j], n_boot=500, method=method, rng=np.random.default_rng(9))
        assert math.isclose(float(e), est[j])
        assert math.isclose(float(lo_j), lo[j]) and math.isclose(float(hi_j), hi[j])


@pytest.mark.parametrize("method", ["percentile", "bca"])
def test_vectorised_mean_matches_slow_callable(method: str) -> None:
    rng = np.random.default_rng(2)
    x = rng.exponential(size=(30, 3))
    fast = bootstrap_ci(x, n_boot=400, method=method, rng=np.random.default_rng(5))
    slow = bootstrap_ci(
        x, statistic=lambda idx: x[idx].mean(axis=0), n_boot=400, method=method, rng=np.random.default_rng(5)
    )
    for a, b in zip(fast, slow, strict=True):
        assert np.allclose(a, b, rtol=1e-10)


def test_bca_against_textbook_formula_and_scipy() -> None:
    rng = np.random.default_rng(3)
    x = rng.exponential(size=25)
    n_boot = 4000
    est, lo, hi = bootstrap_ci(x, n_boot=n_boot, method="bca", rng=np.random.default_rng(11))
    # textbook BCa with an explicit loop over the same resamples
    idx = resample_indices(len(x), n_boot, np.random.default_rng(11))
    boot = np.array([x[row].mean() for row in idx])
    theta = x.mean()
    z0 = sps.norm.ppf((np.sum(boot < theta) + 0.5 * np.sum(boot == theta)) / n_boot)
    jack = np.array([np.delete(x, i).mean() for i in range(len(x))])
    dev = jack.mean() - jack
    a = np.sum(dev**3) / (6 * np.sum(dev**2) ** 1.5)
    qs = [sps.norm.cdf(z0 + (z0 + z) / (1 - a * (z0 + z))) for z in sps.norm.ppf([0.025, 0.975])]
    ref_lo, ref_hi = np.quantile(boot, qs)
    assert math.isclose(float(lo), ref_lo, rel_tol=1e-10) and math.isclose(float(hi), ref_hi, rel_tol=1e-10)
    # and close to scipy's own BCa (different resamples)
    res = sps.bootstrap((x,), np.mean, n_resamples=n_boot, method="BCa", random_state=np.random.default_rng(12))
    width = float(hi - lo)
    assert abs(float(lo) - res.confidence_interval.low) < 0.1 * width
    assert abs(float(hi) - res.confidence_interval.high) < 0.1 * width
    # right-skewed data: BCa shifts the interval right of the percentile interval
    _, plo, phi = bootstrap_ci(x, n_boot=n_boot, method="percentile", rng=np.random.default_rng(11))
    assert lo > plo and hi > phi


def test_degenerate_and_custom_statistic() -> None:
    est, lo, hi = bootstrap_ci(np.full(10, 3.0), method="bca", rng=0)
    assert float(est) == float(lo) == float(hi) == 3.0
    x = np.random.default_rng(4).normal(size=50)
    est, lo, hi = bootstrap_ci(x, statistic=lambda idx: np.median(x[idx]), n_boot=300, rng=1)
    assert float(est) == float(np.median(x)) and lo < est < hi
    with pytest.raises(ValueError):
        bootstrap_ci(np.ones(1))
    with pytest.raises(ValueError):
        bootstrap_ci(x, method="basic")  # type: ignore[arg-type]


def test_nan_propagates() -> None:
    x = np.random.default_rng(5).normal(size=(20, 2))
    x[3, 1] = np.nan
    for method in ("percentile", "bca"):
        est, lo, hi = bootstrap_ci(x, n_boot=200, method=method, rng=0)  # type: ignore[arg-type]
        assert np.isfinite(lo[0]) and np.isnan(est[1]) and np.isnan(lo[1]) and np.isnan(hi[1])

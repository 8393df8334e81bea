from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps

from mspgt_bench.stats.permutation import permutation_test


@pytest.mark.parametrize("paired", [False, True])
def test_null_pvalues_are_roughly_uniform(paired: bool) -> None:
    rng = np.random.default_rng(0)
    reps, n, n_perm = 300, 15, 199
    # one call, many columns: each column is an independent null experiment
    x = rng.normal(size=(n, reps))
    y = rng.normal(size=(n, reps))
    p = permutation_test(x, y, paired=paired, n_permutations=n_perm, rng=rng).pvalue
    assert p.shape == (reps,)
    assert p.min() >= 1 / (n_perm + 1)
    assert 0.02 <= np.mean(p <= 0.05) <= 0.09
    assert 0.4 <= np.mean(p <= 0.5) <= 0.6
    assert sps.kstest(p, "uniform").pvalue > 0.001


@pytest.mark.parametrize("paired", [False, True])
def test_strong_shift_gives_minimal_pvalue(paired: bool) -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(3.0, 1.0, size=25)
    y = rng.normal(0.0, 1.0, size=25)
    res = permutation_test(x, y, paired=paired, n_permutations=999, rng=rng)
    assert float(res.pvalue) == 1 / 1000  # +1 correction: never 0
    assert float(res.statistic) == pytest.approx(x.mean() - y.mean())
    greater = permutation_test(x, y, paired=paired, n_permutations=999, alternative="greater", rng=rng)
    less = permutation_test(x, y, paired=paired, n_permutations=999, alternative="less", rng=rng)
    assert float(greater.pvalue) == 1 / 1000 and float(less.pvalue) == 1.0


def test_custom_statistic_agrees_with_vectorised_path() -> None:
    rng = np.random.default_rng(2)
    x = rng.normal(0.5, 1.0, size=20)
    y = rng.normal(0.0, 1.0, size=24)
    fast = permutation_test(x, y, n_permutations=4000, rng=3)
    slow = permutation_test(
        x, y, statistic=lambda a, b: a.mean(axis=0) - b.mean(axis=0), n_permutations=4000, rng=4
    )
    assert float(fast.statistic) == pytest.approx(float(slow.statistic))
    assert abs(float(fast.pvalue) - float(slow.pvalue)) < 0.03
    # exact comparison point: Welch-free two-sample t-test p-value is similar for normal data
    t_p = sps.ttest_ind(x, y).pvalue
    assert abs(float(fast.pvalue) - t_p) < 0.05


def test_paired_custom_statistic_and_exact_tiny_case() -> None:
    # n = 3 differences all positive: of the 8 equally likely sign patterns, only the
    # all-plus and all-minus ones are as extreme (two-sided) -> p -> 2/8 as B grows
    x = np.array([1.0, 2.0, 3.0])
    y = np.zeros(3)
    res = permutation_test(x, y, paired=True, n_permutations=20000, rng=5)
    assert abs(float(res.pvalue) - 0.25) < 0.02
    res_c = permutation_test(
        x, y, paired=True, statistic=lambda a, b: (a - b).mean(axis=0), n_permutations=4000, rng=6
    )
    assert abs(float(res_c.pvalue) - 0.25) < 0.03


def test_matrix_input_per_column() -> None:
    rng = np.random.default_rng(7)
    x = rng.normal(size=(30, 3)) + np.array([0.0, 0.0, 2.0])
    y = rng.normal(size=(30, 3))
    res = permutation_test(x, y, n_permutations=999, rng=8)
    assert res.statistic.shape == (3,) and res.pvalue.shape == (3,)
    assert res.pvalue[2] == 1 / 1000
    with pytest.raises(ValueError):
        permutation_test(x, y[:, :2])
    with pytest.raises(ValueError):
        permutation_test(x, y[:10], paired=True)

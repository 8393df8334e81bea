from __future__ import annotations

import math

import numpy as np
import pytest

from mspgt_bench.stats.effect_size import cohens_d, hedges_correction, hedges_g, paired_d


def test_cohens_d_by_hand() -> None:
    # means 2 and 1, both sample variances 1 -> d = 1
    assert math.isclose(float(cohens_d([1.0, 2.0, 3.0], [0.0, 1.0, 2.0])), 1.0, rel_tol=1e-12)
    # unequal sizes: x var 1 (n=3), y = [0, 2, 4, 6] var 20/3 (n=4): sp^2 = (2*1 + 3*20/3)/5 = 22/5
    d = float(cohens_d([1.0, 2.0, 3.0], [0.0, 2.0, 4.0, 6.0]))
    assert math.isclose(d, (2.0 - 3.0) / math.sqrt(22 / 5), rel_tol=1e-12)


def test_cohens_d_unit_shift() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(1.0, 1.0, size=5000)
    y = rng.normal(0.0, 1.0, size=5000)
    assert abs(float(cohens_d(x, y)) - 1.0) < 0.05


def test_hedges_correction() -> None:
    for dof in (5, 20, 100):
        assert abs(hedges_correction(dof) - (1 - 3 / (4 * dof - 1))) < 2e-3
    # exact value at dof = 2: Gamma(1) / (1 * Gamma(1/2)) = 1 / sqrt(pi)
    assert math.isclose(hedges_correction(2), 1 / math.sqrt(math.pi), rel_tol=1e-12)
    x, y = [1.0, 2.0, 3.0], [0.0, 1.0, 2.0]
    assert math.isclose(float(hedges_g(x, y)), hedges_correction(4) * float(cohens_d(x, y)), rel_tol=1e-12)
    with pytest.raises(ValueError):
        hedges_correction(1)


def test_paired_d() -> None:
    x = np.array([2.0, 4.0, 6.0])
    y = np.array([1.0, 2.0, 3.0])  # differences 1, 2, 3: mean 2, sd 1
    assert math.isclose(float(paired_d(x, y)), 2.0, rel_tol=1e-12)


def test_axis_vectorisation_matches_loop() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(12, 4))
    y = rng.normal(size=(9, 4)) + 0.3
    z = rng.normal(size=(12, 4))
    d, g, dz = cohens_d(x, y), hedges_g(x, y), paired_d(x, z)
    for j in range(4):
        mx, my = sum(x[:, j]) / 12, sum(y[:, j]) / 9
        vx = sum((v - mx) ** 2 for v in x[:, j]) / 11
        vy = sum((v - my) ** 2 for v in y[:, j]) / 8
        ref = (mx - my) / math.sqrt((11 * vx + 8 * vy) / 19)
        assert math.isclose(d[j], ref, rel_tol=1e-10)
        assert math.isclose(g[j], ref * hedges_correction(19), rel_tol=1e-10)
        diff = x[:, j] - z[:, j]
        md = sum(diff) / 12
        sd = math.sqrt(sum((v - md) ** 2 for v in diff) / 11)
        assert math.isclose(dz[j], md / sd, rel_tol=1e-10)

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from mspgt_bench.metrics.intrinsic_dimension import (
    covariance_eigenvalues,
    gride,
    gride_scaling,
    participation_ratio,
    pca_dimension,
    twonn,
    unique_rows,
)


def embed(z: np.ndarray, d: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.normal(size=(d, d)))
    return z @ q[: z.shape[1]]


@pytest.fixture(scope="module")
def plane() -> torch.Tensor:
    rng = np.random.default_rng(0)
    return torch.tensor(embed(rng.uniform(size=(1000, 2)), 10, 1))


@pytest.fixture(scope="module")
def gauss5() -> torch.Tensor:
    rng = np.random.default_rng(2)
    return torch.tensor(embed(rng.normal(size=(1000, 5)), 12, 3))


def test_twonn_plane_and_gaussian(plane: torch.Tensor, gauss5: torch.Tensor) -> None:
    assert abs(twonn(plane) - 2.0) < 0.3
    assert abs(twonn(gauss5) - 5.0) < 0.75


def test_gride_plane_and_gaussian(plane: torch.Tensor, gauss5: torch.Tensor) -> None:
    assert abs(gride(plane) - 2.0) < 0.3
    assert abs(gride(gauss5) - 5.0) < 0.75
    ids, errs, ranks = gride_scaling(plane, range_max=16)
    assert ranks.tolist() == [2, 4, 8, 16]
    assert np.all(np.abs(ids - 2.0) < 0.3) and np.all(errs > 0)


def test_duplicates_are_removed(plane: torch.Tensor) -> None:
    dup = torch.cat([plane, plane[:50], plane[:10]])
    assert unique_rows(dup).shape == (1000, 10)
    assert twonn(dup) == twonn(plane)
    assert gride(dup) == gride(plane)
    assert twonn(plane.numpy()) == twonn(plane)


def test_small_inputs() -> None:
    x = torch.randn(10, 4, dtype=torch.float64)
    assert math.isfinite(gride(x, n1=16))  # scale lowered to n1 = 4
    assert gride_scaling(x, range_max=64)[2].tolist() == [2, 4, 8]
    assert math.isnan(twonn(torch.ones(5, 3)))  # one unique point
    with pytest.raises(ValueError):
        gride(x, n1=3)


def test_pca_dimension_of_rank3_data() -> None:
    g = torch.Generator().manual_seed(0)
    z = torch.randn(200, 3, generator=g, dtype=torch.float64) * torch.tensor([3.0, 2.0, 1.0], dtype=torch.float64)
    x = z @ torch.randn(3, 20, generator=g, dtype=torch.float64) + 4.0
    assert int(pca_dimension(x)) == 3
    assert int(pca_dimension(x, variance=1.0)) == 3
    assert int(pca_dimension(x, variance=0.5)) == 1
    assert int(pca_dimension(torch.ones(10, 4))) == 0


def test_participation_ratio() -> None:
    rng = np.random.default_rng(5)
    k = 4
    x = torch.tensor(embed(rng.normal(size=(20000, k)), 10, 6))
    assert abs(float(participation_ratio(x)) - k) < 0.1
    # exact: covariance spectrum (1, 1, 0, ...) -> PR = 2; (1, 1, 1, 1) scaled -> 4
    pts = torch.tensor([[1.0, 0, 0], [-1.0, 0, 0], [0, 1.0, 0], [0, -1.0, 0]], dtype=torch.float64)
    assert math.isclose(float(participation_ratio(pts)), 2.0, rel_tol=1e-12)


def test_linear_estimators_batched_match_slow_reference() -> None:
    rng = np.random.default_rng(7)
    x = rng.normal(size=(3, 40, 6)) * np.array([3.0, 2.0, 1.0, 0.5, 0.1, 0.01])
    pr = participation_ratio(torch.tensor(x)).numpy()
    pca = pca_dimension(torch.tensor(x), variance=0.9).numpy()
    lam_t = covariance_eigenvalues(torch.tensor(x)).numpy()
    for b in range(3):
        xc = x[b] - x[b].mean(axis=0)
        cov = [[sum(xc[i, p] * xc[i, q] for i in range(40)) / 39 for q in range(6)] for p in range(6)]
        lam = sorted(np.linalg.eigvalsh(np.array(cov)).tolist(), reverse=True)
        assert np.allclose(lam_t[b], lam, rtol=1e-9, atol=1e-12)
        assert math.isclose(pr[b], sum(lam) ** 2 / sum(v * v for v in lam), rel_tol=1e-9)
        total, acc, k = sum(lam), 0.0, 0
        while acc / total < 0.9:
            acc += lam[k]
            k += 1
        assert pca[b] == k


def test_unique_rows_equals_numpy_unique_and_merges_signed_zeros():
    from mspgt_bench.metrics.intrinsic_dimension import unique_rows

    rng = np.random.default_rng(0)
    x = rng.integers(-2, 3, size=(40, 6)).astype(float)
    x = np.vstack([x, x[:7]])
    assert np.array_equal(unique_rows(x), np.unique(x, axis=0))
    assert unique_rows(np.array([[0.0, 1.0], [-0.0, 1.0]])).shape == (1, 2)

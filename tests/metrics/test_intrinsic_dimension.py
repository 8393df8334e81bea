from __future__ import annotations

import contextlib
import io
import math
import warnings

import numpy as np
import pytest
import torch

from mspgt_bench.metrics.intrinsic_dimension import (
    covariance_eigenvalues,
    first_occurrences,
    gride,
    gride_from_neighbours,
    gride_order,
    gride_scaling,
    neighbour_distances,
    pairwise_distances,
    participation_ratio,
    pca_dimension,
    row_labels,
    twonn,
    twonn_from_neighbours,
    unique_rows,
)


def embed(z: np.ndarray, d: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.normal(size=(d, d)))
    return z @ q[: z.shape[1]]


@pytest.fixture(scope="module")
def plane() -> torch.Tensor:
    rng = np.random.default_rng(0)
    return torch.tensor(embed(rng.uniform(size=(1000, 2)), 50, 1))


@pytest.fixture(scope="module")
def gauss5() -> torch.Tensor:
    rng = np.random.default_rng(2)
    return torch.tensor(embed(rng.normal(size=(1000, 5)), 50, 3))


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
    assert unique_rows(dup).shape == (1000, 50)
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


# -- agreement with dadapy 0.3.4, the reference implementation -----------------------------------
def dadapy_data(pts: np.ndarray, maxk: int):
    from dadapy import Data

    return Data(coordinates=pts, maxk=maxk, verbose=False, n_jobs=1)


@contextlib.contextmanager
def quiet():
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        yield


def dadapy_twonn(x: np.ndarray, mu_fraction: float) -> float:
    pts = unique_rows(x)
    with quiet():
        return float(dadapy_data(pts, 2).compute_id_2NN(algorithm="base", mu_fraction=mu_fraction)[0])


def dadapy_gride_scaling(x: np.ndarray, range_max: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """dadapy's multiscale GRIDE with ``range_max`` lowered to a power of two ``≤ n_unique − 1`` (at least 2)."""
    pts = unique_rows(x)
    rmax = max(2, 2 ** int(math.log2(min(range_max, pts.shape[0] - 1))))
    with quiet():
        return dadapy_data(pts, rmax).return_id_scaling_gride(range_max=rmax, return_ranks=True)


def random_clouds() -> list[tuple[np.ndarray, float]]:
    """Clouds with an offset, some with duplicate rows, some small; each with a TwoNN ``mu_fraction``."""
    rng = np.random.default_rng(11)
    clouds = []
    for i, (n, d) in enumerate([(5, 3), (9, 40), (14, 7), (24, 32), (40, 576), (80, 12), (150, 5), (300, 20)]):
        x = rng.normal(size=(n, d)) * rng.uniform(0.1, 10) + rng.normal(size=d) * rng.uniform(0, 30)
        if i % 2:
            x = np.vstack([x, x[: n // 3], x[:2]])[rng.permutation(n + n // 3 + 2)]
        clouds.append((x, [0.9, 0.5, 0.75, 1.0][i % 4]))
    return clouds


@pytest.mark.parametrize("cloud", random_clouds(), ids=lambda c: f"n{len(c[0])}-mu{c[1]}")
def test_estimators_equal_dadapy(cloud: tuple[np.ndarray, float]) -> None:
    x, mu_fraction = cloud
    assert twonn(x, mu_fraction) == pytest.approx(dadapy_twonn(x, mu_fraction), rel=1e-6)
    for n1 in (1, 4, 16):  # for the small clouds 16 (and 4) are lowered
        ids, _, _ = dadapy_gride_scaling(x, 2 * n1)
        assert gride(x, n1) == pytest.approx(ids[-1], rel=1e-6)
    for got, want in zip(gride_scaling(x, range_max=64), dadapy_gride_scaling(x, 64)):
        np.testing.assert_allclose(got, want, rtol=1e-6)


def test_planted_dimension_in_50_dimensions(plane: torch.Tensor, gauss5: torch.Tensor) -> None:
    for cloud, dim in ((plane, 2.0), (gauss5, 5.0)):
        assert twonn(cloud) == pytest.approx(dim, rel=0.12)
        assert gride(cloud, n1=4) == pytest.approx(dim, rel=0.12)


def test_pairwise_distances_equal_sklearn_and_exact_differences() -> None:
    from sklearn.metrics import pairwise_distances as sklearn_distances

    rng = np.random.default_rng(3)
    x = rng.normal(size=(2, 30, 576)) + 5.0
    dist = pairwise_distances(torch.tensor(x, dtype=torch.float32))  # float32 in, float64 out
    x32 = x.astype(np.float32).astype(np.float64)
    for cloud, got in zip(x32, dist):
        exact = np.sqrt(((cloud[:, None] - cloud[None]) ** 2).sum(-1))
        np.testing.assert_allclose(got, exact, rtol=1e-14, atol=0)
        np.testing.assert_allclose(got, sklearn_distances(cloud), rtol=1e-12, atol=0)
        assert np.all(np.diag(got) == 0)


def test_labels_mark_identical_rows() -> None:
    x = np.array([[[1.0, 0.0], [2.0, 1.0], [1.0, -0.0], [1.0, 0.0]], [[3.0, 3.0], [2.0, 2.0], [1.0, 1.0], [3.0, 3.0]]])
    labels = row_labels(x)
    assert (labels[0, 0] == labels[0, 2] == labels[0, 3]) and labels[0, 1] != labels[0, 0]
    assert first_occurrences(labels).tolist() == [[True, True, False, False], [True, True, True, False]]


def test_masked_batch_equals_the_estimates_on_each_subset() -> None:
    """Rows left out by ``keep`` are not in the cloud: batched estimates equal those on the kept rows alone."""
    rng = np.random.default_rng(4)
    x = rng.normal(size=(3, 40, 6))
    keep = rng.uniform(size=(3, 40)) < 0.7
    keep[2] = np.arange(40) < 3  # a cloud of 3 rows: GRIDE order 1
    n1 = np.array([gride_order(4, int(k)) for k in keep.sum(axis=1)])
    r = neighbour_distances(pairwise_distances(x), 2 * int(n1.max()), keep)
    twonn_ids = twonn_from_neighbours(r, 0.8, keep)
    gride_ids = gride_from_neighbours(r, n1, keep)
    for b in range(3):
        assert twonn_ids[b] == pytest.approx(twonn(x[b, keep[b]], 0.8), rel=1e-12)
        assert gride_ids[b] == pytest.approx(gride(x[b, keep[b]], 4), rel=1e-12)
    keep[1, 2:] = False
    assert np.isnan(twonn_from_neighbours(r, 0.9, keep)[1]) and np.isnan(gride_from_neighbours(r, 1, keep)[1])

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from mspgt_bench.metrics.mutual_information import (
    gaussian_gram,
    gaussian_matrix_entropy,
    joint_renyi_entropy,
    matrix_mutual_information,
    matrix_renyi_entropy,
    median_bandwidth,
    mutual_information_from_grams,
    pairwise_sq_distances,
)


def clusters(labels: list[int], spacing: float = 100.0, dim: int = 3) -> torch.Tensor:
    """Points placed exactly on far-apart cluster centres (one centre per label)."""
    centres = spacing * torch.eye(max(labels) + 1, dim, dtype=torch.float64)
    return centres[torch.tensor(labels)]


# 4 equal X-clusters of 8 points; Y-labels either independent of X (each X-cluster split
# evenly between the two Y-clusters) or a function of X (X-label mod 2).
X_LAB = [c for c in range(4) for _ in range(8)]
Y_IND = [i % 2 for i in range(32)]
Y_FUN = [c % 2 for c in X_LAB]


def test_cluster_entropies_by_hand() -> None:
    # A = block-diagonal with 4 equal blocks of ones / 32: eigenvalues 1/4 (x4) -> S = log 4
    x = clusters(X_LAB)
    assert math.isclose(float(gaussian_matrix_entropy(x, sigma=1.0)), math.log(4), rel_tol=1e-9)
    for alpha in (0.5, 2.0):
        assert math.isclose(float(gaussian_matrix_entropy(x, alpha=alpha, sigma=1.0)), math.log(4), rel_tol=1e-9)


def test_mi_of_x_with_itself_equals_entropy_for_01_kernel() -> None:
    x = clusters(X_LAB)
    s = float(gaussian_matrix_entropy(x, sigma=1.0))
    assert math.isclose(float(matrix_mutual_information(x, x, sigma_x=1.0, sigma_y=1.0)), s, rel_tol=1e-9)


def test_mi_independent_and_functional_labels_by_hand() -> None:
    x, yi, yf = clusters(X_LAB), clusters(Y_IND), clusters(Y_FUN)
    # independent: A∘B has 8 equal blocks -> S(A,B) = log 8 = log 4 + log 2 -> I = 0
    assert abs(float(matrix_mutual_information(x, yi, sigma_x=1.0, sigma_y=1.0))) < 1e-9
    # Y a function of X: A∘B = A -> I = S(B) = log 2
    assert math.isclose(float(matrix_mutual_information(x, yf, sigma_x=1.0, sigma_y=1.0)), math.log(2), rel_tol=1e-9)


def test_gaussian_kernel_self_mi_is_below_entropy() -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(120, 3, generator=g, dtype=torch.float64)
    s = float(gaussian_matrix_entropy(x))
    i_self = float(matrix_mutual_information(x, x))
    assert 0.0 < i_self < s  # A∘A is the Gram at bandwidth sigma/sqrt(2), not A


def test_bounds_and_dependence_ordering() -> None:
    g = torch.Generator().manual_seed(1)
    x = torch.randn(200, 3, generator=g, dtype=torch.float64)
    y_dep = x + 0.1 * torch.randn(200, 3, generator=g, dtype=torch.float64)
    y_ind = torch.randn(200, 3, generator=g, dtype=torch.float64)
    i_dep = float(matrix_mutual_information(x, y_dep))
    i_ind = float(matrix_mutual_information(x, y_ind))
    assert i_ind < 0.3 * i_dep
    for y in (y_dep, y_ind):
        sx, sy = float(gaussian_matrix_entropy(x)), float(gaussian_matrix_entropy(y))
        i = float(matrix_mutual_information(x, y))
        assert -1e-9 <= i <= min(sx, sy) + 1e-9


def test_median_bandwidth_reference() -> None:
    rng = np.random.default_rng(2)
    x = rng.normal(size=(9, 4))
    d = [math.dist(x[i], x[j]) for i in range(9) for j in range(i + 1, 9)]
    sigma = float(median_bandwidth(pairwise_sq_distances(torch.tensor(x))))
    # torch returns the lower median for an even count
    assert math.isclose(sigma, sorted(d)[(len(d) - 1) // 2], rel_tol=1e-12)
    k = gaussian_gram(torch.tensor(x)).numpy()
    for i in range(9):
        for j in range(9):
            assert math.isclose(k[i, j], math.exp(-math.dist(x[i], x[j]) ** 2 / (2 * sigma**2)), rel_tol=1e-9)
    # mostly-identical points: fall back to the median of the non-zero distances
    pts = torch.tensor([[0.0], [0.0], [0.0], [0.0], [2.0]], dtype=torch.float64)
    assert float(median_bandwidth(pairwise_sq_distances(pts))) == 2.0


@pytest.mark.parametrize("alpha", [1.0, 2.0, 0.5])
def test_entropies_match_slow_reference(alpha: float) -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(size=(15, 2))
    y = x[:, :1] ** 2 + 0.3 * rng.normal(size=(15, 1))
    kx = gaussian_gram(torch.tensor(x), sigma=1.3)
    ky = gaussian_gram(torch.tensor(y), sigma=0.7)

    def s_ref(k: np.ndarray) -> float:
        a = k / np.trace(k)
        lam = [max(v, 0.0) for v in np.linalg.eigvalsh(a)]
        tot = sum(lam)
        lam = [v / tot for v in lam]
        if alpha == 1.0:
            return -sum(v * math.log(v) for v in lam if v > 0)
        return math.log(sum(v**alpha for v in lam)) / (1 - alpha)

    kxn, kyn = kx.numpy(), ky.numpy()
    joint = np.array([[kxn[i, j] * kyn[i, j] for j in range(15)] for i in range(15)])
    assert math.isclose(float(matrix_renyi_entropy(kx, alpha)), s_ref(kxn), rel_tol=1e-9)
    assert math.isclose(float(joint_renyi_entropy(kx, ky, alpha)), s_ref(joint), rel_tol=1e-9)
    expected = s_ref(kxn) + s_ref(kyn) - s_ref(joint)
    assert math.isclose(float(mutual_information_from_grams(kx, ky, alpha)), expected, rel_tol=1e-8)
    got = float(matrix_mutual_information(torch.tensor(x), torch.tensor(y), alpha, sigma_x=1.3, sigma_y=0.7))
    assert math.isclose(got, expected, rel_tol=1e-8)


def test_batched_input() -> None:
    g = torch.Generator().manual_seed(4)
    x = torch.randn(3, 20, 2, generator=g, dtype=torch.float64)
    y = torch.randn(3, 20, 2, generator=g, dtype=torch.float64)
    batched = matrix_mutual_information(x, y)
    assert batched.shape == (3,)
    for b in range(3):
        assert math.isclose(float(batched[b]), float(matrix_mutual_information(x[b], y[b])), rel_tol=1e-10)

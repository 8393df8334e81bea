from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from mspgt_bench.metrics.matrix_entropy import (
    effective_rank,
    gram_spectrum,
    matrix_entropy,
    numerical_rank,
    renyi_entropy_from_eigenvalues,
    singular_values,
)


def orthonormal_rows(n: int, d: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(torch.randn(d, n, generator=g, dtype=torch.float64))
    return q.T  # [n, d] with Z Z^T = I_n


def test_identity_gram_has_entropy_log_n() -> None:
    n = 8
    z = orthonormal_rows(n, 20, 0)
    assert torch.allclose(z @ z.T, torch.eye(n, dtype=torch.float64), atol=1e-12)
    assert math.isclose(float(matrix_entropy(z)), math.log(n), rel_tol=1e-12)
    assert math.isclose(float(matrix_entropy(z, normalize="log_n")), 1.0, rel_tol=1e-12)
    assert math.isclose(float(matrix_entropy(z, normalize="log_rank")), 1.0, rel_tol=1e-12)
    for alpha in (0.5, 2.0, 3.0):  # flat spectrum: every Rényi order gives log n
        assert math.isclose(float(matrix_entropy(z, alpha=alpha)), math.log(n), rel_tol=1e-10)


def test_rank_one_gram_has_zero_entropy() -> None:
    g = torch.Generator().manual_seed(1)
    u = torch.randn(12, 1, generator=g, dtype=torch.float64)
    v = torch.randn(1, 30, generator=g, dtype=torch.float64)
    z = u @ v
    assert abs(float(matrix_entropy(z))) < 1e-12
    assert float(matrix_entropy(z, normalize="log_rank")) == 0.0  # log(1) denominator -> 0
    assert float(effective_rank(z)) == pytest.approx(1.0, abs=1e-6)


def test_effective_rank_known_answers() -> None:
    assert math.isclose(float(effective_rank(torch.eye(7, dtype=torch.float64))), 7.0, rel_tol=1e-12)
    d = torch.diag(torch.tensor([2.0, 2.0, 0.0], dtype=torch.float64))
    assert math.isclose(float(effective_rank(d)), 2.0, rel_tol=1e-12)
    # uses singular values, not their squares: sigma = (3, 1) -> p = (3/4, 1/4)
    d = torch.diag(torch.tensor([3.0, 1.0], dtype=torch.float64))
    h = -(0.75 * math.log(0.75) + 0.25 * math.log(0.25))
    assert math.isclose(float(effective_rank(d)), math.exp(h), rel_tol=1e-12)


def test_two_outcome_spectrum_by_hand() -> None:
    # Z rows e1, e1, e2: K = [[1,1,0],[1,1,0],[0,0,1]] / 3 -> eigenvalues (2/3, 1/3, 0)
    z = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]], dtype=torch.float64)
    s1 = -(2 / 3 * math.log(2 / 3) + 1 / 3 * math.log(1 / 3))
    assert math.isclose(float(matrix_entropy(z)), s1, rel_tol=1e-12)
    s2 = -math.log((2 / 3) ** 2 + (1 / 3) ** 2)
    assert math.isclose(float(matrix_entropy(z, alpha=2.0)), s2, rel_tol=1e-12)
    assert s2 < s1
    # alpha = 2 equals -log(||K||_F^2 / tr(K)^2): the trace normalisation is squared too
    k = z @ z.T
    assert math.isclose(s2, -math.log(float((k**2).sum()) / float(torch.trace(k)) ** 2), rel_tol=1e-12)


def test_renyi_alpha_validation_and_roundoff() -> None:
    lam = torch.tensor([0.5, 0.5, -1e-18], dtype=torch.float64)
    assert math.isclose(float(renyi_entropy_from_eigenvalues(lam)), math.log(2), rel_tol=1e-12)
    with pytest.raises(ValueError):
        renyi_entropy_from_eigenvalues(lam, alpha=0.0)
    with pytest.raises(ValueError):
        matrix_entropy(torch.eye(3), normalize="bits")  # type: ignore[arg-type]


def test_batched_match_slow_reference() -> None:
    rng = np.random.default_rng(3)
    z = rng.normal(size=(4, 10, 6)) * np.array([4.0, 2.0, 1.0, 1.0, 0.5, 0.1])
    zt = torch.tensor(z)
    s1 = matrix_entropy(zt).numpy()
    s3 = matrix_entropy(zt, alpha=3.0).numpy()
    sc = matrix_entropy(zt, center=True, normalize="log_n").numpy()
    er = effective_rank(zt).numpy()
    assert gram_spectrum(zt).shape == (4, 6)
    for b in range(4):
        k = z[b] @ z[b].T
        lam = [max(v, 0.0) for v in np.linalg.eigvalsh(k / np.trace(k))]
        assert math.isclose(s1[b], -sum(v * math.log(v) for v in lam if v > 1e-15), rel_tol=1e-9)
        assert math.isclose(s3[b], math.log(sum(v**3 for v in lam)) / (1 - 3), rel_tol=1e-9)
        zc = z[b] - z[b].mean(axis=0)
        kc = zc @ zc.T
        lamc = [max(v, 0.0) for v in np.linalg.eigvalsh(kc / np.trace(kc))]
        ref_c = -sum(v * math.log(v) for v in lamc if v > 1e-15) / math.log(10)
        assert math.isclose(sc[b], ref_c, rel_tol=1e-9)
        sv = np.linalg.svd(z[b], compute_uv=False)
        p = sv / sv.sum()
        assert math.isclose(er[b], math.exp(-sum(v * math.log(v) for v in p)), rel_tol=1e-9)


@pytest.mark.parametrize("shape", [(3, 7, 40), (2, 40, 7), (9, 9)])
def test_singular_values_equal_the_svd_for_wide_tall_and_square(shape):
    torch.manual_seed(3)
    z = torch.randn(*shape, dtype=torch.float64)
    torch.testing.assert_close(singular_values(z), torch.linalg.svdvals(z), atol=0, rtol=1e-12)


def test_singular_values_of_a_scaled_orthonormal_frame_and_of_a_rank_two_matrix():
    q, _ = torch.linalg.qr(torch.randn(30, 5, dtype=torch.float64))
    scales = torch.tensor([5.0, 4.0, 3.0, 2.0, 1.0], dtype=torch.float64)
    torch.testing.assert_close(singular_values((q * scales).T), scales, atol=1e-12, rtol=0)
    rank2 = torch.randn(6, 2, dtype=torch.float64) @ torch.randn(2, 50, dtype=torch.float64)
    sigma = singular_values(torch.cat([rank2, torch.zeros(3, 50, dtype=torch.float64)]))  # zero (padding) rows
    assert (sigma[:2] > 0).all() and sigma[2:].tolist() == [0.0] * 7
    assert int(numerical_rank(sigma**2)) == 2

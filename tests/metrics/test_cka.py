from __future__ import annotations

import itertools
import math

import pytest
import torch

from mspgt_bench.metrics.cka import (
    StreamingCKA,
    clip_massive_dims,
    hsic_unbiased,
    hsic_unbiased_matrix,
    linear_cka,
    massive_dims,
)


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def random_orthogonal(d: int, seed: int) -> torch.Tensor:
    q, _ = torch.linalg.qr(torch.randn(d, d, generator=gen(seed), dtype=torch.float64))
    return q


@pytest.mark.parametrize("unbiased", [False, True])
@pytest.mark.parametrize("n,d", [(50, 8), (12, 30)])  # feature-space and Gram-space branches
def test_invariances(unbiased: bool, n: int, d: int) -> None:
    x = torch.randn(n, d, generator=gen(0), dtype=torch.float64)
    q = random_orthogonal(d, 1)
    assert math.isclose(float(linear_cka(x, x @ q, unbiased=unbiased)), 1.0, rel_tol=1e-10)
    assert math.isclose(float(linear_cka(x, 3.7 * x, unbiased=unbiased)), 1.0, rel_tol=1e-10)
    # a constant shift of every row changes nothing (centring / unbiased HSIC)
    assert math.isclose(float(linear_cka(x, x + 5.0, unbiased=unbiased)), 1.0, rel_tol=1e-9)


def test_cka_of_independent_features_is_small() -> None:
    x = torch.randn(2000, 5, generator=gen(2), dtype=torch.float64)
    y = torch.randn(2000, 5, generator=gen(3), dtype=torch.float64)
    assert float(linear_cka(x, y, unbiased=True)) < 0.01
    assert float(linear_cka(x, y)) < 0.02


def slow_hsic_u_statistic(k: torch.Tensor, g: torch.Tensor) -> float:
    """HSIC as a U-statistic: mean over distinct ordered (i, j, q, r) of
    k_ij g_ij + k_ij g_qr - 2 k_ij g_iq (Song et al. 2012, Theorem 2)."""
    n = k.shape[0]
    total, count = 0.0, 0
    for i, j, q, r in itertools.permutations(range(n), 4):
        total += float(k[i, j] * g[i, j] + k[i, j] * g[q, r] - 2 * k[i, j] * g[i, q])
        count += 1
    return total / count


def test_unbiased_hsic_matches_u_statistic() -> None:
    x = torch.randn(7, 3, generator=gen(4), dtype=torch.float64)
    y = x[:, :2] + 0.5 * torch.randn(7, 2, generator=gen(5), dtype=torch.float64)
    k, g = x @ x.T, y @ y.T
    assert math.isclose(float(hsic_unbiased(k, g)), slow_hsic_u_statistic(k, g), rel_tol=1e-9)


def test_hsic_matrix_matches_pairwise() -> None:
    feats = [torch.randn(9, d, generator=gen(10 + d), dtype=torch.float64) for d in (2, 5, 7)]
    grams = torch.stack([f @ f.T for f in feats])
    mat = hsic_unbiased_matrix(grams)
    for a in range(3):
        for b in range(3):
            assert math.isclose(float(mat[a, b]), float(hsic_unbiased(grams[a], grams[b])), rel_tol=1e-10)


def make_layers(n: int) -> list[torch.Tensor]:
    x = torch.randn(n, 20, generator=gen(20), dtype=torch.float64)
    w = torch.randn(20, 30, generator=gen(21), dtype=torch.float64)
    y = x @ w + 2.0 * torch.randn(n, 30, generator=gen(22), dtype=torch.float64)
    z = torch.randn(n, 10, generator=gen(23), dtype=torch.float64) + 3.0
    return [x, y, z.float()]


def test_streaming_single_batch_equals_full_batch_unbiased() -> None:
    layers = make_layers(64)
    s = StreamingCKA(3)
    s.update(layers)
    m = s.matrix()
    for a in range(3):
        for b in range(3):
            full = float(linear_cka(layers[a], layers[b], unbiased=True))
            assert math.isclose(float(m[a, b]), full, rel_tol=1e-9, abs_tol=1e-12)


def test_streaming_agrees_with_full_batch_on_concatenated_data() -> None:
    layers = make_layers(640)
    s = StreamingCKA(3)
    for i in range(10):
        s.update([f[64 * i : 64 * (i + 1)] for f in layers])
    m = s.matrix()
    assert s.n_batches == 10 and s.n_samples == 640
    assert torch.allclose(torch.diagonal(m), torch.ones(3, dtype=torch.float64))
    assert torch.allclose(m, m.T)
    for a in range(3):
        for b in range(3):
            full = float(linear_cka(layers[a], layers[b], unbiased=True))
            assert abs(float(m[a, b]) - full) < 0.03, (a, b, float(m[a, b]), full)
    assert float(m[0, 1]) > 0.6 and abs(float(m[0, 2])) < 0.05


def test_streaming_errors() -> None:
    s = StreamingCKA(2)
    with pytest.raises(RuntimeError):
        s.matrix()
    with pytest.raises(ValueError):
        s.update([torch.randn(3, 4), torch.randn(3, 4)])  # n < 4
    with pytest.raises(ValueError):
        s.update([torch.randn(5, 4)])


def test_massive_dims_dominate_cka_and_clipping_restores_it() -> None:
    n, d = 300, 16
    x = torch.randn(n, d, generator=gen(30), dtype=torch.float64)
    y = x @ random_orthogonal(d, 31)
    u = torch.randn(n, 1, generator=gen(32), dtype=torch.float64)
    v = torch.randn(n, 1, generator=gen(33), dtype=torch.float64)
    xo = torch.cat([x, 1000.0 * u], dim=1)  # unrelated outlier dimension in each
    yo = torch.cat([y[:, :5], 1000.0 * v, y[:, 5:]], dim=1)
    assert float(linear_cka(xo, yo)) < 0.1
    assert massive_dims(xo).tolist() == [d]
    assert massive_dims(yo).tolist() == [5]
    xc, dx = clip_massive_dims(xo)
    yc, dy = clip_massive_dims(yo)
    assert dx.tolist() == [d] and dy.tolist() == [5]
    assert torch.all(xc[:, d] == 0) and torch.equal(xc[:, :d], x)
    assert math.isclose(float(linear_cka(xc, yc)), 1.0, rel_tol=1e-9)
    # clip mode bounds the outlier by the largest ordinary magnitude
    xk, _ = clip_massive_dims(xo, mode="clip")
    assert float(xk[:, d].abs().max()) <= float(x.abs().max()) + 1e-12
    # explicit k and explicit dims
    assert massive_dims(xo, k=1).tolist() == [d]
    xe, de = clip_massive_dims(xo, dims=[0, 3])
    assert de.tolist() == [0, 3] and torch.all(xe[:, [0, 3]] == 0)
    assert torch.equal(xo[:, d], 1000.0 * u[:, 0])  # input untouched


def _stacked_grams_hsic(features: list[torch.Tensor]) -> torch.Tensor:
    """The straightforward form: one Gram per layer, stacked, diagonals removed by subtraction."""
    grams = torch.stack([f.to(torch.float64) @ f.to(torch.float64).T for f in features])
    g = grams - torch.diag_embed(torch.diagonal(grams, dim1=-2, dim2=-1))
    flat = g.reshape(g.shape[0], -1)
    n = g.shape[-1]
    s, r = flat.sum(dim=-1), g.sum(dim=-1)
    return (flat @ flat.T + torch.outer(s, s) / ((n - 1) * (n - 2)) - 2.0 / (n - 2) * (r @ r.T)) / (n * (n - 3))


@pytest.mark.parametrize("n", [4, 37, 130])
def test_streaming_grams_in_place_give_the_same_bits(n: int) -> None:
    """update() writes the Grams into one block and zeroes the diagonals in place: bit-identical to the
    stacked / subtracted form, from a list, a generator (one layer alive at a time) or a stacked tensor."""
    layers = [f[:n] for f in make_layers(max(n, 64))]
    expected = _stacked_grams_hsic(layers)
    from_list, from_generator, from_stack = StreamingCKA(3), StreamingCKA(3), StreamingCKA(3)
    from_list.update(layers)
    from_generator.update(f.clone() for f in layers)
    from_stack.update(torch.stack([f.double()[:, :10] for f in layers]))
    assert torch.equal(from_list.hsic_sum, expected)
    assert torch.equal(from_generator.hsic_sum, expected)
    assert torch.equal(from_stack.hsic_sum, _stacked_grams_hsic([f.double()[:, :10] for f in layers]))
    grams = torch.stack([f.double() @ f.double().T for f in layers])
    before = grams.clone()
    assert torch.equal(hsic_unbiased_matrix(grams), expected)
    assert torch.equal(grams, before)  # the caller's Grams are not modified


def test_streaming_rejects_wrong_layer_counts_from_generators() -> None:
    s = StreamingCKA(2)
    with pytest.raises(ValueError, match="got 1"):
        s.update(f for f in [torch.randn(5, 4)])
    with pytest.raises(ValueError, match="got more"):
        s.update(f for f in [torch.randn(5, 4)] * 3)
    with pytest.raises(ValueError, match="same number of rows"):
        s.update(f for f in [torch.randn(5, 4), torch.randn(6, 4)])
    with pytest.raises(ValueError, match="got 0"):
        s.update(iter([]))
    assert s.n_batches == 0 and torch.all(s.hsic_sum == 0)


def test_streaming_workspace_holds_the_grams_and_gives_the_same_bits() -> None:
    layers = make_layers(40)
    plain, reused = StreamingCKA(3), StreamingCKA(3)
    workspace = torch.full((3 * 40 * 40 + 7,), float("nan"), dtype=torch.float64)
    for rows in (slice(0, 40), slice(0, 25), slice(10, 40)):  # smaller minibatches use the front of the block
        plain.update([f[rows] for f in layers])
        reused.update([f[rows] for f in layers], workspace=workspace)
    assert torch.equal(plain.hsic_sum, reused.hsic_sum)
    with pytest.raises(ValueError, match="workspace"):
        reused.update(layers, workspace=torch.empty(3 * 40 * 40 - 1, dtype=torch.float64))
    with pytest.raises(ValueError, match="workspace"):
        reused.update(layers, workspace=torch.empty(3 * 40 * 40, dtype=torch.float32))

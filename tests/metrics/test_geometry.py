from __future__ import annotations

import math

import numpy as np
import torch

from mspgt_bench.metrics.geometry import anisotropy, massive_activation, residual_norm


def test_anisotropy_known_answers() -> None:
    v = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
    assert math.isclose(float(anisotropy(v.expand(6, 3))), 1.0, rel_tol=1e-12)
    assert abs(float(anisotropy(torch.eye(5, dtype=torch.float64)))) < 1e-15
    assert math.isclose(float(anisotropy(torch.stack([v, -3 * v]))), -1.0, rel_tol=1e-12)
    # regular simplex of n unit vectors: pairwise cosine -1/(n-1)
    n = 4
    e = torch.eye(n, dtype=torch.float64)
    simplex = e - e.mean(0)
    assert math.isclose(float(anisotropy(simplex)), -1 / (n - 1), rel_tol=1e-12)
    assert math.isnan(float(anisotropy(v[None])))


def test_anisotropy_mask_and_reference() -> None:
    rng = np.random.default_rng(0)
    h = rng.normal(size=(3, 8, 5)) + 0.7
    mask = np.ones((3, 8), dtype=bool)
    mask[0, 5:] = False
    mask[2, :3] = False
    got = anisotropy(torch.tensor(h), torch.tensor(mask)).numpy()
    for b in range(3):
        rows = [h[b, i] for i in range(8) if mask[b, i]]
        cos = [
            float(np.dot(rows[i], rows[j]) / (np.linalg.norm(rows[i]) * np.linalg.norm(rows[j])))
            for i in range(len(rows))
            for j in range(len(rows))
            if i != j
        ]
        assert math.isclose(got[b], sum(cos) / len(cos), rel_tol=1e-9)


def test_residual_norm() -> None:
    h = torch.tensor([[3.0, 4.0], [0.0, 0.0]])
    assert residual_norm(h).tolist() == [5.0, 0.0]


def test_massive_activation() -> None:
    h = torch.ones(2, 4, 8, dtype=torch.float64)
    h[..., ::2] = -1.0
    h[0, 2, 5] = 1000.0
    h[1, 3, 1] = -50.0
    mx, ratio = massive_activation(h)
    assert mx.tolist() == [1000.0, 50.0]
    assert ratio.tolist() == [1000.0, 50.0]  # median |h| = 1
    # padding with a huge value is ignored
    h2 = torch.cat([h, torch.full((2, 1, 8), 1e6, dtype=torch.float64)], dim=1)
    mask = torch.tensor([[1, 1, 1, 1, 0], [1, 1, 1, 1, 0]])
    mx2, ratio2 = massive_activation(h2, mask)
    assert torch.equal(mx2, mx) and torch.equal(ratio2, ratio)


def test_massive_activation_reference() -> None:
    rng = np.random.default_rng(1)
    h = rng.normal(size=(2, 5, 7))
    mask = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], dtype=bool)
    mx, ratio = massive_activation(torch.tensor(h), torch.tensor(mask))
    for b in range(2):
        vals = sorted(abs(float(v)) for t in range(5) if mask[b, t] for v in h[b, t])
        lower_median = vals[(len(vals) - 1) // 2]
        assert math.isclose(float(mx[b]), vals[-1], rel_tol=1e-12)
        assert math.isclose(float(ratio[b]), vals[-1] / lower_median, rel_tol=1e-12)

from __future__ import annotations

import math

import numpy as np
import torch

from mspgt_bench.metrics.angular import angle, angular_distance, block_influence, cosine_similarity


def test_angular_distance_known_answers() -> None:
    a = torch.tensor([[1.0, 2.0, -1.0]])
    assert float(angular_distance(a, a)) == 0.0
    assert float(angular_distance(a, 3.5 * a)) == 0.0
    assert math.isclose(float(angular_distance(a, -a)), 1.0, abs_tol=1e-7)
    e1 = torch.tensor([1.0, 0.0, 0.0])
    e2 = torch.tensor([0.0, 4.0, 0.0])
    assert math.isclose(float(angular_distance(e1, e2)), 0.5, abs_tol=1e-7)
    diag = torch.tensor([1.0, 1.0, 0.0])
    assert math.isclose(float(angular_distance(e1, diag)), 0.25, abs_tol=1e-7)


def test_angle_accurate_near_parallel_in_float32() -> None:
    a = torch.tensor([1.0, 0.0])
    b = torch.tensor([1.0, 1e-5])
    # arccos(cos) in float32 returns 0 (or ~3e-4) here; Kahan's formula keeps the angle
    assert math.isclose(float(angle(a, b)), 1e-5, rel_tol=1e-4)


def test_block_influence_known_answers() -> None:
    h = torch.randn(5, 16, dtype=torch.float64)
    assert torch.allclose(block_influence(h, h), torch.zeros(5, dtype=torch.float64), atol=1e-15)
    assert torch.allclose(block_influence(h, -2 * h), torch.full((5,), 2.0, dtype=torch.float64))
    e1 = torch.tensor([1.0, 0.0])
    e2 = torch.tensor([0.0, 1.0])
    assert math.isclose(float(block_influence(e1, e2)), 1.0, abs_tol=1e-7)


def test_zero_vector_is_nan() -> None:
    assert math.isnan(float(angular_distance(torch.zeros(3), torch.ones(3))))
    assert math.isnan(float(cosine_similarity(torch.zeros(3), torch.ones(3))))


def test_match_slow_reference() -> None:
    rng = np.random.default_rng(1)
    a = rng.normal(size=(4, 6, 9))
    b = rng.normal(size=(4, 6, 9))
    b[0, 0] = -a[0, 0]
    b[0, 1] = a[0, 1] * 2
    ad = angular_distance(torch.tensor(a), torch.tensor(b)).numpy()
    bi = block_influence(torch.tensor(a), torch.tensor(b)).numpy()
    cs = cosine_similarity(torch.tensor(a), torch.tensor(b)).numpy()
    for i in range(4):
        for j in range(6):
            dot = sum(float(x) * float(y) for x, y in zip(a[i, j], b[i, j], strict=True))
            na = math.sqrt(sum(float(x) ** 2 for x in a[i, j]))
            nb = math.sqrt(sum(float(y) ** 2 for y in b[i, j]))
            c = max(-1.0, min(1.0, dot / (na * nb)))
            assert math.isclose(cs[i, j], c, abs_tol=1e-12)
            assert math.isclose(ad[i, j], math.acos(c) / math.pi, abs_tol=1e-7)
            assert math.isclose(bi[i, j], 1.0 - c, abs_tol=1e-12)

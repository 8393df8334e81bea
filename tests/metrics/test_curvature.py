from __future__ import annotations

import math

import numpy as np
import torch

from mspgt_bench.metrics.curvature import folded_curvature, step_angles, trajectory_curvature


def test_straight_line_has_zero_curvature() -> None:
    g = torch.Generator().manual_seed(0)
    x0 = torch.randn(16, generator=g, dtype=torch.float64)
    v = torch.randn(16, generator=g, dtype=torch.float64)
    steps = torch.tensor([0.0, 1.0, 1.5, 4.0, 4.2, 9.0], dtype=torch.float64)  # uneven speed
    x = x0 + steps[:, None] * v
    assert float(trajectory_curvature(x)) < 1e-7


def test_right_angle_zigzag_is_half_pi() -> None:
    pts = [(0, 0), (1, 0), (1, 1), (2, 1), (2, 2), (3, 2)]
    x = torch.tensor(pts, dtype=torch.float64)
    assert math.isclose(float(trajectory_curvature(x)), math.pi / 2, rel_tol=1e-12)


def test_sign_matters_no_abs() -> None:
    # A reversal x -> x + v -> x: the steps are v and -v, the turn is pi.
    # arccos(|cos|) (the reference code's abs on the dot product) folds it to 0.
    x = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 0.0], [1.0, 0.0]], dtype=torch.float64)
    assert math.isclose(float(trajectory_curvature(x)), math.pi, rel_tol=1e-12)
    assert float(folded_curvature(x)) < 1e-12
    # a 135-degree turn: 3*pi/4 here, pi/4 with abs()
    y = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]], dtype=torch.float64)
    assert math.isclose(float(trajectory_curvature(y)), 3 * math.pi / 4, rel_tol=1e-12)
    assert math.isclose(float(folded_curvature(y)), math.pi / 4, rel_tol=1e-12)
    # below 90 degrees the two agree
    z = torch.tensor([[0.0, 0.0], [1.0, 0.0], [2.0, 1.0]], dtype=torch.float64)
    assert math.isclose(float(trajectory_curvature(z)), float(folded_curvature(z)), rel_tol=1e-12)


def test_padding_mask() -> None:
    g = torch.Generator().manual_seed(1)
    x = torch.randn(7, 5, generator=g, dtype=torch.float64)
    ref = trajectory_curvature(x)
    junk = 100 * torch.randn(3, 5, generator=g, dtype=torch.float64)
    left = torch.cat([junk, x])[None]
    right = torch.cat([x, junk])[None]
    mask_l = torch.tensor([[0, 0, 0] + [1] * 7])
    mask_r = torch.tensor([[1] * 7 + [0, 0, 0]])
    assert torch.allclose(trajectory_curvature(left, mask_l), ref[None])
    assert torch.allclose(trajectory_curvature(right, mask_r), ref[None])
    # fewer than three real tokens -> NaN
    assert math.isnan(float(trajectory_curvature(x[:2])))
    assert math.isnan(float(trajectory_curvature(left, torch.tensor([[0] * 8 + [1, 1]]))))


def test_zero_steps_are_skipped() -> None:
    x = torch.tensor([[0.0, 0.0], [1.0, 0.0], [1.0, 0.0], [1.0, 1.0], [2.0, 1.0]], dtype=torch.float64)
    c, valid = step_angles(x)
    assert valid.tolist() == [False, False, True]
    assert math.isclose(float(trajectory_curvature(x)), math.pi / 2, rel_tol=1e-12)


def test_batched_matches_slow_reference() -> None:
    rng = np.random.default_rng(2)
    x = rng.normal(size=(3, 9, 4))
    mask = np.ones((3, 9), dtype=bool)
    mask[1, :2] = False
    mask[2, 6:] = False
    got = trajectory_curvature(torch.tensor(x), torch.tensor(mask)).numpy()
    for b in range(3):
        pts = [x[b, t] for t in range(9) if mask[b, t]]
        angles = []
        for k in range(len(pts) - 2):
            v1 = pts[k + 1] - pts[k]
            v2 = pts[k + 2] - pts[k + 1]
            c = float(np.dot(v2, v1) / (np.linalg.norm(v2) * np.linalg.norm(v1)))
            angles.append(math.acos(max(-1.0, min(1.0, c))))
        assert math.isclose(got[b], sum(angles) / len(angles), rel_tol=1e-9)

from __future__ import annotations

import math

import numpy as np
import torch

from mspgt_bench.metrics.divergence import entropy_from_logits, kl_from_logits, token_rank


def test_kl_self_is_zero() -> None:
    logits = torch.randn(4, 7, 50, dtype=torch.float64)
    assert torch.allclose(kl_from_logits(logits, logits), torch.zeros(4, 7, dtype=torch.float64), atol=1e-12)


def test_kl_two_class_by_hand() -> None:
    # p = (1/2, 1/2), q = (1/4, 3/4): KL = 1/2 log(2) + 1/2 log(2/3) = 1/2 log(4/3)
    p = torch.tensor([0.0, 0.0], dtype=torch.float64)
    q = torch.tensor([0.0, math.log(3.0)], dtype=torch.float64)
    assert math.isclose(float(kl_from_logits(p, q)), 0.5 * math.log(4.0 / 3.0), rel_tol=1e-12)
    # and it is not symmetric: KL(q||p) = 1/4 log(1/2) + 3/4 log(3/2)
    assert math.isclose(float(kl_from_logits(q, p)), 0.25 * math.log(0.5) + 0.75 * math.log(1.5), rel_tol=1e-12)


def test_kl_handles_minus_inf_logits() -> None:
    p = torch.tensor([0.0, float("-inf"), 0.0])
    q = torch.tensor([0.0, 0.0, 0.0])
    # p = (1/2, 0, 1/2), q uniform over 3: KL = log(3/2)
    assert math.isclose(float(kl_from_logits(p, q)), math.log(1.5), rel_tol=1e-6)
    # p puts mass where q has none: infinite
    assert math.isinf(float(kl_from_logits(q, p)))


def test_entropy_known_values() -> None:
    v = 37
    assert math.isclose(float(entropy_from_logits(torch.zeros(v, dtype=torch.float64))), math.log(v), rel_tol=1e-12)
    one_hot = torch.full((v,), float("-inf"))
    one_hot[3] = 0.0
    assert float(entropy_from_logits(one_hot)) == 0.0
    assert float(entropy_from_logits(torch.tensor([0.0, 1e4]))) < 1e-6  # peaked, no underflow NaN


def test_half_precision_is_upcast() -> None:
    logits = torch.randn(3, 20).to(torch.bfloat16)
    out = kl_from_logits(logits, torch.zeros_like(logits))
    assert out.dtype == torch.float32


def test_kl_and_entropy_match_slow_reference() -> None:
    rng = np.random.default_rng(0)
    a = rng.normal(size=(5, 11)) * 3
    b = rng.normal(size=(5, 11)) * 3
    kl = kl_from_logits(torch.tensor(a), torch.tensor(b)).numpy()
    ent = entropy_from_logits(torch.tensor(a)).numpy()
    for r in range(5):
        p = [math.exp(x) for x in a[r]]
        zp = sum(p)
        p = [x / zp for x in p]
        q = [math.exp(x) for x in b[r]]
        zq = sum(q)
        q = [x / zq for x in q]
        ref_kl = sum(pi * math.log(pi / qi) for pi, qi in zip(p, q, strict=True))
        ref_h = -sum(pi * math.log(pi) for pi in p)
        assert math.isclose(kl[r], ref_kl, rel_tol=1e-10)
        assert math.isclose(ent[r], ref_h, rel_tol=1e-10)


def test_token_rank() -> None:
    logits = torch.tensor([[0.1, 3.0, 2.0, -1.0], [5.0, 5.0, 1.0, 0.0]])
    ranks = token_rank(logits, torch.tensor([2, 1]))
    assert ranks.tolist() == [1, 0]  # ties resolve in the token's favour
    top1 = logits.argmax(-1)
    assert token_rank(logits, top1).tolist() == [0, 0]

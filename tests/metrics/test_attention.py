from __future__ import annotations

import math

import pytest
import torch

from mspgt_bench.metrics.attention import (
    attention_entropy,
    attention_span,
    attention_stats,
    masked_query_mean,
    previous_token_mass,
    sink_mass,
)

KS = (1, 2, 4, 8, 16)


def causal_uniform(b: int, h: int, t: int) -> torch.Tensor:
    tri = torch.ones(t, t, dtype=torch.float64).tril()
    a = tri / tri.sum(-1, keepdim=True)
    return a.expand(b, h, t, t).clone()


def previous_token_one_hot(t: int) -> torch.Tensor:
    a = torch.zeros(1, 1, t, t, dtype=torch.float64)
    a[0, 0, 0, 0] = 1.0
    for q in range(1, t):
        a[0, 0, q, q - 1] = 1.0
    return a


def random_attention(key_mask: torch.Tensor, h: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    b, t = key_mask.shape
    logits = 2.0 * torch.randn(b, h, t, t, generator=g, dtype=torch.float64)
    allowed = key_mask.bool()[:, None, None, :] & torch.ones(t, t, dtype=torch.bool).tril()
    logits = logits.masked_fill(~allowed, float("-inf"))
    a = torch.softmax(logits, dim=-1)
    return torch.nan_to_num(a, nan=0.0)  # padded queries with no allowed key


def test_uniform_rows_have_normalised_entropy_one() -> None:
    t = 9
    a = causal_uniform(2, 3, t)
    ent = attention_entropy(a)
    assert ent[:, 0].eq(0).all()  # a single allowed key is defined as 0
    assert torch.allclose(ent[:, 1:], torch.ones(2, t - 1, dtype=torch.float64))
    raw = attention_entropy(a, normalized=False)
    expected = torch.log(torch.arange(1, t + 1, dtype=torch.float64))
    assert torch.allclose(raw, expected.expand(2, t))


def test_uniform_rows_span_by_hand() -> None:
    # uniform over keys 0..t: mean |t - i| = t / 2
    t = 7
    span = attention_span(causal_uniform(1, 2, t))
    assert torch.allclose(span[0], torch.arange(t, dtype=torch.float64) / 2)


def test_one_hot_previous_token() -> None:
    t = 20
    a = previous_token_one_hot(t)
    assert attention_entropy(a).abs().max() == 0
    span = attention_span(a)[0]
    assert span[0] == 0 and torch.all(span[1:] == 1)
    prev = previous_token_mass(a, ks=KS)[0]  # [T, K]
    assert torch.all(prev[0] == 0)  # query 0 has no previous token
    assert torch.all(prev[1:] == 1)  # mass on t-1 lies within every window k >= 1
    sink = sink_mass(a)[0]
    assert sink[0] == 1 and sink[1] == 1 and torch.all(sink[2:] == 0)


def test_previous_k_window_excludes_self_and_counts_exactly_k() -> None:
    t = 12
    a = causal_uniform(1, 1, t)
    prev = previous_token_mass(a, ks=(1, 2, 4))[0]
    for q in range(t):
        for j, k in enumerate((1, 2, 4)):
            assert math.isclose(float(prev[q, j]), min(k, q) / (q + 1), rel_tol=1e-12)


def test_left_padding_matches_unpadded() -> None:
    t, pad, h = 10, 3, 2
    a = random_attention(torch.ones(1, t), h, seed=3)
    padded = torch.zeros(1, h, t + pad, t + pad, dtype=torch.float64)
    padded[..., pad:, pad:] = a
    mask = torch.tensor([[0] * pad + [1] * t])
    ref = attention_stats(a)
    got = attention_stats(padded, mask)
    for key, val in ref.items():
        assert torch.isnan(got[key][0, :pad]).all(), key
        assert torch.allclose(got[key][0, pad:], val[0], atol=1e-12), key
    # the sink is the first real token
    assert torch.allclose(got["sink"][0, pad:], a[0, :, :, 0].mean(0))


def test_right_padding_and_masked_mean() -> None:
    mask = torch.tensor([[1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 1]])
    a = random_attention(mask, 3, seed=4)
    span = attention_span(a, mask)
    assert torch.isnan(span[0, 4:]).all()
    m = masked_query_mean(span, mask)
    assert torch.allclose(m[0], span[0, :4].mean())
    assert torch.allclose(m, masked_query_mean(span))
    prev = previous_token_mass(a, mask)
    assert torch.allclose(masked_query_mean(prev, mask)[0], prev[0, :4].mean(0))


def slow_reference(a: torch.Tensor, mask: torch.Tensor, ks: tuple[int, ...]) -> dict[str, list[list[float]]]:
    b, h, t, _ = a.shape
    out: dict[str, list[list[float]]] = {"entropy": [], "span": [], "sink": []}
    for k in ks:
        out[f"prev_{k}"] = []
    for bi in range(b):
        rows: dict[str, list[float]] = {key: [] for key in out}
        first = next(i for i in range(t) if mask[bi, i])
        for q in range(t):
            if not mask[bi, q]:
                for key in rows:
                    rows[key].append(float("nan"))
                continue
            keys = [i for i in range(q + 1) if mask[bi, i]]
            acc = {key: 0.0 for key in rows}
            for hh in range(h):
                p = [float(a[bi, hh, q, i]) for i in keys]
                ent = -sum(x * math.log(x) for x in p if x > 0)
                acc["entropy"] += ent / math.log(len(keys)) if len(keys) > 1 else 0.0
                acc["span"] += sum(float(a[bi, hh, q, i]) * abs(q - i) for i in keys)
                acc["sink"] += float(a[bi, hh, q, first])
                for k in ks:
                    acc[f"prev_{k}"] += sum(float(a[bi, hh, q, i]) for i in keys if q - k <= i <= q - 1)
            for key in rows:
                rows[key].append(acc[key] / h)
        for key in out:
            out[key].append(rows[key])
    return out


@pytest.mark.parametrize("padding", ["left", "right", "none"])
def test_matches_slow_reference(padding: str) -> None:
    t = 19
    if padding == "left":
        mask = torch.tensor([[0, 0, 0] + [1] * (t - 3), [0] + [1] * (t - 1)])
    elif padding == "right":
        mask = torch.tensor([[1] * (t - 5) + [0] * 5, [1] * t])
    else:
        mask = torch.ones(2, t, dtype=torch.long)
    a = random_attention(mask, 3, seed=7)
    got = attention_stats(a, mask, ks=KS)
    ref = slow_reference(a, mask, KS)
    for key, rows in ref.items():
        expected = torch.tensor(rows, dtype=torch.float64)
        assert torch.allclose(got[key], expected, atol=1e-10, equal_nan=True), key


def test_float32_input_and_shapes() -> None:
    a = causal_uniform(2, 4, 5).float()
    out = attention_stats(a)
    assert all(v.shape == (2, 5) and v.dtype == torch.float32 for v in out.values())
    assert previous_token_mass(a, ks=(1, 3)).shape == (2, 5, 2)
    with pytest.raises(ValueError):
        previous_token_mass(a, ks=(0,))

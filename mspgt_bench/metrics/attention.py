"""Per-query statistics of attention probability maps.

Input convention: ``attn`` is ``[B, H, T, T]`` with ``attn[b, h, t, i]`` the probability that
query ``t`` attends to key ``i`` (rows sum to 1 over the allowed keys, as returned by HF
"eager" attention). ``key_mask`` is the ``[B, T]`` attention/padding mask (1 or True = real
token). Padding must be contiguous (all-left or all-right), so that index differences equal
token distances among real tokens.

Allowed keys of query ``t``: real tokens ``i`` with ``i ≤ t`` when ``causal`` (else all real
tokens). Probability on disallowed keys is ignored (treated as 0) and rows are **not**
renormalised.

Every function returns one value per ``(batch, query)``, ``[B, T]`` (or ``[B, T, K]``),
**averaged over heads** after the per-head statistic is computed. Padded query positions are
``NaN``; average a stimulus over its real queries with :func:`masked_query_mean`.

Statistics:

- normalised entropy ``H(A[t,:]) / log n_t`` with ``n_t`` the number of allowed keys of query
  ``t`` (nats / nats, so in [0, 1]: 1 = uniform over allowed keys, 0 = one-hot). A query
  with a single allowed key (the first real token under causal masking) has no uncertainty
  to normalise: it is defined as **0**. ``normalized=False`` gives ``H`` in nats.
- mean attention span ``d_t = Σ_i A[t,i]·|t − i|`` (MSPGT v1, Zhang & Dong 2025:
  ``d(l) = mean_h (1/T) Σ_t Σ_i A[t,i]|t−i|`` is this averaged over queries).
- previous-token mass ``m_k(t) = Σ_{i=t−k}^{t−1} A[t, i]``: mass **within the previous k
  tokens, excluding the query itself** (``k = 1`` is the classic previous-token mass).
- sink mass ``A[t, s]`` with ``s`` the first real token (position 0 without left padding;
  the attention-sink token of Xiao et al. 2024, "Efficient Streaming Language Models with
  Attention Sinks").
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

__all__ = [
    "DEFAULT_KS",
    "allowed_keys",
    "attention_entropy",
    "attention_span",
    "attention_stats",
    "first_real_position",
    "masked_query_mean",
    "previous_token_mass",
    "sink_mass",
]

DEFAULT_KS: tuple[int, ...] = (1, 2, 4, 8, 16)


def _prep(attn: Tensor, key_mask: Tensor | None) -> tuple[Tensor, Tensor]:
    if attn.dim() != 4 or attn.shape[-1] != attn.shape[-2]:
        raise ValueError(f"attn must be [B, H, T, T], got {tuple(attn.shape)}")
    dt = torch.float64 if attn.dtype == torch.float64 else torch.float32
    attn = attn.to(dt)
    b, _, t, _ = attn.shape
    if key_mask is None:
        km = torch.ones(b, t, dtype=torch.bool, device=attn.device)
    else:
        if key_mask.shape != (b, t):
            raise ValueError(f"key_mask must be [B, T] = {(b, t)}, got {tuple(key_mask.shape)}")
        km = key_mask.to(device=attn.device).bool()
    return attn, km


def allowed_keys(key_mask: Tensor, causal: bool = True) -> Tensor:
    """Boolean ``[B, T, T]``: ``out[b, t, i]`` iff key ``i`` is real and (causal) ``i ≤ t``."""
    km = key_mask.bool()
    t = km.shape[-1]
    allowed = km[:, None, :].expand(-1, t, -1)
    if causal:
        tri = torch.ones(t, t, dtype=torch.bool, device=km.device).tril()
        allowed = allowed & tri
    return allowed


def _finish(per_head: Tensor, km: Tensor) -> Tensor:
    """Average ``[B, H, T]`` over heads and set padded queries to NaN."""
    out = per_head.mean(dim=1)
    return out.masked_fill(~km, float("nan"))


def attention_entropy(
    attn: Tensor, key_mask: Tensor | None = None, normalized: bool = True, causal: bool = True
) -> Tensor:
    """Per-query attention entropy, ``[B, T]``, head-averaged.

    ``H(t) = −Σ_i A[t,i] log A[t,i]`` over allowed keys (nats); with ``normalized`` divided by
    ``log n_t`` (``n_t`` allowed keys), and defined as 0 when ``n_t ≤ 1``.
    """
    attn, km = _prep(attn, key_mask)
    allowed = allowed_keys(km, causal)  # [B, T, T]
    a = attn * allowed[:, None]
    h = -torch.special.xlogy(a, a).sum(dim=-1)  # [B, H, T]
    if normalized:
        n = allowed.sum(dim=-1).to(attn.dtype)  # [B, T]
        log_n = torch.log(n.clamp_min(1.0))
        h = torch.where((n > 1)[:, None], h / log_n.clamp_min(1e-300)[:, None], torch.zeros_like(h))
    return _finish(h, km)


def attention_span(attn: Tensor, key_mask: Tensor | None = None, causal: bool = True) -> Tensor:
    """Mean attention distance ``d_t = Σ_i A[t,i]·|t − i|`` in tokens, ``[B, T]``, head-averaged."""
    attn, km = _prep(attn, key_mask)
    t = attn.shape[-1]
    pos = torch.arange(t, device=attn.device, dtype=attn.dtype)
    dist = (pos[:, None] - pos[None, :]).abs()  # [T, T]
    allowed = allowed_keys(km, causal)
    span = (attn * (dist * allowed)[:, None]).sum(dim=-1)  # [B, H, T]
    return _finish(span, km)


def previous_token_mass(
    attn: Tensor,
    key_mask: Tensor | None = None,
    ks: Sequence[int] = DEFAULT_KS,
) -> Tensor:
    """Mass within the previous ``k`` tokens (keys ``t−k … t−1``, self excluded), ``[B, T, len(ks)]``.

    Head-averaged; the last axis follows the order of ``ks``. Keys before position 0 or on
    padding contribute nothing.
    """
    attn, km = _prep(attn, key_mask)
    ks = [int(k) for k in ks]
    if not ks or any(k < 1 for k in ks):
        raise ValueError("ks must be a non-empty sequence of integers >= 1")
    b, h, t, _ = attn.shape
    kmax = max(ks)
    kmf = km.to(attn.dtype)
    running = torch.zeros(b, h, t, dtype=attn.dtype, device=attn.device)
    outs: dict[int, Tensor] = {}
    for j in range(1, kmax + 1):
        if j < t:
            # diagonal(offset=-j)[..., s] = attn[..., s + j, s]: query s + j, key s.
            diag = attn.diagonal(offset=-j, dim1=-2, dim2=-1) * kmf[:, None, : t - j]
            running[..., j:] += diag
        if j in ks:
            outs[j] = running.clone()
    per_head = torch.stack([outs[k] for k in ks], dim=-1)  # [B, H, T, K]
    out = per_head.mean(dim=1)
    return out.masked_fill(~km[..., None], float("nan"))


def first_real_position(key_mask: Tensor) -> Tensor:
    """Index of the first real token per row of ``key_mask`` ``[B, T]`` (0 if none)."""
    return key_mask.bool().to(torch.int64).argmax(dim=-1)


def sink_mass(attn: Tensor, key_mask: Tensor | None = None) -> Tensor:
    """Mass on the first real token (position 0 unless left-padded), ``[B, T]``, head-averaged."""
    attn, km = _prep(attn, key_mask)
    b, h, t, _ = attn.shape
    first = first_real_position(km)  # [B]
    idx = first.view(b, 1, 1, 1).expand(b, h, t, 1)
    m = attn.gather(-1, idx).squeeze(-1)  # [B, H, T]
    return _finish(m, km)


def attention_stats(
    attn: Tensor,
    key_mask: Tensor | None = None,
    ks: Sequence[int] = DEFAULT_KS,
    causal: bool = True,
) -> dict[str, Tensor]:
    """All statistics at once: keys ``entropy`` (normalised), ``entropy_nats``, ``span``,
    ``sink`` (each ``[B, T]``) and ``prev_k`` for each k (``[B, T]``)."""
    out = {
        "entropy": attention_entropy(attn, key_mask, normalized=True, causal=causal),
        "entropy_nats": attention_entropy(attn, key_mask, normalized=False, causal=causal),
        "span": attention_span(attn, key_mask, causal=causal),
        "sink": sink_mass(attn, key_mask),
    }
    if ks:
        prev = previous_token_mass(attn, key_mask, ks)
        for i, k in enumerate(ks):
            out[f"prev_{int(k)}"] = prev[..., i]
    return out


def masked_query_mean(values: Tensor, key_mask: Tensor | None = None) -> Tensor:
    """Mean over real queries of per-query values ``[B, T, ...]`` → ``[B, ...]``.

    With ``key_mask=None`` the mean ignores NaN entries (the padded queries).
    """
    if key_mask is None:
        return torch.nanmean(values, dim=1)
    m = key_mask.bool().to(values.device)
    while m.dim() < values.dim():
        m = m.unsqueeze(-1)
    m = m.expand_as(values)
    v = torch.where(m, values, torch.zeros((), dtype=values.dtype, device=values.device))
    count = m.sum(dim=1).to(values.dtype)
    return v.sum(dim=1) / count

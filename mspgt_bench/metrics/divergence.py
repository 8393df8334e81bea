"""Divergences and entropies of categorical distributions given as logits.

The plain definitions, one distribution pair at a time (float64 when given float64). The logit
lens and the intervention effects use the one-pass forms of :mod:`mspgt_bench.metrics.next_token`,
which are tested against these.

All quantities are in **nats** (natural logarithm) and are computed from ``log_softmax``
(never from ``log(softmax(.))``) so that very peaked distributions do not underflow.
Half-precision inputs are upcast to float32; float64 stays float64.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["entropy_from_logits", "kl_from_logits", "token_rank"]


def _work_dtype(x: Tensor) -> torch.dtype:
    return torch.float64 if x.dtype == torch.float64 else torch.float32


def _kl(log_p: Tensor, log_q: Tensor, dim: int) -> Tensor:
    p = log_p.exp()
    terms = torch.where(p > 0, p * (log_p - log_q), torch.zeros((), dtype=p.dtype, device=p.device))
    return terms.sum(dim=dim).clamp_min(0.0)


def _entropy(log_p: Tensor, dim: int) -> Tensor:
    p = log_p.exp()
    terms = torch.where(p > 0, p * log_p, torch.zeros((), dtype=p.dtype, device=p.device))
    return (-terms.sum(dim=dim)).clamp_min(0.0)


def kl_from_logits(p_logits: Tensor, q_logits: Tensor, dim: int = -1) -> Tensor:
    """KL(p ‖ q) in nats between ``p = softmax(p_logits)`` and ``q = softmax(q_logits)``.

    ``KL(p‖q) = Σ_v p_v (log p_v − log q_v)``, reduced over ``dim`` (the vocabulary).
    Terms with ``p_v = 0`` (e.g. a logit of ``-inf``) contribute 0; a ``p_v > 0`` with
    ``q_v = 0`` gives ``+inf``. Tiny negative values from rounding are clamped to 0.

    Args:
        p_logits: logits of the reference distribution ``[..., V]``.
        q_logits: logits of the approximating distribution, broadcastable to ``p_logits``.
        dim: vocabulary dimension.

    Returns:
        Tensor of shape ``p_logits.shape`` without ``dim``.
    """
    dt = _work_dtype(p_logits)
    return _kl(torch.log_softmax(p_logits.to(dt), dim=dim), torch.log_softmax(q_logits.to(dt), dim=dim), dim)


def entropy_from_logits(logits: Tensor, dim: int = -1) -> Tensor:
    """Shannon entropy ``H(p) = −Σ_v p_v log p_v`` in nats of ``p = softmax(logits)``.

    Zero-probability entries contribute 0 (``0·log 0 = 0``).
    """
    return _entropy(torch.log_softmax(logits.to(_work_dtype(logits)), dim=dim), dim)


def token_rank(logits: Tensor, token_ids: Tensor) -> Tensor:
    """Rank (0 = top-1) of ``token_ids`` under ``logits`` along the last dimension.

    ``rank = #{v : logits[v] > logits[token]}`` (strictly greater, so ties resolve in the
    token's favour). The logit-lens use is the rank at layer ``l`` of the final layer's
    top-1 token (nostalgebraist 2020).

    Args:
        logits: ``[..., V]``.
        token_ids: integer tensor of shape ``logits.shape[:-1]``.

    Returns:
        int64 tensor of shape ``logits.shape[:-1]``.
    """
    target = logits.gather(-1, token_ids.long().unsqueeze(-1))
    return (logits > target).sum(dim=-1)

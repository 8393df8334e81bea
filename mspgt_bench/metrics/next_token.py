"""Next-token distributions read out from residual states, in as few passes over the vocabulary as possible.

Shared by the logit lens (each layer's read-out against the model's final distribution) and the
intervention effects (the intervened read-out against the clean one). Rows are token positions;
``z [rows, V]`` are logits, ``q = softmax(z)``.

One pass (:func:`softmax_stats`): with ``m = max_v z_v`` and ``e = exp(z − m)`` (the only
vocabulary-sized temporary), ``lse(z) = m + log Σ_v e_v`` and ``H(q) = lse(z) − Σ_v e_v z_v / Σ_v e_v``.

KL against a reference ``p = softmax(z_ref)`` of the same rows (:class:`ReferenceDistribution`):
``KL(p ‖ q) = Σ_v p_v (log p_v − log q_v) = δ·Σ_v p_v − Σ_v p_v d_v`` with ``δ = lse(z) − lse(z_ref)``
and ``d = z − z_ref`` (exact algebra; ``Σ_v p_v`` is kept rather than assumed 1, so identical logits
give exactly 0 and small perturbations keep their relative precision). When the read-out is affine
after the final norm, ``z = W·norm(h) + b`` (:class:`AffineReadout`), the vocabulary sum collapses to
a ``d``-dimensional one: ``Σ_v p_v d_v = (Wᵀp)·(norm(h) − norm(h_ref))`` (the bias cancels), computed
in float64 from ``u = Wᵀp`` stored once per reference row. The reference then keeps ``[rows, d]``
instead of ``[rows, V]`` and no pass over ``z − z_ref`` is needed. Without an affine read-out
(final-logit softcapping, a remote backend) the vocabulary form is used.

Sources: the logit lens (nostalgebraist 2020) and its KL (Belrose et al. 2023); the log-sum-exp
identities are standard (e.g. Blanchard, Higham & Higham 2021, "Accurately computing the log-sum-exp
and softmax functions").
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = ["ROWS_PER_CHUNK", "AffineReadout", "ReferenceDistribution", "SoftmaxStats", "read_out", "softmax_stats"]

ROWS_PER_CHUNK = 512
"""Rows unembedded at once: large enough for an efficient matrix product (a [512, V] float32 chunk
is 100 MB at V = 49k; 128-row chunks ran the unembedding ~1.4x slower on a 2-core CPU)."""


@dataclass(frozen=True)
class AffineReadout:
    """A read-out ``logits = W·norm(h) + b``: the final norm, the unembedding ``W [V, d]`` and its bias."""

    norm: Callable[[Tensor], Tensor]
    weight: Tensor
    bias: Tensor | None = None

    def logits(self, normed: Tensor) -> Tensor:
        """``W·normed + b`` for already-normed states ``[..., d]``."""
        return torch.nn.functional.linear(normed, self.weight, self.bias)


def read_out(
    resid: Tensor, affine: AffineReadout | None, to_logits: Callable[[Tensor], Tensor]
) -> tuple[Tensor, Tensor | None]:
    """``(float32 logits, normed states)`` of residual rows ``resid [..., d]``.

    Through ``affine`` when given (the normed states are then returned for
    :meth:`ReferenceDistribution.kl`), else through ``to_logits`` (normed states ``None``).
    """
    if affine is None:
        return to_logits(resid).float(), None
    normed = affine.norm(resid)
    return affine.logits(normed).float(), normed


@dataclass
class SoftmaxStats:
    """Per-row quantities of ``q = softmax(z)``: its argmax, log-sum-exp and entropy (nats)."""

    top1: Tensor
    lse: Tensor
    entropy: Tensor


def _dot(a: Tensor, b: Tensor) -> Tensor:
    """Row-wise dot product; ``vecdot`` reduces pairwise (a batched matmul accumulates sequentially on CPU)."""
    return torch.linalg.vecdot(a, b)


def softmax_stats(z: Tensor) -> tuple[SoftmaxStats, Tensor, Tensor]:
    """``(stats, e, Σe)`` of logits ``z [rows, V]`` in one pass (see module doc); ``e / Σe`` is ``q``."""
    top, top1 = z.max(dim=-1)
    e = torch.sub(z, top.unsqueeze(-1)).exp_()
    total = e.sum(dim=-1)
    lse = top + total.log()
    return SoftmaxStats(top1, lse, lse - _dot(e, z) / total), e, total


class ReferenceDistribution:
    """``p = softmax(z_ref)`` on a fixed set of rows, and ``KL(p ‖ q)`` for other logits of the same rows.

    Built from chunks ``(z_ref, normed_ref)`` in row order; ``normed_ref`` (the final-normed states
    the logits came from) is given with an ``affine`` read-out and selects the ``d``-dimensional form
    of the KL (module doc). ``stats`` holds ``p``'s top-1, log-sum-exp and entropy per row.
    """

    def __init__(self, chunks: Iterable[tuple[Tensor, Tensor | None]], affine: AffineReadout | None = None) -> None:
        self.affine = affine
        stats, p_sum, kept, normed = [], [], [], []
        for z, normed_ref in chunks:
            chunk_stats, e, total = softmax_stats(z)
            stats.append(chunk_stats)
            p = e.div_(total.unsqueeze(-1))
            p_sum.append(p.sum(dim=-1))
            if affine is None:
                kept.append((z, p))
            else:
                kept.append(p @ affine.weight.to(p.dtype))  # u = Wᵀp, [rows, d]
                normed.append(normed_ref.double())
        self.stats = SoftmaxStats(*(torch.cat([getattr(s, f) for s in stats]) for f in ("top1", "lse", "entropy")))
        self.p_sum = torch.cat(p_sum)
        if affine is None:
            self.z = torch.cat([z for z, _ in kept])
            self.p = torch.cat([p for _, p in kept])
        else:
            self.u = torch.cat(kept).double()
            self.normed = torch.cat(normed)

    def kl(self, rows: Tensor | slice, z: Tensor, lse: Tensor, normed: Tensor | None = None) -> Tensor:
        """``KL(p ‖ softmax(z))`` at reference rows ``rows`` for logits ``z`` with log-sum-exp ``lse``.

        ``normed`` (the normed states ``z`` came from) is required with an affine read-out. ``z`` may
        be overwritten (it is used as scratch in the vocabulary form).
        """
        delta = (lse - self.stats.lse[rows]) * self.p_sum[rows]
        if self.affine is not None:
            if normed is None:
                raise ValueError("an affine reference needs the normed states of the compared logits")
            spread = _dot(self.u[rows], normed.double() - self.normed[rows]).to(delta.dtype)
        else:
            spread = _dot(self.p[rows], z.sub_(self.z[rows]))
        return (delta - spread).clamp_min(0.0)

"""Effect metrics of an intervention against the un-intervened model on the same stimuli.

Per stimulus (so intervals can be bootstrapped over stimuli), with ``p = softmax(z_c)`` the
clean and ``q = softmax(z)`` the intervened next-token distribution at position ``t`` and
``x_{t+1}`` the actual next token:

- ``kl``: ``KL(p ‖ q) = Σ_v p_v (log p_v − log q_v)`` in nats, mean over the stimulus' real positions;
- ``top1_agreement``: fraction of real positions where ``argmax q = argmax p`` (Lad et al. 2024's
  "fraction of predictions kept");
- ``delta_loss``: mean over positions with a real next token of ``−log q(x_{t+1}) + log p(x_{t+1})``;
- ``delta_entropy``: mean over real positions of ``H(q) − H(p)``;
- ``delta_loss_local`` / ``_intermediate`` / ``_global``: ``delta_loss`` restricted to targets of
  that token class (see :mod:`mspgt_bench.interventions.token_classes`); NaN for a stimulus with
  no target of the class.

Numerics (float32, nats): with ``d = z − z_c`` and ``lse`` the log-sum-exp,
``KL = Σ_v p_v (δ − d_v)`` with ``δ = lse(z) − lse(z_c)`` (exact algebra: ``log p − log q = δ − d``),
so identical logits give exactly 0 and small perturbations keep their relative precision;
``H(q) = lse(z) − Σ_v q_v z_v``; ``−log q(x) = lse(z) − z_x``. The vocabulary-sized work
(unembedding included, via :meth:`CleanReference.compare_resid`) runs over chunks of positions,
so no ``[batch, tokens, vocab]`` tensor is ever allocated per condition.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from mspgt_bench.interventions.token_classes import CLASS_NAMES

__all__ = ["BASE_METRICS", "CLASS_METRICS", "METRICS", "CleanReference"]

BASE_METRICS = ("kl", "top1_agreement", "delta_loss", "delta_entropy")
CLASS_METRICS = tuple(f"delta_loss_{name}" for name in CLASS_NAMES)
METRICS = BASE_METRICS + CLASS_METRICS

ToLogits = Callable[[Tensor], Tensor]


def _dot(a: Tensor, b: Tensor) -> Tensor:
    """Row-wise dot product of ``[n, v]`` matrices.

    ``vecdot`` reduces pairwise (error ~1e-7 relative over a 49k vocabulary); a batched matrix
    product (``bmm``/``einsum``) accumulates sequentially on CPU and is off by ~1e-3.
    """
    return torch.linalg.vecdot(a, b)


class CleanReference:
    """The clean model's next-token quantities on one batch, computed once and shared by every condition.

    Only real (non-padding) positions are kept, flattened to rows. ``logits`` is either the clean
    logits ``[batch, tokens, vocab]`` or, with ``to_logits`` given, the clean final residual
    ``[batch, tokens, d]`` (unembedded chunk by chunk).
    """

    def __init__(
        self,
        logits: Tensor,
        input_ids: Tensor,
        attention_mask: Tensor,
        classes: Tensor | None = None,
        *,
        to_logits: ToLogits | None = None,
        chunk: int = 128,
    ) -> None:
        self.to_logits = to_logits
        self.chunk = chunk
        self.mask = attention_mask.bool()
        self.shape = tuple(self.mask.shape)
        self.row_of = self.mask.nonzero()[:, 0]  # batch row of each kept position
        next_real = torch.zeros_like(self.mask)
        next_real[:, :-1] = self.mask[:, 1:]
        targets = torch.zeros_like(input_ids)
        targets[:, :-1] = input_ids[:, 1:]
        self.has_target = (self.mask & next_real)[self.mask]
        self.target = targets[self.mask]
        self.n_positions = torch.bincount(self.row_of, minlength=self.shape[0]).double()
        self.n_targets = torch.bincount(self.row_of, weights=self.has_target.double(), minlength=self.shape[0])
        z_parts, p_parts, lse, top1, entropy, nll = [], [], [], [], [], []
        for rows, z in self._chunks(logits, to_logits is not None):
            top, top_index = z.max(dim=-1)
            e = torch.sub(z, top.unsqueeze(-1)).exp_()
            total = e.sum(dim=-1)
            lse_z = top + total.log()
            entropy.append(lse_z - _dot(e, z) / total)
            z_parts.append(z)
            p_parts.append(e.div_(total.unsqueeze(-1)))
            lse.append(lse_z)
            top1.append(top_index)
            nll.append(lse_z - z.gather(-1, self.target[rows, None]).squeeze(-1))
        self.z = torch.cat(z_parts)
        self.p = torch.cat(p_parts)
        self.p_sum = self.p.sum(dim=-1)
        self.lse = torch.cat(lse)
        self.top1 = torch.cat(top1)
        self.entropy = torch.cat(entropy)
        self.nll = torch.cat(nll)
        self.class_at: Tensor | None = None
        if classes is not None:
            self.set_classes(classes)

    def _chunks(self, values: Tensor, is_resid: bool):
        flat = values[self.mask]
        for start in range(0, flat.shape[0], self.chunk):
            rows = slice(start, start + self.chunk)
            part = flat[rows]
            yield rows, (self.to_logits(part) if is_resid else part).float()

    def set_classes(self, classes: Tensor) -> None:
        """Attach token classes (``[batch, tokens]``, indexed by target position) for Δloss per class."""
        shifted = torch.full_like(classes, -1)
        shifted[:, :-1] = classes[:, 1:]
        self.class_at = shifted.to(self.mask.device)[self.mask]

    @property
    def loss_by_target(self) -> Tensor:
        """``[batch, tokens]`` clean loss of the token at ``j`` (NaN at ``j = 0`` and where undefined)."""
        by_position = torch.full(self.shape, float("nan"))
        by_position[self.mask.cpu()] = torch.where(self.has_target, self.nll, torch.nan).cpu()
        out = torch.full(self.shape, float("nan"))
        out[:, 1:] = by_position[:, :-1]
        return out

    def _per_stimulus(self, values: Tensor, weights: Tensor) -> Tensor:
        total = torch.zeros(self.shape[0], dtype=torch.float64).index_add_(0, self.row_of, (values * weights).double())
        count = torch.zeros(self.shape[0], dtype=torch.float64).index_add_(0, self.row_of, weights.double())
        return torch.where(count > 0, total / count.clamp_min(1), torch.full_like(total, float("nan")))

    @torch.inference_mode()
    def compare(self, logits: Tensor) -> dict[str, Tensor]:
        """Every metric of :data:`METRICS`, per batch row, for intervened ``logits [batch, tokens, vocab]``."""
        return self._compare(logits, False)

    @torch.inference_mode()
    def compare_resid(self, resid: Tensor) -> dict[str, Tensor]:
        """As :meth:`compare`, from the intervened final residual (unembedded chunk by chunk)."""
        if self.to_logits is None:
            raise ValueError("compare_resid needs a CleanReference built with to_logits")
        return self._compare(resid, True)

    def _compare(self, values: Tensor, is_resid: bool) -> dict[str, Tensor]:
        kl, agree, dent, dnll = [], [], [], []
        for rows, z in self._chunks(values, is_resid):
            top, top1 = z.max(dim=-1)
            e = torch.sub(z, top.unsqueeze(-1)).exp_()  # the only vocabulary-sized temporary
            total = e.sum(dim=-1)
            lse_z = top + total.log()
            agree.append((top1 == self.top1[rows]).float())
            dent.append(lse_z - _dot(e, z) / total - self.entropy[rows])
            dnll.append(lse_z - z.gather(-1, self.target[rows, None]).squeeze(-1) - self.nll[rows])
            d = z.sub_(self.z[rows])  # z is a fresh chunk (boolean indexing copies); reused as d = z − z_c
            # Σ_v p_v (log p_v − log q_v) = Σ_v p_v (δ − d_v), δ = lse(z) − lse(z_c); Σ_v p_v is kept
            # (not assumed 1) so rounding in p does not leak into the difference of two large numbers.
            kl.append(((lse_z - self.lse[rows]) * self.p_sum[rows] - _dot(self.p[rows], d)).clamp_min(0.0))
        ones = torch.ones(len(self.row_of))
        has_target = self.has_target.float()
        dnll_all = torch.cat(dnll)
        out = {
            "kl": self._per_stimulus(torch.cat(kl), ones),
            "top1_agreement": self._per_stimulus(torch.cat(agree), ones),
            "delta_loss": self._per_stimulus(dnll_all, has_target),
            "delta_entropy": self._per_stimulus(torch.cat(dent), ones),
        }
        if self.class_at is not None:
            for index, name in enumerate(CLASS_NAMES):
                out[f"delta_loss_{name}"] = self._per_stimulus(dnll_all, has_target * (self.class_at == index).float())
        return {name: value.cpu() for name, value in out.items()}

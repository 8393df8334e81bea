"""Effect metrics of an intervention against the un-intervened model on the same stimuli.

Per stimulus (so intervals can be bootstrapped over stimuli), with ``p`` the clean and ``q`` the
intervened next-token distribution at position ``t`` and ``x_{t+1}`` the actual next token:

- ``kl``: ``KL(p ‖ q) = Σ_v p_v (log p_v − log q_v)`` in nats, mean over the stimulus' real positions;
- ``top1_agreement``: fraction of real positions where ``argmax q = argmax p`` (Lad et al. 2024's
  "fraction of predictions kept");
- ``delta_loss``: mean over positions with a real next token of ``−log q(x_{t+1}) + log p(x_{t+1})``;
- ``delta_entropy``: mean over real positions of ``H(q) − H(p)``;
- ``delta_loss_local`` / ``_intermediate`` / ``_global``: ``delta_loss`` restricted to targets of
  that token class (see :mod:`mspgt_bench.interventions.token_classes`); NaN for a stimulus with
  no target of the class.

All in float32 from ``log_softmax`` (never ``log(softmax)``).
"""

from __future__ import annotations

import torch
from torch import Tensor

from mspgt_bench.interventions.token_classes import CLASS_NAMES

__all__ = ["CleanReference", "BASE_METRICS", "CLASS_METRICS", "METRICS"]

BASE_METRICS = ("kl", "top1_agreement", "delta_loss", "delta_entropy")
CLASS_METRICS = tuple(f"delta_loss_{name}" for name in CLASS_NAMES)
METRICS = BASE_METRICS + CLASS_METRICS


def _masked_mean(values: Tensor, mask: Tensor) -> Tensor:
    """Mean over the token axis of ``values [batch, tokens]`` where ``mask``; NaN for an empty row."""
    weights = mask.to(values.dtype)
    count = weights.sum(dim=1)
    total = (values * weights).nan_to_num(0.0).sum(dim=1)
    return torch.where(count > 0, total / count.clamp_min(1), torch.full_like(total, float("nan")))


class CleanReference:
    """The clean model's quantities on one batch, computed once and shared by every condition.

    ``classes`` (optional) is ``[batch, tokens]`` indexed by *target* position ``j`` (the token
    predicted at ``j−1``), as :class:`TokenClasses` gives it.
    """

    def __init__(self, logits: Tensor, input_ids: Tensor, attention_mask: Tensor, classes: Tensor | None = None) -> None:
        self.log_p = torch.log_softmax(logits.float(), dim=-1)
        self.p = self.log_p.exp()
        self.top1 = self.log_p.argmax(dim=-1)
        self.entropy = self._entropy(self.log_p)
        self.mask = attention_mask.bool()
        next_real = torch.zeros_like(self.mask)
        next_real[:, :-1] = self.mask[:, 1:]
        self.target_mask = self.mask & next_real
        targets = torch.zeros_like(input_ids)
        targets[:, :-1] = input_ids[:, 1:]
        self.targets = targets
        self.loss = self._nll(self.log_p)
        self.class_at: Tensor | None = None
        if classes is not None:
            self.set_classes(classes)

    def set_classes(self, classes: Tensor) -> None:
        """Attach token classes (indexed by target position) for the per-class Δloss metrics."""
        shifted = torch.full_like(classes, -1)
        shifted[:, :-1] = classes[:, 1:]
        self.class_at = shifted.to(self.mask.device)

    @property
    def loss_by_target(self) -> Tensor:
        """``[batch, tokens]`` clean loss of the token at ``j`` (NaN at ``j = 0`` and padding)."""
        out = torch.full(self.loss.shape, float("nan"))
        out[:, 1:] = torch.where(self.target_mask[:, :-1], self.loss[:, :-1], torch.full_like(self.loss[:, :-1], float("nan"))).cpu()
        return out

    @staticmethod
    def _entropy(log_p: Tensor) -> Tensor:
        p = log_p.exp()
        return -torch.where(p > 0, p * log_p, torch.zeros((), dtype=p.dtype)).sum(dim=-1)

    def _nll(self, log_q: Tensor) -> Tensor:
        return -log_q.gather(-1, self.targets.unsqueeze(-1)).squeeze(-1)

    @torch.inference_mode()
    def compare(self, logits: Tensor) -> dict[str, Tensor]:
        """Every metric of :data:`METRICS` for intervened ``logits [batch, tokens, vocab]``, per row."""
        log_q = torch.log_softmax(logits.float(), dim=-1)
        terms = torch.where(self.p > 0, self.p * (self.log_p - log_q), torch.zeros((), dtype=log_q.dtype))
        kl = terms.sum(dim=-1).clamp_min(0.0)
        out = {
            "kl": _masked_mean(kl, self.mask),
            "top1_agreement": _masked_mean((log_q.argmax(dim=-1) == self.top1).float(), self.mask),
            "delta_entropy": _masked_mean(self._entropy(log_q) - self.entropy, self.mask),
        }
        dloss = self._nll(log_q) - self.loss
        out["delta_loss"] = _masked_mean(dloss, self.target_mask)
        if self.class_at is not None:
            for index, name in enumerate(CLASS_NAMES):
                out[f"delta_loss_{name}"] = _masked_mean(dloss, self.target_mask & (self.class_at == index))
        return {name: value.cpu() for name, value in out.items()}

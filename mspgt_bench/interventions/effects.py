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

Numerics (float32, nats): the read-out statistics come from
:mod:`mspgt_bench.metrics.next_token` (one pass over the vocabulary per chunk of positions;
``KL = δ·Σp − Σ_v p_v (z_v − z_{c,v})``, in its ``d``-dimensional form when the adapter's read-out is
affine), so identical logits give exactly 0 and small perturbations keep their relative
precision; ``−log q(x) = lse(z) − z_x``. The vocabulary-sized work (unembedding included, via
:meth:`CleanReference.compare_resid`) runs over chunks of positions, so no ``[batch, tokens, vocab]``
tensor is ever allocated per intervention target.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch import Tensor

from mspgt_bench.interventions.token_classes import CLASS_NAMES
from mspgt_bench.metrics.next_token import ROWS_PER_CHUNK, AffineReadout, ReferenceDistribution, read_out, softmax_stats

__all__ = ["BASE_METRICS", "CLASS_METRICS", "METRICS", "CleanReference"]

BASE_METRICS = ("kl", "top1_agreement", "delta_loss", "delta_entropy")
CLASS_METRICS = tuple(f"delta_loss_{name}" for name in CLASS_NAMES)
METRICS = BASE_METRICS + CLASS_METRICS

ToLogits = Callable[[Tensor], Tensor]


class CleanReference:
    """The clean model's next-token quantities on one batch, computed once and shared by every intervention target.

    Only real (non-padding) positions are kept, flattened to rows. ``values`` is either the clean
    logits ``[batch, tokens, vocab]`` or, with ``to_logits`` or ``affine`` given, the clean final
    residual ``[batch, tokens, d]`` (unembedded chunk by chunk; with an affine read-out the KL needs
    no vocabulary-sized reference, see :class:`~mspgt_bench.metrics.next_token.ReferenceDistribution`).
    """

    def __init__(
        self,
        values: Tensor,
        input_ids: Tensor,
        attention_mask: Tensor,
        classes: Tensor | None = None,
        *,
        to_logits: ToLogits | None = None,
        affine: AffineReadout | None = None,
        chunk: int = ROWS_PER_CHUNK,
    ) -> None:
        self.to_logits = to_logits
        self.affine = affine
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
        target_logits: list[Tensor] = []

        def reference_chunks():
            for rows, z, normed in self._chunks(values, self.reads_resid):
                target_logits.append(self._target_logit(rows, z))
                yield z, normed

        self.reference = ReferenceDistribution(reference_chunks(), affine if self.reads_resid else None)
        self.nll = self.reference.stats.lse - torch.cat(target_logits)
        self.class_at: Tensor | None = None
        if classes is not None:
            self.set_classes(classes)

    @classmethod
    def of_resid(cls, adapter: Any, resid: Tensor, batch: Any) -> CleanReference:
        """From the clean final residual ``resid`` of ``batch``, read out the adapter's way (affine when it can)."""
        return cls(
            resid,
            batch.input_ids,
            batch.attention_mask,
            to_logits=adapter.logits_from_resid,
            affine=adapter.affine_readout(),
        )

    @property
    def reads_resid(self) -> bool:
        return self.to_logits is not None or self.affine is not None

    def _chunks(self, values: Tensor, is_resid: bool) -> Iterator[tuple[slice, Tensor, Tensor | None]]:
        """``(rows, logits [rows, V] float32, normed states or None)`` per chunk of kept positions."""
        flat = values[self.mask]
        for start in range(0, flat.shape[0], self.chunk):
            rows = slice(start, start + self.chunk)
            part = flat[rows]
            yield (rows, *read_out(part, self.affine, self.to_logits)) if is_resid else (rows, part.float(), None)

    def _target_logit(self, rows: slice, z: Tensor) -> Tensor:
        return z.gather(-1, self.target[rows, None]).squeeze(-1)

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
        if self.reads_resid:
            raise ValueError("this CleanReference was built from residuals: use compare_resid")
        return self._compare(logits, False)

    @torch.inference_mode()
    def compare_resid(self, resid: Tensor) -> dict[str, Tensor]:
        """As :meth:`compare`, from the intervened final residual (unembedded chunk by chunk)."""
        if not self.reads_resid:
            raise ValueError("compare_resid needs a CleanReference built with to_logits or affine")
        return self._compare(resid, True)

    def _compare(self, values: Tensor, is_resid: bool) -> dict[str, Tensor]:
        kl, agree, dent, dnll = [], [], [], []
        clean = self.reference.stats
        for rows, z, normed in self._chunks(values, is_resid):
            stats, _e, _total = softmax_stats(z)
            agree.append((stats.top1 == clean.top1[rows]).float())
            dent.append(stats.entropy - clean.entropy[rows])
            dnll.append(stats.lse - self._target_logit(rows, z) - self.nll[rows])
            kl.append(self.reference.kl(rows, z, stats.lse, normed))  # last: may overwrite z
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

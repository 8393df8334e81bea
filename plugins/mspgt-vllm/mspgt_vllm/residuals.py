"""The clean pass of one batch recorded through vLLM, and interventions re-run as hooked vLLM passes.

The HF backend resumes an intervention from the cached residual at the first edited layer
(:class:`~mspgt_bench.models.resume.ResidualCache`). vLLM runs its decoder layers inside
the engine, so here ``resume`` runs the whole forward pass again with the same
:class:`~mspgt_bench.models.resume.Step` edits applied by hooks in the worker: the layers
before the first edit recompute the recorded clean states (a deterministic float32 pass), which
is what the HF resume reuses. Edits that run other layers at a position (swaps) and a replaced
starting state (``hidden``) have no hook form and raise ``NotImplementedError``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from torch import Tensor

from mspgt_bench.models.base import TokenBatch
from mspgt_bench.models.resume import Step

if TYPE_CHECKING:
    from mspgt_vllm.adapter import VLLMAdapter

__all__ = ["VLLMResiduals"]


@dataclass
class VLLMResiduals:
    """``states[l]``: the stream entering layer ``l`` (``[batch, tokens, d]``, zero on padding);
    ``states[L]``: the last layer's output, before the final norm."""

    adapter: VLLMAdapter
    batch: TokenBatch
    states: list[Tensor]

    @property
    def n_layers(self) -> int:
        return len(self.states) - 1

    @property
    def attention_mask(self) -> Tensor:
        return self.batch.attention_mask

    @property
    def lengths(self) -> Tensor:
        return self.batch.lengths

    @property
    def stimulus_index(self) -> list[int]:
        return list(self.batch.stimulus_index)

    def resume(
        self, steps: Mapping[int, Step] | None = None, start: int | None = None, hidden: Tensor | None = None
    ) -> Tensor:
        """The final residual with ``steps`` applied, from a full hooked vLLM pass."""
        steps = dict(steps or {})
        if hidden is not None:
            raise NotImplementedError("the vllm backend cannot resume from a replaced hidden state (hidden=...)")
        first = min(steps, default=self.n_layers)
        if start is not None and not 0 <= start <= first:
            raise ValueError(f"start {start} must lie in 0..{first} (the first edited layer)")
        for position, step in steps.items():
            if not 0 <= position < self.n_layers:
                raise ValueError(f"step at layer {position} outside 0..{self.n_layers - 1}")
            if step.modules not in (None, (), (position,)):
                raise NotImplementedError(
                    f"the vllm backend cannot run layers {step.modules} at position {position} "
                    "(layer swaps need the HF backend)"
                )
        edits = {p: s for p, s in steps.items() if s.pre is not None or s.post is not None or s.modules == ()}
        if not edits:
            return self.states[-1]
        return self.adapter.final_resid(self.batch.input_ids, self.batch.attention_mask, edits)

    def logits(self, resid: Tensor | None = None) -> Tensor:
        """Final norm + unembedding of ``resid`` (default: the recorded final state)."""
        return self.adapter.logits_from_resid(self.states[-1] if resid is None else resid)

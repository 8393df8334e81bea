"""The model adapter interface every backend implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

import torch

from mspgt_bench.metrics.next_token import AffineReadout
from mspgt_bench.models.sites import Site


@dataclass
class TokenBatch:
    """A right-padded batch of tokenised stimuli."""

    input_ids: torch.Tensor
    """``[batch, tokens]`` token ids."""
    attention_mask: torch.Tensor
    """``[batch, tokens]`` 1 for real tokens, 0 for padding."""
    stimulus_index: list[int]
    """Position of each row in the run's stimulus list."""

    @property
    def lengths(self) -> torch.Tensor:
        return self.attention_mask.sum(dim=1)


class ModelAdapter(ABC):
    """A loaded model that can be run on token batches with sites captured.

    Subclasses set ``backend``, ``family``, ``n_layers``, ``d_model`` and ``model_id`` once loaded.
    """

    backend: str = "abstract"
    family: str
    n_layers: int
    d_model: int
    model_id: str

    @abstractmethod
    def tokenize(self, texts: list[str], stimulus_index: list[int], max_tokens: int) -> TokenBatch:
        """Tokenise and right-pad ``texts``, truncating each to ``max_tokens``."""

    @abstractmethod
    def capture(self, sites: Iterable[Site]) -> AbstractContextManager[dict[Site, torch.Tensor]]:
        """Context manager: while open, forward passes store each site's activation in the dict.

        All hooks are removed on exit, also when the body raises.
        """

    @abstractmethod
    def forward(self, batch: TokenBatch, *, logits: bool = True) -> torch.Tensor | None:
        """Run the model; return logits ``[batch, tokens, vocab]``, or None when ``logits`` is False.

        Skipping the logits spares the unembedding of every token (a large share of the cost
        for big vocabularies) when only residual sites are read.
        """

    @abstractmethod
    def logits_from_resid(self, resid: torch.Tensor) -> torch.Tensor:
        """Apply the final norm and the unembedding to residual states (the logit lens)."""

    def affine_readout(self) -> AffineReadout | None:
        """The read-out as ``logits = W·norm(resid) + b`` when it is exactly that (no softcapping), else None.

        Lets vocabulary-sized statistics take their cheaper exact forms
        (:mod:`mspgt_bench.metrics.next_token`). Backends that cannot hand out the unembedding keep None.
        """
        return None

    def record_residuals(self, batch: TokenBatch) -> Any:
        """One clean pass recorded for interventions: a :class:`~mspgt_bench.interventions.resume.ResidualCache`
        (or an object with its ``states``, ``resume`` and ``logits``).

        Backends that cannot run interventions keep this default, which says so.
        """
        raise NotImplementedError(f"the {self.backend!r} backend does not support interventions")

    @abstractmethod
    def provenance(self) -> dict[str, Any]:
        """Model id, revision, dtype, backend and anything else a result must record."""

    def close(self) -> None:
        """Release the model's memory."""

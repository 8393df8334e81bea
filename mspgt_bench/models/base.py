"""The model adapter interface every backend implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from mspgt_bench.metrics.next_token import AffineReadout
from mspgt_bench.models.families import FamilyMap
from mspgt_bench.models.sites import Site

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase


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

    The whole contract of a backend: the members below, set once the model is loaded (``layers``,
    ``model`` and ``device`` keep their ``None`` defaults where the model runs outside this
    process), and the methods. The abstract methods serve the capture pass and every signal;
    :meth:`record_residuals` and :meth:`final_resid` serve the interventions and token classes, and
    a backend that cannot run them keeps their defaults, which say so. One optional method is
    looked up by name: ``prompt_logprobs(batch) -> [batch, tokens]`` log-probabilities of each
    token given the ones before (NaN at position 0 and on padding); token classes use it instead
    of final residuals when an adapter has it (the vLLM plugin's does).
    """

    backend: str = "abstract"
    """Short name of the backend, recorded with every result (``"hf"``, ``"vllm"``)."""
    family: str
    """Architecture family label (e.g. ``"llama"``); cross-model predictions group models by it."""
    n_layers: int
    """Number of decoder layers ``L``; sites and profiles index them ``0 .. L−1``."""
    d_model: int
    """Width of the residual stream."""
    model_id: str
    """What the model was loaded from: a zoo name, a local folder or a hub id."""
    tokenizer: PreTrainedTokenizerBase
    """The model's Hugging Face tokenizer, padding on the right, with a pad token. Besides
    :meth:`tokenize`, signals and interventions call it directly: with ``return_offsets_mapping``
    to map tokens to characters (scale probes, token classes), and to tokenise and decode generation
    prompts and continuations."""
    map: FamilyMap
    """The family's map from canonical sites to module paths (:mod:`mspgt_bench.models.families`)."""
    layers: nn.ModuleList | None = None
    """The decoder layers, where they run in this process. Recording a pass, resuming it, swaps,
    patching and generation with an intervention hook them (:mod:`mspgt_bench.models.resume`);
    ``None`` for a backend that runs them elsewhere, which makes those operations refuse with the
    backend's name."""
    model: nn.Module | None = None
    """The underlying causal LM (a transformers ``PreTrainedModel``), where it runs in this process:
    generation calls its ``generate``, corruptions of the input read its input embeddings, recording
    runs its decoder stack. ``None`` otherwise."""
    device: torch.device | None = None
    """Where ``model`` runs and :meth:`tokenize` puts its batches; ``None`` where the model runs elsewhere."""

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
        """One clean pass recorded for interventions: a :class:`~mspgt_bench.models.resume.ResidualCache`
        (or an object with its ``states``, ``resume`` and ``logits``).

        Backends that cannot run interventions keep this default, which says so.
        """
        raise NotImplementedError(f"the {self.backend!r} backend does not support interventions")

    def final_resid(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        """``[batch, tokens, d_model]`` the last decoder layer's output (before the final norm) in a plain pass.

        ``attention_mask`` defaults to all ones. Token classes score truncated contexts with it
        (through :meth:`logits_from_resid`). Backends that cannot run it keep this default, which says so.
        """
        raise NotImplementedError(f"the {self.backend!r} backend does not give final residual states")

    @abstractmethod
    def provenance(self) -> dict[str, Any]:
        """Model id, revision, dtype, backend and anything else a result must record."""

    def close(self) -> None:
        """Release the model's memory."""

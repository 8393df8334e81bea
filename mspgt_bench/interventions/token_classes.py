"""Token classes by how much context a token needs: local, intermediate, global (docs/theory.md §4).

A model-independent definition of the *scale* of a behaviour is not possible without some
model, so we use the **clean** model under test as the oracle of predictability and ask, for
each target token ``x_j`` (``j`` ≥ 1, predicted from position ``j−1``), how its next-token loss
changes when the context is cut:

- ``ℓ_full(j)``  = −log p(x_j | x_0 … x_{j−1})                        (the whole passage),
- ``ℓ_local(j)`` = −log p(x_j | x_{j−k} … x_{j−1})                    (the previous ``k`` tokens),
- ``ℓ_sent(j)``  = −log p(x_j | x_{min(s(j), j−k)} … x_{j−1})         (its own sentence so far,
  and at least the previous ``k`` tokens, so the contexts are nested: local ⊆ sentence ⊆ full),

where ``s(j)`` is the index of the first token of the sentence containing ``x_j``. A truncated
context is fed as a fresh sequence (positions restart at 0). With tolerance ``τ`` (nats):

- **local**        if ``ℓ_local − ℓ_full ≤ τ`` (the short context already predicts it almost as
  well as the full context),
- **intermediate** else if ``ℓ_sent − ℓ_full ≤ τ`` (its own sentence is needed and enough),
- **global**       otherwise (only the passage before its sentence gives the low loss).

Only targets with ``j > k`` are classified (for ``j ≤ k`` the local context *is* the full
context, so the question is void); the others are ``UNCLASSIFIED``. Tokens are mapped to
sentences through the tokenizer's offset mapping: a token belongs to the sentence whose span
contains its last character (a token inside the whitespace between two sentences belongs to
the earlier one). Sentence-initial tokens have ``s(j) = j``, so their sentence context equals
the local one: they are local or global, never intermediate.

This is our operationalisation (docs/theory.md §4 states it in words); ``k`` and ``τ`` are options.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

import torch
from pydantic import Field
from torch import Tensor

from mspgt_bench.models.base import TokenBatch
from mspgt_bench.options import Strict
from mspgt_bench.stimuli.base import Span, Stimulus

__all__ = [
    "CLASS_NAMES",
    "GLOBAL",
    "INTERMEDIATE",
    "LOCAL",
    "UNCLASSIFIED",
    "TokenClassOptions",
    "TokenClasses",
    "classify",
    "compute_token_classes",
    "token_sentences",
]

LOCAL, INTERMEDIATE, GLOBAL, UNCLASSIFIED = 0, 1, 2, -1
CLASS_NAMES = ("local", "intermediate", "global")


class TokenClassOptions(Strict):
    """Thresholds of the token-class definition."""

    enabled: bool = Field(True, description="Compute token classes and Δloss per class.")
    k: int = Field(4, ge=1, description="Tokens of local context.")
    tolerance: float = Field(0.5, ge=0.0, description="τ in nats: a context is enough if its loss is at most τ above the full-context loss.")
    chunk: int = Field(256, ge=1, description="Rows per forward pass when scoring truncated contexts.")


@dataclass
class TokenClasses:
    """Per-token context losses and classes of one batch, indexed by target position ``j`` (``[batch, tokens]``)."""

    classes: Tensor
    loss_full: Tensor
    loss_local: Tensor
    loss_sentence: Tensor
    sentence: Tensor
    """Sentence index of each token (−1 for padding and special tokens)."""


def classify(loss_full: Tensor, loss_local: Tensor, loss_sentence: Tensor, tolerance: float) -> Tensor:
    """Class of each token from its three context losses (NaN anywhere gives ``UNCLASSIFIED``)."""
    classes = torch.full(loss_full.shape, GLOBAL, dtype=torch.long)
    classes[(loss_sentence - loss_full) <= tolerance] = INTERMEDIATE
    classes[(loss_local - loss_full) <= tolerance] = LOCAL
    undefined = torch.isnan(loss_full) | torch.isnan(loss_local) | torch.isnan(loss_sentence)
    classes[undefined] = UNCLASSIFIED
    return classes


def token_sentences(offsets: list[tuple[int, int]], sentences: tuple[Span, ...]) -> list[int]:
    """Sentence index of each token: the sentence containing its last character.

    Empty offsets (special tokens, padding) give −1; characters before the first sentence
    belong to it, characters between two sentences to the earlier one.
    """
    starts = [start for start, _ in sentences]
    out = []
    for start, end in offsets:
        if end <= start or not starts:
            out.append(-1)
            continue
        out.append(max(bisect.bisect_right(starts, end - 1) - 1, 0))
    return out


def _last_state_losses(adapter, ids: Tensor, mask: Tensor, positions: Tensor, targets: Tensor, chunk: int) -> Tensor:
    """CE of ``targets`` at ``positions`` of each row of ``ids`` (one fresh forward per chunk of rows).

    An adapter with ``prompt_logprobs`` (the vLLM plugin's) scores the targets itself, so no
    logits leave its engine: each row is scored as ``ids[:position + 1]`` followed by its target.
    """
    if hasattr(adapter, "prompt_logprobs"):
        rows = torch.arange(len(ids))
        scored = torch.cat([ids, ids[:, :1]], dim=1)
        scored[rows, positions + 1] = targets
        keep = (torch.arange(scored.shape[1]) <= (positions + 1)[:, None]).long()
        logp = adapter.prompt_logprobs(TokenBatch(scored * keep, keep, []))
        return -logp[rows, positions + 1].float()
    out = torch.empty(len(ids), dtype=torch.float32)
    for start in range(0, len(ids), chunk):
        stop = start + chunk
        resid = adapter.final_resid(ids[start:stop], mask[start:stop])
        rows = torch.arange(resid.shape[0])
        logits = adapter.logits_from_resid(resid[rows, positions[start:stop]]).float()
        logp = torch.log_softmax(logits, dim=-1)
        out[start:stop] = -logp.gather(-1, targets[start:stop, None]).squeeze(-1).cpu()
    return out


@torch.inference_mode()
def compute_token_classes(
    adapter,
    batch: TokenBatch,
    stimuli: list[Stimulus],
    offsets: list[list[tuple[int, int]]],
    loss_full: Tensor,
    options: TokenClassOptions,
) -> TokenClasses:
    """Context losses and classes for every target of ``batch``.

    Args:
        stimuli: the stimulus of each row (for its sentence spans).
        offsets: the tokenizer's offset mapping of each row.
        loss_full: ``[batch, tokens]`` clean full-context loss of the token at ``j`` (NaN where undefined).
    """
    ids = batch.input_ids
    n_rows, width = ids.shape
    lengths = batch.lengths.tolist()
    k = options.k
    nan = float("nan")
    loss_local = torch.full((n_rows, width), nan)
    loss_sent = torch.full((n_rows, width), nan)
    sentence = torch.full((n_rows, width), -1, dtype=torch.long)
    for b in range(n_rows):
        sentence[b, : lengths[b]] = torch.tensor(token_sentences(offsets[b][: lengths[b]], stimuli[b].sentences))

    # Local contexts: the k tokens before each target j > k, as fresh sequences of length k.
    where = [(b, j) for b in range(n_rows) for j in range(k + 1, lengths[b])]
    if where:
        rows = torch.tensor([b for b, _ in where])
        cols = torch.tensor([j for _, j in where])
        windows = ids[rows[:, None], cols[:, None] - k + torch.arange(k)[None, :]]
        positions = torch.full((len(where),), k - 1)
        loss_local[rows, cols] = _last_state_losses(
            adapter, windows, torch.ones_like(windows), positions, ids[rows, cols], options.chunk
        )

    # Sentence contexts: one fresh sequence per sentence, starting at its first token f; targets
    # j > f + k are read from it (the others' sentence context is their local context).
    segments: list[tuple[int, int, int]] = []  # (row, first token, last target)
    for b in range(n_rows):
        n = lengths[b]
        for s in sorted(set(sentence[b, :n].tolist()) - {-1}):
            members = [j for j in range(n) if sentence[b, j] == s]
            first = members[0]
            targets = [j for j in members if j > first + k and j > k]
            short = [j for j in members if k < j <= first + k]
            for j in short:
                loss_sent[b, j] = loss_local[b, j]
            if not targets:
                continue
            if first == 0:  # the sentence context is the full context
                loss_sent[b, targets] = loss_full[b, targets].float().cpu()
            else:
                segments.append((b, first, max(targets)))
    if segments:
        seg_len = max(last - first for _, first, last in segments)
        seg_ids = torch.full((len(segments), seg_len), int(ids[0, 0]), dtype=ids.dtype)
        seg_mask = torch.zeros((len(segments), seg_len), dtype=batch.attention_mask.dtype)
        for i, (b, first, last) in enumerate(segments):
            seg_ids[i, : last - first] = ids[b, first:last]
            seg_mask[i, : last - first] = 1
        for start in range(0, len(segments), options.chunk):
            part = segments[start : start + options.chunk]
            resid = adapter.final_resid(seg_ids[start : start + len(part)], seg_mask[start : start + len(part)])
            for i, (b, first, last) in enumerate(part):
                members = [j for j in range(first + k + 1, last + 1) if sentence[b, j] == sentence[b, first]]
                js = torch.tensor(members)
                logits = adapter.logits_from_resid(resid[i, js - 1 - first]).float()
                logp = torch.log_softmax(logits, dim=-1)
                loss_sent[b, js] = -logp.gather(-1, ids[b, js][:, None]).squeeze(-1).cpu()

    full = loss_full.float().cpu()
    classes = classify(full, loss_local, loss_sent, options.tolerance)
    return TokenClasses(classes, full, loss_local, loss_sent, sentence)

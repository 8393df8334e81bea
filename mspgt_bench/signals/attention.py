"""Attention entropy, attention span, previous-token mass and attention-sink mass per layer.

Reads ``attn_pattern[l]``: the softmax attention probabilities ``A[b, h, t, i]`` of layer l
(query t, key i; HF eager attention). For each real query t of a stimulus, with the allowed
keys of t being the real tokens ``i ≤ t`` (``n_t = t + 1`` of them under right padding), the
per-head statistics below are averaged over heads, then over the stimulus's real queries:

* ``entropy``: normalised entropy ``H(A[t,:]) / log n_t`` in [0, 1] (1 = uniform over the
  allowed keys); the first token (a single allowed key) is defined as 0;
* ``entropy_nats``: ``H(A[t,:]) = −Σ_i A[t,i] log A[t,i]`` in nats;
* ``span``: mean attention distance ``Σ_i A[t,i]·|t − i|`` in tokens. Averaged over heads and
  queries this is the MSPGT v1 signal ``d(l) = mean_h (1/T) Σ_t Σ_i A[t,i]|t − i|``
  (Zhang & Dong 2025, arXiv 2505.18244);
* ``prev_k`` for each k in ``ks`` (default 1, 2, 4, 8, 16): mass on the previous k tokens
  ``Σ_{i=t−k}^{t−1} A[t,i]`` (self excluded; k = 1 is the previous-token mass);
* ``sink``: mass on the first real token ``A[t, 0]`` (attention sink; Xiao et al. 2024,
  "Efficient Streaming Language Models with Attention Sinks").

Definitional choices:

* every real query counts, the first token included (its entropy is 0, its sink mass 1,
  its span and ``prev_k`` 0), as in the v1 formula's ``(1/T) Σ_t``;
* ``n_t`` counts all causal keys. In sliding-window layers (e.g. Gemma 3) keys outside the
  window get probability 0, so for prompts longer than the window the normalised entropy
  is measured against the full causal context and stays below 1 even for uniform attention
  inside the window;
* heads are weighted equally (grouped-query heads are counted per query head).

Kernels: :mod:`mspgt_bench.metrics.attention`. The patterns of each layer are reduced one
layer at a time; nothing stacks all layers' ``[B, H, T, T]`` maps.

Points are layers l = 0 .. L−1, placed at the depth of layer l's output, ``(l + 1) / L``, so
they line up with the detectors' layer grid.
"""

from __future__ import annotations

from typing import Annotated

import torch
from pydantic import Field, field_validator

from mspgt_bench.capture import CapturedBatch
from mspgt_bench.metrics.attention import DEFAULT_KS, attention_stats, masked_query_mean
from mspgt_bench.models.sites import Site, all_layers
from mspgt_bench.options import Strict
from mspgt_bench.signals.base import PerStimulusSignal


class AttentionSignal(PerStimulusSignal):
    name = "attention"
    convention = (
        "attn_pattern[l] (eager softmax probabilities), averaged over heads then real queries; "
        "point l = attention of layer l, at the depth of layer l's output, (l + 1) / L"
    )

    class Options(Strict):
        ks: list[Annotated[int, Field(ge=1)]] = Field(
            default_factory=lambda: list(DEFAULT_KS),
            min_length=1,
            description="Window sizes k of the previous-token mass metrics prev_k.",
        )

        @field_validator("ks")
        @classmethod
        def _distinct(cls, ks: list[int]) -> list[int]:
            if len(set(ks)) != len(ks):
                raise ValueError(f"ks must be distinct, got {ks}")
            return ks

    def sites(self) -> list[Site]:
        return all_layers("attn_pattern", self.n_layers)

    def values(self, captured: CapturedBatch) -> dict[str, torch.Tensor]:
        mask = captured.mask
        per_metric: dict[str, list[torch.Tensor]] = {}
        for layer in range(self.n_layers):
            attn = captured.acts[Site("attn_pattern", layer)]
            stats = attention_stats(attn, mask, ks=self.options.ks, causal=True)
            for metric, per_query in stats.items():
                per_metric.setdefault(metric, []).append(masked_query_mean(per_query, mask))
            del stats
        return {metric: torch.stack(columns, dim=1) for metric, columns in per_metric.items()}

"""Logit lens: how close each layer's read-out is to the model's final prediction.

For each layer l and real token t, ``q_l = softmax(W_U · final_norm(h_l))`` with ``h_l`` the
residual stream after layer l (``resid_post[l]``); ``p = q_{L-1}`` is the model's own output.
Metrics, averaged over the tokens of a stimulus (all real tokens, or ``max_positions`` evenly
spaced ones: unembedding every token at every layer dominates the cost of a run):

* ``kl``: KL(p ‖ q_l) in nats (0 at the last layer by construction);
* ``entropy``: H(q_l) in nats;
* ``final_top1_rank``: rank of the final top-1 token under q_l (0 = also top-1 at layer l).

Cost: every layer's read-out is a full unembedding, ``L·k`` rows of ``d·V`` multiply-adds per
stimulus at ``k`` positions (SmolLM2-135M at k = 16: 480 × 576 × 49152 ≈ 13.6 G, more than its
whole forward pass over 90 tokens, ≈ 12 G), so this signal alone costs at least one extra forward
pass; ``max_positions`` is the knob. The work runs through
:mod:`mspgt_bench.metrics.next_token`: several layers' rows unembedded together (~512 rows per
matrix product), one pass over the vocabulary per row for entropy and log-sum-exp, the KL in its
``d``-dimensional form when the read-out is affine, and ``p`` is the last layer's read-out computed
the same way (so the last layer's KL is 0 up to rounding).

Sources: nostalgebraist (2020), "interpreting GPT: the logit lens"; Belrose et al. (2023),
"Eliciting latent predictions from transformers with the tuned lens".
"""

from __future__ import annotations

import torch
from pydantic import Field

from mspgt_bench.capture import CapturedBatch
from mspgt_bench.metrics.divergence import token_rank
from mspgt_bench.metrics.next_token import ROWS_PER_CHUNK, ReferenceDistribution, read_out, softmax_stats
from mspgt_bench.models.sites import Site, all_layers
from mspgt_bench.options import Strict
from mspgt_bench.signals.base import (
    PerStimulusSignal,
    gather_positions,
    masked_token_mean,
    spread_positions,
)


class LogitLens(PerStimulusSignal):
    name = "logit_lens"
    convention = "resid_post[l] through the final norm and unembedding; point l = output of layer l"

    class Options(Strict):
        max_positions: int | None = Field(
            None, ge=1, description="Evenly spaced token positions per stimulus to read out (None: all)."
        )

    def sites(self) -> list[Site]:
        return all_layers("resid_post", self.n_layers)

    def values(self, captured: CapturedBatch) -> dict[str, torch.Tensor]:
        index, valid = spread_positions(captured.mask, self.options.max_positions)
        adapter = captured.adapter
        affine = adapter.affine_readout()
        states = torch.stack([gather_positions(captured.acts[site], index) for site in self.sites()])  # [L, B, k, d]
        n_layers, batch, width, d = states.shape
        positions = batch * width
        flat = states.reshape(n_layers, positions, d)
        final = read_out(flat[-1], affine, adapter.logits_from_resid)
        reference = ReferenceDistribution([final], affine)
        kl, entropy, rank = [], [], []
        per_chunk = max(1, ROWS_PER_CHUNK // positions)  # layers unembedded together
        for start in range(0, n_layers, per_chunk):
            layers = flat[start : start + per_chunk]
            rows = torch.arange(positions).repeat(len(layers))
            z, normed = read_out(layers.reshape(-1, d), affine, adapter.logits_from_resid)
            stats, _e, _total = softmax_stats(z)
            entropy.append(stats.entropy)
            rank.append(token_rank(z, reference.stats.top1[rows]).to(z.dtype))
            kl.append(reference.kl(rows, z, stats.lse, normed))  # last: may overwrite z

        def per_stimulus(parts: list[torch.Tensor]) -> torch.Tensor:
            by_layer = torch.cat(parts).reshape(n_layers, batch, width)
            return torch.stack([masked_token_mean(values, valid) for values in by_layer], dim=1)

        return {"kl": per_stimulus(kl), "entropy": per_stimulus(entropy), "final_top1_rank": per_stimulus(rank)}

"""Logit lens: how close each layer's read-out is to the model's final prediction.

For each layer l and real token t, ``q_l = softmax(W_U · final_norm(h_l))`` with ``h_l`` the
residual stream after layer l (``resid_post[l]``); ``p = q_{L-1}`` is the model's own output.
Metrics, averaged over the tokens of a stimulus (all real tokens, or ``max_positions`` evenly
spaced ones: unembedding every token at every layer dominates the cost of a run):

* ``kl``: KL(p ‖ q_l) in nats (0 at the last layer by construction);
* ``entropy``: H(q_l) in nats;
* ``final_top1_rank``: rank of the final top-1 token under q_l (0 = also top-1 at layer l).

Sources: nostalgebraist (2020), "interpreting GPT: the logit lens"; Belrose et al. (2023),
"Eliciting latent predictions from transformers with the tuned lens".
"""

from __future__ import annotations

import torch
from pydantic import Field

from mspgt_bench.metrics.divergence import kl_and_entropy
from mspgt_bench.models.sites import Site, all_layers
from mspgt_bench.signals.base import (
    CapturedBatch,
    PerStimulusSignal,
    gather_positions,
    masked_token_mean,
    spread_positions,
)
from mspgt_bench.suite.schema import Strict


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
        final = captured.final_logits(index).float()
        log_final = torch.log_softmax(final, dim=-1)
        top1 = final.argmax(dim=-1, keepdim=True)
        kl, entropy, rank = [], [], []
        for layer in range(self.n_layers):
            states = gather_positions(captured.acts[Site("resid_post", layer)], index)
            lens = captured.adapter.logits_from_resid(states).float()
            layer_kl, layer_entropy = kl_and_entropy(log_final, lens)
            kl.append(masked_token_mean(layer_kl, valid))
            entropy.append(masked_token_mean(layer_entropy, valid))
            above = (lens > lens.gather(-1, top1)).sum(dim=-1).to(lens.dtype)
            rank.append(masked_token_mean(above, valid))
        return {
            "kl": torch.stack(kl, dim=1),
            "entropy": torch.stack(entropy, dim=1),
            "final_top1_rank": torch.stack(rank, dim=1),
        }

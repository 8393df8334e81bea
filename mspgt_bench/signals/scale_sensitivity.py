"""Scale sensitivity: how far each layer's representation moves under scale-controlled edits.

For each stimulus and each perturbation p (docs/theory.md §4: local = swap adjacent words or replace
words; intermediate = shuffle words within each sentence; global = shuffle or replace
sentences), the mean-pooled state of every stream state s (x_0 = embeddings, x_s =
``resid_post[s-1]``; the first token is left out of the pool because it carries the attention
sink) is compared between the original and the perturbed text:

    d_p(s) = arccos(cos(pool(x_s(original)), pool(x_s(perturbed)))) / π

Points are the stream states 0..L at depth s/L. Where a perturbation's effect peaks in depth is
the layer at which that scale of structure is processed, in MSPGT's reading. The perturbed
copies need their own forward passes (one per perturbation and batch; counted in the run's
forward calls); the edits are seeded, so a run is reproducible.
"""

from __future__ import annotations

import random
from typing import Literal

import torch
from pydantic import Field

from mspgt_bench.capture import CapturedBatch
from mspgt_bench.metrics.angular import angular_distance
from mspgt_bench.options import Strict
from mspgt_bench.signals.base import StreamSignal
from mspgt_bench.stimuli.base import Stimulus
from mspgt_bench.stimuli.perturb import PERTURBATIONS, replace_sentences, replace_words

Perturbation = Literal["swap_adjacent_words", "replace_words", "shuffle_within_sentences", "shuffle_sentences", "replace_sentences"]


class ScaleSensitivity(StreamSignal):
    name = "scale_sensitivity"
    convention = "x_s = stream state s (0 = embeddings); point s compares pooled x_s of original and perturbed text"

    class Options(Strict):
        perturbations: list[Perturbation] = Field(
            default_factory=lambda: ["swap_adjacent_words", "shuffle_within_sentences", "shuffle_sentences"],
            description="Scale-controlled edits, each a metric named after it.",
        )
        fraction: float = Field(0.2, gt=0, le=0.33, description="Share of words swapped/replaced or sentences replaced.")
        seed: int = 0

    def __init__(self, n_layers: int, label: str | None = None, **options: object) -> None:
        super().__init__(n_layers, label, **options)
        self._pooled: dict[int, torch.Tensor] = {}
        self._pending: dict[str, torch.Tensor] = {}

    def variants(self, stimuli: list[Stimulus]) -> dict[str, list[Stimulus]]:
        """The perturbed copy of every stimulus, per perturbation (same order as ``stimuli``)."""
        out = {}
        for name in self.options.perturbations:
            rng = random.Random(f"{self.options.seed}:{name}")
            out[name] = [self._perturb(name, stimulus, stimuli, rng) for stimulus in stimuli]
        return out

    def _perturb(self, name: str, stimulus: Stimulus, pool: list[Stimulus], rng: random.Random) -> Stimulus:
        function = PERTURBATIONS[name][1]
        if function is replace_sentences:
            return function(stimulus, rng, donors=pool, fraction=self.options.fraction)
        if function is replace_words or name == "swap_adjacent_words":
            return function(stimulus, rng, fraction=self.options.fraction)
        return function(stimulus, rng)

    @staticmethod
    def _pool(captured: CapturedBatch) -> torch.Tensor:
        """``[batch, L+1, d]`` mean over real tokens after the first, per stream state."""
        keep = captured.mask.clone()
        keep[:, 0] = False
        weights = keep.unsqueeze(-1).float()
        states = torch.stack([s.float() for s in captured.stream()], dim=1)
        return (states * weights.unsqueeze(1)).sum(dim=2) / weights.sum(dim=1).clamp_min(1).unsqueeze(1)

    def values(self, captured: CapturedBatch) -> dict[str, torch.Tensor]:
        """Main pass: remember each stimulus's pooled states; nothing to report yet."""
        for index, pooled in zip(captured.batch.stimulus_index, self._pool(captured)):
            self._pooled[index] = pooled
        return {}

    def update_variant(self, variant: str, captured: CapturedBatch) -> None:
        """A perturbed batch: compare its pooled states with the originals'."""
        original = torch.stack([self._pooled[i] for i in captured.batch.stimulus_index])
        distance = angular_distance(original, self._pool(captured))
        store = self._values.setdefault(variant, {})
        for index, row in zip(captured.batch.stimulus_index, distance.double().cpu().numpy()):
            store[index] = row

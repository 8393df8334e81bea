"""Scale probes: per-layer linear-probe selectivity for token labels at three scales (MSPGT v1).

MSPGT v1 locates its segments partly by "probe accuracy per scale" (docs/theory.md §2); the paper does
not say which probes or labels, so these are ours. At every stream state ``x_s`` a linear probe
is trained to read one label per scale from a token's state (labels from the stimulus text
itself, :mod:`mspgt_bench.stimuli.scale_labels`; defaults: local ``function_word``,
intermediate ``sentence_position``, global ``sentence_index``):

- probe: ridge classifier on standardised states (:mod:`mspgt_bench.metrics.probe`),
  ``λ = alpha · n_train``;
- ``<scale>_accuracy(s)``: out-of-fold accuracy under ``n_folds``-fold cross-validation whose
  folds split **stimuli** (a passage's tokens are never in training and test at once);
- ``<scale>_control(s)``: the same for a control task with the real labels' distribution
  (:func:`~mspgt_bench.metrics.probe.control_labels`, seeded), chosen per scale:
  ``local_control: type`` (default; Hewitt & Liang 2019: each token *type*, i.e. token id, carries
  one random label, so the control scores what memorising token identities gets; the right null
  for a lexical label), ``intermediate_control`` and ``global_control: shuffle`` (default; the
  labels permuted over the tokens, so the control scores chance; the right null for a contextual
  label, which no type lookup can solve: against a type control its selectivity would mostly
  track the fading of token identity with depth);
- ``<scale>_selectivity(s) = accuracy − control``.

Each metric is first computed per stimulus (the share of its probed tokens predicted right when
its fold was held out) and the profile is the mean over stimuli, with a percentile bootstrap
interval **over stimuli** of these out-of-fold values (accuracy and control of a stimulus stay
paired). The probes are fitted once, not per resample: the interval covers the variation over
stimuli of the tokens being probed, not the variation of the fitted probe.

Points (as :class:`~mspgt_bench.signals.base.StreamSignal`): stream states ``s = 0 … L``,
``x_0`` = embeddings (``resid_pre[0]``), ``x_s`` = ``resid_post[s−1]`` (before the final norm);
point ``s`` sits at depth ``s / L``, so a peak at point ``s`` means "after ``s`` of ``L``
layers".

Streaming: from each captured batch only a bounded sample is kept per stimulus: up to
``max_tokens_per_stimulus`` evenly spaced tokens (position 0, the attention sink, and special
tokens are left out) with their states at every point, ``4·(L+1)·k·d`` bytes (2.3 MB for a
30-layer, d = 576 model at k = 32), their token ids and labels. Probes are fitted in
:meth:`ScaleProbes.profiles`: one ``d × d`` solve per point and fold (about 0.1 s per point for
3000 tokens × 576 dimensions on one core), single-threaded as in
:class:`~mspgt_bench.signals.dataset.DatasetSignal`.

Known confound: position. Sentence position and sentence index grow with the absolute token
position, which rotary or learned position embeddings make decodable; compare with the
``shuffled_tokens`` and ``random_weights`` null controls before reading a global peak as
discourse processing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from pydantic import Field

from mspgt_bench.capture import CapturedBatch
from mspgt_bench.metrics.probe import ControlKind, control_labels, group_folds, ridge_probe_predictions
from mspgt_bench.models.offsets import token_offsets
from mspgt_bench.signals.base import (
    BootstrapConfig,
    Profile,
    Signal,
    StreamPoints,
    per_stimulus_profile,
)
from mspgt_bench.signals.dataset import threadpools
from mspgt_bench.stimuli.scale_labels import LABELS, ScaleLabelOptions, token_labels

__all__ = ["ScaleProbes"]

SCALES = tuple(LABELS)


@dataclass
class _Kept:
    """The probed tokens of one stimulus."""

    states: np.ndarray
    """``[L+1, k, d]`` float32 state of each kept token at each point."""
    token_ids: np.ndarray
    labels: dict[str, list[Any]]
    """``{scale: [label per kept token]}``."""


class ScaleProbes(StreamPoints, Signal):
    name = "scale_probes"

    class Options(ScaleLabelOptions):
        max_tokens_per_stimulus: int = Field(32, ge=1, description="Evenly spaced tokens kept per stimulus.")
        n_folds: int = Field(5, ge=2, description="Cross-validation folds (split by stimulus).")
        alpha: float = Field(1.0, gt=0, description="Ridge strength per training token (λ = alpha · n_train).")
        local_control: ControlKind = Field("type", description="Control task of the local scale.")
        intermediate_control: ControlKind = Field("shuffle", description="Control task of the intermediate scale.")
        global_control: ControlKind = Field("shuffle", description="Control task of the global scale.")
        seed: int = Field(0, description="Seed of the fold assignment and of the control labels.")

        def controls(self) -> dict[str, ControlKind]:
            """``{scale: control kind}``."""
            return {"local": self.local_control, "intermediate": self.intermediate_control, "global": self.global_control}

    def __init__(self, n_layers: int, label: str | None = None, **options: Any) -> None:
        super().__init__(n_layers, label, **options)
        self._kept: dict[int, _Kept] = {}

    def update(self, captured: CapturedBatch) -> None:
        if len(captured.stimuli) != len(captured.batch.stimulus_index):
            raise ValueError(f"{self.label}: the captured batch does not carry its stimuli (CapturedBatch.stimuli)")
        offsets = token_offsets(captured.adapter.tokenizer, [s.text for s in captured.stimuli], captured.batch)
        if offsets is None:
            raise ValueError(
                f"{self.label}: the tokenizer gives no character offsets matching the batch; scale probes need a "
                "fast tokenizer with return_offsets_mapping"
            )
        stream = captured.stream()
        chosen = self.options.chosen()
        for row, (index, stimulus, spans) in enumerate(zip(captured.batch.stimulus_index, captured.stimuli, offsets)):
            labels = token_labels(stimulus, spans, self.options)
            candidates = [t for t in range(1, len(spans)) if labels["sentence_index"][t] is not None]
            if not candidates:
                continue
            k = min(self.options.max_tokens_per_stimulus, len(candidates))
            keep = [candidates[i] for i in np.unique(np.round(np.linspace(0, len(candidates) - 1, k)).astype(int))]
            where = torch.tensor(keep, device=stream[0].device)
            states = torch.stack([s[row, where] for s in stream]).float().cpu().numpy()
            self._kept[int(index)] = _Kept(
                states,
                captured.batch.input_ids[row, where].cpu().numpy(),
                {scale: [labels[chosen[scale]][t] for t in keep] for scale in SCALES},
            )

    def profiles(self, boot: BootstrapConfig) -> list[Profile]:
        order = sorted(self._kept)
        if len(order) < 2:
            raise ValueError(f"{self.label}: probing needs tokens from at least 2 stimuli, got {len(order)}")
        kept = [self._kept[i] for i in order]
        sizes = np.array([len(k.token_ids) for k in kept])
        folds = group_folds(np.repeat(np.arange(len(kept)), sizes), self.options.n_folds, self.options.seed)
        token_ids = np.concatenate([k.token_ids for k in kept])
        targets = []
        for scale in SCALES:
            _, real = np.unique(np.array([v for k in kept for v in k.labels[scale]]), return_inverse=True)
            targets.append(real)
        controls = self.options.controls()
        for i, (scale, real) in enumerate(zip(SCALES, list(targets))):
            targets.append(control_labels(controls[scale], real, token_ids, np.random.default_rng([self.options.seed, i])))
        correct = np.empty((len(targets), len(self.points()), len(token_ids)))
        with threadpools().limit(limits=1):
            for point in self.points():
                x = np.concatenate([k.states[point] for k in kept])
                predictions = ridge_probe_predictions(x, targets, folds, self.options.alpha)
                for j, (y, predicted) in enumerate(zip(targets, predictions)):
                    correct[j, point] = predicted == y
        starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        per_stimulus = np.add.reduceat(correct, starts, axis=2) / sizes  # [targets, points, stimuli]
        convention = self.convention_text(len(token_ids), len(kept))
        out = []
        for i, scale in enumerate(SCALES):
            accuracy, control = per_stimulus[i].T, per_stimulus[i + len(SCALES)].T
            for metric, matrix in (("accuracy", accuracy), ("control", control), ("selectivity", accuracy - control)):
                out.append(
                    per_stimulus_profile(
                        self.label, f"{scale}_{metric}", matrix, self.points(), self.depth(), convention, boot
                    )
                )
        return out

    def convention_text(self, n_tokens: int, n_stimuli: int) -> str:
        """The convention with the labels, the cross-validation and the sample actually used."""
        labels = ", ".join(f"{scale}={name}" for scale, name in self.options.chosen().items())
        controls = ", ".join(f"{scale}={kind}" for scale, kind in self.options.controls().items())
        return (
            f"{self.convention}; labels: {labels}; controls: {controls}; ridge probe (alpha={self.options.alpha:g}) "
            f"on {n_tokens} tokens of {n_stimuli} stimuli, {min(self.options.n_folds, n_stimuli)}-fold CV split by stimulus"
        )

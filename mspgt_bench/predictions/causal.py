"""Causal predictions: what intervening on a segment does (MSPGT P4 and P6).

Both read the per-stimulus effects of one of the suite's interventions on one model under one
condition (``PredictionContext.intervention``); the segments it intervened on usually come from
a detector (``segments_from``). Under a null control the interventions run on the control
(random weights, shuffled text) with the segments its own detection gives, so a causal PASS
that the controls share is flagged non-discriminative like any other.
"""

from __future__ import annotations

import warnings

import numpy as np
from pydantic import Field

from mspgt_bench.interventions.token_classes import CLASS_NAMES
from mspgt_bench.options import Strict
from mspgt_bench.predictions.base import (
    CrossModelPrediction,
    Outcome,
    Prediction,
    PredictionContext,
    TargetEffects,
    resampled_verdict,
)
from mspgt_bench.predictions.cross_model import cross_model_verdict


def _segments(ctx: PredictionContext, label: str) -> list[TargetEffects]:
    """The intervention's targets ordered by depth (first layer)."""
    return sorted(ctx.intervention(label), key=lambda c: (c.first_layer is None, c.first_layer or 0))


def double_centred_log(matrix: np.ndarray) -> np.ndarray:
    """``I = log E − row means − column means + grand mean`` (NaN if any entry is not positive).

    Under a no-specificity model ``E[s, c] = a_s · b_c`` (segments differ only in overall strength,
    scales only in overall sensitivity) every entry of ``I`` is exactly 0.
    """
    if not np.all(np.isfinite(matrix)) or np.any(matrix <= 0):
        return np.full(matrix.shape, np.nan)
    log = np.log(matrix)
    return log - log.mean(axis=1, keepdims=True) - log.mean(axis=0, keepdims=True) + log.mean()


def log_interaction(matrix: np.ndarray) -> float:
    """Mean diagonal of :func:`double_centred_log` (for 2×2: a quarter of the log odds ratio)."""
    return float(np.mean(np.diag(double_centred_log(matrix))))


def row_dominance(matrix: np.ndarray) -> float:
    """``min_s (I[s, s] − max_{c≠s} I[s, c])``: positive when every row peaks on its diagonal."""
    interaction = double_centred_log(matrix)
    off = interaction + np.diag(np.full(len(interaction), -np.inf))
    return float(np.min(np.diag(interaction) - off.max(axis=1)))


STATISTICS = {"log_interaction": log_interaction, "row_dominance": row_dominance}


class ScaleSpecificity(Prediction):
    """P4: intervening on each segment hurts the behaviour of its own scale most.

    Effect matrix ``E[s, c]`` = mean over stimuli of ``<metric_prefix><scale c>`` (by default
    ``delta_loss_local / _intermediate / _global``: the loss increase on target tokens of each
    context class, :mod:`mspgt_bench.interventions.token_classes`) when segment ``s`` (in depth
    order) is intervened on. Deleting an early segment hurts everything more than deleting a late
    one, and some token classes are hurt more by anything; both are main effects, removed by
    double-centring ``log E`` (a multiplicative model ``E = a_s · b_c`` has zero interaction):

    * ``log_interaction``: mean of the diagonal of the interaction matrix ``I`` (> 0: segments hurt
      their own scale more than the main effects predict);
    * ``row_dominance``: ``min_s (I[s,s] − max_{c≠s} I[s,c])`` (> 0: strict diagonal dominance in
      every row).

    Entries must be positive (the intervention hurts every scale); otherwise the statistic is
    undefined on that sample. Interval: bootstrap over stimuli (all cells resampled together).
    Source: MSPGT P4 (Zhang & Dong 2025); the double-centred log form is ours.
    """

    name = "scale_specificity"
    statistics = tuple(STATISTICS)

    class Options(Strict):
        intervention: str = Field(description="Label of an intervention in the suite, one condition per segment.")
        metric_prefix: str = Field("delta_loss_", description="Effect metric = prefix + scale name.")
        scales: tuple[str, ...] = Field(CLASS_NAMES, min_length=2, description="Scales in segment order.")
        n_boot: int = Field(1000, ge=20)

    def matrix_per_stimulus(self, targets: list[TargetEffects]) -> np.ndarray:
        """``[n_stimuli, segments, scales]`` effects."""
        o = self.options
        if len(targets) != len(o.scales):
            labels = ", ".join(c.target for c in targets)
            raise ValueError(
                f"intervention {o.intervention!r} has {len(targets)} targets ({labels}); {self.spec.id} needs "
                f"one segment per scale ({len(o.scales)}): target it with `segments_from: <detector>` and "
                f"`n_segments: {len(o.scales)}`"
            )
        missing = [o.metric_prefix + s for s in o.scales if o.metric_prefix + s not in targets[0].values]
        if missing:
            raise ValueError(f"intervention {o.intervention!r} has no metric {', '.join(missing)}")
        return np.stack(
            [np.stack([c.values[o.metric_prefix + s] for s in o.scales], axis=-1) for c in targets], axis=1
        )

    def evaluate(self, ctx: PredictionContext) -> Outcome:
        targets = _segments(ctx, self.options.intervention)
        values = self.matrix_per_stimulus(targets)
        statistic = STATISTICS[self.spec.statistic]

        def mean_matrix(idx: np.ndarray) -> np.ndarray:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # a scale with no token in the resample
                return np.nanmean(values[idx], axis=0)

        matrix = mean_matrix(np.arange(len(values)))
        details = {
            "segments": [c.target for c in targets],
            "scales": list(self.options.scales),
            "matrix": matrix.round(6).tolist(),
            "interaction": double_centred_log(matrix).round(6).tolist(),
        }
        cells = zip(*np.nonzero(np.isnan(matrix)))
        empty = [f"{targets[s].target} × {self.options.scales[c]}" for s, c in cells]
        if empty:
            reason = f"no stimulus has a value for {', '.join(empty)}: the effect matrix is incomplete"
            return Outcome("INCONCLUSIVE", n=len(values), reason=reason, details=details)
        return resampled_verdict(
            self, ctx, len(values), self.options.n_boot, lambda idx: statistic(mean_matrix(idx)), **details
        )


class BrittlenessRatio(CrossModelPrediction):
    """P6: the local segment's brittleness differs between two families by more than a factor.

    Brittleness of a model ``m``: ``B_m`` = mean over its stimuli of ``metric`` (default ``kl``:
    KL of the output distribution from the clean one) when its ``segment``-th segment (0 = local,
    in depth order) is intervened on. Brittleness of a family ``F``: the geometric mean over its
    models, ``B(F) = exp(mean_{m ∈ F} log B_m)``; with one model it is that model's ``B_m``, with
    several each model weighs the same whatever its size. Statistics:

    * ``ratio``: ``r = B(families[0]) / B(families[1])``;
    * ``fold_difference``: ``max(r, 1/r) = exp(|log B(families[0]) − log B(families[1])|)``
      (direction-free).

    Interval: each model's stimuli resampled independently (:func:`cross_model_verdict`), so it
    covers stimulus sampling, not which models a family happens to offer; a family read from one
    model is noted in ``details["single_model"]``. A family with fewer than ``min_models``
    models: SKIP with that reason. Source: MSPGT v3 reports a 493-fold difference in
    local-segment brittleness between Llama and Qwen (7B–70B); the operationalisation is ours.
    """

    name = "brittleness_ratio"
    statistics = ("ratio", "fold_difference")

    class Options(Strict):
        intervention: str = Field(description="Label of an intervention in the suite, one condition per segment.")
        families: tuple[str, str] = Field(description="The two family labels compared (numerator, denominator).")
        metric: str = "kl"
        segment: int = Field(0, ge=0, description="Which segment, in depth order (0: the local one).")
        min_models: int = Field(1, ge=1, description="Fewer models of a family give SKIP.")
        n_boot: int = Field(1000, ge=20)

    def evaluate_many(self, contexts: list[PredictionContext]) -> dict[str, Outcome]:
        o = self.options
        group = "/".join(o.families)
        members = {family: [c for c in contexts if c.family == family] for family in o.families}
        short = {f: len(m) for f, m in members.items() if len(m) < o.min_models}
        if short:
            counts = ", ".join(f"{f!r}: {n}" for f, n in short.items())
            reason = f"needs at least {o.min_models} model(s) of each family; the run has {counts}"
            return {group: Outcome("SKIP", n=sum(map(len, members.values())), reason=reason)}
        ordered = [c for family in o.families for c in members[family]]
        effects = [self._local_effects(c) for c in ordered]
        n_first = len(members[o.families[0]])

        def statistic(choices: list[np.ndarray]) -> float:
            logs = np.log([np.nanmean(x[idx]) for x, idx in zip(effects, choices)])
            log_ratio = logs[:n_first].mean() - logs[n_first:].mean()
            return float(np.exp(abs(log_ratio) if self.spec.statistic == "fold_difference" else log_ratio))

        brittleness = [float(np.nanmean(x)) for x in effects]
        details = {
            "models": {f: [c.model for c in m] for f, m in members.items()},
            "brittleness": {c.model: b for c, b in zip(ordered, brittleness)},
            "family_brittleness": {
                f: float(np.exp(np.mean(np.log([b for c, b in zip(ordered, brittleness) if c.family == f]))))
                for f in o.families
            },
            "single_model": [f for f, m in members.items() if len(m) == 1],
        }
        rng = ordered[0].boot.rng(self.spec.id, ordered[0].condition)
        return {group: cross_model_verdict(self, rng, [len(x) for x in effects], o.n_boot, statistic, **details)}

    def _local_effects(self, ctx: PredictionContext) -> np.ndarray:
        o = self.options
        targets = _segments(ctx, o.intervention)
        if o.segment >= len(targets):
            raise ValueError(
                f"{ctx.model}: intervention {o.intervention!r} has {len(targets)} targets, no segment {o.segment}"
            )
        values = targets[o.segment].values
        if o.metric not in values:
            raise ValueError(f"intervention {o.intervention!r} has no metric {o.metric!r}; it has {', '.join(values)}")
        return values[o.metric]

"""Cross-model predictions: claims about how boundaries behave across models of a family.

MSPGT P5 (architecture-conditioned positions): within a family, boundary positions as fractions
of depth are stable across model size under "strong dominance" (v3 reports CV 0.067–0.095 for
Llama) and vary under "weak dominance" (CV 0.465–0.726 for Qwen). Which regime a family should
show is declared in the suite through the threshold and direction.

Every cross-model interval here resamples each model's stimuli independently (the models saw
the same passages, but each model's sampling noise is its own) and recomputes the statistic on
each joint draw: :func:`cross_model_verdict`, also used by P6 in :mod:`.causal`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from pydantic import Field

from mspgt_bench.detectors.plugins import Detection
from mspgt_bench.options import Strict
from mspgt_bench.predictions.base import (
    CrossModelPrediction,
    Outcome,
    Prediction,
    PredictionContext,
    verdict_from_draws,
)
from mspgt_bench.stats.bootstrap import resample_indices

Choices = list[np.ndarray]
"""One array of stimulus indices per model, in the order the models were given."""

TWO_SIZES_NOTE = (
    "two sizes: CV of two points, sqrt(2)·|a − b|/(a + b), one degree of freedom across sizes; "
    "the interval covers stimulus sampling only, read with care"
)


def cross_model_verdict(
    prediction: Prediction,
    rng: np.random.Generator,
    n_stimuli: Sequence[int],
    n_boot: int,
    statistic: Callable[[Choices], float],
    **details: Any,
) -> Outcome:
    """Statistic on every model's stimuli and on ``n_boot`` joint draws -> verdict.

    Draw ``b`` resamples model ``m``'s ``n_stimuli[m]`` stimuli with replacement, independently
    of the other models. The interval is the percentile interval at the prediction's confidence;
    the outcome's ``n`` is the number of models (each model's own count is ``n_stimuli``).
    Undefined draws and estimates are handled by :func:`~mspgt_bench.predictions.base.verdict_from_draws`.
    """
    n_models = len(n_stimuli)
    with np.errstate(invalid="ignore", divide="ignore"):
        value = statistic([np.arange(k) for k in n_stimuli])
        per_model = [resample_indices(k, n_boot, rng) for k in n_stimuli]
        draws = np.array([statistic([d[b] for d in per_model]) for b in range(n_boot)], dtype=float)
    return verdict_from_draws(prediction, value, draws, n_models, **details)


def coefficient_of_variation(fractions: np.ndarray) -> np.ndarray:
    """``std(ddof=1) / mean`` of ``[models, boundaries]`` depth fractions, per boundary.

    For two models with fractions ``a`` and ``b`` this is ``√2·|a − b| / (a + b)``: the sample
    standard deviation of two points is ``|a − b| / √2`` and their mean ``(a + b) / 2``.
    """
    return fractions.std(axis=0, ddof=1) / fractions.mean(axis=0)


class BoundaryCV(CrossModelPrediction):
    """P5: coefficient of variation of normalised boundary positions across a family's models.

    Statistic ``boundary_cv``: for each model, the best ``n_boundaries`` fit of detector
    ``detector`` gives depth fractions ``b_i / L``; for each boundary index ``i`` the CV across
    models is ``std(ddof=1) / mean`` (:func:`coefficient_of_variation`), and the statistic is the
    largest CV over ``i`` (every boundary must be stable for strong dominance). The interval
    resamples each model's stimuli independently and refits (:func:`cross_model_verdict`).

    The suite declares ``min_models``, the fewest models (sizes) of the family it accepts; fewer
    give SKIP with that reason. Each model of the family counts as one size.

    **Two sizes.** With fractions ``a`` and ``b`` of the same boundary in two models,

        CV = √2 · |a − b| / (a + b),

    so CV > 0.4 means the larger fraction exceeds the smaller by a factor above
    (1 + 0.4/√2) / (1 − 0.4/√2) ≈ 1.79, and CV < 0.1 means a factor below ≈ 1.15; a CV of two
    points lies in [0, √2). It is a spread estimated from one degree of freedom: the interval
    reflects how well each model's boundaries are pinned down by the stimuli, not which sizes the
    family happens to offer, and for normal scatter the expected sample standard deviation of two
    points is only about 0.80 of the spread (c4(2) = √(2/π)). Such outcomes carry
    ``details["n_sizes"] = 2`` and a note saying so.
    """

    name = "boundary_cv"
    statistics = ("boundary_cv",)

    class Options(Strict):
        family: str = Field(description="Family label whose models are compared.")
        detector: str
        min_models: int = Field(
            ge=2, description="Fewest models (sizes) of the family the suite accepts; fewer give SKIP. Declare it."
        )
        n_boundaries: int = Field(2, ge=1)
        n_boot: int = Field(200, ge=20)

    def evaluate_many(self, contexts: list[PredictionContext]) -> dict[str, Outcome]:
        o = self.options
        members = [c for c in contexts if c.family == o.family]
        if len(members) < o.min_models:
            names = ", ".join(c.model for c in members) or "none"
            reason = (
                f"needs at least {o.min_models} models (sizes) of family {o.family!r}; "
                f"the run has {len(members)} ({names})"
            )
            return {o.family: Outcome("SKIP", n=len(members), reason=reason)}
        detections = [c.detection(o.detector) for c in members]
        data = [_per_stimulus(d) for d in detections]

        def fractions(choices: Choices) -> np.ndarray:
            return np.array(
                [np.array(d.fit(x[idx].mean(axis=0), o.n_boundaries)) / d.n_layers
                 for d, x, idx in zip(detections, data, choices)]
            )  # fmt: skip

        def statistic(choices: Choices) -> float:
            return float(coefficient_of_variation(fractions(choices)).max())

        depths = fractions([np.arange(len(x)) for x in data])
        details: dict[str, Any] = {
            "detector": o.detector,
            "models": [c.model for c in members],
            "n_sizes": len(members),
            "depths": {c.model: [round(float(f), 6) for f in row] for c, row in zip(members, depths)},
        }
        if len(members) == 2:
            details["note"] = TWO_SIZES_NOTE
        rng = members[0].boot.rng(self.spec.id, members[0].condition)
        outcome = cross_model_verdict(self, rng, [len(x) for x in data], o.n_boot, statistic, **details)
        return {o.family: outcome}


def _per_stimulus(detection: Detection) -> np.ndarray:
    if detection.per_stimulus is None:
        raise ValueError(f"detector {detection.label!r} has no per-stimulus inputs to resample")
    return detection.per_stimulus

"""Cross-model predictions: claims about how boundaries behave across models of a family.

MSPGT P5 (architecture-conditioned positions): within a family, boundary positions as fractions
of depth are stable across model size under "strong dominance" (v3 reports CV 0.067–0.095 for
Llama) and vary under "weak dominance" (CV 0.465–0.726 for Qwen). Which regime a family should
show is declared in the suite through the threshold and direction.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from mspgt_bench.options import Strict
from mspgt_bench.predictions.base import CrossModelPrediction, Outcome, PredictionContext
from mspgt_bench.stats.bootstrap import resample_indices


class BoundaryCV(CrossModelPrediction):
    """P5: coefficient of variation of normalised boundary positions across a family's models.

    Statistic ``boundary_cv``: for each model, the best ``n_boundaries`` fit of detector
    ``detector`` gives depth fractions b_i / L; for each boundary index i the CV across models
    is ``std(ddof=1) / mean``, and the statistic is the largest CV over i (every boundary must be
    stable for strong dominance). The interval resamples each model's stimuli independently and
    refits. Fewer than ``min_models`` models of the family: SKIP, with that reason.
    """

    name = "boundary_cv"
    statistics = ("boundary_cv",)

    class Options(Strict):
        family: str = Field(description="Family label whose models are compared.")
        detector: str
        n_boundaries: int = Field(2, ge=1)
        min_models: int = Field(3, ge=2, description="Fewer models of the family give SKIP.")
        n_boot: int = Field(200, ge=20)

    def evaluate_many(self, contexts: list[PredictionContext]) -> dict[str, Outcome]:
        family = self.options.family
        members = [c for c in contexts if c.family == family]
        if len(members) < self.options.min_models:
            names = ", ".join(c.model for c in members) or "none"
            reason = f"needs at least {self.options.min_models} models of family {family!r}; the run has {len(members)} ({names})"
            return {family: Outcome("SKIP", n=len(members), reason=reason)}
        detections = [c.detection(self.options.detector) for c in members]
        data = []
        for detection in detections:
            if detection.per_stimulus is None:
                raise ValueError(f"detector {detection.label!r} has no per-stimulus inputs to resample")
            data.append(detection.per_stimulus)
        n = self.options.n_boundaries

        def cv(choices: list[np.ndarray]) -> float:
            fractions = np.array(
                [np.array(d.fit(x[idx].mean(axis=0), n)) / d.n_layers for d, x, idx in zip(detections, data, choices)]
            )
            return float((fractions.std(axis=0, ddof=1) / fractions.mean(axis=0)).max())

        value = cv([np.arange(len(x)) for x in data])
        rng = members[0].boot.rng(self.spec.id, members[0].condition)
        draws = [resample_indices(len(x), self.options.n_boot, rng) for x in data]
        samples = np.array([cv([d[b] for d in draws]) for b in range(self.options.n_boot)])
        alpha = (1 - self.spec.confidence) / 2
        lo, hi = np.quantile(samples, [alpha, 1 - alpha])
        outcome = self.verdict(value, lo, hi, len(members), models=[c.model for c in members])
        return {family: outcome}

"""Depth-window contrast of one profile: is a signal higher (or lower) in one part of the stack?

Statistic ``mean_difference``: for each stimulus i, ``d_i = mean_{l ∈ A} x_i(l) − mean_{l ∈ B} x_i(l)``
where A and B are windows of depth fractions (a point belongs to a window when its depth lies
in ``[start, end]``); the reported value is ``mean_i d_i`` with a bootstrap interval over
stimuli. This is our operationalisation of depth-localised claims such as MSPGT P7's
"prediction sharpens (logit-lens KL to the final layer drops) in the global segment" when the
segments are given as fixed depth windows rather than detected.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field, model_validator

from mspgt_bench.options import Strict
from mspgt_bench.predictions.base import Outcome, Prediction, PredictionContext
from mspgt_bench.stats.bootstrap import bootstrap_ci


class DepthWindow(Strict):
    start: float = Field(ge=0.0, le=1.0)
    end: float = Field(ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _ordered(self) -> DepthWindow:
        if self.end <= self.start:
            raise ValueError(f"window end ({self.end}) must be greater than its start ({self.start})")
        return self

    def select(self, depth: np.ndarray) -> np.ndarray:
        return (depth >= self.start) & (depth <= self.end)


class ProfileContrast(Prediction):
    name = "profile_contrast"
    statistics = ("mean_difference",)

    class Options(Strict):
        profile: str = Field(description="'<signal label>.<metric>', e.g. 'logit_lens.kl'.")
        window_a: DepthWindow
        window_b: DepthWindow

    def evaluate(self, ctx: PredictionContext) -> Outcome:
        profile = ctx.profile(self.options.profile)
        if profile.per_stimulus is None:
            raise ValueError(f"profile {self.options.profile!r} has no per-stimulus values to contrast")
        in_a = self.options.window_a.select(profile.depth)
        in_b = self.options.window_b.select(profile.depth)
        for label, chosen in (("window_a", in_a), ("window_b", in_b)):
            if not chosen.any():
                raise ValueError(f"{label} contains no layer of this {ctx.n_layers}-layer model")
        per_stimulus = profile.per_stimulus[:, in_a].mean(axis=1) - profile.per_stimulus[:, in_b].mean(axis=1)
        value, lo, hi = bootstrap_ci(
            per_stimulus,
            n_boot=ctx.boot.n_boot,
            level=self.spec.confidence,
            method=ctx.boot.method,
            rng=ctx.boot.rng(self.spec.id, ctx.condition),
        )
        return self.verdict(
            value,
            lo,
            hi,
            len(per_stimulus),
            layers_a=[int(x) for x in profile.layers[in_a]],
            layers_b=[int(x) for x in profile.layers[in_b]],
        )

"""The prediction interface and the rule that turns an interval into a verdict.

A prediction computes one statistic with a bootstrap interval over stimuli and compares the
interval with the suite's pre-registered threshold:

* direction ``greater``: PASS when the whole interval lies above the threshold, FAIL when it
  lies at or below it, INCONCLUSIVE when it straddles it;
* direction ``less``: the mirror image;
* direction ``within`` (threshold ``[low, high]``): PASS when the interval lies inside the
  window, FAIL when it lies entirely outside, INCONCLUSIVE when it overlaps an edge.

ERROR (the computation raised) and SKIP (the prediction does not apply, with the reason) are
set by the runner or the plugin.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import numpy as np

from mspgt_bench.detectors.plugins import Detection
from mspgt_bench.options import Strict
from mspgt_bench.signals.base import BootstrapConfig, Profile
from mspgt_bench.stats.bootstrap import resample_indices
from mspgt_bench.suite.schema import PredictionSpec

Status = Literal["PASS", "FAIL", "INCONCLUSIVE", "ERROR", "SKIP"]


def decide(lo: float, hi: float, threshold: float | tuple[float, float], direction: str) -> Status:
    """Verdict of an interval ``[lo, hi]`` against ``threshold`` in ``direction``."""
    if direction == "within":
        low, high = threshold  # type: ignore[misc]
        return "PASS" if low <= lo and hi <= high else "FAIL" if hi < low or lo > high else "INCONCLUSIVE"
    if direction == "greater":
        return "PASS" if lo > threshold else "FAIL" if hi <= threshold else "INCONCLUSIVE"
    if direction == "less":
        return "PASS" if hi < threshold else "FAIL" if lo >= threshold else "INCONCLUSIVE"
    raise ValueError(f"direction must be 'greater' or 'less', got {direction!r}")


@dataclass
class Outcome:
    """What a prediction found on one model under one condition."""

    status: Status
    value: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    n: int | None = None
    reason: str = ""
    details: dict[str, Any] = field(default_factory=dict)


ZERO_WIDTH = (
    "every resample gave the same value: the statistic is discrete (a boundary's layer, a count) or the "
    "stimuli agree exactly, so the interval says the resamples never moved it, not that it is known exactly"
)
"""The note on a verdict whose bootstrap interval has zero width (few stimuli make it common for layer positions)."""


class MissingInputError(LookupError):
    """A prediction asked for a profile that the suite's signals do not produce."""


class NotApplicableError(LookupError):
    """An input the prediction needs does not exist under this condition by design (reported as SKIP)."""


@dataclass
class TargetEffects:
    """One target's per-stimulus effects on one model: one intervened pass, e.g. ``delete[0:7]``."""

    target: str
    first_layer: int | None
    last_layer: int | None
    values: dict[str, np.ndarray]
    """``{metric: [n_stimuli]}``, NaN where a stimulus has no value (e.g. no token of a class)."""


@dataclass
class PredictionContext:
    """What a prediction may read about one model under one condition."""

    model: str
    family: str
    condition: str
    n_layers: int
    profiles: dict[str, Profile]
    boot: BootstrapConfig
    detections: dict[str, Detection] = field(default_factory=dict)
    detector_errors: dict[str, str] = field(default_factory=dict)
    signal_errors: dict[str, str] = field(default_factory=dict)
    """Signal label -> why it failed under this condition (only the predictions that read it ERROR)."""
    effects: dict[str, list[TargetEffects]] = field(default_factory=dict)
    """Intervention (or generation) label -> its targets in run order, under this condition."""
    effects_error: str | None = None
    effects_skipped: dict[str, str] = field(default_factory=dict)
    """Label -> why that intervention did not run under this condition (its predictions SKIP)."""

    def profile(self, key: str) -> Profile:
        """The profile ``"<signal label>.<metric>"``."""
        try:
            return self.profiles[key]
        except KeyError:
            failed = next((label for label in self.signal_errors if key.startswith(f"{label}.")), None)
            if failed is not None:
                raise MissingInputError(
                    f"needs profile {key!r}, but signal {failed!r} failed on this model: {self.signal_errors[failed]}"
                ) from None
            known = ", ".join(sorted(self.profiles)) or "(none)"
            raise MissingInputError(
                f"needs profile {key!r}, which no signal in the suite produced; add the signal to "
                f"`signals:` or pick one of: {known}"
            ) from None


    def intervention(self, label: str) -> list[TargetEffects]:
        """The per-stimulus effects of the suite's intervention ``label`` on this model."""
        if label in self.effects_skipped:
            raise NotApplicableError(self.effects_skipped[label])
        if self.effects_error:
            raise MissingInputError(f"the interventions failed: {self.effects_error}")
        try:
            return self.effects[label]
        except KeyError:
            known = ", ".join(sorted(self.effects)) or "(none)"
            raise MissingInputError(f"needs intervention {label!r}; add it to `interventions:` (run: {known})") from None

    def detection(self, label: str) -> Detection:
        """The boundaries found by the suite's detector ``label``."""
        if label in self.detector_errors:
            raise MissingInputError(f"detector {label!r} failed: {self.detector_errors[label]}")
        try:
            return self.detections[label]
        except KeyError:
            known = ", ".join(sorted(self.detections)) or "(none)"
            raise MissingInputError(f"needs detector {label!r}; add it to `detectors:` (run: {known})") from None


class Prediction(ABC):
    """A falsifiable claim evaluated on one model's profiles.

    ``statistics`` lists the statistic names a suite may ask for in ``statistic:``.
    """

    name: ClassVar[str]
    statistics: ClassVar[tuple[str, ...]]

    class Options(Strict):
        """Options a suite may set; none by default."""

    def __init__(self, spec: PredictionSpec) -> None:
        if spec.statistic not in self.statistics:
            raise ValueError(
                f"prediction {spec.id}: statistic {spec.statistic!r} is not offered by {self.name!r}; "
                f"choose one of {', '.join(self.statistics)}"
            )
        self.spec = spec
        self.options = self.Options.model_validate(spec.options)

    @abstractmethod
    def evaluate(self, ctx: PredictionContext) -> Outcome:
        """Compute the statistic and its interval and decide the verdict."""

    def verdict(self, value: float, lo: float, hi: float, n: int, **details: Any) -> Outcome:
        """An outcome whose status follows from the interval and the spec's threshold.

        A zero-width interval is flagged in ``details["zero_width_interval"]`` (:data:`ZERO_WIDTH`).
        """
        status = decide(lo, hi, self.spec.threshold, self.spec.direction)
        if lo == hi:
            details = {**details, "zero_width_interval": ZERO_WIDTH}
        return Outcome(status, float(value), float(lo), float(hi), n, details=details)


class CrossModelPrediction(Prediction):
    """A prediction about several models at once (MSPGT P5, P6), grouped by family label.

    ``evaluate`` is not used; the runner calls ``evaluate_many`` once per condition with the
    contexts of every model that ran, and writes one verdict row per returned group.
    """

    def evaluate(self, ctx: PredictionContext) -> Outcome:
        raise TypeError(f"{self.name} is a cross-model prediction; the runner calls evaluate_many")

    @abstractmethod
    def evaluate_many(self, contexts: list[PredictionContext]) -> dict[str, Outcome]:
        """Outcome per group (usually per family) from the contexts of several models."""


def resampled_verdict(
    prediction: Prediction,
    ctx: PredictionContext,
    n_stimuli: int,
    n_boot: int,
    statistic: Callable[[np.ndarray], float],
    **details: Any,
) -> Outcome:
    """Statistic on all stimuli and on bootstrap resamples of their indices -> verdict.

    The interval is the percentile interval at the prediction's confidence level. Resamples on
    which the statistic is undefined (NaN) are left out and counted in ``undefined_resamples``;
    an undefined estimate, or fewer than half the resamples defined, gives INCONCLUSIVE.
    """
    value = statistic(np.arange(n_stimuli))
    indices = resample_indices(n_stimuli, n_boot, ctx.boot.rng(prediction.spec.id, ctx.condition))
    draws = np.array([statistic(idx) for idx in indices], dtype=float)
    return verdict_from_draws(prediction, value, draws, n_stimuli, **details)


def verdict_from_draws(prediction: Prediction, value: float, draws: np.ndarray, n: int, **details: Any) -> Outcome:
    """The verdict of an estimate ``value`` and its bootstrap ``draws``: their percentile interval.

    Draws that are not finite are left out and counted in ``undefined_resamples``; a value that
    is not finite, or fewer than half the draws defined, gives INCONCLUSIVE. ``n`` is the
    outcome's sample size (stimuli, or models for a cross-model prediction).
    """
    defined = draws[np.isfinite(draws)]
    if len(defined) < len(draws):
        details["undefined_resamples"] = int(len(draws) - len(defined))
    if not np.isfinite(value):
        return Outcome("INCONCLUSIVE", n=n, reason="the statistic is undefined on the full sample", details=details)
    if len(defined) < len(draws) / 2:
        reason = f"the statistic is undefined on {len(draws) - len(defined)} of {len(draws)} resamples"
        return Outcome("INCONCLUSIVE", float(value), n=n, reason=reason, details=details)
    alpha = (1 - prediction.spec.confidence) / 2
    lo, hi = np.quantile(defined, [alpha, 1 - alpha])
    return prediction.verdict(value, lo, hi, n, **details)

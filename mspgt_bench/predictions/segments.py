"""Predictions about the segments a detector finds (MSPGT P1, P2, P3, P7).

Every statistic here is recomputed on bootstrap resamples of the stimuli: the detector's
inputs (per-stimulus profiles on the layer grid) are averaged over the resampled stimuli and
refitted, so the interval reflects how stable the segmentation is, not only the profile noise.
The interval is the percentile interval at the prediction's confidence level.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field

from mspgt_bench.detectors.layer_grid import per_stimulus_on_grid
from mspgt_bench.detectors.plugins import Detection
from mspgt_bench.options import Strict
from mspgt_bench.predictions.base import Outcome, Prediction, PredictionContext, resampled_verdict


class SegmentOptions(Strict):
    detector: str = Field(description="Label of a detector in the suite's `detectors:`.")
    n_boundaries: int = Field(2, ge=1, description="Boundaries of the claimed segmentation (MSPGT: 2).")
    n_boot: int = Field(200, ge=20, description="Bootstrap resamples (each refits the segmentation).")


def _too_shallow(detection: Detection, n_boundaries: int) -> Outcome | None:
    """SKIP when the model has too few layers for ``n_boundaries`` boundaries at the detector's min_size."""
    needed = (n_boundaries + 1) * detection.min_size
    if needed <= detection.n_layers:
        return None
    reason = (
        f"{n_boundaries} boundaries need at least {needed} layers with segments of >= {detection.min_size} "
        f"layers; this model has {detection.n_layers}"
    )
    return Outcome("SKIP", reason=reason)


def _data(detection: Detection) -> np.ndarray:
    if detection.per_stimulus is None:
        raise ValueError(f"detector {detection.label!r} has no per-stimulus inputs to resample ({detection.note})")
    return detection.per_stimulus


class SegmentCount(Prediction):
    """P1: exactly ``n_boundaries`` prominent boundaries (three segments for n = 2).

    Statistic ``criterion_margin``: ``min_{k ≠ n} C(k) − C(n)`` where ``C(k)`` is the detector's
    model-selection score (BIC, mBIC, or RSS + pen·k) of the best k-boundary fit, k = 0..k_max.
    Positive: n boundaries beat every other count. PASS needs the interval above the threshold.
    """

    name = "segment_count"
    statistics = ("criterion_margin",)

    class Options(SegmentOptions):
        pass

    def evaluate(self, ctx: PredictionContext) -> Outcome:
        detection = ctx.detection(self.options.detector)
        target = self.options.n_boundaries
        if skip := _too_shallow(detection, target):
            return skip
        data = _data(detection)
        if detection.segment is None:
            raise ValueError(f"detector {detection.label!r} offers no model-selection table")

        def margin(idx: np.ndarray) -> float:
            table = {fit.n_boundaries: fit.score for fit in detection.segment(data[idx].mean(axis=0)).table}
            if target not in table:
                raise ValueError(f"the detector compared k = {sorted(table)}; raise its k_max above {target}")
            return min(score for k, score in table.items() if k != target) - table[target]

        chosen = detection.segmentation.boundaries
        return resampled_verdict(self, ctx, len(data), self.options.n_boot, margin, boundaries=list(chosen))


class BoundaryPosition(Prediction):
    """P2: where the boundaries sit, and how the segments divide the depth.

    Statistics on the best ``n_boundaries`` fit of each resample:
    * ``boundary_depth``: depth fraction b_i / L of boundary ``boundary`` (1-based); use
      direction ``within`` with a window such as [0.1, 0.5];
    * ``later_minus_local``: (L − 2·b_1) / L, the share of layers after the first boundary
      minus the share before it (MSPGT v1: intermediate + global get more layers than local).
    """

    name = "boundary_position"
    statistics = ("boundary_depth", "later_minus_local")

    class Options(SegmentOptions):
        boundary: int = Field(1, ge=1, description="Which boundary (1-based) for 'boundary_depth'.")

    def evaluate(self, ctx: PredictionContext) -> Outcome:
        detection = ctx.detection(self.options.detector)
        n, L = self.options.n_boundaries, detection.n_layers
        if skip := _too_shallow(detection, n):
            return skip
        data = _data(detection)
        if self.options.boundary > n:
            raise ValueError(f"boundary {self.options.boundary} asked of a {n}-boundary segmentation")

        def statistic(idx: np.ndarray) -> float:
            bounds = detection.fit(data[idx].mean(axis=0), n)
            if self.spec.statistic == "boundary_depth":
                return bounds[self.options.boundary - 1] / L
            return (L - 2 * bounds[0]) / L

        fitted = detection.fit(data.mean(axis=0), n)
        return resampled_verdict(self, ctx, len(data), self.options.n_boot, statistic, boundaries=list(fitted))


class BoundaryAgreement(Prediction):
    """P3: boundaries found from independent signals agree.

    Statistic ``max_depth_gap``: ``max_i |b_i^A − b_i^B| / L`` between the best
    ``n_boundaries`` fits of two detectors on the same resample of stimuli. PASS needs the
    interval below the tolerance (direction ``less``).
    """

    name = "boundary_agreement"
    statistics = ("max_depth_gap",)

    class Options(Strict):
        detectors: tuple[str, str] = Field(description="Labels of the two detectors to compare.")
        n_boundaries: int = Field(2, ge=1)
        n_boot: int = Field(200, ge=20)

    def evaluate(self, ctx: PredictionContext) -> Outcome:
        first, second = (ctx.detection(label) for label in self.options.detectors)
        n, L = self.options.n_boundaries, first.n_layers
        if skip := _too_shallow(first, n) or _too_shallow(second, n):
            return skip
        a, b = _data(first), _data(second)

        def gap(idx: np.ndarray) -> float:
            ba = first.fit(a[idx].mean(axis=0), n)
            bb = second.fit(b[idx].mean(axis=0), n)
            return max(abs(x - y) for x, y in zip(ba, bb)) / L

        return resampled_verdict(
            self, ctx, len(a), self.options.n_boot, gap,
            boundaries_a=list(first.fit(a.mean(axis=0), n)), boundaries_b=list(second.fit(b.mean(axis=0), n)),
        )


class ExtremumInSegment(Prediction):
    """P7: a compression profile has its extremum inside one segment (MSPGT: the intermediate).

    Statistic ``inside_margin``: with the profile's extremum at layer e (on the layer grid) and
    the segment ``[s, t)`` of the best ``n_boundaries`` fit, ``min(e − s, t − 1 − e)`` in layers:
    ≥ 0 inside the segment, negative outside. Threshold −0.5 with direction ``greater`` asks the
    whole interval to be inside.
    """

    name = "extremum_in_segment"
    statistics = ("inside_margin",)

    class Options(SegmentOptions):
        profile: str = Field(description="'<signal>.<metric>' with per-stimulus values, e.g. 'prompt_entropy.entropy'.")
        extremum: Literal["min", "max"] = "min"
        segment: int = Field(1, ge=0, description="0-based segment index (1 = intermediate of three).")

    def evaluate(self, ctx: PredictionContext) -> Outcome:
        detection = ctx.detection(self.options.detector)
        n = self.options.n_boundaries
        if skip := _too_shallow(detection, n):
            return skip
        data = _data(detection)
        values = per_stimulus_on_grid(ctx.profile(self.options.profile), detection.n_layers)
        if self.options.segment > n:
            raise ValueError(f"segment {self.options.segment} does not exist with {n} boundaries")
        pick = np.argmin if self.options.extremum == "min" else np.argmax

        def margin(idx: np.ndarray) -> float:
            edges = (0, *detection.fit(data[idx].mean(axis=0), n), detection.n_layers)
            start, stop = edges[self.options.segment], edges[self.options.segment + 1]
            extremum = int(pick(values[idx].mean(axis=0)))
            return float(min(extremum - start, stop - 1 - extremum))

        extremum = int(pick(values.mean(axis=0)))
        return resampled_verdict(self, ctx, len(data), self.options.n_boot, margin, extremum_layer=extremum)

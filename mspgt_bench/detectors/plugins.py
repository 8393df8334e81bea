"""Detector plugins: boundaries of the layer stack from one signal or a fused set of signals.

A detector reads profiles from the run, puts them on the layer grid (``layer_grid``), and
exposes ``prepare(mean) -> [L, k]`` (z-scoring and fusion weights), so predictions can refit the
same transformation on every bootstrap resample of the stimuli (``Detection.resample``).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import Field, model_validator

from mspgt_bench.detectors.base import Segmentation
from mspgt_bench.detectors.bootstrap import BootstrapResult, bootstrap_boundaries
from mspgt_bench.detectors.changepoint import detect_bic, detect_penalty, fit_fixed_k
from mspgt_bench.detectors.fusion import zscore
from mspgt_bench.detectors.layer_grid import on_layer_grid, per_stimulus_on_grid
from mspgt_bench.detectors.v1_rule import v1_rule
from mspgt_bench.signals.base import BootstrapConfig, Profile
from mspgt_bench.suite.schema import Strict


@dataclass
class Detection:
    """What one detector found on one model under one condition."""

    label: str
    n_layers: int
    segmentation: Segmentation
    inputs: tuple[str, ...]
    per_stimulus: np.ndarray | None = field(default=None, repr=False)
    """``[n_stimuli, L, k]`` inputs on the layer grid (None when not bootstrappable)."""
    prepare: Callable[[np.ndarray], np.ndarray] | None = field(default=None, repr=False)
    """Maps a mean ``[L, k]`` to the matrix the change-point fit runs on."""
    segment: Callable[[np.ndarray], Segmentation] | None = field(default=None, repr=False)
    """The detector's full rule (criterion included) applied to a mean ``[L, k]``."""
    min_size: int = 2
    bootstrap: BootstrapResult | None = None
    note: str = ""

    def fit(self, mean: np.ndarray, n_boundaries: int) -> tuple[int, ...]:
        """Best ``n_boundaries`` boundaries of a mean profile under this detector's transformation."""
        if self.prepare is None:
            raise ValueError(f"detector {self.label!r} cannot refit resampled profiles ({self.note})")
        return fit_fixed_k(self.prepare(mean), n_boundaries, min_size=self.min_size).boundaries

    def segments(self, n_segments: int | None = None) -> tuple[tuple[int, int], ...]:
        """Half-open layer ranges of the segments found, or of the best split into ``n_segments``."""
        if n_segments is None:
            return self.segmentation.segments()
        if self.per_stimulus is None:
            raise ValueError(f"detector {self.label!r} cannot refit with a fixed number of segments ({self.note})")
        boundaries = self.fit(self.per_stimulus.mean(axis=0), n_segments - 1)
        return Segmentation(boundaries, self.n_layers, criterion=f"best fit with {n_segments - 1} boundaries").segments()

    def rows(self) -> list[dict[str, Any]]:
        stability = {s.boundary: s for s in (self.bootstrap.stability if self.bootstrap else ())}
        rows = []
        for index, boundary in enumerate(self.segmentation.boundaries):
            s = stability.get(boundary)
            rows.append(
                {
                    "detector": self.label,
                    "boundary": index + 1,
                    "layer": boundary,
                    "depth": boundary / self.n_layers,
                    "ci_low": None if s is None or math.isnan(s.low) else s.low,
                    "ci_high": None if s is None or math.isnan(s.high) else s.high,
                    "within_1_layer": None if s is None else s.within_tolerance,
                    "n_boundaries": len(self.segmentation.boundaries),
                    "criterion": self.segmentation.criterion,
                    "inputs": ",".join(self.inputs),
                }
            )
        return rows


class Detector(ABC):
    """A boundary detector plugin."""

    name: ClassVar[str]

    class Options(Strict):
        """Options a suite may set."""

    def __init__(self, label: str | None = None, **options: Any) -> None:
        self.label = label or self.name
        self.options = self.Options.model_validate(options)

    @abstractmethod
    def detect(self, profiles: dict[str, Profile], n_layers: int, boot: BootstrapConfig) -> Detection:
        """Boundaries of one model's layer stack from its profiles."""


def _profile(profiles: dict[str, Profile], key: str) -> Profile:
    try:
        return profiles[key]
    except KeyError:
        known = ", ".join(sorted(profiles)) or "(none)"
        raise LookupError(f"needs profile {key!r}, which no signal produced; known: {known}") from None


class ChangePoint(Detector):
    """Change points of one profile or of several z-scored profiles (ruptures, exact ``Dynp``/``Pelt``).

    Fusion ``stack`` (default) fits a multivariate piecewise-constant mean to the standardised
    profiles, each column scaled by √(w_i / Σw) so that its share of the squared-error cost is its
    weight (a change in any signal, in either direction, counts). Fusion ``sum`` first forms the
    univariate weighted sum, ``S(l) = Σ w_i z_i(l)`` (the MSPGT v1 form).

    The number of boundaries is chosen by a declared criterion (``jump=1`` and a small
    ``min_size``, as layer profiles need):

    * ``relative`` (default): each column is divided by its mean absolute level, and a boundary
      costs ``pen = δ² · L / 4`` with δ = ``min_relative_jump``: a boundary that splits the stack
      into halves must carry a jump of at least δ of the profile's level to pay for itself
      (unequal splits need more, since a split into n₁ + n₂ = L layers with jump Δ lowers the
      cost by n₁n₂/L · Δ²). This makes "prominent" a declared effect size. Scale-free rules
      (BIC on z-scores) find boundaries in any profile with systematic wiggles, however small;
    * ``bic`` / ``mbic``: BIC or mBIC over exact fits with k = 0..k_max boundaries, on z-scores;
    * ``penalty``: ``RSS + pen · k`` on z-scores with a declared ``pen``.

    Boundary intervals come from refitting on bootstrap resamples of the stimuli.
    """

    name = "changepoint"

    class Options(Strict):
        profiles: dict[str, float] = Field(description="Profile key -> fusion weight, e.g. {'logit_lens.kl': 1}.")
        fusion: Literal["stack", "sum"] = "stack"
        criterion: Literal["relative", "bic", "mbic", "penalty"] = "relative"
        min_relative_jump: float = Field(0.2, gt=0, description="δ of the 'relative' criterion.")
        pen: float | None = Field(None, gt=0, description="Penalty per boundary when criterion is 'penalty'.")
        k_max: int = Field(5, ge=1)
        min_size: int = Field(2, ge=1)
        n_boot: int = Field(200, ge=10, description="Resamples for the boundary intervals.")
        differences: bool = Field(False, description="Segment the first differences of each profile instead.")

        @model_validator(mode="after")
        def _consistent(self) -> ChangePoint.Options:
            if (self.criterion == "penalty") != (self.pen is not None):
                raise ValueError("set `pen` exactly when criterion is 'penalty'")
            if any(w < 0 for w in self.profiles.values()) or not any(self.profiles.values()):
                raise ValueError("fusion weights must be non-negative and not all zero")
            return self

    def prepare(self, mean: np.ndarray) -> np.ndarray:
        """Standardise each column of a mean ``[L, k]`` profile and apply the fusion weights."""
        weights = np.array(list(self.options.profiles.values()), dtype=float)
        weights = weights / weights.sum()
        if self.options.differences:
            mean = np.vstack([np.zeros((1, mean.shape[1])), np.diff(mean, axis=0)])
        if self.options.criterion == "relative":
            level = np.abs(mean).mean(axis=0)
            z = mean / np.where(level > 0, level, 1.0)
        else:
            z = zscore(mean)
        if self.options.fusion == "sum":
            return (z * weights).sum(axis=1, keepdims=True)
        return z * np.sqrt(weights)

    def segment(self, mean: np.ndarray) -> Segmentation:
        o = self.options
        prepared = self.prepare(mean)
        if o.criterion in ("relative", "penalty"):
            pen = o.pen if o.criterion == "penalty" else o.min_relative_jump**2 * len(prepared) / 4
            return detect_penalty(prepared, pen, k_max=o.k_max, min_size=o.min_size)
        return detect_bic(prepared, criterion=o.criterion, k_max=o.k_max, min_size=o.min_size)

    def detect(self, profiles: dict[str, Profile], n_layers: int, boot: BootstrapConfig) -> Detection:
        keys = tuple(self.options.profiles)
        data = np.stack([per_stimulus_on_grid(_profile(profiles, k), n_layers) for k in keys], axis=-1)
        segmentation = self.segment(data.mean(axis=0))
        resampled = bootstrap_boundaries(
            data, lambda mean: self.segment(mean).boundaries, self.options.n_boot, boot.rng(self.label, "boundaries"),
            level=boot.level,
        )
        return Detection(
            self.label, n_layers, segmentation, keys, data, self.prepare, self.segment, self.options.min_size, resampled
        )


class V1Rule(Detector):
    """MSPGT v1 rule: a boundary where the first difference of a layer series falls more than
    ``factor``·σ below its mean (Zhang & Dong 2025, v1), on one profile or on the v1 fusion.

    With one profile (default ``mutual_information.mi``) this is the paper's MI rule. With several,
    it is the paper's fusion ``S(l) = α·S_probe + β·S_attn + γ·S_MI``: each profile is put on the
    layer grid and z-scored across layers (the paper does not say how it puts accuracy, tokens
    and nats on one scale; z-scoring is ours), profiles listed in ``flip`` are negated (so that a
    boundary is a *drop* in every input, e.g. attention span, which rises at a boundary), and the
    declared weights, which must sum to 1, combine them. The inputs are usually dataset-level
    statistics (MI, probe accuracy), so the boundaries carry no bootstrap interval (noted in the
    result).
    """

    name = "v1_rule"

    class Options(Strict):
        profiles: dict[str, float] = Field(
            default_factory=lambda: {"mutual_information.mi": 1.0},
            description="Profile key -> weight (α, β, γ, ...); non-negative, summing to 1.",
        )
        flip: list[str] = Field(default_factory=list, description="Profiles negated before fusion.")
        factor: float = Field(2.0, gt=0)

        @model_validator(mode="after")
        def _weights(self) -> V1Rule.Options:
            weights = list(self.profiles.values())
            if not weights or any(w < 0 for w in weights) or not math.isclose(sum(weights), 1.0, abs_tol=1e-6):
                raise ValueError(f"weights must be non-negative and sum to 1 (the v1 fusion), got {weights}")
            unknown = sorted(set(self.flip) - set(self.profiles))
            if unknown:
                raise ValueError(f"flip names {unknown}, which are not in `profiles`")
            return self

    def series(self, profiles: dict[str, Profile], n_layers: int) -> np.ndarray:
        """The fused series ``S`` on the layer grid.

        For a single profile the z-scoring is a positive affine map, which the rule ignores.
        """
        fused = np.zeros(n_layers)
        for key, weight in self.options.profiles.items():
            profile = _profile(profiles, key)
            column = zscore(on_layer_grid(profile.value, profile.depth, n_layers))
            fused += weight * (-column if key in self.options.flip else column)
        return fused

    def detect(self, profiles: dict[str, Profile], n_layers: int, boot: BootstrapConfig) -> Detection:
        result = v1_rule(self.series(profiles, n_layers), n_layers, factor=self.options.factor)
        return Detection(
            self.label, n_layers, result.segmentation, tuple(self.options.profiles),
            note="dataset-level inputs: no per-stimulus resampling",
        )

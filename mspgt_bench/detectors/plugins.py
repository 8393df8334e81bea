"""Detector plugins: boundaries of the layer stack from one signal or a fused set of signals.

A detector reads profiles from the run and puts them on the layer grid (``layer_grid``). Its
:class:`Detection` carries the per-stimulus inputs and the detector's rule as callables
(``segment``: the full rule, count included; ``fit_fixed``: the best split with a given number of
boundaries), so predictions can refit the same rule on every bootstrap resample of the stimuli.

``evidence`` (default for fused profiles) works in the boundary-evidence domain of
``detectors.evidence``, where a level's step, a change's peak and a similarity's dip are all
one-gap spikes, and keeps a boundary only when it beats the null of ``detectors.null``.
``changepoint`` fits steps in level by least squares (ruptures) and accepts level profiles only.
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
from mspgt_bench.detectors.evidence import DEFAULT_RADIUS, EvidenceRule, count_table, strongest
from mspgt_bench.detectors.fusion import zscore
from mspgt_bench.detectors.layer_grid import on_layer_grid, per_stimulus_on_grid
from mspgt_bench.detectors.null import NullCalibration, calibrate
from mspgt_bench.detectors.v1_rule import v1_rule
from mspgt_bench.options import Strict
from mspgt_bench.signals.base import BootstrapConfig, Kind, Profile

Rules = tuple[Callable[[np.ndarray, int], tuple[int, ...]], Callable[[np.ndarray], Segmentation]]
"""``(fit_fixed, segment)``: a detector's best split with a given number of boundaries, and its full rule."""


@dataclass
class Detection:
    """What one detector found on one model under one condition."""

    label: str
    n_layers: int
    segmentation: Segmentation
    inputs: tuple[str, ...]
    per_stimulus: np.ndarray | None = field(default=None, repr=False)
    """``[n_stimuli, L, k]`` inputs on the layer grid (None when not bootstrappable)."""
    fit_fixed: Callable[[np.ndarray, int], tuple[int, ...]] | None = field(default=None, repr=False)
    """The detector's best split of a mean ``[L, k]`` into a given number of boundaries."""
    segment: Callable[[np.ndarray], Segmentation] | None = field(default=None, repr=False)
    """The detector's full rule (criterion included) applied to a mean ``[L, k]``."""
    min_size: int = 2
    bootstrap: BootstrapResult | None = None
    note: str = ""
    evidence: np.ndarray | None = field(default=None, repr=False)
    """``[L − 1]`` fused boundary evidence per gap (evidence detectors only)."""
    null: NullCalibration | None = field(default=None, repr=False)
    """The threshold the evidence had to beat (evidence detectors only)."""
    rule_state: dict[str, Any] | None = None
    """The JSON data from which the detector's :meth:`Detector.rules` rebuilds ``fit_fixed`` and
    ``segment`` (None: the detection has no rules, or its detector cannot rebuild them)."""

    @property
    def savable(self) -> bool:
        """Whether the detection is data alone: it has no rules, or its detector can rebuild them."""
        return self.rule_state is not None or (self.fit_fixed is None and self.segment is None)

    def fit(self, mean: np.ndarray, n_boundaries: int) -> tuple[int, ...]:
        """Best ``n_boundaries`` boundaries of a mean profile under this detector's rule."""
        if self.fit_fixed is None:
            raise ValueError(f"detector {self.label!r} cannot refit resampled profiles ({self.note})")
        return self.fit_fixed(mean, n_boundaries)

    def segments(self, n_segments: int | None = None) -> tuple[tuple[int, int], ...]:
        """Half-open layer ranges of the segments found, or of the best split into ``n_segments``."""
        if n_segments is None:
            return self.segmentation.segments()
        if self.per_stimulus is None:
            raise ValueError(f"detector {self.label!r} cannot refit with a fixed number of segments ({self.note})")
        boundaries = self.fit(self.per_stimulus.mean(axis=0), n_segments - 1)
        return Segmentation(
            boundaries, self.n_layers, criterion=f"best fit with {n_segments - 1} boundaries"
        ).segments()

    def rows(self) -> list[dict[str, Any]]:
        stability = {s.boundary: s for s in (self.bootstrap.stability if self.bootstrap else ())}
        rows = []
        for index, boundary in enumerate(self.segmentation.boundaries):
            s = stability.get(boundary)
            row = {
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
            if self.evidence is not None and self.null is not None:
                value = float(self.evidence[boundary - 1])
                row |= {
                    "evidence": value,
                    "threshold": self.null.threshold,
                    "null_quantile": self.null.quantile_of(value),
                }
            rows.append(row)
        return rows


def resolve_segments(
    owner: str,
    detector: str | None,
    n_segments: int | None,
    fixed: list[tuple[int, int]] | None,
    detections: dict[str, Detection],
) -> list[tuple[int, int]]:
    """``fixed`` segments, or those ``detector`` found on this model (its best split into ``n_segments``).

    ``owner`` names the intervention or generation experiment in the error raised when the
    detector did not run or failed on this model.
    """
    if detector is None:
        return [tuple(segment) for segment in fixed or []]
    if detector not in detections:
        raise ValueError(
            f"{owner!r}: segments_from names detector {detector!r}, which did not run or failed on this model "
            f"(detectors: {', '.join(sorted(detections)) or 'none'})"
        )
    return [tuple(segment) for segment in detections[detector].segments(n_segments)]


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

    def rules(self, n_layers: int, state: dict[str, Any]) -> Rules:
        """``(fit_fixed, segment)`` of one of this detector's detections, rebuilt from its ``rule_state``.

        A detector whose detections refit (``fit_fixed``/``segment``) and that records a
        ``rule_state`` overrides this, and builds the rules of :meth:`detect` with it too, so a
        detection read back from the run's cache refits exactly as the one computed.
        """
        raise NotImplementedError(f"detector {self.name!r} cannot rebuild the rules of a saved detection")


def _profile(profiles: dict[str, Profile], key: str) -> Profile:
    try:
        return profiles[key]
    except KeyError:
        known = ", ".join(sorted(profiles)) or "(none)"
        raise LookupError(f"needs profile {key!r}, which no signal produced; known: {known}") from None


class FusedOptions(Strict):
    """Options shared by detectors that fuse per-stimulus profiles."""

    profiles: dict[str, float] = Field(description="Profile key -> fusion weight, e.g. {'logit_lens.kl': 1}.")
    kinds: dict[str, Kind] = Field(
        default_factory=dict,
        description="Override a profile's kind (level, change, similarity) as its signal declares it.",
    )
    k_max: int = Field(5, ge=1, le=20)
    min_size: int = Field(2, ge=1)
    n_boot: int = Field(200, ge=10, le=100_000, description="Resamples for the boundary intervals.")

    @model_validator(mode="after")
    def _weights_and_kinds(self) -> FusedOptions:
        if any(not math.isfinite(w) or w < 0 for w in self.profiles.values()) or not any(self.profiles.values()):
            raise ValueError("fusion weights must be finite, non-negative and not all zero")
        unknown = sorted(set(self.kinds) - set(self.profiles))
        if unknown:
            raise ValueError(f"`kinds` names {unknown}, which are not in `profiles`")
        return self


class FusedDetector(Detector):
    """A detector over the stacked per-stimulus profiles ``[n_stimuli, L, k]`` of its ``profiles``."""

    options: FusedOptions

    def inputs(
        self, profiles: dict[str, Profile], n_layers: int
    ) -> tuple[tuple[str, ...], tuple[Kind, ...], np.ndarray]:
        """Profile keys, their kinds (suite override first) and the stacked per-stimulus data on the layer grid."""
        keys = tuple(self.options.profiles)
        found = [_profile(profiles, key) for key in keys]
        kinds = tuple(self.options.kinds.get(key, p.kind) for key, p in zip(keys, found))
        data = np.stack([per_stimulus_on_grid(p, n_layers) for p in found], axis=-1)
        return keys, kinds, data

    def bootstrap(
        self, data: np.ndarray, segment: Callable[[np.ndarray], Segmentation], boot: BootstrapConfig
    ) -> BootstrapResult:
        """Boundary intervals from refitting ``segment`` on resamples of the stimuli."""
        return bootstrap_boundaries(
            data,
            lambda mean: segment(mean).boundaries,
            self.options.n_boot,
            boot.rng(self.label, "boundaries"),
            level=boot.level,
        )


class BoundaryEvidence(FusedDetector):
    """Boundaries as spikes of fused evidence per layer gap that beat a null (``detectors.evidence``, ``detectors.null``).

    Each profile enters by its kind: a level's steps, a change's peaks and a similarity's dips
    become spikes of a non-negative gap series; its evidence at gap ``b`` is the spike's height
    above the running median of the series (radius ``radius``), relative to that median (with a
    floor); profiles are fused by the weighted mean of their evidence. A boundary counts when
    its evidence exceeds ``threshold = max(min_evidence, q_level of the sampling-noise null)``
    and no stronger boundary lies within ``min_size`` layers.

    Counting rule (P1's table): with ``X_(1) ≥ X_(2) ≥ …`` the evidence of the greedy picks,
    ``score(k) = Σ_{i ≤ k} log(threshold / X_(i))``, minimised at the number of boundaries that
    clear the threshold. ``fit_fixed(mean, n)`` gives the ``n`` strongest boundaries whatever
    their evidence (the best split into ``n + 1`` segments).

    ``min_evidence`` default 1.0: a boundary's gap must change the profile at least twice as much
    as the gaps around it. Random-weight configs of real architectures stay below it (the planted-structure bank in
    ``tests/detectors/test_planted_bank.py`` prints their largest evidence and the
    false-positive rates).
    """

    name = "evidence"

    class Options(FusedOptions):
        radius: int = Field(
            DEFAULT_RADIUS, ge=1, le=10, description="Half-width of the running-median baseline, in gaps."
        )
        min_evidence: float = Field(
            1.0, gt=0, allow_inf_nan=False, description="Declared effect-size floor of the threshold."
        )
        null_level: float = Field(0.95, gt=0, lt=1, description="Quantile of the sampling-noise null's maxima.")
        n_null: int = Field(200, ge=20, le=100_000, description="Sampling-noise surrogates.")

    def rule(self, kinds: tuple[Kind, ...]) -> EvidenceRule:
        """How profiles of these kinds become fused evidence, under this detector's weights and radius."""
        return EvidenceRule(kinds, tuple(self.options.profiles.values()), self.options.radius)

    def rules(self, n_layers: int, state: dict[str, Any]) -> Rules:
        """The count rule against ``state["threshold"]`` and the fixed-count fit, on evidence of ``state["kinds"]``."""
        o = self.options
        rule = self.rule(tuple(state["kinds"]))
        threshold, criterion = float(state["threshold"]), str(state["criterion"])

        def segment(mean: np.ndarray) -> Segmentation:
            table = count_table(rule.evidence(mean), threshold, o.k_max, o.min_size)
            best = min(table, key=lambda fit: (fit.score, fit.n_boundaries))
            return Segmentation(best.boundaries, n_layers, criterion, best.cost, table)

        def fit_fixed(mean: np.ndarray, n_boundaries: int) -> tuple[int, ...]:
            return strongest(rule.evidence(mean), n_boundaries, o.min_size)

        return fit_fixed, segment

    def detect(self, profiles: dict[str, Profile], n_layers: int, boot: BootstrapConfig) -> Detection:
        o = self.options
        keys, kinds, data = self.inputs(profiles, n_layers)
        rule = self.rule(kinds)
        null = calibrate(
            data,
            rule,
            min_evidence=o.min_evidence,
            n_null=o.n_null,
            level=o.null_level,
            rng=boot.rng(self.label, "null"),
            min_size=o.min_size,
        )
        state = {
            "kinds": list(kinds),
            "threshold": null.threshold,
            "criterion": f"evidence > {null.threshold:.3g} ({null.source})",
        }
        fit_fixed, segment = self.rules(n_layers, state)
        mean = data.mean(axis=0)
        return Detection(
            self.label,
            n_layers,
            segment(mean),
            keys,
            data,
            fit_fixed,
            segment,
            o.min_size,
            self.bootstrap(data, segment, boot),
            evidence=rule.evidence(mean),
            null=null,
            rule_state=state,
        )


class ChangePoint(FusedDetector):
    """Steps in level: change points of one or several level profiles (ruptures, exact ``Dynp``/``Pelt``).

    Accepts ``level`` profiles only: a change or similarity profile marks a boundary with a
    one-layer peak or dip, which a step fit brackets with two boundaries (use ``evidence``).

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

    class Options(FusedOptions):
        fusion: Literal["stack", "sum"] = "stack"
        criterion: Literal["relative", "bic", "mbic", "penalty"] = "relative"
        min_relative_jump: float = Field(0.2, gt=0, description="δ of the 'relative' criterion.")
        pen: float | None = Field(None, gt=0, description="Penalty per boundary when criterion is 'penalty'.")

        @model_validator(mode="after")
        def _consistent(self) -> ChangePoint.Options:
            if (self.criterion == "penalty") != (self.pen is not None):
                raise ValueError("set `pen` exactly when criterion is 'penalty'")
            return self

    def prepare(self, mean: np.ndarray) -> np.ndarray:
        """Scale each column of a mean ``[L, k]`` profile (criterion-dependent) and apply the fusion weights."""
        weights = np.array(list(self.options.profiles.values()), dtype=float)
        weights = weights / weights.sum()
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

    def fit_fixed(self, mean: np.ndarray, n_boundaries: int) -> tuple[int, ...]:
        """The exact least-squares split of the prepared profile into ``n_boundaries`` boundaries."""
        return fit_fixed_k(self.prepare(mean), n_boundaries, min_size=self.options.min_size).boundaries

    def detect(self, profiles: dict[str, Profile], n_layers: int, boot: BootstrapConfig) -> Detection:
        keys, kinds, data = self.inputs(profiles, n_layers)
        not_levels = [f"{key} ({kind})" for key, kind in zip(keys, kinds) if kind != "level"]
        if not_levels:
            raise ValueError(
                f"changepoint fits steps in level, but {', '.join(not_levels)} marks a boundary with a one-layer "
                "peak or dip, which a step fit brackets with two boundaries; use the `evidence` detector, "
                "or declare `kinds: {<key>: level}` if the profile's level is what changes between segments"
            )
        return Detection(
            self.label,
            n_layers,
            self.segment(data.mean(axis=0)),
            keys,
            data,
            self.fit_fixed,
            self.segment,
            self.options.min_size,
            self.bootstrap(data, self.segment, boot),
            rule_state={},
        )

    def rules(self, n_layers: int, state: dict[str, Any]) -> Rules:
        """This detector's own fit and criterion: they depend on its options alone (``state`` is empty)."""
        return self.fit_fixed, self.segment


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
            self.label,
            n_layers,
            result.segmentation,
            tuple(self.options.profiles),
            note="dataset-level inputs: no per-stimulus resampling",
        )

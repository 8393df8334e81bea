"""What a run produced: one :class:`ConditionResult` per cell, and the :class:`RunResult` of the whole run."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mspgt_bench.detectors.plugins import Detection
from mspgt_bench.predictions.base import Outcome, PredictionContext
from mspgt_bench.run.plan import ResolvedModel
from mspgt_bench.signals.base import Profile


@dataclass
class ConditionResult:
    """Profiles, boundaries, effects and outcomes of one model under one condition (on one stimulus set)."""

    model: ResolvedModel
    condition: str
    profiles: list[Profile]
    outcomes: dict[str, Outcome]
    meta: dict[str, Any]
    detections: list[Detection] = field(default_factory=list)
    context: PredictionContext | None = None
    effects: list[dict[str, Any]] = field(default_factory=list)
    stimulus_set: str | None = None
    """Id of the stimulus set; None for a suite with a single ``stimuli:`` mapping."""

    @property
    def key(self) -> str:
        """'<model>/<condition>', plus '/<set>' with several stimulus sets: the key of its provenance."""
        return f"{self.model.name}/{self.condition}" + (f"/{self.stimulus_set}" if self.stimulus_set else "")


@dataclass
class RunResult:
    """The run directory, every cell's result and the tables written."""

    run_dir: Path
    results: list[ConditionResult]
    verdict_rows: list[dict[str, Any]]
    profile_rows: list[dict[str, Any]]
    boundary_rows: list[dict[str, Any]]
    effect_rows: list[dict[str, Any]]
    wall_s: float

"""One cell through the stages: profiles, boundaries, effects and outcomes; the unit every executor runs.

:func:`run_cell` takes a cell through :mod:`.profiles`, :mod:`.detection`, :mod:`.effects` and
:func:`.verdicts.predict`; :func:`run_model` runs every cell of one model on one
:class:`~mspgt_bench.run.profiles.AdapterPool` (what the local executor does). :func:`from_cache`
serves a cell from the run's cache alone, loading no model, so an executor can skip the cells a
previous run finished.
"""

from __future__ import annotations

import time
import traceback
from dataclasses import replace
from typing import Any

from mspgt_bench.models.base import ModelAdapter
from mspgt_bench.predictions.base import Outcome, PredictionContext
from mspgt_bench.run.detection import detect, profiles_by_key
from mspgt_bench.run.effects import cell_effects
from mspgt_bench.run.plan import Cell, Progress, ResolvedModel, RunContext
from mspgt_bench.run.profiles import AdapterPool, cell_profiles
from mspgt_bench.run.results import ConditionResult
from mspgt_bench.run.verdicts import per_model_predictions, predict


class NotCachedError(LookupError):
    """A cell served from the cache alone needed a model: part of it is not cached."""


class CacheOnlyPool(AdapterPool):
    """An adapter pool that loads nothing: being asked for an adapter means the cell is not (fully) cached."""

    def __init__(self, ctx: RunContext, model: ResolvedModel) -> None:
        super().__init__(ctx, model)
        self.missed = False

    def get(self, cell: Cell) -> ModelAdapter:
        self.missed = True
        raise NotCachedError(f"{cell.label} is not cached")


class RecordedProgress(Progress):
    """Progress that keeps its stage lines (to replay them elsewhere) and draws no batches."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def stage(self, text: str) -> None:
        self.lines.append(text)

    def replay(self, progress: Progress) -> None:
        """Say every kept line on ``progress``, in order."""
        for line in self.lines:
            progress.stage(line)


def run_model(ctx: RunContext, model: ResolvedModel) -> list[ConditionResult]:
    """Every cell of one model; its adapters load once and serve every stimulus set."""
    with AdapterPool(ctx, model) as pool:
        return [run_cell(ctx, cell, pool) for cell in ctx.cells(model)]


def run_cell(ctx: RunContext, cell: Cell, pool: AdapterPool) -> ConditionResult:
    """Profiles, boundaries, effects and outcomes of one cell; a failed capture is an ERROR result.

    The cell's ``timings`` gain the seconds this run spent detecting, on effects (computing them,
    or reading them from the cache) and predicting, beside the load and capture seconds of the
    pass that computed its profiles.

    A model without a family label is given its adapter's for this cell's effects and predictions;
    the shared model is left as it is (:func:`settle_families` labels it once every cell has run).

    With a :class:`CacheOnlyPool`, raises :class:`NotCachedError` as soon as the cell needs a model.
    """
    try:
        profiles, meta = cell_profiles(ctx, cell, pool)
    except NotCachedError:
        raise
    except Exception as exc:  # noqa: BLE001 -- a failing model or signal yields ERROR rows, not a crashed run
        return errored(ctx, cell, exc)
    model = cell.model
    family = model.family or meta.get("provenance", {}).get("family")
    started = time.perf_counter()
    detections, failures = detect(ctx, cell, profiles, meta)
    timings = {"detect_s": time.perf_counter() - started}
    if failures:
        meta = {**meta, "detector_errors": failures}
    started = time.perf_counter()
    effects = cell_effects(ctx, replace(cell, model=replace(model, family=family)), pool, detections)
    timings["effects_s"] = time.perf_counter() - started
    if isinstance(pool, CacheOnlyPool) and pool.missed:  # cell_effects reports a failed load as its error
        raise NotCachedError(f"{cell.label}: its effects are not cached")
    context = PredictionContext(
        model.name,
        family or "unknown",
        cell.condition,
        meta.get("provenance", {}).get("n_layers", 0),
        profiles_by_key(profiles),
        ctx.boot,
        detections,
        detector_errors=failures,
        signal_errors=meta.get("signal_errors", {}),
        effects=effects.by_intervention(),
        effects_error=effects.error,
        effects_skipped=effects.skipped(ctx, cell),
    )
    unsupported = effects.unsupported()
    for label, reason in unsupported.items():
        ctx.progress.stage(f"{cell.label}: {label} not run: {reason}")
    started = time.perf_counter()
    outcomes = predict(ctx, cell, context)
    timings["predict_s"] = time.perf_counter() - started
    meta = {
        **meta,
        "timings": {**meta.get("timings", {}), **timings},
        **({"interventions_unsupported": unsupported} if unsupported else {}),
        **({"intervention_error": effects.error} if effects.error else {}),
    }
    return ConditionResult(
        model,
        cell.condition,
        profiles,
        outcomes,
        meta,
        list(detections.values()),
        context,
        effects.rows,
        cell.stimulus_set.id,
    )


def settle_families(results: list[ConditionResult]) -> None:
    """Give each model without a family label the family its first result's adapter reported.

    Results of one model share its :class:`~mspgt_bench.run.plan.ResolvedModel`, so every row of
    the model carries that family; cells never change it while they run, so cache keys do not
    depend on the order cells ran in.
    """
    for result in results:
        if result.model.family is None:
            result.model.family = result.meta.get("provenance", {}).get("family")


def from_cache(ctx: RunContext, cell: Cell) -> ConditionResult | None:
    """The cell's result from the run's cache alone (detection and predictions recomputed), or ``None``.

    ``None`` when any part of the cell would need its model; its progress lines are then dropped,
    so a cell computed elsewhere afterwards does not also report a cache hit here.
    """
    progress = RecordedProgress()
    quiet = replace(ctx, progress=progress)
    try:
        result = run_cell(quiet, cell, CacheOnlyPool(quiet, cell.model))
    except NotCachedError:
        return None
    progress.replay(ctx.progress)
    return result


def errored(ctx: RunContext, cell: Cell, exc: BaseException) -> ConditionResult:
    """The ERROR result of a cell that failed with ``exc``: every per-model prediction ERROR with the reason."""
    reason = f"{type(exc).__name__}: {exc}"
    outcomes = {spec.id: Outcome("ERROR", reason=reason) for spec in per_model_predictions(ctx)}
    meta: dict[str, Any] = {"error": reason, "traceback": "".join(traceback.format_exception(exc))}
    return ConditionResult(
        cell.model, cell.condition, profiles=[], outcomes=outcomes, meta=meta, stimulus_set=cell.stimulus_set.id
    )

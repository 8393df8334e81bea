"""Execute a suite: plan, then each cell through profiles, detection, effects and predictions, then the outputs.

Data flow (one module per stage)::

    plan.plan_run            suite + options -> RunContext (models, stimulus sets, conditions)
    profiles.cell_profiles   cell -> profiles (one capture pass, or the cache)
    detection.detect         profiles -> boundaries per detector
    effects.cell_effects     cell + boundaries -> intervention / generation effects (or the cache)
    verdicts.predict         PredictionContext -> outcome per prediction
    verdicts.verdict_rows    every cell -> verdict rows (cross-model predictions included)
    outputs.write_outputs    rows -> results.json, CSVs, figures

A failing model, signal or intervention yields ERROR rows with the reason, never a crashed run.
"""

from __future__ import annotations

import time
import traceback
from typing import Any

from mspgt_bench.corpora import flag_corpus_sensitivity
from mspgt_bench.predictions.base import Outcome, PredictionContext
from mspgt_bench.run.detection import detect, profiles_by_key
from mspgt_bench.run.effects import cell_effects
from mspgt_bench.run.outputs import tables, write_outputs
from mspgt_bench.run.plan import Cell, Progress, ResolvedModel, RunContext, RunOptions, plan_run
from mspgt_bench.run.profiles import AdapterPool, cell_profiles
from mspgt_bench.run.results import ConditionResult, RunResult
from mspgt_bench.run.rundir import run_lock
from mspgt_bench.run.verdicts import per_model_predictions, predict, verdict_rows
from mspgt_bench.suite.loader import LoadedSuite


def run_suite(loaded: LoadedSuite, options: RunOptions, progress: Progress | None = None) -> RunResult:
    """Run every model of the suite (or of ``options.models``) and write the run directory."""
    started = time.perf_counter()
    ctx = plan_run(loaded, options, progress or Progress())
    with run_lock(ctx.run_dir):  # a second run into the same directory fails here, at once
        results = [result for model in ctx.models for result in run_model(ctx, model)]
        verdicts = verdict_rows(ctx, results)
        flag_corpus_sensitivity(verdicts)
        rows = tables(results, verdicts)
        wall = time.perf_counter() - started
        write_outputs(ctx, results, rows, wall)
    return RunResult(
        ctx.run_dir, results, rows["verdicts"], rows["profiles"], rows["boundaries"], rows["effects"], wall
    )


def run_model(ctx: RunContext, model: ResolvedModel) -> list[ConditionResult]:
    """Every cell of one model; its adapters load once and serve every stimulus set."""
    with AdapterPool(ctx, model) as pool:
        return [run_cell(ctx, cell, pool) for cell in ctx.cells(model)]


def run_cell(ctx: RunContext, cell: Cell, pool: AdapterPool) -> ConditionResult:
    """Profiles, boundaries, effects and outcomes of one cell; a failed capture is an ERROR result."""
    try:
        profiles, meta = cell_profiles(ctx, cell, pool)
    except Exception as exc:  # a failing model or signal yields ERROR rows, not a crashed run
        return _errored(ctx, cell, exc)
    model = cell.model
    if model.family is None:
        model.family = meta.get("provenance", {}).get("family")
    detections, failures = detect(ctx, profiles, meta)
    if failures:
        meta = {**meta, "detector_errors": failures}
    effects = cell_effects(ctx, cell, pool, detections)
    context = PredictionContext(
        model.name,
        model.family or "unknown",
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
    meta = {
        **meta,
        **({"interventions_unsupported": unsupported} if unsupported else {}),
        **({"intervention_error": effects.error} if effects.error else {}),
    }
    return ConditionResult(
        model,
        cell.condition,
        profiles,
        predict(ctx, context),
        meta,
        list(detections.values()),
        context,
        effects.rows,
        cell.stimulus_set.id,
    )


def _errored(ctx: RunContext, cell: Cell, exc: Exception) -> ConditionResult:
    reason = f"{type(exc).__name__}: {exc}"
    outcomes = {spec.id: Outcome("ERROR", reason=reason) for spec in per_model_predictions(ctx)}
    meta: dict[str, Any] = {"error": reason, "traceback": traceback.format_exc()}
    return ConditionResult(
        cell.model, cell.condition, profiles=[], outcomes=outcomes, meta=meta, stimulus_set=cell.stimulus_set.id
    )

"""Stage 5, verdicts: every prediction on every cell, then the cross-model ones, then the rows.

A per-model prediction reads one cell's :class:`PredictionContext`; a cross-model prediction
reads every model's context under one condition and stimulus set and gives one verdict per
family group. A prediction that raises is an ERROR cell with the reason, one that does not
apply is a SKIP, never a crashed run. A trained row lists its controls' verdicts, and a PASS
that a control also passes is flagged non-discriminative: it needs neither what training put
into the model nor the text's order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mspgt_bench.corpora import set_fields
from mspgt_bench.plugins import registry
from mspgt_bench.predictions.base import CrossModelPrediction, NotApplicableError, Outcome, PredictionContext
from mspgt_bench.run.plan import TRAINED, RunContext
from mspgt_bench.run.results import ConditionResult
from mspgt_bench.suite.schema import PredictionSpec


def is_cross_model(spec: PredictionSpec) -> bool:
    """Whether the prediction compares models (evaluated once all cells ran) rather than reading one cell."""
    return issubclass(registry("predictions").get(spec.name), CrossModelPrediction)


def per_model_predictions(ctx: RunContext) -> list[PredictionSpec]:
    return [spec for spec in ctx.suite.predictions if not is_cross_model(spec)]


def predict(ctx: RunContext, context: PredictionContext) -> dict[str, Outcome]:
    """Prediction id -> outcome of every per-model prediction on one cell."""
    outcomes = {}
    for spec in per_model_predictions(ctx):
        try:
            outcomes[spec.id] = registry("predictions").get(spec.name)(spec).evaluate(context)
        except Exception as exc:  # a raising plugin is an ERROR cell, never a crashed run
            outcomes[spec.id] = failed(exc)
    return outcomes


def failed(exc: Exception) -> Outcome:
    """The outcome of a prediction that raised: SKIP when it does not apply, else ERROR with the reason."""
    if isinstance(exc, NotApplicableError):
        return Outcome("SKIP", reason=str(exc))
    return Outcome("ERROR", reason=f"{type(exc).__name__}: {exc}")


@dataclass
class VerdictCell:
    """One verdict: a prediction's outcome for one model (or one family group) under one condition."""

    model: str
    family: str | None
    size: str | None
    provenance: dict[str, Any]
    condition: str
    spec: PredictionSpec
    outcome: Outcome
    stimulus_set: str | None = None


def verdict_rows(ctx: RunContext, results: list[ConditionResult]) -> list[dict[str, Any]]:
    """One row per verdict, in run order; trained rows carry their controls' statuses."""
    cells = _verdict_cells(ctx, results)
    controls_of: dict[tuple[str, str | None, str], dict[str, str]] = {}
    for cell in cells:
        if cell.condition != TRAINED:
            key = (cell.model, cell.stimulus_set, cell.spec.id)
            controls_of.setdefault(key, {})[cell.condition] = cell.outcome.status
    rows = []
    for cell in cells:
        row = _row(ctx, cell)
        if cell.condition == TRAINED:
            controls = controls_of.get((cell.model, cell.stimulus_set, cell.spec.id), {})
            row["controls"] = controls
            row["non_discriminative"] = cell.outcome.status == "PASS" and "PASS" in controls.values()
        rows.append(row)
    return rows


def _verdict_cells(ctx: RunContext, results: list[ConditionResult]) -> list[VerdictCell]:
    """Per-model cells, then the cross-model predictions evaluated on every condition's models."""
    cells = [
        VerdictCell(
            r.model.name,
            r.model.family,
            r.model.size,
            r.meta.get("provenance", {}),
            r.condition,
            spec,
            r.outcomes[spec.id],
            r.stimulus_set,
        )
        for r in results
        for spec in ctx.suite.predictions
        if spec.id in r.outcomes
    ]
    for spec in ctx.suite.predictions:
        if not is_cross_model(spec):
            continue
        for condition, stimulus_set in dict.fromkeys((r.condition, r.stimulus_set) for r in results):
            contexts = [
                r.context
                for r in results
                if r.condition == condition and r.stimulus_set == stimulus_set and r.context is not None
            ]
            try:
                outcomes = registry("predictions").get(spec.name)(spec).evaluate_many(contexts)
            except Exception as exc:  # a raising plugin is an ERROR cell, never a crashed run
                outcomes = {"all": failed(exc)}
            for group, outcome in outcomes.items():
                cells.append(VerdictCell(f"family:{group}", group, None, {}, condition, spec, outcome, stimulus_set))
    return cells


def _row(ctx: RunContext, cell: VerdictCell) -> dict[str, Any]:
    spec, outcome = cell.spec, cell.outcome
    return {
        "model": cell.model,
        "family": cell.family,
        "size": cell.size,
        "backend": cell.provenance.get("backend"),
        "dtype": cell.provenance.get("dtype"),
        "condition": cell.condition,
        **set_fields(cell.stimulus_set),
        "suite": ctx.suite.suite.name,
        "suite_version": ctx.suite.suite.version,
        "suite_sha256": ctx.loaded.sha256,
        "prediction": spec.id,
        "prediction_plugin": spec.name,
        "statistic": spec.statistic,
        "value": outcome.value,
        "ci_low": outcome.ci_low,
        "ci_high": outcome.ci_high,
        "confidence": spec.confidence,
        "threshold": spec.threshold,
        "direction": spec.direction,
        "n": outcome.n,
        "status": outcome.status,
        "reason": outcome.reason,
        "details": outcome.details,
        "seed": ctx.seed,
    }

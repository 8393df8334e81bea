"""Stage 5, verdicts: every prediction on every cell, then the cross-model ones, then the rows.

A per-model prediction reads one cell's :class:`PredictionContext`; a cross-model prediction
reads every model's context under one condition and stimulus set and gives one verdict per
family group. A prediction that raises is an ERROR cell with the reason, one that does not
apply is a SKIP, never a crashed run. A trained row lists its controls' verdicts, and a PASS
that a control also passes is flagged non-discriminative: it needs neither what training put
into the model nor the text's order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from mspgt_bench.corpora import set_fields
from mspgt_bench.plugins import registry
from mspgt_bench.predictions.base import CrossModelPrediction, NotApplicableError, Outcome, PredictionContext
from mspgt_bench.run.cache import cell_prefix, read_entry, stage_path
from mspgt_bench.run.plan import TRAINED, Cell, RunContext
from mspgt_bench.run.results import ConditionResult
from mspgt_bench.run.saved import context_content, load_outcomes, save_outcomes
from mspgt_bench.suite.schema import PredictionSpec


def is_cross_model(spec: PredictionSpec) -> bool:
    """Whether the prediction compares models (evaluated once all cells ran) rather than reading one cell."""
    return issubclass(registry("predictions").get(spec.name), CrossModelPrediction)


def per_model_predictions(ctx: RunContext) -> list[PredictionSpec]:
    return [spec for spec in ctx.suite.predictions if not is_cross_model(spec)]


def predict(ctx: RunContext, cell: Cell, context: PredictionContext) -> dict[str, Outcome]:
    """Prediction id -> outcome of every per-model prediction on one cell; read from the cache when unchanged."""
    specs = per_model_predictions(ctx)

    def evaluate() -> dict[str, Outcome]:
        outcomes = {}
        for spec in specs:
            try:
                outcomes[spec.id] = registry("predictions").get(spec.name)(spec).evaluate(context)
            except Exception as exc:  # a raising plugin is an ERROR cell, never a crashed run
                outcomes[spec.id] = failed(exc)
        return outcomes

    return _outcomes(ctx, cell.label, cell_prefix(cell), specs, context_content(context), evaluate)


def _outcomes(
    ctx: RunContext,
    where: str,
    prefix: str,
    specs: list[PredictionSpec],
    inputs: Any,
    evaluate: Callable[[], dict[str, Outcome]],
) -> dict[str, Outcome]:
    """``evaluate()``, or the outcomes it gave before on the same ``inputs`` and specs.

    ``where`` names them in progress lines, ``prefix`` begins the entry's file name. ``inputs``
    ``None`` (a detection that is not savable), or inputs without an exact digest (a plugin's
    opaque object), are always evaluated. Outcomes with an ERROR are not saved, so a fixed plugin is tried again.
    """
    plugins = [registry("predictions").get(spec.name) for spec in specs]
    path = (
        None
        if inputs is None
        else stage_path(ctx, prefix, "outcomes", {"predictions": specs, "inputs": inputs}, plugins)
    )
    if path is None:
        return evaluate()
    saved = read_entry(ctx, where, load_outcomes, path)
    if saved is not None:
        return saved
    outcomes = evaluate()
    if all(outcome.status != "ERROR" for outcome in outcomes.values()):
        save_outcomes(path, outcomes)
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
            contents = [context_content(c) for c in contexts]
            where = condition + (f" · {stimulus_set}" if stimulus_set else "")
            outcomes = _outcomes(
                ctx,
                f"{spec.id} on {where}",
                f"cross-{spec.id}-{condition}" + (f"-{stimulus_set}" if stimulus_set else ""),
                [spec],
                None if None in contents else contents,
                partial(_evaluate_many, spec, contexts),
            )
            for group, outcome in outcomes.items():
                cells.append(VerdictCell(f"family:{group}", group, None, {}, condition, spec, outcome, stimulus_set))
    return cells


def _evaluate_many(spec: PredictionSpec, contexts: list[PredictionContext]) -> dict[str, Outcome]:
    """A cross-model prediction's outcome per group; one ERROR outcome when it raises."""
    try:
        return registry("predictions").get(spec.name)(spec).evaluate_many(contexts)
    except Exception as exc:  # a raising plugin is an ERROR cell, never a crashed run
        return {"all": failed(exc)}


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

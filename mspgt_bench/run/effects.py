"""Stage 4, effects: the suite's interventions and generation experiments on one cell.

Under a null control the interventions run on the control (random-weight twin, shuffled text),
so causal predictions get their own control verdicts; generation experiments do so only with
``controls: true``. Segments named by ``segments_from`` are resolved from the cell's detections
before anything runs, so they enter the cache key. Words: a *condition* is how the model is
run (trained or a control); a *target* is one intervened pass inside it (``delete[0:7]``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pydantic import BaseModel

from mspgt_bench.atomic import write_json
from mspgt_bench.corpora import set_fields
from mspgt_bench.detectors.plugins import Detection, resolve_segments
from mspgt_bench.interventions.generation import GenerationOptions, generation_effects
from mspgt_bench.interventions.sweep import intervention_class, sweep
from mspgt_bench.models.base import ModelAdapter
from mspgt_bench.predictions.base import TargetEffects
from mspgt_bench.results import load_effects
from mspgt_bench.run.cache import effects_path, read_entry
from mspgt_bench.run.plan import TRAINED, Cell, RunContext
from mspgt_bench.run.profiles import AdapterPool, condition_stimuli
from mspgt_bench.signals.base import BootstrapConfig
from mspgt_bench.stimuli.base import Stimulus
from mspgt_bench.suite.schema import ComponentSpec, GenerationSpec

GENERATION_ON_TRAINED_ONLY = (
    "generation ran on the trained model only (set `controls: true` to generate under the controls)"
)


@dataclass
class CellEffects:
    """What the interventions of one cell produced: tidy rows, per-stimulus records per target, or an error."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    """Rows of ``effects.csv`` (one per intervention, target and metric)."""
    records: list[dict[str, Any]] = field(default_factory=list)
    """Per target: ``{intervention, target, first_layer, last_layer, values: {metric: per-stimulus}}``;
    an intervention the adapter cannot run is ``{intervention, unsupported: reason}``."""
    error: str | None = None

    def by_intervention(self) -> dict[str, list[TargetEffects]]:
        """Intervention (or generation) label -> its targets in run order, as predictions read them."""
        effects: dict[str, list[TargetEffects]] = {}
        for record in self.records:
            if "unsupported" in record:
                continue
            values = {metric: np.asarray(v, dtype=float) for metric, v in record["values"].items()}
            effects.setdefault(record["intervention"], []).append(
                TargetEffects(record["target"], record["first_layer"], record["last_layer"], values)
            )
        return effects

    def unsupported(self) -> dict[str, str]:
        """Intervention label -> why the adapter could not run it."""
        return {r["intervention"]: r["unsupported"] for r in self.records if "unsupported" in r}

    def skipped(self, ctx: RunContext, cell: Cell) -> dict[str, str]:
        """Label -> why it did not run on this cell (its predictions SKIP with the reason)."""
        off = {g.id: GENERATION_ON_TRAINED_ONLY for g in ctx.suite.generation if not _runs_on(g, cell)}
        return off | self.unsupported()


def cell_effects(ctx: RunContext, cell: Cell, pool: AdapterPool, detections: dict[str, Detection]) -> CellEffects:
    """The cell's intervention and generation effects: cached when the key matches, else computed and cached."""
    suite = ctx.suite
    generation = [g for g in suite.generation if _runs_on(g, cell)]
    if not suite.interventions and not generation:
        return CellEffects()
    try:
        specs = [_resolve_targets(spec, detections, ctx.seed) for spec in suite.interventions]
        segments = {
            g.id: resolve_segments(g.id, g.segments_from, g.n_segments, g.segments, detections) for g in generation
        }
    except ValueError as exc:
        return CellEffects(error=str(exc))
    generation = [
        g.model_copy(update={"options": with_run_seed(g.options, GenerationOptions, ctx.seed)}) for g in generation
    ]
    content = {"interventions": specs, "generation": [g.model_dump() for g in generation], "segments": segments}
    path = effects_path(ctx, cell, content)
    cached = read_entry(ctx, cell.label, load_effects, path)
    if cached is not None:
        ctx.progress.stage(f"{cell.label}: cached intervention effects reused")
        return CellEffects(*cached)
    try:
        adapter = pool.get(cell)
        seen = condition_stimuli(ctx, cell)
        labels = ", ".join([s.label for s in suite.interventions] + [g.id for g in generation])
        ctx.progress.stage(f"{cell.label}: interventions ({labels})")
        max_tokens = cell.stimulus_set.spec.max_tokens
        rows, records = _sweep_effects(ctx, adapter, seen, specs, max_tokens) if specs else ([], [])
        for g in generation:
            more_rows, more_records = _generation_effects(adapter, seen[: g.n_prompts], g, segments[g.id], ctx.boot)
            rows, records = rows + more_rows, records + more_records
    except Exception as exc:  # a failing intervention is reported, the rest of the run goes on
        return CellEffects(error=f"{type(exc).__name__}: {exc}")
    head = {
        "model": cell.model.name,
        "family": cell.model.family,
        "condition": cell.condition,
        **set_fields(cell.stimulus_set.id),
    }
    rows = [{**head, "target": row["target"], **row} for row in rows]  # a key keeps its first place
    write_json(path, {"rows": rows, "per_stimulus": records})
    return CellEffects(rows, records)


def _runs_on(spec: GenerationSpec, cell: Cell) -> bool:
    return cell.condition == TRAINED or spec.controls


def with_run_seed(options: dict[str, Any], schema: type[BaseModel], seed: int) -> dict[str, Any]:
    """``options`` with the run's seed where ``schema`` takes a ``seed`` the suite left unset, so ``--seed`` reaches it."""
    if "seed" in schema.model_fields and "seed" not in options:
        return {**options, "seed": seed}
    return options


def _resolve_targets(spec: ComponentSpec, detections: dict[str, Detection], seed: int) -> dict[str, Any]:
    """An intervention spec as the sweep takes it: ``segments_from`` replaced by the segments that detector
    found, and the run's seed where the plugin takes one the suite did not set."""
    dumped = spec.model_dump()
    options = with_run_seed(dict(dumped.get("options") or {}), intervention_class(spec.name).Options, seed)
    detector = options.pop("segments_from", None)
    if detector is not None:
        n_segments = options.pop("n_segments", None)
        options["segments"] = resolve_segments(spec.label, detector, n_segments, None, detections)
    return {**dumped, "options": options}


def _sweep_effects(
    ctx: RunContext, adapter: ModelAdapter, stimuli: list[Stimulus], specs: list[dict[str, Any]], max_tokens: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Rows and per-stimulus records of the suite's interventions (resumed from cached residuals)."""
    result = sweep(adapter, stimuli, specs, ctx.suite.run.batch_size, max_tokens, ctx.boot)
    records = [
        _record(label, target.label, target.layers, result.per_stimulus.get((label, target.label), {}))
        for label, targets in result.targets.items()
        for target in targets
    ]
    records += [{"intervention": label, "unsupported": reason} for label, reason in result.unsupported.items()]
    return result.rows, records


def _generation_effects(
    adapter: ModelAdapter,
    prompts: list[Stimulus],
    spec: GenerationSpec,
    segments: list[tuple[int, int]],
    boot: BootstrapConfig,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Rows and per-prompt records of one generation experiment.

    Per prompt, each read-out ``m`` gives ``delta_<m>`` (intervened − clean) and ``abs_delta_<m>``
    (its size, for predictions that ask which read-out an intervention moves most).
    """
    result = generation_effects(adapter, prompts, segments, spec.options, boot)
    order = {p.id: i for i, p in enumerate(prompts)}
    values: dict[str, dict[str, np.ndarray]] = {}
    for item in result.per_prompt:
        column = values.setdefault(item["target"], {}).setdefault(item["metric"], np.full(len(prompts), np.nan))
        column[order[item["stimulus"]]] = item["value"]
    layers = {row["target"]: tuple(range(row["layer"], row["layer_end"] + 1)) for row in result.rows}
    records = []
    for label, span in layers.items():
        deltas = {metric: values[label][metric] - clean for metric, clean in values["clean"].items()}
        effects = {f"delta_{m}": d for m, d in deltas.items()} | {
            f"abs_delta_{m}": np.abs(d) for m, d in deltas.items()
        }
        records.append(_record(spec.id, label, span, effects))
    rows = [{**row, "plugin": row["intervention"], "intervention": spec.id} for row in result.rows]
    return rows, records


def _record(intervention: str, target: str, layers: tuple[int, ...], values: dict[str, Any]) -> dict[str, Any]:
    return {
        "intervention": intervention,
        "target": target,
        "first_layer": min(layers) if layers else None,
        "last_layer": max(layers) if layers else None,
        "values": values,
    }

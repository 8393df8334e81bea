"""Execute a suite: for each model and condition, one capture pass, then the predictions.

Conditions: ``trained`` (the model as named) and the null controls the suite enables,
``random_weights`` (same architecture, seeded random weights) and ``shuffled_tokens`` (same
model, each stimulus' words shuffled). A prediction that also PASSes on a control is flagged
non-discriminative: its PASS does not need what training put into the model or the text's order.
"""

from __future__ import annotations

import hashlib
import json
import platform
import random
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mspgt_bench import __version__
from mspgt_bench.capture import capture_pass
from mspgt_bench.corpora import StimulusSet, condition_label, flag_corpus_sensitivity, load_sets, set_fields
from mspgt_bench.detectors.plugins import Detection
from mspgt_bench.models.base import ModelAdapter
from mspgt_bench.plugins import registry
from mspgt_bench.predictions.base import (
    ConditionEffects,
    CrossModelPrediction,
    NotApplicableError,
    Outcome,
    PredictionContext,
)
from mspgt_bench.results import SCHEMA_VERSION, load_profiles, save_profiles, write_json
from mspgt_bench.signals.base import BootstrapConfig, Profile
from mspgt_bench.stimuli.base import Stimulus
from mspgt_bench.stimuli.perturb import token_shuffle
from mspgt_bench.suite.loader import LoadedSuite
from mspgt_bench.suite.schema import GenerationSpec, ModelSpec, PredictionSpec, StimuliSpec

TRAINED = "trained"
CONTROLS = ("random_weights", "shuffled_tokens")


@dataclass
class RunOptions:
    """Command-line overrides of a suite."""

    out: Path | None = None
    models: list[str] = field(default_factory=list)
    limit: int | None = None
    seed: int | None = None


@dataclass
class ResolvedModel:
    """A suite's model spec joined with the zoo entry it names, if any."""

    name: str
    adapter: str
    family: str | None
    size: str | None
    args: dict[str, Any]

    def slug(self) -> str:
        return "".join(c if c.isalnum() or c in "-_." else "_" for c in self.name)


@dataclass
class ConditionResult:
    """Profiles and outcomes of one model under one condition."""

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
    run_dir: Path
    results: list[ConditionResult]
    verdict_rows: list[dict[str, Any]]
    profile_rows: list[dict[str, Any]]
    boundary_rows: list[dict[str, Any]]
    effect_rows: list[dict[str, Any]]
    wall_s: float


class Progress:
    """Callbacks the CLI uses to draw progress; the defaults do nothing."""

    def stage(self, text: str) -> None: ...

    def start_batches(self, label: str, total: int) -> Callable[[int], None]:
        return lambda _n: None

    def end_batches(self) -> None: ...


def resolve_model(spec: ModelSpec) -> ResolvedModel:
    """Fill a model spec from the zoo entry of the same name (suite values win)."""
    zoo = registry("offline_models")
    if spec.name in zoo:
        entry = zoo.get(spec.name)
        adapter = spec.adapter if "adapter" in spec.model_fields_set else entry.adapter
        return ResolvedModel(
            spec.name, adapter, spec.family or entry.family, spec.size or entry.size, {**entry.args, **spec.args}
        )
    if spec.adapter == "hf" and "/" not in spec.name and not Path(spec.name).is_dir():
        # neither a zoo name, nor a folder, nor an "org/name" hub id: most likely a typo
        zoo.get(spec.name)
    args = {"model": spec.name, **spec.args} if spec.adapter == "hf" else dict(spec.args)
    return ResolvedModel(spec.name, spec.adapter, spec.family, spec.size, args)


def run_suite(loaded: LoadedSuite, options: RunOptions, progress: Progress | None = None) -> RunResult:
    """Run every model of the suite (or of ``options.models``) and write the run directory."""
    started = time.perf_counter()
    progress = progress or Progress()
    suite = loaded.suite
    seed = suite.run.seed if options.seed is None else options.seed
    specs = [ModelSpec(name=name) for name in options.models] or suite.models
    models = [resolve_model(spec) for spec in specs]  # an unknown model name fails here, before any write
    run_dir = options.out or Path(suite.output.dir) / suite.suite.name
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "suite.yaml").write_text(_suite_text(loaded))
    boot = BootstrapConfig(suite.bootstrap.n_boot, 0.95, suite.bootstrap.method, seed)
    sets = load_sets(suite, options.limit)
    for stimulus_set in sets:
        progress.stage(stimulus_set.describe())
    conditions = [TRAINED] + [c for c in CONTROLS if getattr(suite.controls, c)]

    results: list[ConditionResult] = []
    for model in models:
        results += _run_model(loaded, model, conditions, sets, seed, boot, run_dir, progress)

    verdict_rows = _verdict_rows(loaded, results, seed)
    flag_corpus_sensitivity(verdict_rows)
    profile_rows = [
        {"model": r.model.name, "family": r.model.family, "condition": r.condition, **set_fields(r.stimulus_set), **row}
        for r in results
        for p in r.profiles
        for row in p.rows()
    ]
    boundary_rows = [
        {"model": r.model.name, "family": r.model.family, "condition": r.condition, **set_fields(r.stimulus_set), **row}
        for r in results
        for d in r.detections
        for row in d.rows()
    ]
    effect_rows = [row for r in results for row in r.effects]
    wall = time.perf_counter() - started
    tables = {"verdicts": verdict_rows, "boundaries": boundary_rows, "profiles": profile_rows, "effects": effect_rows}
    _write_outputs(loaded, run_dir, results, tables, seed, wall)
    return RunResult(run_dir, results, verdict_rows, profile_rows, boundary_rows, effect_rows, wall)


def _suite_text(loaded: LoadedSuite) -> str:
    import yaml

    return f"# merged from {', '.join(str(f) for f in loaded.files)}; sha256 {loaded.sha256}\n" + yaml.safe_dump(
        loaded.data, sort_keys=False
    )


def _cache_key(
    loaded: LoadedSuite, model: ResolvedModel, condition: str, stimuli: StimuliSpec, n_stimuli: int, seed: int
) -> str:
    suite = loaded.suite
    content = {
        "version": __version__,
        "model": model.__dict__,
        "condition": condition,
        "stimuli": stimuli.model_dump(),  # a listed set's dump includes its id
        "n_stimuli": n_stimuli,
        "signals": [s.model_dump() for s in suite.signals],
        "bootstrap": suite.bootstrap.model_dump(),
        "batch_size": suite.run.batch_size,
        "seed": seed,
    }
    return hashlib.sha256(json.dumps(content, sort_keys=True, default=str).encode()).hexdigest()[:20]


def _run_model(
    loaded: LoadedSuite,
    model: ResolvedModel,
    conditions: list[str],
    sets: list[StimulusSet],
    seed: int,
    boot: BootstrapConfig,
    run_dir: Path,
    progress: Progress,
) -> list[ConditionResult]:
    """Every (stimulus set, condition) of one model; its adapters load once and serve all sets."""
    out = []
    adapters: dict[bool, ModelAdapter] = {}
    try:
        for stimulus_set, condition in ((s, c) for s in sets for c in conditions):
            stimuli, where = stimulus_set.stimuli, condition_label(model.name, condition, stimulus_set.id)
            key = _cache_key(loaded, model, condition, stimulus_set.spec, len(stimuli), seed)
            stem = run_dir / "cache" / f"{model.slug()}-{condition}{stimulus_set.suffix}-{key}"
            cached = load_profiles(stem)
            if cached is not None:
                progress.stage(f"{where}: cached profiles reused")
                profiles, meta = cached
                meta = {**meta, "cached": True}
            else:
                try:
                    profiles, meta = _profile(loaded, model, condition, stimulus_set, seed, boot, adapters, progress)
                except Exception as exc:  # a failing model or signal yields ERROR rows, not a crashed run
                    out.append(_errored(model, condition, loaded, exc, stimulus_set.id))
                    continue
                save_profiles(stem, profiles, meta)
            if model.family is None:
                model.family = meta.get("provenance", {}).get("family")
            detections, failures = _detect(loaded, profiles, meta, boot)
            if failures:
                meta = {**meta, "detector_errors": failures}
            context = _context(model, condition, profiles, detections, meta, boot)
            effects, per_stimulus, error = _effects(
                loaded, model, condition, stimulus_set, seed, boot, adapters, detections, run_dir, progress
            )
            context.effects, context.effects_error = _condition_effects(per_stimulus), error
            context.effects_skipped = {
                g.id: "generation ran on the trained model only (set `controls: true` to generate under the controls)"
                for g in loaded.suite.generation
                if condition != TRAINED and not g.controls
            }
            unsupported = {r["intervention"]: r["unsupported"] for r in per_stimulus if "unsupported" in r}
            context.effects_skipped |= unsupported
            if unsupported:
                meta = {**meta, "interventions_unsupported": unsupported}
                for label, reason in unsupported.items():
                    progress.stage(f"{where}: {label} not run: {reason}")
            if error:
                meta = {**meta, "intervention_error": error}
            outcomes = _predict(loaded, context)
            out.append(
                ConditionResult(
                    model, condition, profiles, outcomes, meta, list(detections.values()), context, effects,
                    stimulus_set.id,
                )
            )
    finally:
        for adapter in adapters.values():
            adapter.close()
    return out


def _profile(
    loaded: LoadedSuite,
    model: ResolvedModel,
    condition: str,
    stimulus_set: StimulusSet,
    seed: int,
    boot: BootstrapConfig,
    adapters: dict[bool, ModelAdapter],
    progress: Progress,
) -> tuple[list[Profile], dict[str, Any]]:
    suite = loaded.suite
    timings: dict[str, float] = {}
    started = time.perf_counter()
    adapter = _adapter(model, condition == "random_weights", seed, adapters, progress)
    timings["load_s"] = time.perf_counter() - started
    stimuli = _condition_stimuli(condition, stimulus_set.stimuli, seed)
    signals = [
        registry("signals").get(spec.name)(adapter.n_layers, label=spec.label, **spec.options) for spec in suite.signals
    ]
    started = time.perf_counter()
    advance = progress.start_batches(condition_label(model.name, condition, stimulus_set.id), len(stimuli))
    max_tokens = stimulus_set.spec.max_tokens
    try:
        calls = capture_pass(
            adapter, stimuli, signals, batch_size=suite.run.batch_size, max_tokens=max_tokens, on_batch=advance
        )
    finally:
        progress.end_batches()
    timings["capture_s"] = time.perf_counter() - started
    started = time.perf_counter()
    profiles = [p for signal in signals for p in signal.profiles(boot)]
    timings["reduce_s"] = time.perf_counter() - started
    meta = {
        "provenance": adapter.provenance(),
        "n_stimuli": len(stimuli),
        "forward_calls": calls,
        "timings": timings,
        "cached": False,
    }
    return profiles, meta


def _condition_stimuli(condition: str, stimuli: list[Stimulus], seed: int) -> list[Stimulus]:
    """The stimuli as a condition sees them: words shuffled within each stimulus under ``shuffled_tokens``."""
    if condition != "shuffled_tokens":
        return stimuli
    rng = random.Random(seed)
    return [token_shuffle(s, rng) for s in stimuli]


def _adapter(
    model: ResolvedModel, random_weights: bool, seed: int, adapters: dict[bool, ModelAdapter], progress: Progress
) -> ModelAdapter:
    """The model's adapter (or its random-weight twin), loaded once per run."""
    if random_weights not in adapters:
        progress.stage(f"loading {model.name}{' (random weights)' if random_weights else ''}")
        args = {**model.args, **({"random_weights": True, "seed": seed} if random_weights else {})}
        adapters[random_weights] = registry("model_adapters").get(model.adapter)(**args)
    return adapters[random_weights]


def _effects(
    loaded: LoadedSuite,
    model: ResolvedModel,
    condition: str,
    stimulus_set: StimulusSet,
    seed: int,
    boot: BootstrapConfig,
    adapters: dict[bool, ModelAdapter],
    detections: dict[str, Detection],
    run_dir: Path,
    progress: Progress,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], str | None]:
    """Intervention and generation effects of one model under one condition, cached like profiles.

    Under a null control the interventions run on the control (random-weight twin, shuffled
    text), so causal predictions get their own control verdicts; generation experiments do so
    only with ``controls: true``. Returns (tidy rows, per-stimulus records, error or None).
    Segments named by ``segments_from`` are resolved from this condition's detections first,
    so they enter the cache key.
    """
    suite = loaded.suite
    generation = [g for g in suite.generation if condition == TRAINED or g.controls]
    if not suite.interventions and not generation:
        return [], [], None
    try:
        specs = [_resolve_targets(spec.model_dump(), detections) for spec in suite.interventions]
        segments = {g.id: _segments(g.id, g.segments_from, g.n_segments, g.segments, detections) for g in generation}
    except ValueError as exc:
        return [], [], str(exc)
    content = {"interventions": specs, "generation": [g.model_dump() for g in generation], "segments": segments}
    stimuli, where = stimulus_set.stimuli, condition_label(model.name, condition, stimulus_set.id)
    condition_key = f"effects:{condition}:{json.dumps(content, sort_keys=True)}"
    key = _cache_key(loaded, model, condition_key, stimulus_set.spec, len(stimuli), seed)
    path = run_dir / "cache" / f"{model.slug()}-{condition}{stimulus_set.suffix}-effects-{key}.json"
    if path.is_file():
        progress.stage(f"{where}: cached intervention effects reused")
        cached = json.loads(path.read_text())
        return cached["rows"], cached["per_stimulus"], None
    try:
        adapter = _adapter(model, condition == "random_weights", seed, adapters, progress)
        seen = _condition_stimuli(condition, stimuli, seed)
        labels = ", ".join([s.label for s in suite.interventions] + [g.id for g in generation])
        progress.stage(f"{where}: interventions ({labels})")
        max_tokens = stimulus_set.spec.max_tokens
        rows, per_stimulus = _sweep_effects(adapter, seen, specs, loaded, boot, max_tokens) if specs else ([], [])
        for g in generation:
            more_rows, more_records = _generation_effects(adapter, seen[: g.n_prompts], g, segments[g.id], boot)
            rows, per_stimulus = rows + more_rows, per_stimulus + more_records
    except Exception as exc:  # a failing intervention is reported, the rest of the run goes on
        return [], [], f"{type(exc).__name__}: {exc}"
    rows = [
        {
            "model": model.name,
            "family": model.family,
            "condition": condition,
            **set_fields(stimulus_set.id),
            "target": row.pop("condition"),
            **row,
        }
        for row in rows
    ]
    write_json(path, {"rows": rows, "per_stimulus": per_stimulus})
    return rows, per_stimulus, None


def _sweep_effects(
    adapter: ModelAdapter,
    stimuli: list[Stimulus],
    specs: list[dict[str, Any]],
    loaded: LoadedSuite,
    boot: BootstrapConfig,
    max_tokens: int,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Rows and per-stimulus records of the suite's interventions (resumed from cached residuals)."""
    from mspgt_bench.interventions.sweep import sweep

    result = sweep(adapter, stimuli, specs, loaded.suite.run.batch_size, max_tokens, boot)
    records = [
        _record(label, condition.label, condition.layers, result.per_stimulus.get((label, condition.label), {}))
        for label, conditions in result.conditions.items()
        for condition in conditions
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
    from mspgt_bench.interventions.generation import generation_effects

    result = generation_effects(adapter, prompts, segments, spec.options, boot)
    order = {p.id: i for i, p in enumerate(prompts)}
    values: dict[str, dict[str, np.ndarray]] = {}
    for item in result.per_prompt:
        column = values.setdefault(item["condition"], {}).setdefault(item["metric"], np.full(len(prompts), np.nan))
        column[order[item["stimulus"]]] = item["value"]
    layers = {row["condition"]: tuple(range(row["layer"], row["layer_end"] + 1)) for row in result.rows}
    records = []
    for label, span in layers.items():
        deltas = {metric: values[label][metric] - clean for metric, clean in values["clean"].items()}
        effects = {f"delta_{m}": d for m, d in deltas.items()} | {f"abs_delta_{m}": np.abs(d) for m, d in deltas.items()}
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


def _resolve_targets(spec: dict[str, Any], detections: dict[str, Detection]) -> dict[str, Any]:
    """An intervention spec with ``segments_from`` replaced by the segments that detector found."""
    options = dict(spec.get("options") or {})
    label = options.pop("segments_from", None)
    if label is None:
        return spec
    n_segments = options.pop("n_segments", None)
    options["segments"] = _segments(spec.get("id") or spec["name"], label, n_segments, None, detections)
    return {**spec, "options": options}


def _segments(
    owner: str, detector: str | None, n_segments: int | None, fixed: list | None, detections: dict[str, Detection]
) -> list[tuple[int, int]]:
    """``fixed`` segments, or those the detector found on this model (its best split into ``n_segments``)."""
    if detector is None:
        return [tuple(segment) for segment in fixed or []]
    if detector not in detections:
        raise ValueError(
            f"{owner!r}: segments_from names detector {detector!r}, which did not run or failed on this model "
            f"(detectors: {', '.join(sorted(detections)) or 'none'})"
        )
    return [tuple(segment) for segment in detections[detector].segments(n_segments)]


def _condition_effects(records: list[dict[str, Any]]) -> dict[str, list[ConditionEffects]]:
    effects: dict[str, list[ConditionEffects]] = {}
    for record in records:
        if "unsupported" in record:
            continue
        values = {metric: np.asarray(v, dtype=float) for metric, v in record["values"].items()}
        effects.setdefault(record["intervention"], []).append(
            ConditionEffects(record["target"], record["first_layer"], record["last_layer"], values)
        )
    return effects


def _errored(
    model: ResolvedModel, condition: str, loaded: LoadedSuite, exc: Exception, stimulus_set: str | None = None
) -> ConditionResult:
    reason = f"{type(exc).__name__}: {exc}"
    outcomes = {p.id: Outcome("ERROR", reason=reason) for p in loaded.suite.predictions if not _is_cross_model(p)}
    meta = {"error": reason, "traceback": traceback.format_exc()}
    return ConditionResult(model, condition, [], outcomes, meta, stimulus_set=stimulus_set)


def _detect(
    loaded: LoadedSuite, profiles: list[Profile], meta: dict[str, Any], boot: BootstrapConfig
) -> tuple[dict[str, Detection], dict[str, str]]:
    """Run every detector of the suite; a failing detector is recorded, not fatal."""
    by_key = {f"{p.signal}.{p.metric}": p for p in profiles}
    n_layers = meta.get("provenance", {}).get("n_layers", 0)
    detections, failures = {}, {}
    for spec in loaded.suite.detectors:
        try:
            detector = registry("detectors").get(spec.name)(label=spec.label, **spec.options)
            detections[spec.label] = detector.detect(by_key, n_layers, boot)
        except Exception as exc:  # reported with the predictions that needed it
            failures[spec.label] = f"{type(exc).__name__}: {exc}"
    return detections, failures


def _context(
    model: ResolvedModel,
    condition: str,
    profiles: list[Profile],
    detections: dict[str, Detection],
    meta: dict[str, Any],
    boot: BootstrapConfig,
) -> PredictionContext:
    by_key = {f"{p.signal}.{p.metric}": p for p in profiles}
    n_layers = meta.get("provenance", {}).get("n_layers", 0)
    return PredictionContext(
        model.name, model.family or "unknown", condition, n_layers, by_key, boot, detections,
        meta.get("detector_errors", {}),
    )


def _predict(loaded: LoadedSuite, ctx: PredictionContext) -> dict[str, Outcome]:
    outcomes = {}
    for spec in loaded.suite.predictions:
        if _is_cross_model(spec):
            continue
        try:
            prediction = registry("predictions").get(spec.name)(spec)
            outcomes[spec.id] = prediction.evaluate(ctx)
        except NotApplicableError as exc:
            outcomes[spec.id] = Outcome("SKIP", reason=str(exc))
        except Exception as exc:  # a raising plugin is an ERROR cell, never a crashed run
            outcomes[spec.id] = Outcome("ERROR", reason=f"{type(exc).__name__}: {exc}")
    return outcomes


@dataclass
class Cell:
    """One verdict: a prediction's outcome for one model (or one family group) under one condition."""

    model: str
    family: str | None
    size: str | None
    provenance: dict[str, Any]
    condition: str
    spec: PredictionSpec
    outcome: Outcome
    stimulus_set: str | None = None


def _cells(loaded: LoadedSuite, results: list[ConditionResult]) -> list[Cell]:
    """Per-model cells, then the cross-model predictions evaluated on every condition's models."""
    cells = [
        Cell(
            r.model.name, r.model.family, r.model.size, r.meta.get("provenance", {}), r.condition, spec,
            r.outcomes[spec.id], r.stimulus_set,
        )
        for r in results
        for spec in loaded.suite.predictions
        if spec.id in r.outcomes
    ]
    for spec in loaded.suite.predictions:
        if not _is_cross_model(spec):
            continue
        for condition, stimulus_set in dict.fromkeys((r.condition, r.stimulus_set) for r in results):
            contexts = [
                r.context
                for r in results
                if r.condition == condition and r.stimulus_set == stimulus_set and r.context is not None
            ]
            for group, outcome in _evaluate_cross_model(spec, contexts).items():
                cells.append(Cell(f"family:{group}", group, None, {}, condition, spec, outcome, stimulus_set))
    return cells


def _is_cross_model(spec: PredictionSpec) -> bool:
    prediction = registry("predictions").get(spec.name)
    return issubclass(prediction, CrossModelPrediction)


def _evaluate_cross_model(spec: PredictionSpec, contexts: list[PredictionContext]) -> dict[str, Outcome]:
    try:
        return registry("predictions").get(spec.name)(spec).evaluate_many(contexts)
    except NotApplicableError as exc:
        return {"all": Outcome("SKIP", reason=str(exc))}
    except Exception as exc:  # a raising plugin is an ERROR cell, never a crashed run
        return {"all": Outcome("ERROR", reason=f"{type(exc).__name__}: {exc}")}


def _verdict_rows(loaded: LoadedSuite, results: list[ConditionResult], seed: int) -> list[dict[str, Any]]:
    suite = loaded.suite
    cells = _cells(loaded, results)
    controls_of: dict[tuple[str, str | None, str], dict[str, str]] = {}
    for cell in cells:
        if cell.condition != TRAINED:
            key = (cell.model, cell.stimulus_set, cell.spec.id)
            controls_of.setdefault(key, {})[cell.condition] = cell.outcome.status
    rows = []
    for cell in cells:
        spec, outcome = cell.spec, cell.outcome
        row = {
            "model": cell.model,
            "family": cell.family,
            "size": cell.size,
            "backend": cell.provenance.get("backend"),
            "dtype": cell.provenance.get("dtype"),
            "condition": cell.condition,
            **set_fields(cell.stimulus_set),
            "suite": suite.suite.name,
            "suite_version": suite.suite.version,
            "suite_sha256": loaded.sha256,
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
            "seed": seed,
        }
        if cell.condition == TRAINED:
            controls = controls_of.get((cell.model, cell.stimulus_set, spec.id), {})
            row["controls"] = controls
            row["non_discriminative"] = outcome.status == "PASS" and "PASS" in controls.values()
        rows.append(row)
    return rows


def _versions() -> dict[str, str]:
    import torch
    import transformers

    return {
        "mspgt_bench": __version__,
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
    }


def _write_outputs(
    loaded: LoadedSuite,
    run_dir: Path,
    results: list[ConditionResult],
    tables: dict[str, list[dict[str, Any]]],
    seed: int,
    wall: float,
) -> None:
    import pandas as pd

    from mspgt_bench.figures import write_profile_figures
    from mspgt_bench.results import atomic_write_text

    suite = loaded.suite
    provenance = {
        "suite_file": str(loaded.path),
        "suite_sha256": loaded.sha256,
        "seed": seed,
        "versions": _versions(),
        "machine": {"platform": platform.platform(), "processor": platform.machine()},
        "wall_s": wall,
        "models": {r.key: r.meta for r in results},
    }
    document = {
        "schema_version": SCHEMA_VERSION,
        "suite": suite.suite.model_dump(),
        "provenance": provenance,
        **tables,
    }
    if "json" in suite.output.formats:
        write_json(run_dir / "results.json", document)
    if "csv" in suite.output.formats:
        for name, rows in tables.items():
            flat = [{k: json.dumps(v) if isinstance(v, (dict, list)) else v for k, v in row.items()} for row in rows]
            atomic_write_text(run_dir / f"{name}.csv", pd.DataFrame(flat).to_csv(index=False))
    if suite.output.figures:
        from mspgt_bench.interventions.figures import write_intervention_figures

        write_profile_figures(run_dir / "figures", results)
        for result in results:
            if result.effects and result.condition == TRAINED:  # the controls' effects are in effects.csv
                folder = run_dir / "figures" / (f"set-{result.stimulus_set}" if result.stimulus_set else "")
                write_intervention_figures(folder, result.effects, model=result.model.slug())

"""Stage 3, detection: every detector of the suite on one cell's profiles, read from the cache when unchanged.

A detector that raises is recorded with its reason and does not stop the others; the
predictions that read it report the reason as their ERROR. A cell whose detectors all
succeeded saves its detections (:mod:`mspgt_bench.run.saved`), keyed by its profiles,
the detector specs, the bootstrap and the code, so an unchanged rerun skips their null
calibrations and bootstraps.
"""

from __future__ import annotations

from typing import Any

from mspgt_bench.detectors.plugins import Detection, Detector
from mspgt_bench.plugins import registry
from mspgt_bench.run.cache import cell_prefix, read_entry, stage_path
from mspgt_bench.run.plan import Cell, RunContext
from mspgt_bench.run.saved import load_detections, save_detections
from mspgt_bench.signals.base import Profile


def profiles_by_key(profiles: list[Profile]) -> dict[str, Profile]:
    """Profiles keyed ``"<signal label>.<metric>"``, the names suites use."""
    return {f"{p.signal}.{p.metric}": p for p in profiles}


def detect(
    ctx: RunContext, cell: Cell, profiles: list[Profile], meta: dict[str, Any]
) -> tuple[dict[str, Detection], dict[str, str]]:
    """``({label: detection}, {label: why it failed})`` for every detector of the suite."""
    n_layers = meta.get("provenance", {}).get("n_layers", 0)
    detectors, failures = _detectors(ctx)
    path = stage_path(
        ctx,
        cell_prefix(cell),
        "detections",
        {"detectors": ctx.suite.detectors, "profiles": profiles, "n_layers": n_layers, "boot": ctx.boot},
        [type(d) for d in detectors.values()],
    )
    cacheable = path is not None and not failures
    saved = read_entry(ctx, cell.label, lambda p: load_detections(p, detectors), path) if cacheable else None
    if saved is not None:
        return saved, failures
    by_key = profiles_by_key(profiles)
    detections = {}
    for label, detector in detectors.items():
        try:
            detections[label] = detector.detect(by_key, n_layers, ctx.boot)
        except Exception as exc:  # reported with the predictions that needed it
            failures[label] = f"{type(exc).__name__}: {exc}"
    if cacheable and not failures and all(d.savable for d in detections.values()):
        save_detections(path, detections)
    return detections, failures


def _detectors(ctx: RunContext) -> tuple[dict[str, Detector], dict[str, str]]:
    """The suite's detectors by label, and why any could not be built."""
    detectors, failures = {}, {}
    for spec in ctx.suite.detectors:
        try:
            detectors[spec.label] = registry("detectors").get(spec.name)(label=spec.label, **spec.options)
        except Exception as exc:  # reported with the predictions that needed it
            failures[spec.label] = f"{type(exc).__name__}: {exc}"
    return detectors, failures

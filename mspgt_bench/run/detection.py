"""Stage 3, detection: every detector of the suite on one cell's profiles.

A detector that raises is recorded with its reason and does not stop the others; the
predictions that read it report the reason as their ERROR.
"""

from __future__ import annotations

from typing import Any

from mspgt_bench.detectors.plugins import Detection
from mspgt_bench.plugins import registry
from mspgt_bench.run.plan import RunContext
from mspgt_bench.signals.base import Profile


def profiles_by_key(profiles: list[Profile]) -> dict[str, Profile]:
    """Profiles keyed ``"<signal label>.<metric>"``, the names suites use."""
    return {f"{p.signal}.{p.metric}": p for p in profiles}


def detect(
    ctx: RunContext, profiles: list[Profile], meta: dict[str, Any]
) -> tuple[dict[str, Detection], dict[str, str]]:
    """``({label: detection}, {label: why it failed})`` for every detector of the suite."""
    by_key = profiles_by_key(profiles)
    n_layers = meta.get("provenance", {}).get("n_layers", 0)
    detections, failures = {}, {}
    for spec in ctx.suite.detectors:
        try:
            detector = registry("detectors").get(spec.name)(label=spec.label, **spec.options)
            detections[spec.label] = detector.detect(by_key, n_layers, ctx.boot)
        except Exception as exc:  # reported with the predictions that needed it
            failures[spec.label] = f"{type(exc).__name__}: {exc}"
    return detections, failures

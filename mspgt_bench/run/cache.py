"""Where a cell's profiles and effects are cached inside the run directory, keyed by content.

A key hashes everything the cached numbers came from that the suite states: the package
version, the resolved model, the condition, the stimulus spec and count, the signals, the
bootstrap, the batch size and the seed; an effects key adds the resolved interventions and
generation experiments (segments included). A rerun with any of these changed computes afresh.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from mspgt_bench import __version__
from mspgt_bench.run.plan import Cell, RunContext


def cache_key(ctx: RunContext, cell: Cell, effects: dict[str, Any] | None = None) -> str:
    """20 hex digits of the sha256 of the cell's inputs (and of ``effects``' specs, for an effects entry)."""
    suite = ctx.suite
    condition = cell.condition
    if effects is not None:
        condition = f"effects:{condition}:{json.dumps(effects, sort_keys=True)}"
    content = {
        "version": __version__,
        "model": cell.model.__dict__,
        "condition": condition,
        "stimuli": cell.stimulus_set.spec.model_dump(),  # a listed set's dump includes its id
        "n_stimuli": len(cell.stimulus_set.stimuli),
        "signals": [s.model_dump() for s in suite.signals],
        "bootstrap": suite.bootstrap.model_dump(),
        "batch_size": suite.run.batch_size,
        "seed": ctx.seed,
    }
    return hashlib.sha256(json.dumps(content, sort_keys=True, default=str).encode()).hexdigest()[:20]


def profiles_stem(ctx: RunContext, cell: Cell) -> Path:
    """``cache/<model>-<condition>[-<set>]-<key>``: the cell's ``.npz`` and ``.json`` profile files."""
    return ctx.run_dir / "cache" / f"{_prefix(cell)}-{cache_key(ctx, cell)}"


def effects_path(ctx: RunContext, cell: Cell, effects: dict[str, Any]) -> Path:
    """``cache/<model>-<condition>[-<set>]-effects-<key>.json``: the cell's intervention effects."""
    return ctx.run_dir / "cache" / f"{_prefix(cell)}-effects-{cache_key(ctx, cell, effects)}.json"


def _prefix(cell: Cell) -> str:
    return f"{cell.model.slug()}-{cell.condition}{cell.stimulus_set.suffix}"

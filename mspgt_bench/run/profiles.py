"""Stage 2, conditions and profiles: load each model once per condition and capture the signals.

A model's adapters live in an :class:`AdapterPool` for the whole model (the trained model and,
when the suite asks for it, its random-weight twin), so every stimulus set and the
interventions reuse them. :func:`cell_profiles` returns a cell's profiles from the cache when
its key matches, else from one capture pass that feeds every signal of the suite.
"""

from __future__ import annotations

import random
import time
from typing import Any, Self

from mspgt_bench.capture import Isolated, capture_pass
from mspgt_bench.models.base import ModelAdapter
from mspgt_bench.plugins import registry
from mspgt_bench.results import load_profiles, save_profiles
from mspgt_bench.run.cache import profiles_stem, read_entry
from mspgt_bench.run.plan import Cell, ResolvedModel, RunContext
from mspgt_bench.signals.base import Profile
from mspgt_bench.stimuli.base import Stimulus
from mspgt_bench.stimuli.perturb import token_shuffle


class AdapterPool:
    """A model's adapters (trained, random-weight twin), each loaded on first use and closed on exit."""

    def __init__(self, ctx: RunContext, model: ResolvedModel) -> None:
        self.ctx, self.model = ctx, model
        self._adapters: dict[bool, ModelAdapter] = {}

    def get(self, cell: Cell) -> ModelAdapter:
        """The adapter the cell's condition runs on."""
        random_weights = cell.random_weights
        if random_weights not in self._adapters:
            self.ctx.progress.stage(f"loading {self.model.name}{' (random weights)' if random_weights else ''}")
            extra = {"random_weights": True, "seed": self.ctx.seed} if random_weights else {}
            self._adapters[random_weights] = registry("model_adapters").get(self.model.adapter)(
                **{**self.model.args, **extra}
            )
        return self._adapters[random_weights]

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        for adapter in self._adapters.values():
            adapter.close()


def condition_stimuli(ctx: RunContext, cell: Cell) -> list[Stimulus]:
    """The stimuli as the cell's condition sees them: words shuffled within each stimulus under ``shuffled_tokens``."""
    stimuli = cell.stimulus_set.stimuli
    if cell.condition != "shuffled_tokens":
        return stimuli
    rng = random.Random(ctx.seed)
    return [token_shuffle(s, rng) for s in stimuli]


def cell_profiles(ctx: RunContext, cell: Cell, pool: AdapterPool) -> tuple[list[Profile], dict[str, Any]]:
    """The cell's profiles and metadata: cached when the key matches, else captured and cached.

    An unreadable cache entry is reported, moved aside and captured again. A new entry is keyed
    after the capture: a zoo model that its load prepared has a weights fingerprint only then.
    """
    cached = read_entry(ctx, cell.label, load_profiles, profiles_stem(ctx, cell))
    if cached is not None:
        ctx.progress.stage(f"{cell.label}: cached profiles reused")
        profiles, meta = cached
        return profiles, {**meta, "cached": True}
    profiles, meta = _capture(ctx, cell, pool)
    if "signal_errors" not in meta:  # a signal that failed is tried again by the next run, not cached
        save_profiles(profiles_stem(ctx, cell), profiles, meta)
    return profiles, meta


def _capture(ctx: RunContext, cell: Cell, pool: AdapterPool) -> tuple[list[Profile], dict[str, Any]]:
    """One capture pass over the cell's stimuli feeding every signal, then the signals' bootstrap profiles."""
    timings: dict[str, float] = {}
    started = time.perf_counter()
    adapter = pool.get(cell)
    timings["load_s"] = time.perf_counter() - started
    stimuli = condition_stimuli(ctx, cell)
    signals = [
        Isolated.build(registry("signals").get(spec.name), adapter.n_layers, label=spec.label, **spec.options)
        for spec in ctx.suite.signals
    ]
    started = time.perf_counter()
    advance = ctx.progress.start_batches(cell.label, len(stimuli))
    try:
        calls = capture_pass(
            adapter,
            stimuli,
            signals,
            batch_size=ctx.suite.run.batch_size,
            max_tokens=cell.stimulus_set.spec.max_tokens,
            on_batch=advance,
        )
    finally:
        ctx.progress.end_batches()
    timings["capture_s"] = time.perf_counter() - started
    started = time.perf_counter()
    profiles = [p for signal in signals for p in signal.call(lambda s=signal: s.consumer.profiles(ctx.boot)) or []]
    timings["reduce_s"] = time.perf_counter() - started
    meta = {
        "provenance": adapter.provenance(),
        "n_stimuli": len(stimuli),
        "forward_calls": calls,
        "timings": timings,
        "cached": False,
    }
    failed = {spec.label: signal.error for spec, signal in zip(ctx.suite.signals, signals, strict=True) if signal.error}
    return profiles, meta | ({"signal_errors": failed} if failed else {})

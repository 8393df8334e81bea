"""Executors: who runs a run's cells. ``local`` (the default) runs them here, one after another;
``ray`` (:mod:`.ray_executor`) sends each to a Ray cluster as a task.

Either way the result is one :class:`~mspgt_bench.run.results.ConditionResult` per cell, in the
order of :meth:`~mspgt_bench.run.plan.RunContext.all_cells`; verdicts, cross-model predictions
and outputs are then computed once, here, from the merged cells, so an executor changes where
cells run and never what a run writes.

With ``--only-failed`` (``ctx.rerun`` set) only the cells that ended in ERROR last time are
computed; every other cell is served from the run's cache (:func:`~mspgt_bench.run.cell.from_cache`)
and one that is not cached stops the run with :class:`NotCachedCellsError`, before any model loads.
"""

from __future__ import annotations

import importlib.util
from typing import Protocol

from mspgt_bench.run.cell import from_cache, run_cell, run_model
from mspgt_bench.run.plan import Cell, RunContext
from mspgt_bench.run.profiles import AdapterPool
from mspgt_bench.run.results import ConditionResult

EXECUTORS = ("local", "ray")


class ExecutorUnavailableError(RuntimeError):
    """The executor asked for cannot run here (an unknown name, or Ray not installed)."""


class NotCachedCellsError(RuntimeError):
    """``--only-failed``: cells that did not fail last time are not in the cache (the suite, weights or versions changed)."""


class Executor(Protocol):
    """Runs every cell of a planned run."""

    def run(self, ctx: RunContext) -> list[ConditionResult]:
        """One result per cell of ``ctx.all_cells()``, in that order."""
        ...


class LocalExecutor:
    """Every cell in this process, model by model; a model's adapters load once for all its cells."""

    def run(self, ctx: RunContext) -> list[ConditionResult]:
        if ctx.rerun is None:
            return [result for model in ctx.models for result in run_model(ctx, model)]
        cells = ctx.all_cells()
        results: dict[int, ConditionResult] = serve_finished(ctx, cells)
        for model in ctx.models:
            with AdapterPool(ctx, model) as pool:  # loads the model only if one of its cells is rerun
                for index, cell in enumerate(cells):
                    if cell.model is model and index not in results:
                        results[index] = run_cell(ctx, cell, pool)
        return [results[index] for index in range(len(cells))]


def serve_finished(ctx: RunContext, cells: list[Cell]) -> dict[int, ConditionResult]:
    """``--only-failed``: index in ``cells`` -> the cell's result from the cache, for every cell not rerun.

    Raises :class:`NotCachedCellsError` naming the cells that are not cached.
    """
    assert ctx.rerun is not None
    wanted = {index: cell for index, cell in enumerate(cells) if cell.key not in ctx.rerun}
    served = {index: from_cache(ctx, cell) for index, cell in wanted.items()}
    missing = [wanted[index].label for index, result in served.items() if result is None]
    if missing:
        raise NotCachedCellsError(
            f"--only-failed: {len(missing)} cell(s) did not fail in the previous run but are not in the cache "
            f"of {ctx.run_dir} (the suite, the weights or the library versions changed?): {', '.join(missing)}; "
            "run without --only-failed to compute them"
        )
    return {index: result for index, result in served.items() if result is not None}


def executor_for(name: str, address: str | None = None) -> Executor:
    """The executor called ``name`` (``local`` or ``ray``); ``address`` is the Ray cluster's."""
    if name == "local":
        return LocalExecutor()
    if name != "ray":
        raise ExecutorUnavailableError(f"unknown executor {name!r}; use one of {', '.join(EXECUTORS)}")
    if importlib.util.find_spec("ray") is None:
        raise ExecutorUnavailableError(
            'the ray executor needs Ray: pip install -e ".[ray]" (or pip install "ray[default]")'
        )
    from mspgt_bench.run.ray_executor import RayExecutor

    return RayExecutor(address)

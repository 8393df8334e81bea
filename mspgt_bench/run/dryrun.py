"""``mspgt-bench plan``: what a run would do, without loading a model or writing anything.

One :class:`CellPlan` per cell: its forward passes and memory (:mod:`.estimate`), the resources
its Ray task would declare, whether the run directory's cache already holds it, and (with
``--only-failed``) whether it would be computed again.

A cell's profiles are looked up by their exact key. Its effects entry's key depends on the
segments detected at run time, so an effects entry is matched by cell only: ``cached`` is then
confirmed when the run starts.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.markup import escape
from rich.table import Table

from mspgt_bench.results import profile_files
from mspgt_bench.run.cache import profiles_stem
from mspgt_bench.run.estimate import GIB, CellCost, Resources, cell_cost, model_shape, task_resources
from mspgt_bench.run.plan import TRAINED, Cell, Progress, RunContext, RunOptions, plan_context
from mspgt_bench.suite.loader import LoadedSuite

CACHED, PROFILES_ONLY, NOT_CACHED = "yes", "profiles only", "no"


@dataclass(frozen=True)
class CellPlan:
    """One cell of a planned run: what it costs, what it would ask of a cluster, and what is cached."""

    cell: Cell
    cost: CellCost
    resources: Resources
    cached: str
    """:data:`CACHED`, :data:`PROFILES_ONLY` (its effects still to compute) or :data:`NOT_CACHED`."""
    computed: bool
    """Whether a run would compute it (not cached; with ``--only-failed``, only cells that failed)."""


def plan_cells(loaded: LoadedSuite, options: RunOptions, progress: Progress | None = None) -> list[CellPlan]:
    """Every cell of the run ``mspgt-bench run`` would make with ``options``, in run order."""
    ctx = plan_context(loaded, options, progress or Progress())
    has_cache = (ctx.run_dir / "cache").is_dir()  # no cache folder: nothing to look up (and nothing written)
    plans = []
    for model in ctx.models:
        shape = model_shape(model)
        for cell in ctx.cells(model):
            cost = cell_cost(ctx, cell, shape)
            cached = cache_state(ctx, cell) if has_cache else NOT_CACHED
            computed = cached != CACHED and (ctx.rerun is None or cell.key in ctx.rerun)
            plans.append(CellPlan(cell, cost, task_resources(cell, cost), cached, computed))
    return plans


def cache_state(ctx: RunContext, cell: Cell) -> str:
    """Whether the run's cache holds the cell's profiles and, where the suite intervenes on it, an effects entry."""
    stem = profiles_stem(ctx, cell)
    if not all(path.is_file() for path in profile_files(stem)):
        return NOT_CACHED
    intervened = bool(ctx.suite.interventions) or any(
        cell.condition == TRAINED or spec.controls for spec in ctx.suite.generation
    )
    if not intervened:
        return CACHED
    prefix = stem.name.rsplit("-", 1)[0]  # the stem ends in '-<key>'; an effects entry in '-effects-<key>.json'
    return CACHED if any(stem.parent.glob(f"{prefix}-effects-*.json")) else PROFILES_ONLY


def plan_table(plans: list[CellPlan], title: str) -> Table:
    """The plan as a table: one row per cell (text from the suite is escaped, never read as markup)."""
    table = Table(title=title)
    columns = ("cell", "capture passes", "intervention passes", "generated tokens", "weights", "activations/batch")
    for column in (*columns, "memory", "Ray task", "cached", "runs"):
        table.add_column(column, overflow="fold")
    for plan in plans:
        cost = plan.cost
        table.add_row(
            escape(plan.cell.label),
            str(cost.capture_passes),
            _count(cost.intervention_passes),
            _count(cost.generated_tokens),
            _bytes(cost.weight_bytes),
            _bytes(cost.activation_bytes),
            _bytes(cost.memory_bytes),
            plan.resources.describe(),
            plan.cached,
            "yes" if plan.computed else "no",
        )
    return table


def plan_summary(plans: list[CellPlan]) -> str:
    """One line: cells, how many are cached and computed, forward passes to run, the largest cell's memory."""
    computed = [plan for plan in plans if plan.computed]
    passes = sum(plan.cost.capture_passes + (plan.cost.intervention_passes or 0) for plan in computed)
    unknown = any(plan.cost.intervention_passes is None for plan in computed)
    memory = [plan.cost.memory_bytes for plan in plans if plan.cost.memory_bytes is not None]
    cached = sum(plan.cached == CACHED for plan in plans)
    return (
        f"{len(plans)} cell(s): {cached} cached, {len(computed)} to compute, "
        f"{passes}{'+' if unknown else ''} forward passes to run (generation not counted); "
        f"largest cell {_bytes(max(memory) if memory else None)} of weights and activations"
    )


def _count(value: int | None) -> str:
    return "?" if value is None else str(value)


def _bytes(value: int | None) -> str:
    """Bytes in MiB below 1 GiB, else GiB; '?' when unknown."""
    if value is None:
        return "?"
    return f"{value / GIB:.1f} GiB" if value >= GIB else f"{value / (1 << 20):.1f} MiB"

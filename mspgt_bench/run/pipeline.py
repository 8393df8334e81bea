"""Execute a suite: plan, then each cell through profiles, detection, effects and predictions, then the outputs.

Data flow (one module per stage)::

    plan.plan_run            suite + options -> RunContext (models, stimulus sets, conditions)
    executors.executor_for   who runs the cells: here (local) or on a Ray cluster (ray); cell.run_cell each:
    profiles.cell_profiles   cell -> profiles (one capture pass, or the cache)
    detection.detect         profiles -> boundaries per detector
    effects.cell_effects     cell + boundaries -> intervention / generation effects (or the cache)
    verdicts.predict         PredictionContext -> outcome per prediction
    verdicts.verdict_rows    every cell -> verdict rows (cross-model predictions included)
    outputs.write_outputs    rows -> results.json, CSVs, figures

Everything after the cells (verdicts, cross-model predictions, outputs) runs once, here, on the
merged cells, whichever executor ran them. A failing model, signal or intervention yields ERROR
rows with the reason, never a crashed run.
"""

from __future__ import annotations

import time

from mspgt_bench.corpora import flag_corpus_sensitivity
from mspgt_bench.run.cell import settle_families
from mspgt_bench.run.executors import executor_for
from mspgt_bench.run.outputs import tables, write_outputs
from mspgt_bench.run.plan import Progress, RunOptions, plan_run
from mspgt_bench.run.results import RunResult
from mspgt_bench.run.rundir import run_lock
from mspgt_bench.run.verdicts import verdict_rows
from mspgt_bench.suite.loader import LoadedSuite


def run_suite(loaded: LoadedSuite, options: RunOptions, progress: Progress | None = None) -> RunResult:
    """Run every model of the suite (or of ``options.models``) and write the run directory.

    The executor is ``options.executor``, else the suite's ``run.executor`` (default ``local``);
    a Ray cluster's address likewise comes from ``options.address`` or ``run.address``.
    """
    started = time.perf_counter()
    suite = loaded.suite
    executor = executor_for(options.executor or suite.run.executor, options.address or suite.run.address)
    ctx = plan_run(loaded, options, progress or Progress())
    with run_lock(ctx.run_dir):  # a second run into the same directory fails here, at once
        results = executor.run(ctx)
        settle_families(results)
        verdicts = verdict_rows(ctx, results)
        flag_corpus_sensitivity(verdicts)
        rows = tables(results, verdicts)
        wall = time.perf_counter() - started
        write_outputs(ctx, results, rows, wall)
    return RunResult(
        ctx.run_dir, results, rows["verdicts"], rows["profiles"], rows["boundaries"], rows["effects"], wall
    )

"""Stage 6, outputs: the merged ``suite.yaml``, ``results.json`` checked against its schema, CSVs and figures.

The document is validated with :class:`mspgt_bench.result_schema.ResultsDocument` before anything
is written, so a run never leaves a ``results.json`` that ``leaderboard`` would refuse. Everything
is written into a temporary folder inside the run directory and moved into place at the end
(:func:`mspgt_bench.run.rundir.staged_outputs`): a run that fails here leaves the previous
outputs as they were. Ids, names and labels become file names only through
:func:`mspgt_bench.atomic.slug`, and every path is checked to stay in the run directory.
"""

from __future__ import annotations

import json
import platform
from pathlib import Path
from typing import Any

import numpy as np

from mspgt_bench import __version__
from mspgt_bench.atomic import atomic_write_text, dumps, inside, slug, write_json
from mspgt_bench.corpora import set_fields
from mspgt_bench.png_memo import PngMemo
from mspgt_bench.result_schema import SCHEMA_VERSION, ResultsDocument, read_sample
from mspgt_bench.run.plan import TRAINED, RunContext
from mspgt_bench.run.results import ConditionResult
from mspgt_bench.run.rundir import staged_outputs
from mspgt_bench.run.samples import sample_lines
from mspgt_bench.suite.loader import LoadedSuite

Tables = dict[str, list[dict[str, Any]]]

TABLES = ("verdicts", "boundaries", "profiles", "effects")
"""The tidy tables, each written as ``<name>.csv``."""

OUTPUTS = ("suite.yaml", *(f"{name}.csv" for name in TABLES), "samples.jsonl", "figures", "results.json")
"""Every top-level file or folder a run writes, in the order they are moved into place (results.json last)."""


def tables(results: list[ConditionResult], verdicts: list[dict[str, Any]]) -> Tables:
    """``verdicts``, ``boundaries``, ``profiles`` and ``effects`` rows, each led by model, family, condition (and set)."""

    def head(r: ConditionResult) -> dict[str, Any]:
        return {"model": r.model.name, "family": r.model.family, "condition": r.condition, **set_fields(r.stimulus_set)}

    return {
        "verdicts": verdicts,
        "boundaries": [{**head(r), **row} for r in results for d in r.detections for row in d.rows()],
        "profiles": [{**head(r), **row} for r in results for p in r.profiles for row in p.rows()],
        "effects": [row for r in results for row in r.effects],
    }


def write_outputs(ctx: RunContext, results: list[ConditionResult], rows: Tables, wall: float) -> None:
    """Write ``suite.yaml``, ``results.json``, the CSVs and the figures the suite's ``output:`` asks for.

    All or nothing: they replace the previous run's outputs only once every one is written.
    """
    suite = ctx.suite
    document = _document(ctx, results, rows, wall)
    ResultsDocument.model_validate(json.loads(dumps(document)))
    with staged_outputs(ctx.run_dir, OUTPUTS) as stage:
        atomic_write_text(inside(stage, stage / "suite.yaml"), suite_text(ctx.loaded))
        if "json" in suite.output.formats:
            write_json(inside(stage, stage / "results.json"), document, standard=True)
            lines = list(sample_lines(ctx, results))
            for line in lines:
                read_sample(line)  # every line matches the schema readers rely on
            atomic_write_text(inside(stage, stage / "samples.jsonl"), "".join(f"{line}\n" for line in lines))
        if "csv" in suite.output.formats:
            _write_csvs(stage, rows)
        if suite.output.figures:
            _write_figures(ctx, inside(stage, stage / "figures"), results)


def _document(ctx: RunContext, results: list[ConditionResult], rows: Tables, wall: float) -> dict[str, Any]:
    """The ``results.json`` document: schema version, suite, provenance and the tables."""
    provenance = {
        "suite_file": str(ctx.loaded.path),
        "suite_sha256": ctx.loaded.sha256,
        "seed": ctx.seed,
        "versions": _versions(),
        "machine": {"platform": platform.platform(), "processor": platform.machine()},
        "wall_s": wall,
        "models": {r.key: r.meta for r in results},
    }
    return {"schema_version": SCHEMA_VERSION, "suite": ctx.suite.suite.model_dump(), "provenance": provenance, **rows}


def _write_csvs(folder: Path, rows: Tables) -> None:
    """One ``<table>.csv`` per table; nested values (dicts, lists) as JSON text."""
    import pandas as pd

    for name, table in rows.items():
        flat = [{k: json.dumps(v) if isinstance(v, (dict, list)) else v for k, v in row.items()} for row in table]
        atomic_write_text(inside(folder, folder / f"{slug(name)}.csv"), pd.DataFrame(flat).to_csv(index=False))


def _write_figures(ctx: RunContext, folder: Path, results: list[ConditionResult]) -> None:
    """Profile figures under ``folder/<model>/``; intervention figures of trained cells, per stimulus set.

    Figures go through one :class:`~mspgt_bench.png_memo.PngMemo` in the run's ``cache/figures``:
    a figure whose content is unchanged since an earlier run is copied from there, not drawn again.
    """
    from mspgt_bench.figures import write_profile_figures
    from mspgt_bench.interventions.figures import write_intervention_figures

    memo = PngMemo(ctx.run_dir / "cache" / "figures")
    curves = [
        (r.model.slug(), r.condition + (f" · {r.stimulus_set}" if r.stimulus_set else ""), profile)
        for r in results
        for profile in r.profiles
    ]
    write_profile_figures(folder, curves, memo)
    for result in results:
        if result.effects and result.condition == TRAINED:  # the controls' effects are in effects.csv
            where = inside(folder, folder / (f"set-{slug(result.stimulus_set)}" if result.stimulus_set else ""))
            write_intervention_figures(where, result.effects, model=result.model.slug(), memo=memo)


def suite_text(loaded: LoadedSuite) -> str:
    """The merged suite as run, headed by the files it was merged from and its sha256."""
    import yaml

    header = f"# merged from {', '.join(str(f) for f in loaded.files)}; sha256 {loaded.sha256}\n"
    return header + yaml.safe_dump(loaded.data, sort_keys=False)


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

"""Stage 6, outputs: the tidy tables, ``results.json`` checked against its schema, CSVs and figures.

The document is validated with :class:`mspgt_bench.result_schema.ResultsDocument` before anything
is written, so a run never leaves a ``results.json`` that ``leaderboard`` would refuse.
"""

from __future__ import annotations

import json
import platform
from typing import Any

import numpy as np

from mspgt_bench import __version__
from mspgt_bench.atomic import atomic_write_text, to_jsonable, write_json
from mspgt_bench.corpora import set_fields
from mspgt_bench.result_schema import SCHEMA_VERSION, ResultsDocument
from mspgt_bench.run.plan import TRAINED, RunContext
from mspgt_bench.run.results import ConditionResult

Tables = dict[str, list[dict[str, Any]]]


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
    """Write ``results.json``, the CSVs and the figures the suite's ``output:`` asks for."""
    import pandas as pd

    suite = ctx.suite
    provenance = {
        "suite_file": str(ctx.loaded.path),
        "suite_sha256": ctx.loaded.sha256,
        "seed": ctx.seed,
        "versions": _versions(),
        "machine": {"platform": platform.platform(), "processor": platform.machine()},
        "wall_s": wall,
        "models": {r.key: r.meta for r in results},
    }
    document = {"schema_version": SCHEMA_VERSION, "suite": suite.suite.model_dump(), "provenance": provenance, **rows}
    ResultsDocument.model_validate(json.loads(json.dumps(document, default=to_jsonable)))
    if "json" in suite.output.formats:
        write_json(ctx.run_dir / "results.json", document)
    if "csv" in suite.output.formats:
        for name, table in rows.items():
            flat = [{k: json.dumps(v) if isinstance(v, (dict, list)) else v for k, v in row.items()} for row in table]
            atomic_write_text(ctx.run_dir / f"{name}.csv", pd.DataFrame(flat).to_csv(index=False))
    if suite.output.figures:
        _write_figures(ctx, results)


def _write_figures(ctx: RunContext, results: list[ConditionResult]) -> None:
    from mspgt_bench.figures import write_profile_figures
    from mspgt_bench.interventions.figures import write_intervention_figures

    folder = ctx.run_dir / "figures"
    curves = [
        (r.model.slug(), r.condition + (f" · {r.stimulus_set}" if r.stimulus_set else ""), profile)
        for r in results
        for profile in r.profiles
    ]
    write_profile_figures(folder, curves)
    for result in results:
        if result.effects and result.condition == TRAINED:  # the controls' effects are in effects.csv
            where = folder / (f"set-{result.stimulus_set}" if result.stimulus_set else "")
            write_intervention_figures(where, result.effects, model=result.model.slug())


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

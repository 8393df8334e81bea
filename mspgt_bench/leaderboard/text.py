"""The leaderboard as Markdown (for reading), CSV (one row per cell) and JSON (everything)."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from mspgt_bench.leaderboard import fmt
from mspgt_bench.leaderboard.board import Leaderboard, ModelRow, Tally
from mspgt_bench.leaderboard.runs import Run

CSV_COLUMNS = (
    "run",
    "family",
    "model",
    "size",
    "prediction",
    "status",
    "non_discriminative",
    "value",
    "ci_low",
    "ci_high",
    "confidence",
    "threshold",
    "direction",
    "statistic",
    "n",
    "controls",
    "reason",
    "suite",
    "suite_version",
    "suite_sha256",
    "seed",
)


def md_row(cells: list[str]) -> str:
    """One Markdown table row; pipes and newlines in cells are escaped."""
    return "| " + " | ".join(c.replace("|", "\\|").replace("\n", " ") for c in cells) + " |"


def md_table(header: list[str], rows: list[list[str]]) -> list[str]:
    """The lines of a Markdown table."""
    return [md_row(header), md_row(["---"] * len(header)), *(md_row(r) for r in rows)]


def _matrix_cell(row: ModelRow, prediction: str, values: bool) -> str:
    cell = row.cells.get(prediction)
    if cell is None:
        return "—"
    return f"{fmt.verdict(cell)} {fmt.detail(cell)}" if values else fmt.verdict(cell)


def run_provenance(run: Run) -> dict[str, str]:
    """The provenance columns shown for each run, in display order."""
    doc = run.document
    prov = doc.provenance
    return {
        "run": run.label,
        "path": str(run.path),
        "suite": doc.suite.name,
        "version": doc.suite.version,
        "sha256": prov.suite_sha256[:12],
        "seed": str(prov.seed),
        **prov.versions.model_dump(),
        "models": str(len({v.model for v in doc.verdicts if not v.family_level})),
        "wall": f"{prov.wall_s:.1f} s",
    }


def to_markdown(board: Leaderboard, values: bool = False) -> str:
    """Matrix, per-family pass rates, run provenance and unreadable runs, as Markdown."""
    sets = board.stimulus_sets
    lead = (["run"] if board.multiple_runs else []) + (["stimuli"] if sets else [])
    header = ["family", "model", *lead, *board.predictions, "pass rate", "discriminative"]
    matrix = [
        [
            row.family,
            row.model,
            *([row.run] if board.multiple_runs else []),
            *([row.stimulus_set or "—"] if sets else []),
            *(_matrix_cell(row, p, values) for p in board.predictions),
            fmt.pass_rate(row.tally),
            fmt.discriminative_rate(row.tally),
        ]
        for row in board.rows
    ]
    lines = [f"# Leaderboard: {board.title()}", "", fmt.LEGEND, ""] + ([fmt.CORPUS_LEGEND, ""] if sets else [])
    labelled = board.multiple_runs or sets  # family cells name the run (and set) of each verdict
    if values:
        lines += [
            "Cells: verdict, then value [bootstrap interval] of the prediction's statistic (or why there is none).",
            "",
        ]
    lines += md_table(header, matrix)
    families = [
        [
            g.family,
            fmt.model_count(g),
            *(fmt.family_verdicts(g.cells.get(p, []), values, labelled) for p in board.family_predictions),
            fmt.pass_rate(g.tally),
            fmt.discriminative_rate(g.tally),
        ]
        for g in board.families
    ]
    family_header = ["family", "models", *board.family_predictions, "pass rate", "discriminative"]
    lines += ["", "## Families", "", *md_table(family_header, families)]
    if board.runs:
        provenance = [run_provenance(run) for run in board.runs]
        lines += ["", "## Runs", "", *md_table(list(provenance[0]), [list(p.values()) for p in provenance])]
    if board.problems:
        lines += ["", "## Unreadable runs", ""] + [f"- `{p.path}`: {p.message}" for p in board.problems]
    return "\n".join(lines) + "\n"


def to_csv(board: Leaderboard) -> str:
    """One row per verdict cell (model cells, then family-level cells) with value, interval and suite."""
    columns = list(CSV_COLUMNS)
    if board.stimulus_sets:  # runs with several stimulus sets: which set, and whether the sets agree
        columns[columns.index("status") : columns.index("status")] = ["stimulus_set"]
        columns[columns.index("non_discriminative") + 1 : columns.index("non_discriminative") + 1] = [
            "corpus_sensitive",
            "corpus_statuses",
        ]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for run, family, cell in board.all_cells():
        data = cell.model_dump()
        data.update(
            run=run,
            family=family,
            threshold=json.dumps(list(cell.threshold) if isinstance(cell.threshold, tuple) else cell.threshold),
            controls=json.dumps(cell.controls),
            corpus_statuses=json.dumps(cell.corpus_statuses),
        )
        writer.writerow({column: data[column] for column in columns})
    return buffer.getvalue()


def _tally(t: Tally) -> dict[str, Any]:
    return {
        "passed": t.passed,
        "discriminative": t.discriminative,
        "counted": t.counted,
        "pass_rate": t.pass_rate,
        "discriminative_rate": t.discriminative_rate,
    }


def to_json(board: Leaderboard) -> str:
    """The whole leaderboard: matrix with full verdict rows, tallies, run provenance, problems."""
    data = {
        "title": board.title(),
        "mixed": board.mixed,
        "predictions": board.predictions,
        "families": [
            {
                "family": group.family,
                **_tally(group.tally),
                "cells": {
                    p: [{"run": label, **fmt.cell_dump(cell)} for label, cell in entries]
                    for p, entries in group.cells.items()
                },
                "models": [
                    {
                        "run": row.run,
                        "model": row.model,
                        "size": row.size,
                        **({} if row.stimulus_set is None else {"stimulus_set": row.stimulus_set}),
                        **_tally(row.tally),
                        "cells": {p: fmt.cell_dump(cell) for p, cell in row.cells.items()},
                    }
                    for row in group.models
                ],
            }
            for group in board.families
        ],
        "runs": [
            {
                "label": run.label,
                "path": str(run.path),
                "suite": run.document.suite.model_dump(),
                "provenance": run.document.provenance.model_dump(mode="json", exclude={"models"}),
            }
            for run in board.runs
        ],
        "problems": [{"path": str(p.path), "message": p.message} for p in board.problems],
    }
    return json.dumps(data, indent=2) + "\n"

"""The leaderboard as HTML: a sortable matrix, per-family pass rates, run provenance, problems."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from mspgt_bench.leaderboard import fmt
from mspgt_bench.leaderboard.board import Leaderboard, ModelRow
from mspgt_bench.leaderboard.page import Cell, esc, page, table, text
from mspgt_bench.leaderboard.runs import Run
from mspgt_bench.leaderboard.text import run_provenance
from mspgt_bench.result_schema import VerdictRow

STATUS_RANK = {"PASS": 0, "INCONCLUSIVE": 2, "FAIL": 3, "ERROR": 4, "SKIP": 5}
"""Sort order of verdicts, best first; a non-discriminative PASS ranks 1."""


def badge(cell: VerdictRow) -> str:
    """The coloured verdict label (hatched when the PASS is non-discriminative, outlined when corpus-sensitive)."""
    nd = " nd" if cell.non_discriminative else ""
    cs = " cs" if cell.corpus_sensitive else ""
    return f'<span class="badge {cell.status}{nd}{cs}">{esc(fmt.verdict(cell))}</span>'


def tooltip(cell: VerdictRow) -> str:
    """Statistic, interval, what PASS needs, the controls' verdicts and the reason, in one line."""
    parts = [f"{cell.statistic} = {fmt.interval(cell)}", f"PASS needs {fmt.relation(cell)}"]
    if cell.controls:
        parts.append("controls: " + ", ".join(f"{k} {v}" for k, v in cell.controls.items()))
    if cell.corpus_statuses:
        flag = "corpus-sensitive" if cell.corpus_sensitive else "stimulus sets"
        parts.append(f"{flag}: {fmt.corpus(cell)}")
    if cell.reason:
        parts.append(cell.reason)
    return "; ".join(parts)


def verdict_cell(cell: VerdictRow | None, values: bool) -> Cell:
    """A matrix cell: badge, and the value with its interval when ``values``."""
    if cell is None:
        return Cell("—", sort="")
    content = badge(cell)
    if values:
        content += f'<span class="value">{esc(fmt.detail(cell))}</span>'
    rank = 1 if cell.non_discriminative else STATUS_RANK[cell.status]
    return Cell(content, sort=rank, css="verdict", title=tooltip(cell))


def family_cell(entries: Sequence[tuple[str, VerdictRow]], values: bool, with_runs: bool) -> Cell:
    """A family-level cell: one badge per run that evaluated the cross-model prediction."""
    if not entries:
        return Cell("—", sort="")
    parts = []
    for label, cell in entries:
        part = badge(cell) + (f" <small>({esc(label)})</small>" if with_runs else "")
        if values:
            part += f'<span class="value">{esc(fmt.detail(cell))}</span>'
        parts.append(part)
    first = entries[0][1]
    rank = 1 if first.non_discriminative else STATUS_RANK[first.status]
    return Cell("<br>".join(parts), sort=rank, css="verdict", title=" | ".join(tooltip(c) for _, c in entries))


def _rate_cell(value: float | None, label: str) -> Cell:
    return text(label, sort="" if value is None else value, css="num")


def leaderboard_html(
    board: Leaderboard,
    *,
    values: bool,
    model_link: Callable[[ModelRow], str] | None = None,
    run_link: Callable[[Run], str] | None = None,
    before_runs: str = "",
) -> str:
    """The leaderboard sections; links to model and run pages when the link functions are given.

    ``before_runs`` is trusted HTML placed after the family table and before the runs' provenance.
    """
    parts = []
    if board.problems:
        items = "".join(f"<li><code>{esc(p.path)}</code>: {esc(p.message)}</li>" for p in board.problems)
        parts.append(f'<div class="problems"><strong>Unreadable runs</strong><ul>{items}</ul></div>')
    sets = board.stimulus_sets
    legend = fmt.LEGEND + (" " + fmt.CORPUS_LEGEND if sets else "")
    parts.append(f'<p class="note">{esc(legend)} Click a column header to sort.</p>')
    columns = [("family", "family"), ("model", "model")]
    columns += [("run", "run")] if board.multiple_runs else []
    columns += [("stimuli", "stimuli")] if sets else []
    columns += [(p, p) for p in board.predictions]
    columns += [("pass_rate", "pass rate"), ("discriminative", "discriminative")]
    rows = []
    for row in board.rows:
        name = esc(row.model)
        model = f'<a href="{esc(model_link(row))}">{name}</a>' if model_link else name
        cells = [text(row.family), Cell(model, sort=row.model, css="model")]
        cells += [text(row.run)] if board.multiple_runs else []
        cells += [text(row.stimulus_set or "—")] if sets else []
        cells += [verdict_cell(row.cells.get(p), values) for p in board.predictions]
        cells += [
            _rate_cell(row.tally.pass_rate, fmt.pass_rate(row.tally)),
            _rate_cell(row.tally.discriminative_rate, fmt.discriminative_rate(row.tally)),
        ]
        rows.append(cells)
    parts.append(table(columns, rows, sortable=True, table_id="leaderboard"))

    parts.append("<h2>Families</h2>")
    family_rows = [
        [
            text(g.family),
            text(fmt.model_count(g), css="num"),
            *(family_cell(g.cells.get(p, []), values, board.multiple_runs or sets) for p in board.family_predictions),
            _rate_cell(g.tally.pass_rate, fmt.pass_rate(g.tally)),
            _rate_cell(g.tally.discriminative_rate, fmt.discriminative_rate(g.tally)),
        ]
        for g in board.families
    ]
    family_columns = [("family", "family"), ("models", "models"), *((p, p) for p in board.family_predictions)]
    family_columns += [("pass_rate", "pass rate"), ("discriminative", "discriminative")]
    parts.append(table(family_columns, family_rows, sortable=True, table_id="families"))
    if before_runs:
        parts.append(before_runs)

    if board.runs:
        parts.append("<h2>Runs</h2>")
        provenance = [run_provenance(run) for run in board.runs]
        run_rows = []
        for run, info in zip(board.runs, provenance):
            label = esc(run.label)
            first = Cell(f'<a href="{esc(run_link(run))}">{label}</a>' if run_link else label)
            run_rows.append([first, *(text(v) for k, v in info.items() if k != "run")])
        parts.append(table([(k, k) for k in provenance[0]], run_rows, table_id="runs"))
    return "\n".join(parts)


def leaderboard_page(board: Leaderboard, values: bool) -> str:
    """A standalone HTML page of the leaderboard (``mspgt-bench leaderboard --format html``)."""
    return page(f"Leaderboard: {board.title()}", leaderboard_html(board, values=values))

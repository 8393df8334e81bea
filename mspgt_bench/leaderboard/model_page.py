"""One model's page of the published site: provenance, verdicts, boundaries and figures.

Files it writes next to the page (``runs/<run>/``): copies of the run's profile figures under
``figures/<model>/`` and its own boundary figures ``figures/<model>/boundaries.<condition>.<detector>.png``.
Only regular files inside the run directory are copied: a symbolic link, or a file that resolves
outside the run, is skipped, reported through ``warn`` and noted on the page.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from mspgt_bench.atomic import UnsafePathError, read_regular
from mspgt_bench.leaderboard import fmt
from mspgt_bench.leaderboard.board_html import badge, verdict_cell
from mspgt_bench.leaderboard.boundary_figure import boundary_png
from mspgt_bench.leaderboard.page import definitions, esc, page, table, text
from mspgt_bench.leaderboard.runs import Run, slug
from mspgt_bench.result_schema import BoundaryRow, ModelRun

BOUNDARY_COLUMNS = (
    "condition", "detector", "boundary", "layer", "depth", "interval", "within 1 layer", "boundaries", "criterion",
    "inputs",
)  # fmt: skip


Warn = Callable[[str], None]
"""Receives one line per file of a run that was not published, and why."""


def model_page_name(model: str) -> str:
    """File name of a model's page inside its run folder."""
    return f"model-{slug(model)}.html"


def _conditions(run: Run, model: str) -> list[tuple[str, ModelRun]]:
    prefix = f"{model}/"
    return [
        (key[len(prefix) :], meta) for key, meta in run.document.provenance.models.items() if key.startswith(prefix)
    ]


def _errors(meta: ModelRun) -> str:
    problems = [f"detector {label}: {why}" for label, why in meta.detector_errors.items()]
    return "; ".join([*problems, *([meta.error] if meta.error else [])])


def _provenance_section(run: Run, model: str) -> str:
    conditions = _conditions(run, model)  # 'trained', or 'trained/<set>' with several stimulus sets
    trained = next((meta for condition, meta in conditions if condition.split("/")[0] == "trained"), None)
    parts = ["<h2>Model</h2>"]
    if trained is not None and trained.provenance is not None:
        parts.append(definitions(list(trained.provenance.model_dump().items())))
    rows = [
        [
            text(condition),
            text("" if meta.n_stimuli is None else meta.n_stimuli, css="num"),
            text("" if meta.forward_calls is None else meta.forward_calls, css="num"),
            text(", ".join(f"{k} {v:.2f}" for k, v in meta.timings.items())),
            text({True: "yes", False: "no", None: ""}[meta.cached]),
            text(_errors(meta)),
        ]
        for condition, meta in conditions
    ]
    columns = [(c, c) for c in ("condition", "stimuli", "forward calls", "timings (s)", "cached", "errors")]
    parts.append(table(columns, rows, table_id="conditions"))
    return "\n".join(parts)


def _verdicts_section(run: Run, model: str) -> str:
    verdicts = [v for v in run.document.verdicts if v.model == model]
    sets = any(v.stimulus_set is not None for v in verdicts)
    rows = [
        [
            text(v.prediction),
            text(v.condition),
            *([text(v.stimulus_set or "—")] if sets else []),
            verdict_cell(v, values=False),
            text(fmt.interval(v) if v.value is not None else "—", css="num"),
            text(fmt.relation(v)),
            text(v.statistic),
            text("" if v.n is None else v.n, css="num"),
            text(v.reason),
        ]
        for v in verdicts
    ]
    names = ("prediction", "condition", *(["stimuli"] if sets else []), "verdict", "value [CI]", "PASS needs")
    columns = [(c, c) for c in (*names, "statistic", "n", "reason")]
    return "<h2>Verdicts</h2>\n" + table(columns, rows, sortable=True, table_id="verdicts")


def _boundary_figures(run: Run, model: str, rows: list[BoundaryRow], folder: Path) -> list[tuple[str, str]]:
    """Draw one figure per (condition, stimulus set, detector); return (relative path, caption) pairs."""
    groups: dict[tuple[str, str | None, str], list[BoundaryRow]] = {}
    for row in rows:
        groups.setdefault((row.condition, row.stimulus_set, row.detector), []).append(row)
    figures = []
    for (condition, stimulus_set, detector), group in groups.items():
        profiles = [
            p
            for p in run.document.profiles
            if p.model == model and p.condition == condition and p.stimulus_set == stimulus_set
        ]
        png = boundary_png(model, group, profiles)
        if png is None:
            continue
        where = condition if stimulus_set is None else f"{condition}.{stimulus_set}"
        name = f"boundaries.{slug(where)}.{slug(detector)}.png"
        (folder / name).write_bytes(png)
        where = condition if stimulus_set is None else f"{condition}, {stimulus_set}"
        figures.append((f"figures/{slug(model)}/{name}", f"{detector} [{where}]: boundaries over its inputs"))
    return figures


def _boundaries_section(run: Run, model: str, folder: Path) -> str:
    rows = [b for b in run.document.boundaries if b.model == model]
    parts = ["<h2>Detected boundaries</h2>"]
    if not rows:
        parts.append(
            '<p class="note">No boundary rows for this model: the suite ran no detector, or it found none.</p>'
        )
        return "\n".join(parts)
    parts.append(
        '<p class="note">Layer b starts a new segment; interval: bootstrap interval of the boundary\'s layer; '
        "within 1 layer: fraction of resamples with a boundary within one layer.</p>"
    )
    sets = any(b.stimulus_set is not None for b in rows)
    table_rows = [
        [
            text(b.condition if b.stimulus_set is None else f"{b.condition}, {b.stimulus_set}"),
            text(b.detector),
            text(b.boundary, css="num"),
            text(b.layer, css="num"),
            text(f"{b.depth:.3f}", css="num"),
            text(f"[{fmt.number(b.ci_low)}, {fmt.number(b.ci_high)}]", css="num"),
            text(fmt.number(b.within_1_layer), css="num"),
            text(b.n_boundaries, css="num"),
            text(b.criterion),
            text(b.inputs.replace(",", ", ")),
        ]
        for b in rows
    ]
    columns = [(c, c) for c in BOUNDARY_COLUMNS]
    if sets:
        columns[0] = ("condition", "condition, stimuli")
    parts.append(table(columns, table_rows, sortable=True, table_id="boundaries"))
    trained = [b for b in rows if b.condition == "trained"]
    for src, caption in _boundary_figures(run, model, trained, folder):
        parts.append(_figure(src, caption))
    return "\n".join(parts)


def _figure(src: str, caption: str) -> str:
    return f'<figure><img src="{esc(src)}" alt="{esc(caption)}"><figcaption>{esc(caption)}</figcaption></figure>'


def _profile_figures_section(run: Run, model: str, folder: Path, warn: Warn) -> str:
    source = run.path / "figures" / slug(model)
    pngs = sorted(source.glob("*.png")) if source.is_dir() else []
    parts = ["<h2>Layer profiles</h2>"]
    if not pngs:
        parts.append('<p class="note">This run wrote no profile figures for this model (suite output.figures).</p>')
    for png in pngs:
        try:
            (folder / png.name).write_bytes(read_regular(run.path, png))
        except UnsafePathError as exc:
            warn(f"not published: {exc}")
            parts.append(f'<p class="note">{esc(png.name)} not published: not a regular file in the run.</p>')
            continue
        parts.append(
            _figure(f"figures/{slug(model)}/{png.name}", f"{png.stem}: mean per layer with bootstrap interval")
        )
    return "\n".join(parts)


def write_model_page(run: Run, model: str, run_folder: Path, warn: Warn = lambda _line: None) -> Path:
    """Write ``run_folder/model-<model>.html`` and its figures; return the page's path.

    ``warn`` receives a line for each profile figure that was skipped (not a regular file in the run).
    """
    figures = run_folder / "figures" / slug(model)
    figures.mkdir(parents=True, exist_ok=True)
    verdicts = [v for v in run.document.verdicts if v.model == model and v.condition == "trained"]
    summary = " ".join(f"{esc(v.prediction)}: {badge(v)}" for v in verdicts)
    first = verdicts[0] if verdicts else None
    intro = (
        f'<p class="note">family {esc(first.family if first else "?")}, size {esc(first.size if first else "?")}; '
        f'run <a href="index.html">{esc(run.label)}</a>, suite {esc(run.describe_suite())}</p>'
        f"<p>{summary}</p>"
    )
    body = "\n".join(
        [
            intro,
            _verdicts_section(run, model),
            _boundaries_section(run, model, figures),
            _profile_figures_section(run, model, figures, warn),
            _provenance_section(run, model),
        ]
    )
    path = run_folder / model_page_name(model)
    nav = [("run " + run.label, "index.html")]
    path.write_text(page(model, body, root="../../", nav=nav), encoding="utf-8")
    return path

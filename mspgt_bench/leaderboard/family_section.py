"""The site's family comparison section: the boundary-depth figure and the numbers behind it."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from mspgt_bench.leaderboard.family_figure import Depth, ModelDepths, detectors, family_models, family_png
from mspgt_bench.leaderboard.page import esc, table, text
from mspgt_bench.leaderboard.runs import Run

FIGURE = "figures/families.png"
"""Path of the figure inside the site."""


def _depths(found: Sequence[Depth]) -> str:
    def one(d: Depth) -> str:
        interval = "" if d.low is None or d.high is None else f" [{d.low:.2f}, {d.high:.2f}]"
        return f"b{d.index} {d.depth:.2f}{interval}"

    return "; ".join(one(d) for d in found) or "none"


def _table(models: Sequence[ModelDepths], labels: Sequence[str], with_run: bool) -> str:
    columns = [("family", "family"), ("model", "model"), ("layers", "layers")]
    columns += [(f"det-{label}", f"{label}: depth [CI]") for label in labels]
    rows = [
        [
            text(m.family),
            text(m.label(with_run).rsplit(",", 1)[0], css="model"),
            text(m.n_layers, css="num"),
            *(text(_depths(m.found.get(label, []))) for label in labels),
        ]
        for m in models
    ]
    return table(columns, rows, sortable=True, table_id="family-boundaries")


def _caption(models: Sequence[ModelDepths]) -> str:
    families = list(dict.fromkeys(m.family for m in models))
    counts = ", ".join(f"{f} ({sum(m.family == f for m in models)})" for f in families)
    return (
        f"Boundary depth (layer b / L) of {len(models)} trained models in {len(families)} families: {counts}. "
        "Dots: the boundaries each detector found (its own count), bars: their bootstrap intervals; "
        "hollow diamonds: the best two-boundary splits a P5 (boundary_cv) verdict compared."
    )


def family_section(runs: Sequence[Run], out: Path) -> str:
    """Write the figure under ``out`` and return the section's HTML (a note when nothing can be drawn)."""
    models = family_models(runs)
    with_run = len(runs) > 1
    heading = '<h2 id="family-comparison">Family comparison: boundary depth</h2>'
    png = family_png(models, with_run)
    if png is None:
        return heading + '<p class="note">No trained model of these runs has boundaries to compare.</p>'
    path = out / FIGURE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(png)
    caption = esc(_caption(models))
    figure = (
        f'<figure id="family-figure"><img src="{FIGURE}" alt="{caption}" '
        "onload=\"this.parentNode.setAttribute('data-loaded', 'yes')\">"
        f"<figcaption>{caption}</figcaption></figure>"
    )
    return "\n".join([heading, figure, _table(models, detectors(models), with_run)])

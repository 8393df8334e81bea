"""Figures of intervention effects: effect per layer with its bootstrap band (matplotlib, Agg)."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from functools import partial
from pathlib import Path
from typing import Any

from mspgt_bench.atomic import atomic_write_bytes, inside, slug
from mspgt_bench.png_memo import PngMemo, png_bytes

__all__ = ["plot_effect_per_layer", "write_intervention_figures"]


def plot_effect_per_layer(ax: Any, rows: list[dict[str, Any]], metric: str) -> None:
    """Draw one line per ``param`` (e.g. each σ) of ``rows`` (one intervention, one metric) on ``ax``."""
    series: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        if row["metric"] == metric and row["layer"] is not None and not math.isnan(row["value"]):
            series[row["param"] or ""].append(row)
    for param, points in sorted(series.items()):
        points.sort(key=lambda r: (r["layer"], r["layer_end"]))
        x = [(r["layer"] + r["layer_end"]) / 2 for r in points]
        y = [r["value"] for r in points]
        line = ax.plot(x, y, marker="o", markersize=3, label=param or None)[0]
        lo = [r["ci_low"] for r in points]
        hi = [r["ci_high"] for r in points]
        ax.fill_between(x, lo, hi, alpha=0.25, color=line.get_color(), linewidth=0)
    ax.set_xlabel("layer")
    ax.set_ylabel(metric)
    ax.grid(alpha=0.3)
    if any(series):
        ax.legend(fontsize=7)


PLOTTED = ("metric", "param", "layer", "layer_end", "value", "ci_low", "ci_high", "n")
"""The fields of a row a figure shows (:func:`plot_effect_per_layer` and the title read only these)."""


def write_intervention_figures(
    folder: Path,
    rows: Iterable[dict[str, Any]],
    model: str = "model",
    metrics: Iterable[str] | None = None,
    memo: PngMemo | None = None,
) -> list[Path]:
    """One PNG per (intervention, metric) under ``folder/<model>/interventions/``; returns the paths.

    File and folder names are slugged (:func:`mspgt_bench.atomic.slug`) and each path is checked
    to stay in ``folder``. With a ``memo``, a figure whose content (title and the :data:`PLOTTED`
    fields of its rows) it holds is copied, not drawn.

    Rows are those of :func:`mspgt_bench.interventions.sweep.run_interventions`; targets that
    touch no layer (e.g. ``trace[total]``) and the ``token_classes`` rows are not plotted.
    """
    wanted = set(metrics) if metrics is not None else None
    grouped: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        if row["layer"] is None or (wanted is not None and row["metric"] not in wanted):
            continue
        grouped[(row["intervention"], row["metric"])].append({key: row[key] for key in PLOTTED})
    written = []
    for (intervention, metric), group in sorted(grouped.items()):
        n = max(r["n"] for r in group)
        title = f"{model}: {intervention}\n{metric}: mean over {n} stimuli, bootstrap CI band"
        content = {"figure": "intervention", "metric": metric, "title": title, "rows": group}
        draw = partial(_draw, content)
        data = draw() if memo is None else memo.png(content, draw)
        name = f"{slug(intervention)}.{slug(metric)}.png"
        path = inside(folder, Path(folder) / slug(model) / "interventions" / name)
        atomic_write_bytes(path, data)
        written.append(path)
    return written


def _draw(content: dict[str, Any]) -> bytes:
    """The PNG of one figure's content (its metric, title and rows), drawn from it alone."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 3.4), dpi=110)
    ax = fig.subplots()
    plot_effect_per_layer(ax, content["rows"], content["metric"])
    ax.set_title(content["title"], fontsize=9)
    return png_bytes(fig)

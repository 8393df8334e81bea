"""Figures of intervention effects: effect per layer with its bootstrap band (matplotlib, Agg)."""

from __future__ import annotations

import io
import math
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from mspgt_bench.atomic import atomic_write_bytes, inside, slug

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


def write_intervention_figures(
    folder: Path, rows: Iterable[dict[str, Any]], model: str = "model", metrics: Iterable[str] | None = None
) -> list[Path]:
    """One PNG per (intervention, metric) under ``folder/<model>/interventions/``; returns the paths.

    File and folder names are slugged (:func:`mspgt_bench.atomic.slug`) and each path is checked
    to stay in ``folder``.

    Rows are those of :func:`mspgt_bench.interventions.sweep.run_interventions`; targets that
    touch no layer (e.g. ``trace[total]``) and the ``token_classes`` rows are not plotted.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    wanted = set(metrics) if metrics is not None else None
    grouped: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        if row["layer"] is None or (wanted is not None and row["metric"] not in wanted):
            continue
        grouped[(row["intervention"], row["metric"])].append(row)
    written = []
    for (intervention, metric), group in sorted(grouped.items()):
        fig, ax = plt.subplots(figsize=(6, 3.4), dpi=110)
        plot_effect_per_layer(ax, group, metric)
        n = max(r["n"] for r in group)
        ax.set_title(f"{model}: {intervention}\n{metric}: mean over {n} stimuli, bootstrap CI band", fontsize=9)
        fig.tight_layout()
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png")
        plt.close(fig)
        name = f"{slug(intervention)}.{slug(metric)}.png"
        path = inside(folder, Path(folder) / slug(model) / "interventions" / name)
        atomic_write_bytes(path, buffer.getvalue())
        written.append(path)
    return written

"""The family comparison: boundary depth (fraction of depth) per model, grouped by family.

MSPGT P5 claims that where the boundaries fall, as a fraction of depth, depends on the
architecture family. This figure puts every trained model of the published runs on one depth
axis: one row per model, rows grouped (and shaded) by family, one panel per detector. Each
boundary the detector found (its own count, chosen by its criterion; ``boundaries.csv``) is a
marker at depth ``b / L``, with its bootstrap interval (the interval of the boundary's layer,
divided by L) as a bar. Where a cross-model ``boundary_cv`` verdict compared the family's best
two-boundary splits, those splits are drawn as hollow diamonds in that detector's panel, so the
points P5 read are visible next to what the detector counted.

Only :mod:`mspgt_bench.result_schema` rows are read; matplotlib is imported when drawing.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from mspgt_bench.leaderboard.runs import Run
from mspgt_bench.result_schema import BoundaryRow, ResultsDocument

if TYPE_CHECKING:
    from matplotlib.axes import Axes

UNKNOWN_FAMILY = "unknown"
BOUNDARY_COLOURS = ("#1f5fbf", "#b3261e", "#1e7b34", "#8a5a00", "#8e24aa")
FAMILY_SHADES = ("#eef3fb", "#f7f7f7")
CV_PLUGIN = "boundary_cv"

Band = tuple[str, float, float]
"""A family's rows on the y axis: (family, y of its first model, y of its last)."""


@dataclass(frozen=True)
class Depth:
    """One boundary as a fraction of depth, with its interval (None when not resampled)."""

    index: int
    depth: float
    low: float | None = None
    high: float | None = None


@dataclass
class ModelDepths:
    """One trained model of one run (and stimulus set): its family, depth and boundaries per detector."""

    run: str
    model: str
    family: str
    n_layers: int
    stimulus_set: str | None = None
    found: dict[str, list[Depth]] = field(default_factory=dict)
    """Detector label -> the boundaries it found on this model."""
    compared: dict[str, list[float]] = field(default_factory=dict)
    """Detector label -> the best two-boundary split a ``boundary_cv`` verdict compared."""

    def label(self, with_run: bool) -> str:
        where = f" [{self.stimulus_set}]" if self.stimulus_set else ""
        run = f" ({self.run})" if with_run else ""
        return f"{self.model}{where}{run}, {self.n_layers} layers"


def _n_layers(doc: ResultsDocument, model: str, stimulus_set: str | None) -> int | None:
    key = f"{model}/trained" + (f"/{stimulus_set}" if stimulus_set else "")
    meta = doc.provenance.models.get(key)
    return meta.provenance.n_layers if meta is not None and meta.provenance is not None else None


def _families(doc: ResultsDocument) -> dict[str, str]:
    """Model -> the suite's family label (the one cross-model predictions group by)."""
    labels = {v.model: v.family for v in doc.verdicts if not v.family_level and v.family}
    for key, meta in doc.provenance.models.items():
        model = key.split("/")[0]
        if model not in labels and meta.provenance is not None and meta.provenance.family:
            labels[model] = meta.provenance.family
    return labels


def _depth(row: BoundaryRow, n_layers: int) -> Depth:
    def scaled(layer: float | None) -> float | None:
        return None if layer is None else layer / n_layers

    return Depth(row.boundary, row.depth, scaled(row.ci_low), scaled(row.ci_high))


def _run_models(run: Run) -> list[ModelDepths]:
    doc = run.document
    families = _families(doc)
    keys = [(b.model, b.stimulus_set) for b in doc.boundaries if b.condition == "trained"]
    keys += [(v.model, v.stimulus_set) for v in doc.verdicts if v.condition == "trained" and not v.family_level]
    models = {}
    for model, stimulus_set in dict.fromkeys(keys):
        n_layers = _n_layers(doc, model, stimulus_set)
        if n_layers:
            family = families.get(model) or UNKNOWN_FAMILY
            models[model, stimulus_set] = ModelDepths(run.label, model, family, n_layers, stimulus_set)
    for row in doc.boundaries:
        entry = models.get((row.model, row.stimulus_set))
        if row.condition == "trained" and entry is not None:
            entry.found.setdefault(row.detector, []).append(_depth(row, entry.n_layers))
    _add_compared(doc, models)
    return list(models.values())


def _add_compared(doc: ResultsDocument, models: dict[tuple[str, str | None], ModelDepths]) -> None:
    """The best splits that trained ``boundary_cv`` verdicts compared (their ``depths`` and ``detector`` details)."""
    for verdict in doc.verdicts:
        details = verdict.details
        if verdict.condition != "trained" or verdict.prediction_plugin != CV_PLUGIN or "detector" not in details:
            continue
        for model, depths in details.get("depths", {}).items():
            entry = models.get((model, verdict.stimulus_set))
            if entry is not None:
                entry.compared[details["detector"]] = [float(d) for d in depths]


def family_models(runs: Iterable[Run]) -> list[ModelDepths]:
    """Every trained model of ``runs`` with its boundaries, ordered by family, then depth, then name."""
    models = [m for run in runs for m in _run_models(run)]
    return sorted(models, key=lambda m: (m.family, m.n_layers, m.model, m.run, m.stimulus_set or ""))


def detectors(models: Sequence[ModelDepths]) -> list[str]:
    """Detector labels in the order they first appear."""
    return list(dict.fromkeys(label for m in models for label in [*m.found, *m.compared]))


def _positions(models: Sequence[ModelDepths], gap: float = 0.8) -> tuple[list[float], list[Band]]:
    """y of each model (top to bottom), and (family, top, bottom) of each family's band."""
    ys: list[float] = []
    bands: list[Band] = []
    y = 0.0
    for i, model in enumerate(models):
        if i and model.family != models[i - 1].family:
            y += gap
        if not bands or bands[-1][0] != model.family:
            bands.append((model.family, y, y))
        bands[-1] = (model.family, bands[-1][1], y)
        ys.append(y)
        y += 1.0
    return ys, bands


def family_png(models: Sequence[ModelDepths], with_run: bool = False) -> bytes | None:
    """PNG of boundary depth per model, grouped by family, one panel per detector; None without detectors."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = detectors(models)
    if not models or not labels:
        return None
    ys, bands = _positions(models)
    height = 1.4 + 0.42 * (ys[-1] + 1)
    fig, axes = plt.subplots(
        1, len(labels), figsize=(3.4 + 3.6 * len(labels), height), dpi=110, sharey=True, squeeze=False
    )
    for ax, detector in zip(axes[0], labels):
        _panel(ax, detector, models, ys, bands)
    axes[0, 0].set_yticks(ys, [m.label(with_run) for m in models], fontsize=8)
    last = axes[0, -1]
    for family, top, bottom in bands:
        count = sum(m.family == family for m in models)
        last.annotate(
            f"{family}\n({count} model{'s' * (count > 1)})", (1, (top + bottom) / 2),
            xycoords=("axes fraction", "data"), xytext=(8, 0), textcoords="offset points",
            ha="left", va="center", fontsize=9, fontweight="bold",
        )  # fmt: skip
    fig.legend(handles=_legend(models), loc="lower center", ncol=4, fontsize=8, frameon=False)
    fig.suptitle("Boundary depth per model, grouped by family (trained models)", fontsize=10)
    fig.tight_layout(rect=(0, 0.06, 0.93, 1))
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()


def _legend(models: Sequence[ModelDepths]) -> list:
    """Legend handles: one colour per boundary index that occurs, and the P5 diamonds if any."""
    from matplotlib.lines import Line2D

    indices = sorted({d.index for m in models for found in m.found.values() for d in found})
    handles = [
        Line2D([], [], color=_colour(i), marker="o", ls="", label=f"boundary {i} [bootstrap interval]") for i in indices
    ]
    if any(m.compared for m in models):
        handles.append(Line2D([], [], color="#444", marker="D", mfc="none", ls="", label="best 2-boundary split (P5)"))
    return handles


def _colour(index: int) -> str:
    return BOUNDARY_COLOURS[(index - 1) % len(BOUNDARY_COLOURS)]


def _offset(index: int, count: int, step: float = 0.16) -> float:
    """Vertical offset of boundary ``index`` of ``count`` within a model's row, so intervals do not overlap."""
    return (index - (count + 1) / 2) * step


def _panel(ax: Axes, detector: str, models: Sequence[ModelDepths], ys: list[float], bands: list[Band]) -> None:
    for i, (_family, top, bottom) in enumerate(bands):
        ax.axhspan(top - 0.5, bottom + 0.5, color=FAMILY_SHADES[i % 2], zorder=0)
    for y, model in zip(ys, models):
        found = model.found.get(detector, [])
        for depth in found:
            at = y + _offset(depth.index, len(found))
            if depth.low is not None and depth.high is not None:
                ax.plot([depth.low, depth.high], [at, at], color=_colour(depth.index), lw=2.5, alpha=0.35)
            ax.plot(depth.depth, at, "o", color=_colour(depth.index), markersize=6, zorder=3)
        for depth in model.compared.get(detector, []):
            ax.plot(depth, y + 0.34, "D", color="#444", mfc="none", markersize=5, zorder=3)
        if not found:
            ax.text(0.5, y, "no boundary above the null", ha="center", va="center", fontsize=7, color="#5b6576")
    ax.set_xlim(0, 1)
    ax.set_ylim(ys[-1] + 0.7, -0.7)
    ax.set_xlabel("boundary depth (layer b / L)", fontsize=8)
    ax.set_title(f"detector {detector}", fontsize=9)
    ax.tick_params(labelsize=8)
    ax.grid(alpha=0.3, axis="x")

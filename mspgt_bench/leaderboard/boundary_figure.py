"""A figure of the boundaries one detector found, drawn over the profiles it read.

Profiles are placed on the detectors' layer grid: the output of layer ``l`` sits at depth
``(l + 1) / L``, so a point at depth ``d`` is drawn at ``x = d·L − 1`` (layer outputs at
``x = 0..L−1``, other conventions in between). A boundary ``b`` means "layer b starts a new
segment" and is drawn at ``x = b − 0.5``, between the last layer of one segment and the first of
the next, with its bootstrap interval (shifted the same way) as a shaded band.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from itertools import pairwise

from mspgt_bench.result_schema import BoundaryRow, ProfileRow

SEGMENT_SHADES = ("#eef3fb", "#ffffff")


def _n_layers(boundaries: Sequence[BoundaryRow]) -> int:
    """L from a boundary row: ``depth = layer / L`` (every boundary has layer ≥ 1)."""
    row = boundaries[0]
    return round(row.layer / row.depth)


def boundary_png(model: str, boundaries: Sequence[BoundaryRow], profiles: Sequence[ProfileRow]) -> bytes | None:
    """PNG of one detector's boundaries on one model and condition over its input profiles.

    ``boundaries`` are the rows of one (model, condition, detector); ``profiles`` the profile rows
    of the same model and condition. ``None`` when no input profile is among ``profiles``.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    first = boundaries[0]
    n_layers = _n_layers(boundaries)
    inputs = [key for key in first.inputs.split(",") if key]
    curves = {
        key: sorted((p for p in profiles if f"{p.signal}.{p.metric}" == key), key=lambda p: p.depth) for key in inputs
    }
    curves = {key: points for key, points in curves.items() if points}
    if not curves:
        return None
    cuts = [-0.5, *(b.layer - 0.5 for b in sorted(boundaries, key=lambda b: b.layer)), n_layers - 0.5]
    fig, axes = plt.subplots(
        len(curves), 1, figsize=(6.4, 1.2 + 1.7 * len(curves)), dpi=110, sharex=True, squeeze=False
    )
    for ax, (key, points) in zip(axes[:, 0], curves.items()):
        for i, (start, end) in enumerate(pairwise(cuts)):
            ax.axvspan(start, end, color=SEGMENT_SHADES[i % 2], zorder=0)
        x = [p.depth * n_layers - 1 for p in points]
        ax.fill_between(x, [p.ci_low for p in points], [p.ci_high for p in points], color="#1f5fbf", alpha=0.2)
        ax.plot(x, [p.value for p in points], color="#1f5fbf", marker="o", markersize=3)
        for b in boundaries:
            if b.ci_low is not None and b.ci_high is not None and b.ci_high > b.ci_low:
                ax.axvspan(b.ci_low - 0.5, b.ci_high - 0.5, color="#b3261e", alpha=0.15, lw=0)
            ax.axvline(b.layer - 0.5, color="#b3261e", lw=1.6, ls="--")
        ax.set_ylabel(key, fontsize=8)
        ax.tick_params(labelsize=8)
        ax.grid(alpha=0.3, axis="y")
    top = axes[0, 0]
    for i, b in enumerate(sorted(boundaries, key=lambda b: b.layer)):
        top.annotate(
            f"b{b.boundary}: layer {b.layer}",
            (b.layer - 0.5, 1.0),
            xycoords=("data", "axes fraction"),
            xytext=(3, -11 - 9 * (i % 2)),  # staggered, so labels of adjacent boundaries do not overlap
            textcoords="offset points",
            fontsize=7,
            color="#b3261e",
        )
    bottom = axes[-1, 0]
    bottom.set_xlim(-0.5, n_layers - 0.5)
    bottom.xaxis.set_major_locator(MaxNLocator(integer=True))
    bottom.set_xlabel("layer (output of layer l); dashed: boundary, layer b starts a segment", fontsize=8)
    fig.suptitle(f"{model} [{first.condition}]: detector {first.detector}, {first.criterion}", fontsize=9)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()

"""Per-layer profile figures: layer on x, value with its bootstrap interval on y, one line per condition."""

from __future__ import annotations

import io
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

from mspgt_bench.atomic import atomic_write_bytes, inside, slug
from mspgt_bench.signals.base import Profile


def write_profile_figures(folder: Path, curves: Iterable[tuple[str, str, Profile]]) -> list[Path]:
    """One PNG per (model, signal, metric) overlaying every curve of it.

    ``curves`` are ``(model slug, curve name, profile)``; the name is the condition, with the
    stimulus set after it when a suite has several. The PNG is ``<folder>/<model>/<signal>.<metric>.png``,
    each part slugged (:func:`mspgt_bench.atomic.slug`) and the path checked to stay in ``folder``.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    grouped: dict[tuple[str, str, str], list] = defaultdict(list)
    for model, name, profile in curves:
        grouped[(model, profile.signal, profile.metric)].append((name, profile))
    written = []
    for (model, signal, metric), lines in grouped.items():
        fig, ax = plt.subplots(figsize=(6, 3.4), dpi=110)
        for condition, profile in lines:
            line = ax.plot(profile.layers, profile.value, marker="o", markersize=3, label=condition)[0]
            ax.fill_between(profile.layers, profile.lo, profile.hi, alpha=0.25, color=line.get_color())
        ax.set_xlabel("layer")
        ax.set_ylabel(f"{signal}.{metric}")
        ax.set_title(f"{model}: {signal}.{metric} (mean, {lines[0][1].n} stimuli, bootstrap CI)", fontsize=9)
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
        fig.tight_layout()
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png")
        plt.close(fig)
        path = inside(folder, folder / slug(model) / f"{slug(signal)}.{slug(metric)}.png")
        atomic_write_bytes(path, buffer.getvalue())
        written.append(path)
    return written

"""Per-layer profile figures: layer on x, value with its bootstrap interval on y, one line per condition."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from functools import partial
from pathlib import Path
from typing import Any

from mspgt_bench.atomic import atomic_write_bytes, inside, slug
from mspgt_bench.png_memo import PngMemo, png_bytes
from mspgt_bench.signals.base import Profile


def write_profile_figures(
    folder: Path, curves: Iterable[tuple[str, str, Profile]], memo: PngMemo | None = None
) -> list[Path]:
    """One PNG per (model, signal, metric) overlaying every curve of it.

    ``curves`` are ``(model slug, curve name, profile)``; the name is the condition, with the
    stimulus set after it when a suite has several. The PNG is ``<folder>/<model>/<signal>.<metric>.png``,
    each part slugged (:func:`mspgt_bench.atomic.slug`) and the path checked to stay in ``folder``.
    With a ``memo``, a figure whose content (labels, title, every curve's points) it holds is copied, not drawn.
    """
    grouped: dict[tuple[str, str, str], list[tuple[str, Profile]]] = defaultdict(list)
    for model, name, profile in curves:
        grouped[(model, profile.signal, profile.metric)].append((name, profile))
    written = []
    for (model, signal, metric), lines in grouped.items():
        content = _content(model, signal, metric, lines)
        draw = partial(_draw, content)
        data = draw() if memo is None else memo.png(content, draw)
        path = inside(folder, folder / slug(model) / f"{slug(signal)}.{slug(metric)}.png")
        atomic_write_bytes(path, data)
        written.append(path)
    return written


def _content(model: str, signal: str, metric: str, lines: list[tuple[str, Profile]]) -> dict[str, Any]:
    """Everything one profile figure shows: its labels, its title and each curve's name, points and interval."""
    title = f"{model}: {signal}.{metric} (mean, {lines[0][1].n} stimuli, bootstrap CI)"
    return {
        "figure": "profile",
        "ylabel": f"{signal}.{metric}",
        "title": title,
        "curves": [
            {"name": name, "layers": p.layers, "value": p.value, "lo": p.lo, "hi": p.hi, "n": p.n} for name, p in lines
        ],
    }


def _draw(content: dict[str, Any]) -> bytes:
    """The PNG of one :func:`_content`, drawn from it alone."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 3.4), dpi=110)
    ax = fig.subplots()
    for curve in content["curves"]:
        line = ax.plot(curve["layers"], curve["value"], marker="o", markersize=3, label=curve["name"])[0]
        ax.fill_between(curve["layers"], curve["lo"], curve["hi"], alpha=0.25, color=line.get_color())
    ax.set_xlabel("layer")
    ax.set_ylabel(content["ylabel"])
    ax.set_title(content["title"], fontsize=9)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return png_bytes(fig)

"""The signal interface: per-layer profiles reduced on the fly from one shared capture pass.

A signal declares the sites it needs; the runner captures the union of all signals' sites once
per stimulus batch and hands every signal the same ``CapturedBatch``. Each signal keeps only
what it needs (per-stimulus scalars, running sums, or per-stimulus states where the estimator
requires them) and turns it into ``Profile`` rows with bootstrap intervals over stimuli.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import numpy as np
import torch

from mspgt_bench.capture import CapturedBatch
from mspgt_bench.models.sites import Site, all_layers
from mspgt_bench.options import Strict
from mspgt_bench.stats.bootstrap import bootstrap_ci

Kind = Literal["level", "change", "similarity"]
"""How a profile marks a boundary (``detectors.evidence``): ``level`` (a state of layer l) by a step,
``change`` (a distance across layer l) by a peak, ``similarity`` (across layer l) by a dip."""
KINDS: tuple[Kind, ...] = ("level", "change", "similarity")


def spread_positions(mask: torch.Tensor, k: int | None) -> tuple[torch.Tensor, torch.Tensor]:
    """Up to ``k`` evenly spaced real-token positions per row (all of them when ``k`` is None).

    Returns ``index [batch, k']`` into the token axis and ``valid [batch, k']``; with right
    padding, row b's positions are ``round(linspace(0, n_b - 1, min(k, n_b)))``.
    """
    lengths = mask.sum(dim=1)
    width = int(lengths.max()) if k is None else min(k, int(lengths.max()))
    slots = torch.arange(width, device=mask.device)
    counts = lengths.clamp(max=width)
    step = (lengths - 1).clamp(min=0).double() / (counts - 1).clamp(min=1).double()
    index = torch.round(slots.double().unsqueeze(0) * step.unsqueeze(1)).long()
    valid = slots.unsqueeze(0) < counts.unsqueeze(1)
    return torch.where(valid, index, torch.zeros_like(index)), valid


def gather_positions(values: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """``values [batch, tokens, ...]`` at ``index [batch, k]`` -> ``[batch, k, ...]``."""
    expanded = index.view(*index.shape, *([1] * (values.dim() - 2))).expand(-1, -1, *values.shape[2:])
    return values.gather(1, expanded)


def stream_sites(n_layers: int) -> list[Site]:
    """The sites behind ``CapturedBatch.stream``."""
    return [Site("resid_pre", 0)] + all_layers("resid_post", n_layers)


def masked_token_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean over real tokens: ``values [batch, tokens, ...]`` and ``mask [batch, tokens]`` -> ``[batch, ...]``."""
    keep = mask.bool()
    while keep.dim() < values.dim():
        keep = keep.unsqueeze(-1)
    # where, not multiply: a padded position may hold NaN (e.g. the angle of a zero pad embedding)
    total = torch.where(keep, values, torch.zeros((), dtype=values.dtype, device=values.device)).sum(dim=1)
    return total / keep.to(values.dtype).sum(dim=1).clamp_min(1)


@dataclass(frozen=True)
class BootstrapConfig:
    n_boot: int = 1000
    level: float = 0.95
    method: str = "percentile"
    seed: int = 0

    def rng(self, *salt: str) -> np.random.Generator:
        """A generator seeded by the run seed and a salt, so each profile's interval is reproducible.

        Each salt enters through a 128-bit SHA-256 digest of the whole string, so labels that share
        a prefix (``P1-fused`` and ``P1-fused-bic``) draw different resamples.
        """
        entropy = [self.seed] + [int.from_bytes(hashlib.sha256(s.encode()).digest()[:16], "little") for s in salt]
        return np.random.default_rng(entropy)


@dataclass
class Profile:
    """One metric of one signal across depth, with a bootstrap interval over stimuli."""

    signal: str
    metric: str
    layers: np.ndarray
    value: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    n: int
    depth: np.ndarray
    """Position of each point as a fraction of depth, in [0, 1]."""
    convention: str
    per_stimulus: np.ndarray | None = field(default=None, repr=False)
    """``[n_stimuli, n_points]`` values before averaging, when the metric is per stimulus."""
    kind: Kind = "level"
    """How the profile marks a boundary (:data:`Kind`), declared by its signal."""

    def rows(self) -> list[dict[str, Any]]:
        return [
            {
                "signal": self.signal,
                "metric": self.metric,
                "layer": int(layer),
                "depth": float(depth),
                "value": float(v),
                "ci_low": float(lo),
                "ci_high": float(hi),
                "n": self.n,
                "convention": self.convention,
            }
            for layer, depth, v, lo, hi in zip(self.layers, self.depth, self.value, self.lo, self.hi)
        ]


class Signal(ABC):
    """A per-layer signal plugin. Subclasses document their formula and source in the docstring."""

    name: ClassVar[str]
    convention: ClassVar[str]
    """Which states the points are computed on, e.g. 'resid_post[l], l = 0..L-1'."""
    kinds: ClassVar[dict[str, Kind]] = {}
    """Metrics that are not levels, with their kind (:data:`Kind`); every other metric is a level."""

    def kind(self, metric: str) -> Kind:
        """The kind of one of this signal's metrics."""
        return self.kinds.get(metric, "level")

    class Options(Strict):
        """Options a suite may set; none by default."""

    def __init__(self, n_layers: int, label: str | None = None, **options: Any) -> None:
        self.n_layers = n_layers
        self.label = label or self.name
        self.options = self.Options.model_validate(options)

    @abstractmethod
    def sites(self) -> list[Site]:
        """The sites this signal reads."""

    @abstractmethod
    def update(self, captured: CapturedBatch) -> None:
        """Reduce one batch into the signal's running state."""

    @abstractmethod
    def profiles(self, boot: BootstrapConfig) -> list[Profile]:
        """The finished profiles, one per metric."""


class PerStimulusSignal(Signal):
    """A signal whose metrics are one value per (stimulus, point); the profile is their mean.

    Subclasses implement ``values`` and set ``points`` (the layer index of each point) when it is
    not simply ``0..L-1``.
    """

    def __init__(self, n_layers: int, label: str | None = None, **options: Any) -> None:
        super().__init__(n_layers, label, **options)
        self._values: dict[str, dict[int, np.ndarray]] = {}

    @abstractmethod
    def values(self, captured: CapturedBatch) -> dict[str, torch.Tensor]:
        """``{metric: [batch, n_points]}`` for one batch."""

    def points(self) -> np.ndarray:
        """Layer index of each point of the profile."""
        return np.arange(self.n_layers)

    def depth(self) -> np.ndarray:
        """Each point as a fraction of depth: layer l's output sits at (l + 1) / L."""
        return (self.points() + 1) / self.n_layers

    def update(self, captured: CapturedBatch) -> None:
        for metric, value in self.values(captured).items():
            rows = value.detach().double().cpu().numpy()
            store = self._values.setdefault(metric, {})
            for index, row in zip(captured.batch.stimulus_index, rows):
                store[index] = row

    def profiles(self, boot: BootstrapConfig) -> list[Profile]:
        return [
            per_stimulus_profile(
                self.label,
                metric,
                np.stack([by_stimulus[i] for i in sorted(by_stimulus)]),
                self.points(),
                self.depth(),
                self.convention,
                boot,
                self.kind(metric),
            )
            for metric, by_stimulus in self._values.items()
        ]


def per_stimulus_profile(
    signal: str,
    metric: str,
    matrix: np.ndarray,
    points: np.ndarray,
    depth: np.ndarray,
    convention: str,
    boot: BootstrapConfig,
    kind: Kind = "level",
) -> Profile:
    """The profile of ``matrix [n_stimuli, n_points]``: its mean over stimuli with a bootstrap interval over stimuli."""
    estimate, lo, hi = bootstrap_ci(
        matrix, n_boot=boot.n_boot, level=boot.level, method=boot.method, rng=boot.rng(signal, metric)
    )
    return Profile(
        signal=signal,
        metric=metric,
        layers=points,
        value=np.asarray(estimate),
        lo=np.asarray(lo),
        hi=np.asarray(hi),
        n=matrix.shape[0],
        depth=depth,
        convention=convention,
        per_stimulus=matrix,
        kind=kind,
    )


class StreamPoints:
    """The stream-state point convention, for signals with one point per stream state x_0 .. x_L.

    Point s sits at depth s / L; state s > 0 is the output of layer s − 1 (before the final norm).
    """

    n_layers: int
    convention = (
        "stream state s = 0..L: x_0 = embeddings (resid_pre[0]), x_s = resid_post[s-1] (raw, before "
        "the final norm); point s = state s, depth s / L"
    )

    def sites(self) -> list[Site]:
        return stream_sites(self.n_layers)

    def points(self) -> np.ndarray:
        return np.arange(self.n_layers + 1)

    def depth(self) -> np.ndarray:
        return self.points() / self.n_layers


class StreamSignal(StreamPoints, PerStimulusSignal):
    """A per-stimulus signal with one point per stream state (:class:`StreamPoints`)."""

"""The intervention plugin interface.

An intervention is a class with a ``name``, a docstring giving its formula and source, and an
``Options`` pydantic model (unknown keys are errors). Built with the model's number of layers and
its options, it yields :class:`Target` s: a label such as ``delete[l=5]``, the layers it
touches, and a ``build(ctx)`` that returns the :class:`~mspgt_bench.models.resume.Step`
edits of the residual stream for one stimulus batch. The sweep resumes the clean pass of each
batch under each target's steps and compares the output to the clean output
(:class:`~mspgt_bench.interventions.effects.CleanReference`).

Interventions that need dataset-level statistics of the clean model (mean contributions,
layer-similarity scores, the embedding scale) set ``needs_fit`` and accumulate them in
``fit(ctx)``, which the sweep calls on every batch before any target runs. Interventions
whose effect is not a comparison with the clean output (activation patching) override
``evaluate``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
from pydantic import Field
from torch import Tensor

from mspgt_bench.interventions.effects import METRICS, CleanReference
from mspgt_bench.models.base import TokenBatch
from mspgt_bench.models.resume import ResidualCache, Step
from mspgt_bench.options import SegmentSource, Strict
from mspgt_bench.stimuli.base import Stimulus

__all__ = [
    "BatchContext",
    "Intervention",
    "Target",
    "TargetOptions",
    "layer_list",
    "layers_text",
    "stable_seed",
]


def stable_seed(*parts: object) -> int:
    """A 63-bit seed from any printable parts, the same on every run and machine (unlike ``hash``)."""
    digest = hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "little") & ((1 << 63) - 1)


def layer_list(layers: list[int] | None, n_layers: int, *, last: int | None = None) -> list[int]:
    """``layers`` with negative indices counted from the end (``None``: ``0 .. last``), checked."""
    last = n_layers - 1 if last is None else last
    if layers is None:
        return list(range(last + 1))
    out = []
    for layer in layers:
        index = layer + n_layers if layer < 0 else layer
        if not 0 <= index <= last:
            raise ValueError(f"layer {layer} is out of range: this model allows layers 0..{last} here")
        out.append(index)
    return sorted(set(out))


def layers_text(layers: tuple[int, ...]) -> str:
    """``"5"``, ``"5-7"`` for a contiguous run, ``"3,9"`` otherwise."""
    if not layers:
        return ""
    if len(layers) > 1 and list(layers) == list(range(layers[0], layers[-1] + 1)):
        return f"{layers[0]}-{layers[-1]}"
    return ",".join(map(str, layers))


@dataclass
class BatchContext:
    """One stimulus batch with its recorded clean pass, handed to ``fit``, ``build`` and ``evaluate``."""

    adapter: Any
    batch: TokenBatch
    clean: ResidualCache
    stimuli: list[Stimulus]
    """The stimulus of each row."""
    reference: CleanReference | None = None
    """Clean next-token quantities (``None`` during the fitting pass)."""
    sentence: Tensor | None = None
    """``[batch, tokens]`` sentence index of each token (−1: padding/special), when offsets are available."""
    memo: dict[Any, Any] = field(default_factory=dict)
    """Per-batch scratch space shared by targets (e.g. resample donors)."""

    @property
    def n_layers(self) -> int:
        return self.clean.n_layers

    @property
    def mask(self) -> Tensor:
        return self.batch.attention_mask.bool()

    @property
    def lengths(self) -> list[int]:
        return self.batch.lengths.tolist()

    def row_generator(self, row: int, *salt: object) -> torch.Generator:
        """A CPU generator seeded by the row's stimulus id and ``salt``: independent of batching."""
        return torch.Generator().manual_seed(stable_seed(self.stimuli[row].id, *salt))


@dataclass(frozen=True)
class Target:
    """One intervened forward pass: a label, the layers it touches, and its residual-stream edits."""

    label: str
    layers: tuple[int, ...]
    build: Callable[[BatchContext], dict[int, Step]]
    param: str = ""
    """Free-form parameters for the results table, e.g. ``"sigma=0.3"``."""
    depth: float | None = None
    """Where the edit sits as a fraction of depth (default: the output of the last touched layer)."""


class TargetOptions(SegmentSource):
    """Which layers an intervention applies to: single layers, and/or whole segments."""

    layers: list[int] | None = Field(
        None,
        description="One target per layer (negative counts from the end). Default: every layer, unless `segments` is given.",
    )

    def layer_ranges(self, n_layers: int) -> list[tuple[int, int]]:
        """Half-open layer ranges ``[a, b)``: ``(l, l+1)`` per single layer, then the segments."""
        if self.segments_from is not None:
            raise ValueError(
                f"segments_from={self.segments_from!r} is resolved by the suite runner from its detections; "
                "outside a suite run pass the layer ranges as `segments`"
            )
        out = []
        if self.layers is not None or self.segments is None:
            out += [(layer, layer + 1) for layer in layer_list(self.layers, n_layers)]
        for start, end in self.segments or []:
            if end > n_layers:
                raise ValueError(f"segment {[start, end]} exceeds the model's {n_layers} layers")
            out.append((start, end))
        return out


def target_label(prefix: str, start: int, end: int) -> str:
    return f"{prefix}[l={start}]" if end == start + 1 else f"{prefix}[{start}:{end}]"


class Intervention:
    """Base class of intervention plugins (see the module docstring)."""

    name: ClassVar[str] = "intervention"
    Options: ClassVar[type[Strict]] = Strict
    needs_fit: ClassVar[bool] = False
    metrics: ClassVar[tuple[str, ...]] = METRICS

    def __init__(self, n_layers: int, label: str | None = None, **options: Any) -> None:
        self.n_layers = n_layers
        self.label = label or self.name
        self.options = self.Options(**options)

    def fit(self, ctx: BatchContext) -> None:
        """Accumulate dataset statistics from one batch's clean pass (only if ``needs_fit``)."""

    def targets(self) -> list[Target]:
        """The intervened passes this intervention asks for (after fitting, if it fits)."""
        raise NotImplementedError

    def evaluate(self, ctx: BatchContext) -> dict[str, dict[str, Tensor]]:
        """``{target label: {metric: per-row values}}`` for one batch."""
        assert ctx.reference is not None
        out = {}
        for target in self.targets():
            resid = ctx.clean.resume(target.build(ctx))
            out[target.label] = ctx.reference.compare_resid(resid)
        return out

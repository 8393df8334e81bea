"""Run interventions over a stimulus set and reduce them to tidy rows with bootstrap intervals.

For each stimulus batch: one recorded clean pass (the adapter's ``record_residuals``;
:func:`~mspgt_bench.models.resume.record` for HF), the clean reference quantities and
token classes, then every target of every intervention resumed from the cached residual
stream. Interventions that need dataset statistics are fitted
in a first pass over all batches. Per-stimulus values are kept, so each row's interval is a
bootstrap over stimuli (the resampling unit of every mspgt-bench statistic).

Row keys (one row per intervention × target × metric): ``intervention`` (the spec's label),
``plugin``, ``target`` (e.g. ``delete[l=5]``), ``layer`` / ``layer_end`` (first and last
layer touched, inclusive; ``None`` when none), ``layers`` (text), ``depth`` (fraction of depth),
``param``, ``metric``, ``value``, ``ci_low``, ``ci_high``, ``n`` (stimuli with a value).
A pseudo-intervention ``token_classes`` reports the fraction of classified targets in each class.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from mspgt_bench.capture import length_sorted_batches
from mspgt_bench.interventions.base import BatchContext, Intervention, Target, layers_text
from mspgt_bench.interventions.effects import CleanReference
from mspgt_bench.interventions.library import INTERVENTIONS
from mspgt_bench.interventions.token_classes import (
    CLASS_NAMES,
    UNCLASSIFIED,
    TokenClassOptions,
    compute_token_classes,
    token_sentences,
)
from mspgt_bench.models.offsets import token_offsets
from mspgt_bench.signals.base import BootstrapConfig
from mspgt_bench.stats.bootstrap import bootstrap_ci
from mspgt_bench.stimuli.base import Stimulus

__all__ = ["SweepResult", "batches_of", "build_interventions", "intervention_class", "run_interventions", "sweep"]

Spec = Any  # ComponentSpec or a mapping {name, id?, options?}


def intervention_class(name: str) -> type[Intervention]:
    """The intervention plugin called ``name``: from the plugin registry, else the built-in table."""
    from mspgt_bench.plugins import registry
    from mspgt_bench.registry import UnknownComponentError

    try:
        return registry("interventions").get(name)
    except UnknownComponentError:
        if name in INTERVENTIONS:
            return INTERVENTIONS[name]
        raise


def _spec_fields(spec: Spec) -> tuple[str, str, dict[str, Any]]:
    if isinstance(spec, dict):
        name = spec["name"]
        return name, spec.get("id") or name, dict(spec.get("options") or {})
    return spec.name, spec.label, dict(spec.options)


def build_interventions(specs: Sequence[Spec], n_layers: int) -> list[Intervention]:
    """Instantiate (and validate the options of) each spec."""
    out = []
    labels = set()
    for spec in specs:
        name, label, options = _spec_fields(spec)
        if label in labels:
            raise ValueError(f"duplicate intervention label {label!r} (set `id:` to tell two apart)")
        labels.add(label)
        out.append(intervention_class(name)(n_layers, label=label, **options))
    return out


def batches_of(stimuli: Sequence[Stimulus], batch_size: int) -> list[list[int]]:
    """Length-sorted batches; a trailing single-stimulus batch joins the one before (resample donors)."""
    batches = length_sorted_batches(stimuli, batch_size)
    if len(batches) > 1 and len(batches[-1]) == 1:
        last = batches.pop()
        batches[-1] = batches[-1] + last
    return batches


@dataclass
class SweepResult:
    rows: list[dict[str, Any]]
    per_stimulus: dict[tuple[str, str], dict[str, np.ndarray]]
    """``{(intervention label, target label): {metric: [n_stimuli] values}}`` (NaN: no value)."""
    targets: dict[str, list[Target]]
    interventions: list[Intervention] = field(default_factory=list)
    unsupported: dict[str, str] = field(default_factory=dict)
    """Intervention label -> why the backend could not run it (it has no rows)."""


def _tokenize(adapter, stimuli: list[Stimulus], indices: list[int], max_tokens: int):
    texts = [s.text for s in stimuli]
    batch = adapter.tokenize(texts, indices, max_tokens)
    return batch, token_offsets(adapter.tokenizer, texts, batch)


def _sentence_tensor(batch, stimuli: list[Stimulus], offsets) -> torch.Tensor | None:
    if offsets is None:
        return None
    out = torch.full(batch.input_ids.shape, -1, dtype=torch.long)
    for row, length in enumerate(batch.lengths.tolist()):
        out[row, :length] = torch.tensor(token_sentences(offsets[row][:length], stimuli[row].sentences))
    return out


@torch.inference_mode()
def sweep(
    adapter,
    stimuli: Sequence[Stimulus],
    specs: Sequence[Spec],
    batch_size: int = 8,
    max_tokens: int = 128,
    boot: BootstrapConfig | None = None,
    *,
    token_classes: TokenClassOptions | dict | None = None,
    on_batch: Callable[[int], None] | None = None,
) -> SweepResult:
    """Run every intervention of ``specs`` on ``stimuli``; see the module docstring."""
    boot = boot or BootstrapConfig()
    stimuli = list(stimuli)
    options = token_classes if isinstance(token_classes, TokenClassOptions) else TokenClassOptions(**(token_classes or {}))
    interventions = build_interventions(specs, adapter.n_layers)
    batches = batches_of(stimuli, batch_size)

    def context(indices: list[int], with_reference: bool) -> BatchContext:
        rows = [stimuli[i] for i in indices]
        batch, offsets = _tokenize(adapter, rows, indices, max_tokens)
        clean = adapter.record_residuals(batch)
        sentence = _sentence_tensor(batch, rows, offsets)
        ctx = BatchContext(adapter, batch, clean, rows, sentence=sentence)
        if with_reference:
            reference = CleanReference.of_resid(adapter, clean.states[-1], batch)
            if options.enabled:
                if offsets is None:
                    warnings.warn("the tokenizer gives no offset mapping: token classes are skipped", stacklevel=3)
                else:
                    tc = compute_token_classes(adapter, batch, rows, offsets, reference.loss_by_target, options)
                    reference.set_classes(tc.classes)
                    ctx.memo["token_classes"] = tc
            ctx.reference = reference
        return ctx

    unsupported: dict[str, str] = {}  # label -> why the backend cannot run it (NotImplementedError)
    fitting = [iv for iv in interventions if iv.needs_fit]
    if fitting:
        for indices in batches:
            ctx = context(indices, with_reference=False)
            for iv in fitting:
                if iv.label not in unsupported:
                    try:
                        iv.fit(ctx)
                    except NotImplementedError as exc:
                        unsupported[iv.label] = str(exc)
            del ctx

    n = len(stimuli)
    values: dict[tuple[str, str], dict[str, np.ndarray]] = {}
    class_values: dict[str, np.ndarray] = {}

    def put(key: tuple[str, str], metric: str, indices: list[int], v: torch.Tensor) -> None:
        column = values.setdefault(key, {}).setdefault(metric, np.full(n, np.nan))
        column[indices] = v.double().numpy()

    for indices in batches:
        ctx = context(indices, with_reference=True)
        tc = ctx.memo.get("token_classes")
        if tc is not None:
            classified = tc.classes != UNCLASSIFIED
            total = classified.sum(dim=1).double()
            for index, name in enumerate(CLASS_NAMES):
                share = (tc.classes == index).sum(dim=1).double() / total.clamp_min(1)
                column = class_values.setdefault(f"fraction_{name}", np.full(n, np.nan))
                column[indices] = torch.where(total > 0, share, torch.full_like(share, float("nan"))).numpy()
            class_values.setdefault("n_classified", np.full(n, np.nan))[indices] = total.numpy()
        for iv in interventions:
            if iv.label in unsupported:
                continue
            try:
                evaluated = iv.evaluate(ctx)
            except NotImplementedError as exc:  # the backend cannot run this intervention: report it, go on
                unsupported[iv.label] = str(exc)
                continue
            for label, metrics in evaluated.items():
                for metric, v in metrics.items():
                    put((iv.label, label), metric, indices, v)
        del ctx
        if on_batch is not None:
            on_batch(len(indices))

    interventions = [iv for iv in interventions if iv.label not in unsupported]
    targets = {iv.label: iv.targets() for iv in interventions}
    rows: list[dict[str, Any]] = []
    for iv in interventions:
        for target in targets[iv.label]:
            for metric, column in values.get((iv.label, target.label), {}).items():
                rows.append(_row(iv, target, metric, column, boot, adapter.n_layers))
    if class_values:
        token_class_target = Target("clean", (), lambda ctx: {})
        for metric, column in class_values.items():
            row = _row(None, token_class_target, metric, column, boot, adapter.n_layers)
            rows.append(row)
    return SweepResult(rows, values, targets, interventions, unsupported)


def run_interventions(
    adapter,
    stimuli: Sequence[Stimulus],
    specs: Sequence[Spec],
    batch_size: int = 8,
    max_tokens: int = 128,
    boot: BootstrapConfig | None = None,
    **kwargs: Any,
) -> list[dict[str, Any]]:
    """Tidy rows of every intervention in ``specs`` (the runner's entry point); see :func:`sweep`."""
    return sweep(adapter, stimuli, specs, batch_size, max_tokens, boot, **kwargs).rows


def _row(
    iv: Intervention | None,
    target: Target,
    metric: str,
    column: np.ndarray,
    boot: BootstrapConfig,
    n_layers: int,
) -> dict[str, Any]:
    label = iv.label if iv is not None else "token_classes"
    finite = column[~np.isnan(column)]
    value = lo = hi = float("nan")
    if len(finite) >= 2:
        ci = bootstrap_ci(
            finite, n_boot=boot.n_boot, level=boot.level, method=boot.method, rng=boot.rng(label, target.label, metric)
        )
        value, lo, hi = float(ci.estimate), float(ci.lo), float(ci.hi)
    elif len(finite) == 1:
        value = float(finite[0])
    layers = target.layers
    depth = target.depth
    if depth is None and layers:
        depth = (max(layers) + 1) / n_layers
    return {
        "intervention": label,
        "plugin": iv.name if iv is not None else "token_classes",
        "target": target.label,
        "layer": min(layers) if layers else None,
        "layer_end": max(layers) if layers else None,
        "layers": layers_text(layers),
        "depth": depth,
        "param": target.param,
        "metric": metric,
        "value": value,
        "ci_low": lo,
        "ci_high": hi,
        "n": len(finite),
    }

"""``samples.jsonl``: the per-stimulus values behind every interval of a run.

One JSON object per line, each led by ``model``, ``family``, ``condition`` (and ``stimulus_set``)
and ``stimulus`` (the id of the set's stimulus; under ``shuffled_tokens`` the model saw its
word-shuffled copy). Then either one metric of a signal, ``{"signal", "metric", "layers",
"values": [one per layer]}``, or an intervention (or generation experiment), ``{"intervention",
"targets": {target: {metric: value}}}``. A profile's interval resamples exactly these rows, so anyone can
recompute a statistic with another estimator. Values that are missing (a stimulus without a
token of a class, say) are ``null``. The lines are typed in :mod:`mspgt_bench.result_schema`
(``SignalSample``, ``EffectSample``). Signals that keep no per-stimulus values (dataset-level
ones such as CKA) have no lines.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from typing import Any

from mspgt_bench.corpora import set_fields
from mspgt_bench.run.plan import RunContext
from mspgt_bench.run.results import ConditionResult


def sample_lines(ctx: RunContext, results: list[ConditionResult]) -> Iterator[str]:
    """Every line of ``samples.jsonl``, cell by cell in run order."""
    ids = {stimulus_set.id: [s.id for s in stimulus_set.stimuli] for stimulus_set in ctx.sets}
    for result in results:
        head = {
            "model": result.model.name,
            "family": result.model.family,
            "condition": result.condition,
            **set_fields(result.stimulus_set),
        }
        for record in _records(result, ids[result.stimulus_set]):
            yield json.dumps({**head, **record}, allow_nan=False)


def _records(result: ConditionResult, stimuli: list[str]) -> Iterator[dict[str, Any]]:
    for profile in result.profiles:
        if profile.per_stimulus is None:
            continue
        layers = [int(layer) for layer in profile.layers]
        for stimulus, row in zip(stimuli, profile.per_stimulus, strict=False):
            values = [_number(v) for v in row]
            yield {
                "stimulus": stimulus,
                "signal": profile.signal,
                "metric": profile.metric,
                "layers": layers,
                "values": values,
            }
    effects = result.context.effects if result.context is not None else {}
    for intervention, targets in effects.items():
        for index, stimulus in enumerate(stimuli):
            values = {
                target.target: {metric: _number(column[index]) for metric, column in target.values.items()}
                for target in targets
                if index < min((len(column) for column in target.values.values()), default=0)
            }
            if values:
                yield {"stimulus": stimulus, "intervention": intervention, "targets": values}


def _number(value: Any) -> float | None:
    number = float(value)
    return number if math.isfinite(number) else None

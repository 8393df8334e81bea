"""Cache entries of a cell's detections and outcomes, and the exact content they are keyed by.

A detection is saved as data (:mod:`mspgt_bench.detectors.saved`) and an outcome as its fields;
both are keyed by :func:`mspgt_bench.content.content_digest` of everything they were computed
from, so an entry is reused only when its inputs are unchanged to the last bit:

* detections: the detector specs, the cell's profiles (per-stimulus values included), the
  number of layers and the bootstrap configuration (its seed is the run seed);
* outcomes: the prediction specs and :func:`context_content` of the cell, i.e. everything a
  prediction may read: profiles, detections (as saved), effects, and the errors and skips.

:func:`mspgt_bench.run.cache.stage_path` adds the library versions and the code of
mspgt_bench and of the plugins involved to each key. Only complete results are saved: a cell
where a detector or a prediction failed computes again on the next run.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from mspgt_bench.atomic import write_json
from mspgt_bench.detectors.plugins import Detection, Detector
from mspgt_bench.detectors.saved import detection_document, detection_from_document
from mspgt_bench.predictions.base import Outcome, PredictionContext
from mspgt_bench.results import load_json_entry


def save_detections(path: Path, detections: dict[str, Detection]) -> None:
    """Write every detection of a cell (each must be savable)."""
    write_json(path, {label: detection_document(d) for label, d in detections.items()})


def load_detections(path: Path, detectors: dict[str, Detector]) -> dict[str, Detection] | None:
    """The saved detections, their rules rebuilt by ``detectors`` (by label); ``None`` when absent.

    Raises ``CacheEntryError`` when the entry is unreadable or does not hold one detection per detector.
    """

    def parse(stored: dict[str, Any]) -> dict[str, Detection]:
        if set(stored) != set(detectors):
            raise ValueError(f"holds detectors {sorted(stored)}, expected {sorted(detectors)}")
        return {label: detection_from_document(stored[label], detectors[label]) for label in detectors}

    return load_json_entry(path, parse)


def save_outcomes(path: Path, outcomes: dict[str, Outcome]) -> None:
    """Write a set of outcomes, each by its fields."""
    write_json(path, {key: dataclasses.asdict(outcome) for key, outcome in outcomes.items()})


def load_outcomes(path: Path) -> dict[str, Outcome] | None:
    """The saved outcomes; ``None`` when absent, ``CacheEntryError`` when unreadable."""
    return load_json_entry(path, lambda stored: {key: Outcome(**fields) for key, fields in stored.items()})


def context_content(context: PredictionContext) -> dict[str, Any] | None:
    """Everything a prediction may read about one cell, as hashable data; ``None`` if a detection is not savable."""
    if not all(d.savable for d in context.detections.values()):
        return None
    return {
        **{f.name: getattr(context, f.name) for f in dataclasses.fields(context) if f.name != "detections"},
        "detections": {label: detection_document(d) for label, d in context.detections.items()},
    }

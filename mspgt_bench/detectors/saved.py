"""A detection as JSON data and back, so a rerun reads it instead of recomputing its null and bootstrap.

Everything of a :class:`~mspgt_bench.detectors.plugins.Detection` is data except its rules
(``fit_fixed``, ``segment``); those are rebuilt by the detector from the detection's
``rule_state`` (:meth:`~mspgt_bench.detectors.plugins.Detector.rules`), never read as code.
Arrays keep their dtype and shape, and floats their exact value (JSON carries ``repr``), so a
read-back detection gives the same rows, refits and intervals as the one computed.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from mspgt_bench.detectors.base import CandidateFit, Segmentation
from mspgt_bench.detectors.bootstrap import BootstrapResult, BoundaryStability
from mspgt_bench.detectors.null import NullCalibration
from mspgt_bench.detectors.plugins import Detection, Detector


def detection_document(detection: Detection) -> dict[str, Any]:
    """The JSON document of a savable detection (ValueError for one whose rules cannot be rebuilt)."""
    if not detection.savable:
        raise ValueError(f"detection {detection.label!r} has rules its detector cannot rebuild")
    boot, null, seg = detection.bootstrap, detection.null, detection.segmentation
    return {
        "label": detection.label,
        "n_layers": detection.n_layers,
        "segmentation": {**_fields(seg), "table": [_fields(fit) for fit in seg.table]},
        "inputs": list(detection.inputs),
        "per_stimulus": _array(detection.per_stimulus),
        "min_size": detection.min_size,
        "bootstrap": None
        if boot is None
        else {
            **_fields(boot),
            "resampled": [list(b) for b in boot.resampled],
            "count_distribution": [[count, share] for count, share in boot.count_distribution.items()],
            "stability": [_fields(s) for s in boot.stability],
        },
        "note": detection.note,
        "evidence": _array(detection.evidence),
        "null": None if null is None else {**_fields(null), "maxima": _array(null.maxima)},
        "rule_state": detection.rule_state,
    }


def detection_from_document(document: dict[str, Any], detector: Detector) -> Detection:
    """The detection saved in ``document``, its rules rebuilt by ``detector`` (the one that found it)."""
    seg = document["segmentation"]
    segmentation = Segmentation(
        tuple(seg["boundaries"]),
        seg["n_layers"],
        seg["criterion"],
        seg["cost"],
        tuple(CandidateFit(f["n_boundaries"], tuple(f["boundaries"]), f["cost"], f["score"]) for f in seg["table"]),
    )
    boot = document["bootstrap"]
    bootstrap = None
    if boot is not None:
        bootstrap = BootstrapResult(
            tuple(boot["boundaries"]),
            tuple(tuple(b) for b in boot["resampled"]),
            {int(count): share for count, share in boot["count_distribution"]},
            boot["modal_count"],
            tuple(BoundaryStability(**s) for s in boot["stability"]),
            boot["level"],
            boot["tolerance"],
        )
    null = document["null"]
    state = document["rule_state"]
    fit_fixed, segment = detector.rules(document["n_layers"], state) if state is not None else (None, None)
    return Detection(
        document["label"],
        document["n_layers"],
        segmentation,
        tuple(document["inputs"]),
        _from_array(document["per_stimulus"]),
        fit_fixed,
        segment,
        document["min_size"],
        bootstrap,
        document["note"],
        _from_array(document["evidence"]),
        None if null is None else NullCalibration(**{**null, "maxima": _from_array(null["maxima"])}),
        state,
    )


def _fields(instance: Any) -> dict[str, Any]:
    """A dataclass's fields, one level deep (tuples as lists)."""
    return {
        f.name: list(value) if isinstance(value := getattr(instance, f.name), tuple) else value
        for f in dataclasses.fields(instance)
    }


def _array(array: np.ndarray | None) -> dict[str, Any] | None:
    if array is None:
        return None
    return {"dtype": array.dtype.str, "shape": list(array.shape), "values": array.ravel().tolist()}


def _from_array(document: dict[str, Any] | None) -> np.ndarray | None:
    if document is None:
        return None
    return np.array(document["values"], dtype=np.dtype(document["dtype"])).reshape(document["shape"])

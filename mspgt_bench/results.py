"""Run outputs: the profile cache and the versioned results file.

Layout of a run directory::

    suite.yaml         the merged suite that ran
    results.json       {schema_version, suite, provenance, verdicts, profiles}
    verdicts.csv       one row per (model, condition, prediction)
    profiles.csv       one row per (model, condition, signal, metric, layer)
    figures/           one PNG per model and signal metric
    cache/<key>.json   profiles of one (model, condition), keyed by a content hash, so a rerun
    cache/<key>.npz    recomputes nothing that already finished
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np

from mspgt_bench.atomic import atomic_write_bytes, write_json
from mspgt_bench.result_schema import SCHEMA_VERSION
from mspgt_bench.signals.base import Profile

__all__ = ["SCHEMA_VERSION", "load_profiles", "save_profiles"]
_ARRAYS = ("layers", "value", "lo", "hi", "depth", "per_stimulus")


def save_profiles(stem: Path, profiles: list[Profile], meta: dict[str, Any]) -> None:
    """Store profiles under ``stem.npz`` (arrays) and ``stem.json`` (metadata, written last)."""
    arrays: dict[str, np.ndarray] = {}
    described = []
    for i, profile in enumerate(profiles):
        for name in _ARRAYS:
            value = getattr(profile, name)
            if value is not None:
                arrays[f"{i}.{name}"] = np.asarray(value)
        described.append(
            {"signal": profile.signal, "metric": profile.metric, "n": profile.n, "convention": profile.convention, "kind": profile.kind}
        )
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    atomic_write_bytes(stem.with_suffix(".npz"), buffer.getvalue())
    write_json(stem.with_suffix(".json"), {"meta": meta, "profiles": described})


def load_profiles(stem: Path) -> tuple[list[Profile], dict[str, Any]] | None:
    """The cached profiles and metadata, or ``None`` when the cache entry is absent or incomplete."""
    meta_path, array_path = stem.with_suffix(".json"), stem.with_suffix(".npz")
    if not (meta_path.is_file() and array_path.is_file()):
        return None
    try:
        stored = json.loads(meta_path.read_text())
        if any("kind" not in info for info in stored["profiles"]):
            return None  # written before profiles declared their kind: recompute rather than guess
        with np.load(array_path) as arrays:
            profiles = [
                Profile(
                    **info,
                    **{name: arrays[f"{i}.{name}"] for name in _ARRAYS if f"{i}.{name}" in arrays},
                )
                for i, info in enumerate(stored["profiles"])
            ]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return profiles, stored["meta"]

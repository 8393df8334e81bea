"""Run outputs: the profile cache and the versioned results file.

Layout of a run directory::

    suite.yaml         the merged suite that ran
    results.json       {schema_version, suite, provenance, verdicts, profiles}
    verdicts.csv       one row per (model, condition, prediction)
    profiles.csv       one row per (model, condition, signal, metric, layer)
    figures/           one PNG per model and signal metric
    cache/<key>.json   profiles of one (model, condition), keyed by a content hash, so a rerun
    cache/<key>.npz    recomputes nothing that already finished
    cache/<...>-effects-<key>.json   a cell's intervention effects
    cache/<...>-detections-<key>.json, cache/<...>-outcomes-<key>.json   its detections and
                       outcomes, keyed by the exact digest of their inputs (mspgt_bench.run.saved)
    cache/figures/<key>.png   every figure, keyed by what it plots (mspgt_bench.png_memo)

A cache entry that exists but cannot be read raises :class:`CacheEntryError`; the runner moves the
file aside with :func:`set_aside` (``<name>.corrupt-<n>``) and computes the entry again.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from mspgt_bench.atomic import atomic_write_bytes, set_aside, write_json
from mspgt_bench.result_schema import SCHEMA_VERSION
from mspgt_bench.signals.base import Profile

__all__ = [
    "SCHEMA_VERSION",
    "CacheEntryError",
    "load_effects",
    "load_json_entry",
    "load_profiles",
    "profile_files",
    "save_profiles",
    "set_aside",
]
T = TypeVar("T")
_ARRAYS = ("layers", "value", "lo", "hi", "depth", "per_stimulus")


class CacheEntryError(Exception):
    """A cache file that exists but cannot be read (truncated, corrupt, not in the expected format)."""

    def __init__(self, path: Path, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"{path}: {reason}")

    @classmethod
    def reading(cls, path: Path, error: Exception) -> CacheEntryError:
        """The error for ``path`` whose reading raised ``error``."""
        return cls(path, f"{type(error).__name__}: {error}")


def profile_files(stem: Path) -> tuple[Path, Path]:
    """``<stem>.npz`` (arrays) and ``<stem>.json`` (metadata).

    The suffixes are appended, never substituted: a stem such as ``qwen2.5-coder-1.5b-trained-<key>``
    has dots of its own, which ``Path.with_suffix`` would cut at, giving every condition of the
    model the same file.
    """
    return stem.with_name(f"{stem.name}.npz"), stem.with_name(f"{stem.name}.json")


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
            {
                "signal": profile.signal,
                "metric": profile.metric,
                "n": profile.n,
                "convention": profile.convention,
                "kind": profile.kind,
            }
        )
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    arrays_path, meta_path = profile_files(stem)
    atomic_write_bytes(arrays_path, buffer.getvalue())
    write_json(meta_path, {"meta": meta, "profiles": described})


def load_profiles(stem: Path) -> tuple[list[Profile], dict[str, Any]] | None:
    """The cached profiles and metadata, or ``None`` when the entry is absent or incomplete.

    Raises ``CacheEntryError`` naming the ``.json`` or ``.npz`` file that exists but cannot be read.
    """
    array_path, meta_path = profile_files(stem)
    if not (meta_path.is_file() and array_path.is_file()):
        return None
    try:
        stored = json.loads(meta_path.read_text())
        described, meta = stored["profiles"], stored["meta"]
        if any("kind" not in info for info in described):
            return None  # written before profiles declared their kind: recompute rather than guess
    except Exception as exc:  # any failure to parse is a corrupt entry
        raise CacheEntryError.reading(meta_path, exc) from exc
    try:
        with np.load(array_path) as arrays:
            profiles = [
                Profile(
                    **info,
                    **{name: arrays[f"{i}.{name}"] for name in _ARRAYS if f"{i}.{name}" in arrays},
                )
                for i, info in enumerate(described)
            ]
    except Exception as exc:  # truncated zip, bad CRC, missing or malformed arrays
        raise CacheEntryError.reading(array_path, exc) from exc
    return profiles, meta


def load_effects(path: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]] | None:
    """A cell's cached effect rows and per-stimulus records, or ``None`` when the entry is absent.

    Raises ``CacheEntryError`` when the file exists but is not a readable effects entry.
    """

    def parse(stored: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        rows, records = stored["rows"], stored["per_stimulus"]
        if not (isinstance(rows, list) and isinstance(records, list)):
            raise TypeError("'rows' and 'per_stimulus' must be lists")
        return rows, records

    return load_json_entry(path, parse)


def load_json_entry(path: Path, parse: Callable[[Any], T]) -> T | None:
    """``parse`` of the JSON cache entry at ``path``, or ``None`` when it is absent.

    Raises ``CacheEntryError`` when the file exists but does not read or ``parse`` rejects it
    (any exception: a truncated file, a missing key, a wrong type).
    """
    if not path.is_file():
        return None
    try:
        return parse(json.loads(path.read_text()))
    except Exception as exc:  # truncated or malformed JSON, or not the entry's shape
        raise CacheEntryError.reading(path, exc) from exc

"""Where a cell's profiles and effects are cached inside the run directory, keyed by content.

A key hashes everything the cached numbers came from: what the suite states (the resolved model,
the condition, the stimulus spec and count, the signals, the bootstrap, the batch size and the
seed; an effects key adds the resolved interventions and generation experiments, segments
included), the weights the model loads (:func:`~mspgt_bench.models.hf.weights_fingerprint`: the
verified checksums of a zoo model, the files of a local folder, a hub id's resolved commit), the
versions of the libraries that compute them, and the stimulus texts themselves (a changed
``text_file`` changes the key). A rerun with any of these changed computes afresh.

A cache entry that exists but cannot be read is reported, moved aside and computed again
(:func:`read_entry`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, TypeVar

from mspgt_bench import __version__
from mspgt_bench.atomic import slug
from mspgt_bench.content import code_digest, content_digest
from mspgt_bench.models.fingerprint import digest
from mspgt_bench.models.hf import weights_fingerprint
from mspgt_bench.results import CacheEntryError, set_aside
from mspgt_bench.run.plan import Cell, RunContext

T = TypeVar("T")
LIBRARIES = ("torch", "transformers", "numpy")
FINGERPRINT_MEMO = "fingerprints.json"
"""File of ``cache/`` remembering the sha256 of local model files, so unchanged files are not reread."""


def cache_key(ctx: RunContext, cell: Cell, effects: dict[str, Any] | None = None) -> str:
    """20 hex digits of the sha256 of the cell's inputs (and of ``effects``' specs, for an effects entry)."""
    suite = ctx.suite
    condition = cell.condition
    if effects is not None:
        condition = f"effects:{condition}:{json.dumps(effects, sort_keys=True)}"
    content = {
        "versions": library_versions(),
        "model": cell.model.__dict__,
        "weights": _weights(ctx, cell),
        "condition": condition,
        "stimuli": cell.stimulus_set.spec.model_dump(),  # a listed set's dump includes its id
        "n_stimuli": len(cell.stimulus_set.stimuli),
        "stimulus_texts": digest([(s.id, s.text, s.passage_id, s.sentences) for s in cell.stimulus_set.stimuli]),
        "signals": [s.model_dump() for s in suite.signals],
        "bootstrap": suite.bootstrap.model_dump(),
        "batch_size": suite.run.batch_size,
        "seed": ctx.seed,
    }
    return digest(content)[:20]


@cache
def library_versions() -> dict[str, str | None]:
    """The installed versions of mspgt-bench and of the libraries that compute its numbers."""
    versions: dict[str, str | None] = {"mspgt_bench": __version__}
    for name in LIBRARIES:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = None
    return versions


def _weights(ctx: RunContext, cell: Cell) -> str | None:
    """The fingerprint of the weights a cell's adapter loads, for adapters that take a ``model`` (HF, vLLM)."""
    model = cell.model.args.get("model")
    if not isinstance(model, str):
        return None  # weights built from the arguments alone (an inline config), which the key holds
    return weights_fingerprint(
        model, revision=cell.model.args.get("revision"), memo=ctx.run_dir / "cache" / FINGERPRINT_MEMO
    )


def read_entry(ctx: RunContext, where: str, load: Callable[[Path], T | None], path: Path) -> T | None:
    """``load(path)``: a cache entry, or ``None`` when it is absent or unreadable.

    An unreadable file is moved aside (``<name>.corrupt-<n>``) and reported on the progress line,
    so the caller computes the entry again and a rerun no longer trips over it.
    """
    try:
        return load(path)
    except CacheEntryError as exc:
        aside = set_aside(exc.path)
        ctx.progress.stage(
            f"{where}: cache file {exc.path.name} could not be read ({exc.reason}); "
            f"moved aside to {aside.name}, recomputing"
        )
        return None


def profiles_stem(ctx: RunContext, cell: Cell) -> Path:
    """``cache/<model>-<condition>[-<set>]-<key>``: the cell's ``.npz`` and ``.json`` profile files."""
    return ctx.run_dir / "cache" / f"{cell_prefix(cell)}-{cache_key(ctx, cell)}"


def effects_path(ctx: RunContext, cell: Cell, effects: dict[str, Any]) -> Path:
    """``cache/<model>-<condition>[-<set>]-effects-<key>.json``: the cell's intervention effects."""
    return ctx.run_dir / "cache" / f"{cell_prefix(cell)}-effects-{cache_key(ctx, cell, effects)}.json"


def stage_path(ctx: RunContext, prefix: str, stage: str, inputs: Any, plugins: Iterable[type]) -> Path | None:
    """``cache/<prefix>-<stage>-<key>.json``: an entry of a stage computed from ``inputs`` by ``plugins``.

    The key is the exact content digest (:func:`mspgt_bench.content.content_digest`) of the
    inputs, the library versions and the source of mspgt_bench and of the plugin classes
    (:func:`mspgt_bench.content.code_digest`): such stages take seconds, so any edit to the code
    recomputes them. ``prefix`` is slugged. ``None`` when an input has no exact digest (a
    plugin's opaque object): the stage is then computed on every run, never cached.
    """
    try:
        key = content_digest({"versions": library_versions(), "code": code_digest(plugins), "inputs": inputs})
    except TypeError:
        return None
    return ctx.run_dir / "cache" / f"{slug(prefix)}-{stage}-{key[:20]}.json"


def cell_prefix(cell: Cell) -> str:
    """``<model>-<condition>[-<set>]``: how a cell's cache entries begin."""
    return f"{cell.model.slug()}-{cell.condition}{cell.stimulus_set.suffix}"

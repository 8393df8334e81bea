"""Stage 1, plan: what a run will do, settled before any model loads.

:func:`plan_run` resolves the suite's models against the zoo (an unknown name fails here, before
anything is written), creates the run directory, draws the stimulus sets and fixes the
conditions. The merged ``suite.yaml`` is written at the end with the other outputs
(:mod:`mspgt_bench.run.outputs`), so a failed run never leaves it beside the previous run's
results. The :class:`RunContext` it returns is the one object the later stages read; a
:class:`Cell` is one (model, condition, stimulus set), the unit that is profiled, intervened on
and cached.

Conditions: ``trained`` (the model as named) and the null controls the suite enables,
``random_weights`` (same architecture, seeded random weights) and ``shuffled_tokens`` (same
model, each stimulus' words shuffled).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mspgt_bench.atomic import inside, slug
from mspgt_bench.corpora import StimulusSet, condition_label, load_sets
from mspgt_bench.plugins import registry
from mspgt_bench.run.previous import failed_cells
from mspgt_bench.signals.base import BootstrapConfig
from mspgt_bench.suite.loader import LoadedSuite
from mspgt_bench.suite.schema import ModelSpec, Suite

TRAINED = "trained"
CONTROLS = ("random_weights", "shuffled_tokens")


@dataclass
class RunOptions:
    """Command-line overrides of a suite."""

    out: Path | None = None
    models: list[str] = field(default_factory=list)
    limit: int | None = None
    seed: int | None = None
    trust_remote_code: bool = False
    """Let adapters run Python shipped with a model (``--trust-remote-code``); a suite cannot ask for it."""
    executor: str | None = None
    """``local`` or ``ray`` (``--executor``); ``None``: the suite's ``run.executor``."""
    address: str | None = None
    """Ray cluster address (``--address``: ``auto`` or ``HOST:PORT``); ``None``: the suite's ``run.address``."""
    only_failed: bool = False
    """Compute only the cells that ended in ERROR in the run directory's previous run (``--only-failed``)."""


@dataclass
class ResolvedModel:
    """A suite's model spec joined with the zoo entry it names, if any."""

    name: str
    adapter: str
    family: str | None
    size: str | None
    args: dict[str, Any]

    def slug(self) -> str:
        """The model's name as one safe file-name component (:func:`mspgt_bench.atomic.slug`)."""
        return slug(self.name)


class Progress:
    """Callbacks the CLI uses to draw progress; the defaults do nothing."""

    def stage(self, text: str) -> None: ...

    def start_batches(self, label: str, total: int) -> Callable[[int], None]:
        return lambda _n: None

    def end_batches(self) -> None: ...


@dataclass(frozen=True)
class RunContext:
    """Everything the stages of one run share: the suite, where outputs go, the bootstrap, the plan."""

    loaded: LoadedSuite
    run_dir: Path
    boot: BootstrapConfig
    """Bootstrap settings; ``boot.seed`` is the run's seed (also of the random-weight controls)."""
    models: list[ResolvedModel]
    sets: list[StimulusSet]
    conditions: list[str]
    progress: Progress
    rerun: frozenset[str] | None = None
    """With ``--only-failed``: the keys (:attr:`Cell.key`) of the cells to compute; every other cell must
    come from the cache. ``None``: compute whatever is not cached."""

    @property
    def suite(self) -> Suite:
        return self.loaded.suite

    @property
    def seed(self) -> int:
        return self.boot.seed

    def cells(self, model: ResolvedModel) -> list[Cell]:
        """The cells of one model, stimulus set by stimulus set, conditions in order."""
        return [Cell(model, condition, stimulus_set) for stimulus_set in self.sets for condition in self.conditions]

    def all_cells(self) -> list[Cell]:
        """Every cell of the run, model by model, in the order the local executor runs them."""
        return [cell for model in self.models for cell in self.cells(model)]


@dataclass(frozen=True)
class Cell:
    """One model under one condition on one stimulus set: the unit that is profiled and cached."""

    model: ResolvedModel
    condition: str
    stimulus_set: StimulusSet

    @property
    def label(self) -> str:
        """How progress lines and errors name the cell: '<model> [<condition>, <set>]'."""
        return condition_label(self.model.name, self.condition, self.stimulus_set.id)

    @property
    def random_weights(self) -> bool:
        return self.condition == "random_weights"

    @property
    def key(self) -> str:
        """'<model>/<condition>[/<set>]': the key of the cell's provenance in ``results.json``."""
        return f"{self.model.name}/{self.condition}" + (f"/{self.stimulus_set.id}" if self.stimulus_set.id else "")


def resolve_model(spec: ModelSpec) -> ResolvedModel:
    """Fill a model spec from the zoo entry of the same name (suite values win)."""
    zoo = registry("offline_models")
    if spec.name in zoo:
        entry = zoo.get(spec.name)
        adapter = spec.adapter if "adapter" in spec.model_fields_set else entry.adapter
        return ResolvedModel(
            spec.name, adapter, spec.family or entry.family, spec.size or entry.size, {**entry.args, **spec.args}
        )
    if spec.adapter == "hf" and "/" not in spec.name and not Path(spec.name).is_dir():
        # neither a zoo name, nor a folder, nor an "org/name" hub id: most likely a typo
        zoo.get(spec.name)
    args = {"model": spec.name, **spec.args} if spec.adapter == "hf" else dict(spec.args)
    return ResolvedModel(spec.name, spec.adapter, spec.family, spec.size, args)


def plan_run(loaded: LoadedSuite, options: RunOptions, progress: Progress) -> RunContext:
    """Resolve models, create the run directory, draw the stimulus sets."""
    ctx = plan_context(loaded, options, progress)
    ctx.run_dir.mkdir(parents=True, exist_ok=True)
    return ctx


def plan_context(loaded: LoadedSuite, options: RunOptions, progress: Progress) -> RunContext:
    """What :func:`plan_run` settles, without creating the run directory (``mspgt-bench plan`` reads it only)."""
    suite = loaded.suite
    seed = suite.run.seed if options.seed is None else options.seed
    specs = [ModelSpec(name=name) for name in options.models] or suite.models
    models = [resolve_model(spec) for spec in specs]  # an unknown model name fails here, before any write
    if options.trust_remote_code:  # in the args, so it reaches the adapter and the cache key
        for model in models:
            model.args = {**model.args, "trust_remote_code": True}
    run_dir = options.out or default_run_dir(suite)
    boot = BootstrapConfig(suite.bootstrap.n_boot, 0.95, suite.bootstrap.method, seed)
    sets = load_sets(suite, options.limit)
    for stimulus_set in sets:
        progress.stage(stimulus_set.describe())
    conditions = [TRAINED] + [c for c in CONTROLS if getattr(suite.controls, c)]
    rerun = failed_cells(run_dir) if options.only_failed else None
    ctx = RunContext(loaded, run_dir, boot, models, sets, conditions, progress, rerun)
    if rerun is not None:
        again = [cell.label for cell in ctx.all_cells() if cell.key in rerun]
        progress.stage(
            f"--only-failed: {len(again)} cell(s) ended in ERROR in the previous run"
            + (f" ({', '.join(again)})" if again else "")
            + "; every other cell comes from the cache"
        )
    return ctx


def default_run_dir(suite: Suite) -> Path:
    """``<output.dir>/<suite name>``, the name slugged: a suite's name cannot move its run elsewhere."""
    parent = Path(suite.output.dir)
    run_dir = parent / slug(suite.suite.name)
    inside(parent, run_dir)
    return run_dir

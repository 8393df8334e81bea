"""The suite file schema: what a YAML suite may say, validated with pydantic.

Every section forbids unknown keys, so a misspelt key is an error, never silently ignored.
Plugin names (signals, predictions, adapters, ...) are checked against the loaded registries
by ``mspgt_bench.suite.loader`` after this structural validation.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, FiniteFloat, Tag, field_validator, model_validator

from mspgt_bench.options import SegmentSource, Strict
from mspgt_bench.suite import limits

Seed = Annotated[int, Field(ge=0, le=limits.MAX_SEED)]
"""A seed: 0 to 2**32 - 1, the range every random generator used here accepts."""


def _at_most(count: int) -> str:
    return f"At most {count} (the runner's cost and the reference checks grow with it)."


class SuiteInfo(Strict):
    name: str = Field(description="Short identifier; used for the run directory.")
    version: str = Field("1", description="Bump when thresholds or definitions change.")
    description: str = ""


class ModelSpec(Strict):
    name: str = Field(description="A zoo name (see `mspgt-bench list models`), a local folder or a hub id.")
    adapter: str = Field("hf", description="Model adapter plugin that loads it.")
    family: str | None = Field(None, description="Family label for cross-model predictions; defaults to the zoo's.")
    size: str | None = Field(None, description="Size label, e.g. '135M'.")
    args: dict[str, Any] = Field(default_factory=dict, description="Keyword arguments for the adapter.")


class StimuliSpec(Strict):
    source: str = Field("stdlib_prose", description="Stimulus source plugin.")
    n: int = Field(32, ge=2, le=limits.MAX_STIMULI, description=f"Number of stimuli (at most {limits.MAX_STIMULI}).")
    seed: Seed = Field(0, description="Seed of the stimulus selection (0 to 2**32 - 1).")
    max_tokens: int = Field(
        128,
        ge=4,
        le=limits.MAX_TOKENS,
        description=f"Each stimulus is truncated to this many tokens (at most {limits.MAX_TOKENS}, "
        "the longest context of the supported families).",
    )
    options: dict[str, Any] = Field(default_factory=dict, description="Source-specific options.")

    @property
    def set_id(self) -> str | None:
        """The stimulus set's id; ``None`` for the single mapping form (outputs then name no set)."""
        return None


class StimulusSetSpec(StimuliSpec):
    """One of several stimulus sets (``stimuli:`` as a list): a stimuli mapping with an ``id``."""

    id: str = Field(
        pattern=r"^[A-Za-z0-9_-]+$", max_length=40, description="Short slug naming the set in results, e.g. 'fiction'."
    )

    @property
    def set_id(self) -> str | None:
        return self.id


STIMULI_TAGS: dict[str, type[StimuliSpec]] = {"mapping": StimuliSpec, "list": StimulusSetSpec}
"""The models behind the union tags of the ``stimuli:`` field (see ``UNION_TAGS``)."""

Stimuli = Annotated[
    Annotated[StimuliSpec, Tag("mapping")]
    | Annotated[list[StimulusSetSpec], Field(max_length=limits.MAX_STIMULUS_SETS), Tag("list")],
    Discriminator(lambda value: "list" if isinstance(value, list) else "mapping"),
]


Threshold = Annotated[
    Annotated[FiniteFloat, Tag("number")] | Annotated[tuple[FiniteFloat, FiniteFloat], Tag("window")],
    Discriminator(lambda value: "window" if isinstance(value, list | tuple) else "number"),
]
"""A prediction's threshold: one finite number, or a [low, high] window (a list in the suite file)."""

UNION_TAGS: dict[str, tuple[str, ...]] = {"stimuli": tuple(STIMULI_TAGS), "threshold": ("number", "window")}
"""Union tags pydantic puts in error locations after these fields (the suite file has no such keys)."""


class ComponentSpec(Strict):
    name: str = Field(description="Registered plugin name.")
    id: str | None = Field(None, description="Label in results; defaults to the name.")
    options: dict[str, Any] = Field(default_factory=dict)

    @property
    def label(self) -> str:
        return self.id or self.name


class PredictionSpec(Strict):
    id: str = Field(description="Prediction id in results, e.g. 'P7'.")
    name: str = Field(description="Prediction plugin.")
    statistic: str = Field(description="What the plugin computes, e.g. 'mean_difference'.")
    threshold: Threshold = Field(description="A finite number, or [low, high] for direction 'within'.")
    direction: Literal["greater", "less", "within"] = Field(
        description="PASS needs the interval above / below the threshold, or inside [low, high]."
    )
    confidence: float = Field(0.95, gt=0.5, lt=1.0, description="Level of the bootstrap interval.")
    options: dict[str, Any] = Field(default_factory=dict)
    description: str = ""

    @model_validator(mode="after")
    def _threshold_matches_direction(self) -> PredictionSpec:
        window = isinstance(self.threshold, tuple)
        if window != (self.direction == "within"):
            raise ValueError("direction 'within' needs threshold [low, high]; 'greater'/'less' need one number")
        if window and self.threshold[0] >= self.threshold[1]:
            raise ValueError(f"threshold window {list(self.threshold)} must have low < high")
        return self


class BootstrapSpec(Strict):
    n_boot: int = Field(
        1000,
        ge=50,
        le=limits.MAX_RESAMPLES,
        description=f"Bootstrap resamples of every interval (50 to {limits.MAX_RESAMPLES}; intervals settle at 1000-2000).",
    )
    method: Literal["percentile", "bca"] = "percentile"


class ControlsSpec(Strict):
    random_weights: bool = Field(False, description="Also run each model's architecture with random weights.")
    shuffled_tokens: bool = Field(False, description="Also run each model on word-shuffled stimuli.")


class RunSpec(Strict):
    seed: Seed = Field(0, description="Seed of the run (0 to 2**32 - 1).")
    batch_size: int = Field(
        8, ge=1, le=limits.MAX_BATCH, description=f"Stimuli per forward pass (at most {limits.MAX_BATCH})."
    )
    executor: Literal["local", "ray"] = Field(
        "local", description="Where cells run: here, one after another (local), or as tasks on a Ray cluster (ray)."
    )
    address: str | None = Field(
        None,
        pattern=r"^(auto|[A-Za-z0-9.:\[\]_-]+:[0-9]{1,5})$",
        description="Ray cluster to join (executor ray): 'auto' or HOST:PORT; default: start a local Ray for the run.",
    )


class OutputSpec(Strict):
    dir: str = Field("runs", description="Parent folder of run directories.")
    formats: list[Literal["json", "csv"]] = Field(default_factory=lambda: ["json", "csv"])
    figures: bool = True


class GenerationSpec(SegmentSource):
    """Generated continuations with and without an intervention on each segment, scored by read-outs."""

    id: str = Field("generation", description="Label in results and for predictions' `intervention:`.")
    n_prompts: int | None = Field(
        None,
        ge=2,
        le=limits.MAX_STIMULI,
        description=f"Prompts used (the first n stimuli; default: all; at most {limits.MAX_STIMULI}).",
    )
    controls: bool = Field(False, description="Also generate under the null controls (costly).")
    options: dict[str, Any] = Field(
        default_factory=dict, description="GenerationOptions: intervention, max_new_tokens, coherence_window, ..."
    )

    @model_validator(mode="after")
    def _needs_segments(self) -> GenerationSpec:
        if self.segments is None and self.segments_from is None:
            raise ValueError("give `segments` or `segments_from`: the segments intervened on while generating")
        return self

    @property
    def label(self) -> str:
        return self.id


class Suite(Strict):
    suite: SuiteInfo
    models: list[ModelSpec] = Field(min_length=1, max_length=limits.MAX_MODELS, description=_at_most(limits.MAX_MODELS))
    stimuli: Stimuli = Field(
        default_factory=StimuliSpec,
        description="One stimuli mapping, or a list of stimulus sets each with an `id` "
        f"(at most {limits.MAX_STIMULUS_SETS}).",
    )
    signals: list[ComponentSpec] = Field(
        default_factory=list, max_length=limits.MAX_SIGNALS, description=_at_most(limits.MAX_SIGNALS)
    )
    detectors: list[ComponentSpec] = Field(
        default_factory=list, max_length=limits.MAX_DETECTORS, description=_at_most(limits.MAX_DETECTORS)
    )
    interventions: list[ComponentSpec] = Field(
        default_factory=list, max_length=limits.MAX_INTERVENTIONS, description=_at_most(limits.MAX_INTERVENTIONS)
    )
    generation: list[GenerationSpec] = Field(
        default_factory=list, max_length=limits.MAX_GENERATION, description=_at_most(limits.MAX_GENERATION)
    )
    predictions: list[PredictionSpec] = Field(
        default_factory=list, max_length=limits.MAX_PREDICTIONS, description=_at_most(limits.MAX_PREDICTIONS)
    )
    controls: ControlsSpec = Field(default_factory=ControlsSpec)
    bootstrap: BootstrapSpec = Field(default_factory=BootstrapSpec)
    run: RunSpec = Field(default_factory=RunSpec)
    output: OutputSpec = Field(default_factory=OutputSpec)

    @field_validator("stimuli")
    @classmethod
    def _sets_have_unique_ids(cls, stimuli: StimuliSpec | list[StimulusSetSpec]) -> StimuliSpec | list[StimulusSetSpec]:
        if isinstance(stimuli, list):
            if not stimuli:
                raise ValueError("the list of stimulus sets is empty; give at least one set, or a single mapping")
            _require_unique([s.id for s in stimuli], "stimulus set id (give each set its own `id:`)")
        return stimuli

    def stimulus_sets(self) -> list[StimuliSpec]:
        """The stimulus sets to run: the single mapping (``set_id`` None) or each listed set, in order."""
        return list(self.stimuli) if isinstance(self.stimuli, list) else [self.stimuli]

    @field_validator("signals", "detectors")
    @classmethod
    def _unique_labels(cls, items: list[ComponentSpec]) -> list[ComponentSpec]:
        _require_unique([i.label for i in items], "label (set `id:` to tell two apart)")
        return items

    @model_validator(mode="after")
    def _unique_effect_labels(self) -> Suite:
        labels = [i.label for i in self.interventions] + [g.label for g in self.generation]
        _require_unique(labels, "intervention or generation label (set `id:` to tell two apart)")
        return self

    @model_validator(mode="after")
    def _unique_prediction_ids(self) -> Suite:
        _require_unique([p.id for p in self.predictions], "prediction id")
        return self


def _require_unique(labels: list[str], what: str) -> None:
    seen = {x for x in labels if labels.count(x) > 1}
    if seen:
        raise ValueError(f"duplicate {what}: {', '.join(sorted(seen))}")

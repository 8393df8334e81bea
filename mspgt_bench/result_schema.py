"""Typed, versioned schema of a run's ``results.json``, and the one way to read it.

``mspgt-bench run`` writes ``results.json`` (``mspgt_bench.run.outputs.write_outputs``); everything
that reads runs back (leaderboards, diffs, the published site) goes through :func:`load_results`,
so a file that does not match this schema is rejected once, with the file and the reason, instead
of failing later on a missing key.

Versioning: ``schema_version`` is ``"MAJOR.MINOR"``. This reader accepts its own major version
with a minor version up to its own; a newer file (written by a newer mspgt-bench) or another major
version is refused with a message saying so. 1.4 added each pass's ``signal_errors``,
``intervention_error`` and ``interventions_unsupported``; from 1.5 the file is standard JSON:
NaN and ±inf are written as ``null`` (a profile point whose metric is undefined has a null
value). Every section forbids unknown keys, so a field the runner adds without a schema update
is caught by the tests that validate a real run, except the adapter's own provenance, which
plugins may extend.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

SCHEMA_VERSION = "1.5"
"""The version of ``results.json`` this module describes (the runner writes the same string)."""

Status = Literal["PASS", "FAIL", "INCONCLUSIVE", "ERROR", "SKIP"]
Condition = Literal["trained", "random_weights", "shuffled_tokens"]
Direction = Literal["greater", "less", "within"]


NaNIfNull = Annotated[float, BeforeValidator(lambda value: math.nan if value is None else value)]
"""A number that the file writes as ``null`` when it is not finite; read back as NaN."""


class _Section(BaseModel):
    """Base of every section: unknown keys are an error, instances are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class SuiteInfo(_Section):
    """The ``suite:`` header of the suite that ran."""

    name: str = Field(description="Short identifier of the suite.")
    version: str = Field(description="Suite version; bumped when thresholds or definitions change.")
    description: str = Field("", description="One-line description.")


class Versions(_Section):
    """Versions of the software that produced the run."""

    mspgt_bench: str
    torch: str
    transformers: str
    numpy: str
    python: str


class Machine(_Section):
    """Where the run ran."""

    platform: str = Field(description="``platform.platform()``.")
    processor: str = Field(description="``platform.machine()``, e.g. 'x86_64'.")


class AdapterProvenance(BaseModel):
    """What the model adapter reports about the model it loaded; adapters may add keys."""

    model_config = ConfigDict(extra="allow", frozen=True)

    model_id: str = Field(description="The model name or hub id.")
    family: str | None = Field(None, description="Architecture family, e.g. 'llama'.")
    n_layers: int = Field(description="Number of transformer layers.")
    dtype: str | None = Field(None, description="Weight dtype, e.g. 'float32'.")
    backend: str | None = Field(None, description="Adapter backend, e.g. 'hf'.")


class ModelRun(_Section):
    """Metadata of one (model, condition) pass; an errored pass has only ``error`` and ``traceback``."""

    provenance: AdapterProvenance | None = Field(None, description="The adapter's provenance of the model.")
    n_stimuli: int | None = Field(None, description="Stimuli the capture pass saw.")
    forward_calls: int | None = Field(None, description="Forward passes the signals needed (one shared pass: 1).")
    timings: dict[str, float] = Field(
        default_factory=dict,
        description="Seconds per stage: load_s, capture_s, reduce_s of the pass that computed the profiles; "
        "detect_s, effects_s (computed or read from the cache), predict_s of this run.",
    )
    cached: bool | None = Field(None, description="True when the profiles came from the run's cache.")
    detector_errors: dict[str, str] = Field(default_factory=dict, description="Detector label -> why it failed.")
    signal_errors: dict[str, str] = Field(
        default_factory=dict, description="Signal label -> why it failed (only predictions reading it are ERROR)."
    )
    interventions_unsupported: dict[str, str] = Field(
        default_factory=dict, description="Intervention label -> why the adapter cannot run it (its predictions SKIP)."
    )
    intervention_error: str | None = Field(None, description="Why the interventions failed (their predictions ERROR).")
    error: str | None = Field(None, description="Why the pass failed (its predictions are ERROR).")
    traceback: str | None = Field(None, description="Traceback of ``error``.")


class Provenance(_Section):
    """Where a run's numbers come from: suite, seed, software, machine and per-model metadata."""

    suite_file: str = Field(description="Path of the suite file as given on the command line.")
    suite_sha256: str = Field(description="sha256 of the merged suite data (includes resolved).")
    seed: int = Field(description="Seed of the bootstrap and of the random-weight controls.")
    versions: Versions
    machine: Machine
    wall_s: float = Field(description="Wall time of the run in seconds.")
    models: dict[str, ModelRun] = Field(
        description="'<model>/<condition>' (with several stimulus sets '<model>/<condition>/<set>') -> metadata of that pass."
    )


FAMILY_ROW_PREFIX = "family:"
"""Cross-model predictions write one row per group with model ``family:<group>``."""


class VerdictRow(_Section):
    """The verdict of one prediction on one model (or one family group) under one condition."""

    model: str = Field(description="Model name as the suite (or --model) gave it, or 'family:<group>'.")
    family: str | None = Field(description="Family label used by cross-model predictions.")
    size: str | None = Field(description="Size label, e.g. '135M'.")
    backend: str | None = Field(description="Adapter backend that ran the model.")
    dtype: str | None = Field(description="Weight dtype.")
    condition: Condition = Field(description="'trained' or a null control.")
    suite: str = Field(description="Suite name.")
    suite_version: str = Field(description="Suite version.")
    suite_sha256: str = Field(description="sha256 of the merged suite.")
    prediction: str = Field(description="Prediction id, e.g. 'P7-sharpening'.")
    prediction_plugin: str = Field(description="Prediction plugin that computed it.")
    statistic: str = Field(description="Statistic the plugin computed.")
    value: float | None = Field(description="Point estimate (None when it could not be computed).")
    ci_low: float | None = Field(description="Lower end of the bootstrap interval.")
    ci_high: float | None = Field(description="Upper end of the bootstrap interval.")
    confidence: float = Field(description="Level of the interval, e.g. 0.95.")
    threshold: float | tuple[float, float] = Field(description="Pre-registered threshold, or [low, high].")
    direction: Direction = Field(description="PASS needs the interval above / below / inside the threshold.")
    n: int | None = Field(description="Stimuli behind the statistic.")
    status: Status = Field(description="The verdict.")
    reason: str = Field(description="Why, for ERROR / SKIP / some INCONCLUSIVE verdicts; else empty.")
    details: dict[str, Any] = Field(
        default_factory=dict, description="Plugin-specific details, e.g. the layers of each window (may be empty)."
    )
    seed: int = Field(description="Run seed.")
    controls: dict[str, Status] | None = Field(
        None, description="Trained rows only: control condition -> its verdict on the same prediction."
    )
    non_discriminative: bool | None = Field(
        None, description="Trained rows only: PASS here and PASS on at least one control."
    )
    stimulus_set: str | None = Field(
        None, description="Id of the stimulus set the verdict was decided on (suites with several sets)."
    )
    corpus_statuses: dict[str, Status] | None = Field(
        None, description="Several sets only: set id -> the verdict of the same model, condition and prediction."
    )
    corpus_sensitive: bool | None = Field(
        None,
        description="Several sets only: True when the sets that decided it (PASS/FAIL/INCONCLUSIVE) disagree, "
        "False when they agree, None when fewer than two decided it.",
    )

    @property
    def family_level(self) -> bool:
        """Whether this is a cross-model verdict about a family group rather than about one model."""
        return self.model.startswith(FAMILY_ROW_PREFIX)

    @model_validator(mode="after")
    def _controls_on_trained_rows(self) -> VerdictRow:
        trained = self.condition == "trained"
        if trained != (self.controls is not None) or trained != (self.non_discriminative is not None):
            raise ValueError("'controls' and 'non_discriminative' belong to trained rows and only to them")
        return self


class _CellRow(_Section):
    """What every boundary, profile and effect row and every sample starts with: the cell it came from."""

    model: str = Field(description="Model name as the suite (or --model) gave it.")
    family: str | None
    condition: Condition = Field(description="'trained' or the null control the model ran under.")
    stimulus_set: str | None = Field(None, description="Stimulus set id (suites with several sets).")


class BoundaryRow(_CellRow):
    """One boundary a detector found: layer ``layer`` starts a new segment."""

    detector: str = Field(description="Detector label in the suite.")
    boundary: int = Field(description="1-based index of the boundary within its segmentation.")
    layer: int = Field(description="The layer that starts the new segment.")
    depth: float = Field(description="layer / n_layers.")
    ci_low: float | None = Field(description="Bootstrap interval of the boundary's layer (None if not resampled).")
    ci_high: float | None
    within_1_layer: float | None = Field(description="Fraction of resamples with a boundary within one layer.")
    n_boundaries: int = Field(description="Boundaries in this segmentation.")
    criterion: str = Field(description="Rule that chose the number of boundaries.")
    inputs: str = Field(description="Comma-separated profile keys the detector read.")
    evidence: float | None = Field(
        None, description="Boundary evidence at this gap: its excess over the local baseline, relative to it (evidence detector only)."
    )
    threshold: float | None = Field(None, description="The evidence a boundary had to exceed (the null's threshold).")
    null_quantile: float | None = Field(
        None, description="Share of sampling-noise null draws whose largest evidence lies below this boundary's."
    )


class ProfileRow(_CellRow):
    """One point of a per-layer profile: a signal's metric at one layer."""

    signal: str = Field(description="Signal label.")
    metric: str = Field(description="Metric of the signal.")
    layer: int = Field(description="Point index in the signal's convention.")
    depth: float = Field(description="Relative depth of the point, 0..1.")
    value: NaNIfNull = Field(description="Mean over stimuli (null in the file, NaN when read, where undefined).")
    ci_low: NaNIfNull = Field(description="Bootstrap interval of the mean.")
    ci_high: NaNIfNull
    n: int = Field(description="Stimuli behind the mean.")
    convention: str = Field(description="Which states the points are computed on.")


class EffectRow(_CellRow):
    """One intervention effect on one model: a metric of one intervention condition against the clean model.

    Added in schema 1.1 (files of 1.0 have no effects); schema 1.2 adds the generation read-out
    fields ``scale``, ``effect_size``, ``clean`` and ``intervened`` (None for other effects).
    """

    intervention: str = Field(description="Intervention label in the suite.")
    plugin: str = Field(description="Intervention plugin.")
    target: str = Field(description="What was intervened on, e.g. 'delete[l=5]'.")
    layer: int | None = Field(description="First layer touched (None when none).")
    layer_end: int | None = Field(description="Last layer touched, inclusive.")
    layers: str
    depth: float | None = Field(description="Depth fraction of the last layer touched.")
    param: Any = Field(None, description="The condition's parameter (e.g. noise sigma), if any.")
    metric: str = Field(description="kl, top1_agreement, delta_loss, delta_entropy, delta_loss_<token class>, ...")
    value: float | None
    ci_low: float | None
    ci_high: float | None
    n: int = Field(description="Stimuli with a value.")
    scale: str | None = Field(None, description="Generation read-outs: the scale the read-out measures.")
    effect_size: float | None = Field(None, description="Generation read-outs: paired d_z of the change.")
    clean: float | None = Field(None, description="Generation read-outs: mean read-out of the clean continuations.")
    intervened: float | None = Field(None, description="Generation read-outs: mean read-out with the intervention.")


class _Sample(_CellRow):
    """The head of every ``samples.jsonl`` line: whose values they are."""

    stimulus: str = Field(description="Id of the stimulus (under shuffled_tokens the model saw its shuffled copy).")


class SignalSample(_Sample):
    """A ``samples.jsonl`` line: one stimulus' values of one signal metric, one per layer (null when missing)."""

    signal: str
    metric: str
    layers: list[int]
    values: list[float | None]


class EffectSample(_Sample):
    """A ``samples.jsonl`` line: one stimulus' effects of one intervention, ``{target: {metric: value}}``."""

    intervention: str
    targets: dict[str, dict[str, float | None]]


def read_sample(line: str) -> SignalSample | EffectSample:
    """One line of ``samples.jsonl``, validated as the kind of sample it is."""
    data = json.loads(line)
    return (SignalSample if "signal" in data else EffectSample).model_validate(data)


class ResultsDocument(_Section):
    """The whole ``results.json`` of one run."""

    schema_version: str = Field(description="'MAJOR.MINOR' of this schema.")
    suite: SuiteInfo
    provenance: Provenance
    verdicts: list[VerdictRow]
    boundaries: list[BoundaryRow]
    profiles: list[ProfileRow]
    effects: list[EffectRow] = Field(default_factory=list, description="Intervention effects (schema >= 1.1).")


class ResultsError(ValueError):
    """A results file that cannot be read; the message names the file and what is wrong."""

    def __init__(self, path: Path, problem: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__(f"{path}: {problem}")


def load_results(path: str | Path) -> ResultsDocument:
    """Read and validate a ``results.json`` (or the one in a run directory).

    Raises :class:`ResultsError` for a missing file, invalid JSON, an unsupported schema version
    or content that does not match the schema.
    """
    path = Path(path)
    if not path.exists():
        raise ResultsError(path, "does not exist; give a run directory of `mspgt-bench run` or its results.json")
    if path.is_dir():
        path = path / "results.json"
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ResultsError(path, "no such file; is this a run directory of `mspgt-bench run`?") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ResultsError(path, f"cannot read it ({exc})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ResultsError(path, f"not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None
    _check_version(path, data)
    try:
        return ResultsDocument.model_validate(data)
    except ValidationError as exc:
        raise ResultsError(path, "does not match the results schema:\n" + _describe(exc)) from None


def _check_version(path: Path, data: Any) -> None:
    if not isinstance(data, dict):
        raise ResultsError(path, f"expected a JSON object at the top level, found {type(data).__name__}")
    version = data.get("schema_version")
    if version is None:
        raise ResultsError(path, "no 'schema_version' key; not a results file of mspgt-bench")
    ours = _parse_version(SCHEMA_VERSION)
    theirs = _parse_version(str(version))
    if theirs is None or theirs[0] != ours[0]:
        raise ResultsError(path, f"schema_version {version!r} is not supported (this reader: {SCHEMA_VERSION})")
    if theirs[1] > ours[1]:
        raise ResultsError(
            path, f"schema_version {version!r} is newer than this reader's {SCHEMA_VERSION}; upgrade mspgt-bench"
        )


def _parse_version(version: str) -> tuple[int, int] | None:
    major, _, minor = version.partition(".")
    if not (major.isdigit() and minor.isdigit()):
        return None
    return int(major), int(minor)


def _describe(exc: ValidationError, limit: int = 8) -> str:
    """One line per problem, ``key.path: message``, at most ``limit`` of them."""
    lines = []
    for error in exc.errors()[:limit]:
        where = ".".join(str(part) for part in error["loc"]) or "(top level)"
        lines.append(f"  - {where}: {error['msg']}")
    if exc.error_count() > limit:
        lines.append(f"  - ... and {exc.error_count() - limit} more")
    return "\n".join(lines)

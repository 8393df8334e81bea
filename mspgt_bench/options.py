"""The base of every options schema: the suite file's sections and each plugin's ``Options``.

It sits below the suite schema and the plugins alike, so a plugin declares its options without
importing the suite schema that configures it.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class Strict(BaseModel):
    """A pydantic model that rejects unknown keys, so a misspelt option is an error, never silently ignored.

    ``mspgt-bench validate`` checks a component's suite options against its ``Options`` class
    when that class derives from this one.
    """

    model_config = ConfigDict(extra="forbid")


class SegmentSource(Strict):
    """Where an experiment's layer segments come from: fixed ranges, or the segments a detector of the suite finds.

    Shared by every intervention's target options and by ``generation:`` experiments, so both
    take the same keys under the same rules; the run resolves ``segments_from`` per model and
    condition (:func:`mspgt_bench.detectors.plugins.resolve_segments`).
    """

    segments: list[tuple[int, int]] | None = Field(
        None, description="Layer ranges [start, end) (end exclusive), each intervened on as a whole."
    )
    segments_from: str | None = Field(
        None, description="Or: the label of a detector of the suite, whose segments on each model are used."
    )
    n_segments: int | None = Field(
        None,
        ge=2,
        description="With `segments_from`: the detector's best split into this many segments instead of the "
        "number its criterion chose.",
    )

    @field_validator("segments")
    @classmethod
    def _ordered(cls, segments: list[tuple[int, int]] | None) -> list[tuple[int, int]] | None:
        for start, end in segments or []:
            if not 0 <= start < end:
                raise ValueError(f"segment {[start, end]} must satisfy 0 <= start < end (end exclusive)")
        return segments

    @model_validator(mode="after")
    def _one_source_of_segments(self) -> SegmentSource:
        if self.segments_from is not None and self.segments is not None:
            raise ValueError("give `segments` or `segments_from`, not both")
        if self.n_segments is not None and self.segments_from is None:
            raise ValueError("`n_segments` needs `segments_from` (the detector whose split it takes)")
        return self

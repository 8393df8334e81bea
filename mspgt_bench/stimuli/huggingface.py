"""Stimuli from a Hugging Face dataset (needs the optional ``datasets`` package)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from mspgt_bench.stimuli.base import Stimulus
from mspgt_bench.stimuli.length import Length
from mspgt_bench.stimuli.passages import passage_stimulus, select

SOURCE = "hf_dataset"


def _load(path: str, name: str | None, split: str) -> Any:
    """``datasets.load_dataset(path, name, split=split)``, imported only when needed."""
    try:
        import datasets
    except ImportError as error:
        raise ImportError(
            "the hf_dataset stimulus source needs the optional 'datasets' package: "
            "pip install 'mspgt-bench[datasets]'"
        ) from error
    return datasets.load_dataset(path, name, split=split)


def hf_dataset(
    path: str | None = None,
    n: int | None = None,
    seed: int = 0,
    *,
    name: str | None = None,
    split: str = "train",
    text_field: str = "text",
    min_sentences: int = 1,
    max_sentences: int | None = None,
    max_chars: int | None = None,
    dataset: Sequence[Mapping[str, Any]] | None = None,
) -> list[Stimulus]:
    """Rows of a Hugging Face dataset split, one passage per row.

    Only the rows drawn are read, in a seeded random order, until ``n`` qualify. Long rows
    are cut to their leading sentences. ``passage_id`` is ``"<path>[/<name>]/<split>:<row>"``.

    Args:
        path: Dataset name on the hub or a local dataset path (``datasets.load_dataset``).
        n: How many stimuli; ``None``: every row, in order.
        seed: Seed for the draw.
        name: Dataset configuration name.
        split: Split to read; slicing such as ``"train[:2000]"`` limits the download.
        text_field: Column that holds the text.
        min_sentences: Fewest sentences per stimulus.
        max_sentences: Most sentences per stimulus.
        max_chars: Most characters per stimulus.
        dataset: An already loaded dataset (a ``datasets.Dataset`` or any sequence of
            mappings) to use instead of loading ``path``.

    Raises:
        ImportError: If ``datasets`` is needed but not installed.
        ValueError: If neither ``path`` nor ``dataset`` is given, or ``text_field`` is missing.
    """
    length = Length(min_sentences, max_sentences, max_chars)
    if dataset is None:
        if path is None:
            raise ValueError(f"{SOURCE}: pass path= (a dataset name or local path)")
        dataset = _load(path, name, split)
    label = "/".join(part for part in (path or "dataset", name, split) if part)
    columns = getattr(dataset, "column_names", None)
    if columns is not None and text_field not in columns:
        raise ValueError(
            f"{SOURCE} {label}: no column {text_field!r} (columns: {', '.join(columns)}); "
            "set text_field= to the column that holds the text"
        )

    def build(index: int) -> Stimulus | None:
        row = dataset[index]
        if text_field not in row or not isinstance(row[text_field], str):
            raise ValueError(
                f"{SOURCE} {label}, row {index}: field {text_field!r} is missing or not a "
                "string; set text_field= to the column that holds the text"
            )
        return passage_stimulus(
            row[text_field],
            length,
            id=f"{SOURCE}:{label}:{index}",
            source=SOURCE,
            passage_id=f"{label}:{index}",
            meta={"row": index},
        )

    return select(len(dataset), n, seed, build, f"{SOURCE} {label}", length)

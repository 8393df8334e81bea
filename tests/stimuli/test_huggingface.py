"""The hf_dataset source, tested offline: the import error and an in-memory dataset."""

from __future__ import annotations

import sys

import pytest

from mspgt_bench.stimuli.huggingface import hf_dataset

ROWS = [
    {"text": "Rain fell all night. By morning the river had risen.", "label": 0},
    {"text": "One short line.", "label": 1},
    {"text": "Birds sang at dawn. The farmer woke early. He fed the hens.", "label": 0},
]


def test_missing_datasets_package_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "datasets", None)  # makes `import datasets` fail
    with pytest.raises(ImportError, match=r"pip install 'mspgt-bench\[datasets\]'"):
        hf_dataset("wikitext", n=2, name="wikitext-2-raw-v1")


def test_path_or_dataset_is_required() -> None:
    with pytest.raises(ValueError, match="pass path="):
        hf_dataset(n=1)


def test_rows_become_stimuli() -> None:
    stimuli = hf_dataset("toy", dataset=ROWS, split="test", min_sentences=2)
    assert [s.passage_id for s in stimuli] == ["toy/test:0", "toy/test:2"]
    assert stimuli[1].sentence_texts[1] == "The farmer woke early."
    drawn = hf_dataset("toy", n=2, seed=3, dataset=ROWS)
    assert drawn == hf_dataset("toy", n=2, seed=3, dataset=ROWS)


def test_missing_text_field_names_the_row() -> None:
    with pytest.raises(ValueError, match=r"toy/train, row \d: field 'body' is missing"):
        hf_dataset("toy", n=1, dataset=ROWS, text_field="body")


def test_a_real_dataset_object_passed_in() -> None:
    datasets = pytest.importorskip("datasets")
    dataset = datasets.Dataset.from_dict({"content": [row["text"] for row in ROWS]})
    with pytest.raises(ValueError, match=r"no column 'text' \(columns: content\)"):
        hf_dataset("toy", dataset=dataset)
    stimuli = hf_dataset("toy", n=3, seed=0, dataset=dataset, text_field="content")
    assert sorted(s.text for s in stimuli) == sorted(row["text"] for row in ROWS)

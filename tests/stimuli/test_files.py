"""The text_file and jsonl_file sources, including their error messages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mspgt_bench.stimuli.files import jsonl_file, text_file

PASSAGES = [
    "The cat sat on the mat.\nIt was warm there. The dog slept.",
    "Rain fell all night. By morning the river had risen.",
    "One short line.",
    "Birds sang at dawn. The farmer woke early. He fed the hens. Then he ate.",
]


@pytest.fixture
def txt(tmp_path: Path) -> Path:
    path = tmp_path / "passages.txt"
    path.write_text("\n\n\n".join(PASSAGES) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def jsonl(tmp_path: Path) -> Path:
    path = tmp_path / "records.jsonl"
    lines = [json.dumps({"body": text, "doc": f"d{i}"}) for i, text in enumerate(PASSAGES)]
    path.write_text("\n".join(lines[:2] + [""] + lines[2:]) + "\n", encoding="utf-8")
    return path


def test_text_file_reads_every_passage_in_order(txt: Path) -> None:
    stimuli = text_file(txt)
    assert [s.text for s in stimuli] == [" ".join(p.split()) for p in PASSAGES]
    assert [s.passage_id for s in stimuli] == [
        "passages.txt:1",
        "passages.txt:5",
        "passages.txt:8",
        "passages.txt:11",
    ]
    assert stimuli[0].sentence_texts == (
        "The cat sat on the mat.",
        "It was warm there.",
        "The dog slept.",
    )


def test_text_file_applies_length_options(txt: Path) -> None:
    stimuli = text_file(txt, min_sentences=2, max_sentences=3)
    assert len(stimuli) == 3
    assert stimuli[-1].sentence_texts == (
        "Birds sang at dawn.",
        "The farmer woke early.",
        "He fed the hens.",
    )
    short = text_file(txt, max_chars=30)
    assert len(short) == 4 and all(len(s.text) <= 30 for s in short)


def test_text_file_draw_is_seeded(txt: Path) -> None:
    assert text_file(txt, n=2, seed=0) == text_file(txt, n=2, seed=0)
    draws = {tuple(s.id for s in text_file(txt, n=2, seed=seed)) for seed in range(10)}
    assert len(draws) > 1
    with pytest.raises(ValueError, match=r"only 3 of 4 passages meet min_sentences=2.*n=4"):
        text_file(txt, n=4, min_sentences=2)


def test_text_file_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="missing.txt does not exist"):
        text_file(tmp_path / "missing.txt")
    empty = tmp_path / "empty.txt"
    empty.write_text("\n  \n")
    with pytest.raises(ValueError, match="empty.txt is empty"):
        text_file(empty)
    latin = tmp_path / "latin.txt"
    latin.write_bytes("First line.\nCaf\u00e9 second.".encode("latin-1"))
    with pytest.raises(ValueError, match=r"latin.txt, line 2: not valid utf-8.*encoding="):
        text_file(latin)
    assert text_file(latin, encoding="latin-1")[0].text == "First line. Caf\u00e9 second."


def test_jsonl_file_reads_the_text_field_and_ids(jsonl: Path) -> None:
    stimuli = jsonl_file(jsonl, text_field="body", id_field="doc")
    assert [s.passage_id for s in stimuli] == ["d0", "d1", "d2", "d3"]
    assert [s.meta["line"] for s in stimuli] == [1, 2, 4, 5]
    assert stimuli[1].sentence_texts == ("Rain fell all night.", "By morning the river had risen.")
    assert jsonl_file(jsonl, text_field="body")[0].passage_id == "records.jsonl:1"


def test_jsonl_file_draw_is_seeded(jsonl: Path) -> None:
    first = jsonl_file(jsonl, n=3, seed=1, text_field="body")
    assert first == jsonl_file(jsonl, n=3, seed=1, text_field="body")
    draws = {
        tuple(s.id for s in jsonl_file(jsonl, n=3, seed=seed, text_field="body"))
        for seed in range(10)
    }
    assert len(draws) > 1


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"text": "Fine."', r"line 2: invalid JSON .*one JSON object"),
        ('["Fine."]', r"line 2: expected a JSON object, got list"),
        (
            '{"body": "Fine."}',
            r"line 2: the record has no field 'text' \(its fields: 'body'\).*text_field=",
        ),
        ('{"text": 3}', r"line 2: field 'text' holds int, not a string"),
    ],
)
def test_jsonl_file_errors_name_file_line_and_fix(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"text": "Good one."}\n' + line + "\n")
    with pytest.raises(ValueError, match=r"jsonl_file: .*bad.jsonl, " + message):
        jsonl_file(path)


def test_jsonl_file_missing_id_field(jsonl: Path) -> None:
    with pytest.raises(ValueError, match=r"records.jsonl, line 1: the record has no field 'id'"):
        jsonl_file(jsonl, text_field="body", id_field="id")

"""The kjv_narrative and stdlib_comments sources: deterministic, whole sentences, provenance in meta."""

from __future__ import annotations

import re

import pytest

from mspgt_bench.stimuli.base import split_sentences
from mspgt_bench.stimuli.comments import comment_blocks, comment_runs, stdlib_comments
from mspgt_bench.stimuli.kjv import BOOKS, chapter_runs, kjv_narrative
from mspgt_bench.stimuli.registry import SOURCES, load_stimuli

GENRES = [(kjv_narrative, "kjv_narrative", 3, 6), (stdlib_comments, "stdlib_comments", 2, 5)]


@pytest.mark.parametrize(("source", "name", "low", "high"), GENRES)
def test_n_stimuli_of_whole_sentences_with_the_default_lengths(source, name, low, high) -> None:
    stimuli = source(24, seed=0)
    assert len(stimuli) == 24 and len({s.id for s in stimuli}) == 24
    for stimulus in stimuli:
        assert stimulus.source == name
        assert low <= len(stimulus.sentences) <= high
        assert split_sentences(stimulus.text) == stimulus.sentences
        for sentence in stimulus.sentence_texts:
            assert sentence.lstrip("(\"'“‘")[0].isupper() and sentence.rstrip("\"'”’)")[-1] in ".!?"
        assert stimulus.meta["provenance"] and stimulus.meta["licence"]


@pytest.mark.parametrize(("source", "name", "low", "high"), GENRES)
def test_the_seed_fixes_the_selection(source, name, low, high) -> None:
    assert source(8, seed=3) == source(8, seed=3)
    assert [s.id for s in source(8, seed=3)] != [s.id for s in source(8, seed=4)]
    assert load_stimuli(name, n=5, seed=1) == source(5, seed=1)
    assert name in SOURCES


@pytest.mark.parametrize(("source", "name", "low", "high"), GENRES)
def test_too_many_or_no_stimuli_is_a_clear_error(source, name, low, high) -> None:
    with pytest.raises(ValueError, match=rf"{name} \(min_sentences=.*\): only \d+ passages .* asked for n=100000"):
        source(100000, seed=0)
    with pytest.raises(ValueError, match="n must be positive"):
        source(0)
    everything = source(None)
    assert len(everything) > 500


def test_kjv_stimuli_are_consecutive_sentences_of_one_chapter_of_a_narrative_book() -> None:
    stimuli = kjv_narrative(30, seed=2)
    assert len({s.meta["book"] for s in stimuli[: len(BOOKS)]}) == len(BOOKS)  # dealt over books
    for stimulus in stimuli:
        book, chapter = stimulus.meta["book"], stimulus.meta["chapter"]
        assert book in BOOKS and stimulus.passage_id == f"{book} {chapter}"
        assert any(stimulus.text in " ".join(run) for run in chapter_runs()[book][chapter])
        assert not re.search(r"\d+:\d+", stimulus.text)  # verse numbers removed


def test_comment_blocks_join_whole_line_comments_and_drop_directives_and_trailing_comments() -> None:
    source = (
        "# Copyright 2001 Someone.\n"
        "x = 1  # a trailing comment is not prose.\n"
        "# The cache holds every parsed entry.  It grows\n"
        "# until the process ends.\n"
        "#\n"
        "    # Indented comments start a new block.\n"
        "# noqa: E501\n"
    )
    assert comment_blocks(source) == [
        "The cache holds every parsed entry. It grows until the process ends.",
        "Indented comments start a new block.",
    ]


def test_comment_passages_come_from_their_file() -> None:
    for stimulus in stdlib_comments(10, seed=5):
        name = stimulus.meta["file"]
        assert stimulus.passage_id == name and name.endswith(".py") and "/test/" not in f"/{name}"
        assert any(stimulus.text in " ".join(run) for run in comment_runs()[name])

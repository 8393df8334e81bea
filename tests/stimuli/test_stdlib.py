"""The stdlib_prose source: English passages from pydoc_data, cut into whole sentences."""

from __future__ import annotations

import pytest

from mspgt_bench.stimuli.base import split_sentences, words
from mspgt_bench.stimuli.stdlib import prose_runs, stdlib_prose

COMMON_ENGLISH = {"the", "a", "an", "of", "is", "to", "in", "and", "or", "be", "are", "if"}


def test_returns_n_english_stimuli_with_the_requested_sentence_counts() -> None:
    stimuli = stdlib_prose(20, seed=0, min_sentences=3, max_sentences=5)
    assert len(stimuli) == 20
    assert len({s.id for s in stimuli}) == 20
    for stimulus in stimuli:
        assert stimulus.source == "stdlib_prose"
        assert 3 <= len(stimulus.sentences) <= 5
        tokens = [w.lower() for w in words(stimulus.text)]
        assert sum(w in COMMON_ENGLISH for w in tokens) / len(tokens) > 0.1


def test_spans_are_exactly_the_sentences() -> None:
    for stimulus in stdlib_prose(20, seed=1):
        assert split_sentences(stimulus.text) == stimulus.sentences
        for sentence in stimulus.sentence_texts:
            assert sentence[0].isupper() or sentence[0] in "(\"“"
            assert sentence.rstrip("\"”’)")[-1] in ".!?"


def test_passage_ids_are_topics_and_the_first_stimuli_differ_in_topic() -> None:
    stimuli = stdlib_prose(30, seed=2)
    assert all(s.passage_id in prose_runs() for s in stimuli)
    assert len({s.passage_id for s in stimuli}) == 30


def test_stimuli_are_consecutive_sentences_of_one_run() -> None:
    for stimulus in stdlib_prose(10, seed=3):
        joined = [" ".join(run) for run in prose_runs()[stimulus.passage_id]]
        assert any(stimulus.text in run for run in joined)


def test_same_seed_same_stimuli_other_seed_other_selection() -> None:
    assert stdlib_prose(10, seed=4) == stdlib_prose(10, seed=4)
    assert {s.id for s in stdlib_prose(10, seed=4)} != {s.id for s in stdlib_prose(10, seed=5)}


def test_max_chars_bounds_the_text() -> None:
    stimuli = stdlib_prose(10, seed=0, min_sentences=1, max_sentences=8, max_chars=300)
    assert all(len(s.text) <= 300 for s in stimuli)


def test_cleaning_removes_markup_and_code() -> None:
    for runs in prose_runs().values():
        for run in runs:
            for sentence in run:
                assert "*" not in sentence and "::" not in sentence and ">>>" not in sentence


def test_asking_for_too_many_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match=r"min_sentences=40.*only \d+ passages meet the length options"):
        stdlib_prose(5, min_sentences=40, max_sentences=50)
    with pytest.raises(ValueError, match="n must be positive"):
        stdlib_prose(0)

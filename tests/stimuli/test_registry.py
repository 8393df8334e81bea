"""load_stimuli: dispatch by name, with clear errors for unknown sources and options."""

from __future__ import annotations

import pytest

from mspgt_bench.stimuli import SOURCES, load_stimuli
from mspgt_bench.stimuli.stdlib import stdlib_prose


def test_sources_are_registered() -> None:
    assert set(SOURCES) == {"stdlib_prose", "kjv_narrative", "stdlib_comments", "text_file", "jsonl_file", "hf_dataset"}


def test_load_stimuli_calls_the_source() -> None:
    assert load_stimuli("stdlib_prose", n=3, seed=1) == stdlib_prose(3, seed=1)


def test_unknown_source_suggests_the_closest() -> None:
    message = (
        r"unknown stimulus source 'stdlib_pros' \(did you mean 'stdlib_prose'\?\); "
        r"known sources: stdlib_prose, kjv_narrative, stdlib_comments, text_file, jsonl_file, hf_dataset"
    )
    with pytest.raises(ValueError, match=message):
        load_stimuli("stdlib_pros")


def test_unknown_option_lists_the_valid_ones() -> None:
    message = (
        r"'stdlib_prose' has no option 'max_sentence' \(did you mean 'max_sentences'\?\); "
        r"valid options: n, seed, min_sentences, max_sentences, max_chars"
    )
    with pytest.raises(ValueError, match=message):
        load_stimuli("stdlib_prose", n=3, max_sentence=4)


def test_missing_required_option() -> None:
    message = r"'text_file' needs option\(s\) path; valid options: path, n"
    with pytest.raises(ValueError, match=message):
        load_stimuli("text_file", n=3)

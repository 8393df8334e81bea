"""The stimulus type, the sentence splitter, the word tokenizer and span replacement."""

from __future__ import annotations

import pytest

from mspgt_bench.stimuli.base import (
    Stimulus,
    normalize_whitespace,
    replace_spans,
    split_sentences,
    word_spans,
    words,
)


def sentences_of(text: str) -> list[str]:
    return [text[start:end] for start, end in split_sentences(text)]


def test_splitter_finds_known_boundaries() -> None:
    text = (
        "Mr. Smith met Dr. J. Watson, e.g. at noon. "
        'He said "Stop!" Then he left?  (It was late.) The end'
    )
    assert sentences_of(text) == [
        "Mr. Smith met Dr. J. Watson, e.g. at noon.",
        'He said "Stop!"',
        "Then he left?",
        "(It was late.)",
        "The end",
    ]


def test_splitter_needs_a_capital_after_the_stop() -> None:
    assert sentences_of("Version 3.11 is out. it is fast. Use it.") == [
        "Version 3.11 is out. it is fast.",
        "Use it.",
    ]


def test_splitter_spans_skip_surrounding_whitespace() -> None:
    text = "  One here.\n\nTwo there.  "
    assert split_sentences(text) == ((2, 11), (13, 23))
    assert split_sentences("   ") == ()


def test_words_keep_contractions_and_hyphens_and_drop_punctuation() -> None:
    text = "Don't stop the run-time (now)!"
    assert words(text) == ["Don't", "stop", "the", "run-time", "now"]
    assert [text[s:e] for s, e in word_spans(text)] == words(text)


def test_normalize_whitespace() -> None:
    assert normalize_whitespace("  a\n b\t\tc  ") == "a b c"


def test_replace_spans_keeps_the_text_between_spans() -> None:
    text, spans = replace_spans("ab, cd. ef", [(0, 2), (4, 6)], ["xyz", ""])
    assert text == "xyz, . ef"
    assert spans == ((0, 3), (5, 5))


def test_from_sentences_records_spans() -> None:
    stimulus = Stimulus.from_sentences("s1", ["One.", "Two two."], "test", "p1")
    assert stimulus.text == "One. Two two."
    assert stimulus.sentence_texts == ("One.", "Two two.")
    assert stimulus.meta == {}


@pytest.mark.parametrize("spans", [((0, 0),), ((0, 4), (3, 6)), ((0, 99),)])
def test_bad_spans_are_rejected(spans: tuple[tuple[int, int], ...]) -> None:
    with pytest.raises(ValueError, match="sentence span"):
        Stimulus("s1", "One. Two.", "test", "p1", spans)


def test_stimuli_are_hashable_and_compare_meta() -> None:
    a = Stimulus.from_sentences("s1", ["One."], "test", "p1", {"k": 1})
    b = Stimulus.from_sentences("s1", ["One."], "test", "p1", {"k": 2})
    assert hash(a) == hash(b)
    assert a != b
    assert len({a, b}) == 2

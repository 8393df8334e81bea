"""Generation read-outs on hand-made texts with hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mspgt_bench.metrics.readouts import (
    READOUT_SCALES,
    coherence,
    distinct_n,
    minilm_encoder,
    punctuation_rate,
    readouts,
    sentence_texts,
    type_token_ratio,
)


def _fixed_encoder(table: dict[str, list[float]]):
    """A test double: looks each sentence up in ``table``."""
    return lambda sentences: np.array([table[s] for s in sentences])


def test_lexical_diversity():
    assert type_token_ratio("a a b") == pytest.approx(2 / 3)
    assert type_token_ratio("A a B") == pytest.approx(2 / 3)  # case-folded
    # bigrams: (a,a) (a,b) (b,a) (a,a) -> 3 distinct of 4; trigrams: aab aba baa -> 3 of 3
    assert distinct_n("a a b a a", 2) == pytest.approx(3 / 4)
    assert distinct_n("a a b a a", 3) == 1.0
    assert distinct_n("the the the the", 2) == pytest.approx(1 / 3)
    assert math.isnan(distinct_n("one two", 3)) and math.isnan(type_token_ratio("... !"))


def test_sentence_structure():
    text = "The cat sat on the mat. It slept! Then, at last, the dog came home today."
    assert sentence_texts(text) == ["The cat sat on the mat.", "It slept!", "Then, at last, the dog came home today."]
    values = readouts(text, encoder=_fixed_encoder({s: [1.0, 0.0] for s in sentence_texts(text)}))
    lengths = [6, 2, 8]
    assert values["mean_sentence_length"] == pytest.approx(16 / 3)
    assert values["sd_sentence_length"] == pytest.approx(np.std(lengths))  # population sd: sqrt(56/9)
    assert values["sd_sentence_length"] == pytest.approx(math.sqrt(56 / 9))
    # 16 words and 5 marks (. ! , , .)
    assert values["punctuation_rate"] == pytest.approx(5 / 21)
    assert values["n_words"] == 16 and values["n_sentences"] == 3
    assert punctuation_rate("Hi, there.") == 0.5
    assert punctuation_rate("don't stop-me") == 0.0  # apostrophes and hyphens inside words are not marks
    assert math.isnan(punctuation_rate("   "))


def test_one_sentence_has_zero_spread_and_no_coherence():
    values = readouts("just one sentence here", encoder=_fixed_encoder({}))
    assert values["mean_sentence_length"] == 4 and values["sd_sentence_length"] == 0
    assert math.isnan(values["coherence"])
    assert set(values) == set(READOUT_SCALES)


def test_coherence_is_the_mean_cosine_of_consecutive_sentences():
    encoder = _fixed_encoder({"A x.": [1.0, 0.0], "B y.": [1.0, 1.0], "C z.": [0.0, 2.0]})
    # cos(A, B) = 1/sqrt2, cos(B, C) = 1/sqrt2; A and C are not consecutive
    assert coherence(["A x.", "B y.", "C z."], encoder) == pytest.approx(1 / math.sqrt(2))
    assert coherence(["A x.", "C z."], encoder) == pytest.approx(0.0)
    assert math.isnan(coherence(["A x."], encoder))


def test_coherence_with_the_real_sentence_model():
    encoder = minilm_encoder()
    assert minilm_encoder() is encoder  # loaded once
    same = "The cat sat on the mat. The cat sat on the mat. The cat sat on the mat."
    assert readouts(same, encoder)["coherence"] == pytest.approx(1.0, abs=1e-5)
    related = "The cat sat on the mat. The kitten slept on the rug."
    unrelated = "The cat sat on the mat. Interest rates rose sharply in March."
    assert readouts(related, encoder)["coherence"] > readouts(unrelated, encoder)["coherence"] + 0.2


def test_coherence_over_word_windows():
    text = "a b c d e f g"  # no sentence boundary: windows "a b c", "d e f", "g"
    table = {"a b c": [1.0, 0.0], "d e f": [0.0, 1.0], "g": [0.0, 3.0]}
    assert math.isnan(readouts(text, _fixed_encoder(table))["coherence"])
    assert readouts(text, _fixed_encoder(table), coherence_window=3)["coherence"] == pytest.approx(0.5)  # (0 + 1) / 2

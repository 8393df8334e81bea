"""Token labels at three scales on a hand-made text, against labels derived by hand."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from mspgt_bench.stimuli.base import Stimulus
from mspgt_bench.stimuli.scale_labels import FUNCTION_WORDS, LABELS, ScaleLabelOptions, token_labels

# A special token, then GPT-2-style tokens (a leading space belongs to the token); "quickly" in two pieces.
TOKENS = ["<bos>", "The", " cat", " sat", ".", " It", " ran", " away", " quick", "ly", "!"]
OFFSETS = [(0, 0), (0, 3), (3, 7), (7, 11), (11, 12), (12, 15), (15, 19), (19, 24), (24, 30), (30, 32), (32, 33)]


@pytest.fixture
def stimulus() -> Stimulus:
    s = Stimulus.from_sentences("t:0", ["The cat sat.", "It ran away quickly!"], "test", "topic-a")
    assert [s.text[a:b] for a, b in OFFSETS[1:]] == TOKENS[1:]
    return s


def test_labels_match_hand_derivation(stimulus):
    labels = token_labels(stimulus, OFFSETS, ScaleLabelOptions(length_edges=[4]))
    assert set(labels) == {name for names in LABELS.values() for name in names}
    for values in labels.values():
        assert values[0] is None  # the special token
    real = {name: values[1:] for name, values in labels.items()}
    #                                The cat sat  .  It ran away quick ly  !
    assert real["function_word"] == [1, 0, 0, 0, 1, 0, 0, 0, 0, 0]
    assert real["word_start"] == [1, 1, 1, 0, 1, 1, 1, 1, 0, 0]
    assert real["previous_function_word"] == [0, 1, 0, 0, 0, 1, 0, 0, 0, 0]
    # word index in the sentence 0,1,2,(2),0,1,2,3,3,(3) bucketed by edges 1, 3, 6, 10
    assert real["sentence_position"] == [0, 1, 1, 1, 0, 1, 1, 2, 2, 2]
    # 3 words (< 4) then 4 words (>= 4)
    assert real["sentence_length"] == [0, 0, 0, 0, 1, 1, 1, 1, 1, 1]
    assert real["sentence_index"] == [0, 0, 0, 0, 1, 1, 1, 1, 1, 1]
    assert real["passage"] == ["topic-a"] * 10


def test_sentence_index_is_capped_and_positions_are_bucketed():
    s = Stimulus.from_sentences("t:1", ["A b.", "C d.", "E f.", "One two three four five six seven."], "test", "p")
    offsets = [(m, m + 1) for m in range(len(s.text))]  # one token per character
    labels = token_labels(s, offsets, ScaleLabelOptions(max_sentence_index=2, position_edges=[2, 5]))
    last = s.text.index("seven")
    assert labels["sentence_index"][0] == 0 and labels["sentence_index"][last] == 2
    assert labels["sentence_position"][s.text.index("three")] == 1  # word 2: in [2, 5)
    assert labels["sentence_position"][last] == 2  # word 6: >= 5
    assert labels["word_start"][last] == 1 and labels["word_start"][last + 1] == 0


def test_function_words_are_closed_class_and_options_are_checked():
    assert {"the", "of", "and", "is", "would"} <= FUNCTION_WORDS
    assert not {"cat", "python", "quickly"} & FUNCTION_WORDS
    with pytest.raises(ValidationError, match="strictly increasing"):
        ScaleLabelOptions(position_edges=[3, 3])
    with pytest.raises(ValidationError):
        ScaleLabelOptions(local_label="sentence_index")

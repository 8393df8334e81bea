"""Scale-controlled perturbations on hand-made stimuli with known answers."""

from __future__ import annotations

import random
from collections import Counter

import numpy as np
import pytest

from mspgt_bench.stimuli.base import Stimulus, words
from mspgt_bench.stimuli.perturb import (
    PERTURBATIONS,
    replace_sentences,
    replace_words,
    shuffle_sentences,
    shuffle_within_sentences,
    swap_adjacent_words,
    token_shuffle,
)

SENTENCES = [
    "The cat sat on the warm mat.",
    "It purred softly all afternoon.",
    "Later, a dog barked outside.",
    "The cat woke and ran away!",
]
STIMULUS = Stimulus.from_sentences("s", SENTENCES, "test", "home")
DONORS = [
    Stimulus.from_sentences("d1", ["Rain fell all night.", "The river rose."], "test", "weather"),
    Stimulus.from_sentences("d2", ["Never used here."], "test", "home"),
]


def apply(name: str, seed: int = 0, stimulus: Stimulus = STIMULUS, **options: object) -> Stimulus:
    if name == "replace_sentences":
        options.setdefault("donors", DONORS)
    return PERTURBATIONS[name][1](stimulus, random.Random(seed), **options)


def assert_spans_exact(stimulus: Stimulus) -> None:
    """Sentences are joined by the original single spaces and end with their punctuation."""
    assert " ".join(stimulus.sentence_texts) == stimulus.text
    assert all(s[-1] in ".!" for s in stimulus.sentence_texts)


def test_registry_declares_scales() -> None:
    assert {name: scale for name, (scale, _) in PERTURBATIONS.items()} == {
        "swap_adjacent_words": "local",
        "replace_words": "local",
        "shuffle_within_sentences": "intermediate",
        "shuffle_sentences": "global",
        "replace_sentences": "global",
        "token_shuffle": "control",
    }


@pytest.mark.parametrize("name", list(PERTURBATIONS))
def test_seeded_changed_and_recorded(name: str) -> None:
    first = apply(name, seed=1)
    assert first == apply(name, seed=1)
    assert first.text != STIMULUS.text
    assert len({apply(name, seed=seed).text for seed in range(8)}) > 1
    assert first.meta["perturbation"]["name"] == name
    assert first.meta["perturbation"]["scale"] == PERTURBATIONS[name][0]
    assert first.meta["perturbation"]["of"] == "s"
    assert first.id.startswith(f"s~{name}~") and first.passage_id == "home"
    assert_spans_exact(first)


@pytest.mark.parametrize("name", ["shuffle_sentences", "token_shuffle", "swap_adjacent_words"])
def test_numpy_generator_works_too(name: str) -> None:
    perturb = PERTURBATIONS[name][1]
    first = perturb(STIMULUS, np.random.default_rng(5))
    assert first == perturb(STIMULUS, np.random.default_rng(5))
    assert first.text != STIMULUS.text


def test_rng_type_is_checked() -> None:
    with pytest.raises(TypeError, match="random.Random or a numpy.random.Generator"):
        shuffle_sentences(STIMULUS, 3)  # type: ignore[arg-type]


@pytest.mark.parametrize("seed", range(5))
def test_swap_changes_exactly_the_declared_pairs(seed: int) -> None:
    result = swap_adjacent_words(STIMULUS, random.Random(seed), n=3)
    before, after = words(STIMULUS.text), words(result.text)
    changed = [i for i, (a, b) in enumerate(zip(before, after)) if a != b]
    assert len(changed) == 6
    pairs = list(zip(changed[::2], changed[1::2]))
    assert all(j == i + 1 and before[i] == after[j] and before[j] == after[i] for i, j in pairs)
    assert result.meta["perturbation"]["n"] == 3
    assert len(result.sentences) == 4


def test_swap_never_crosses_sentences_and_fraction_is_bounded() -> None:
    two = Stimulus.from_sentences("t", ["Go home.", "Come back."], "test", "p")
    for seed in range(10):
        result = swap_adjacent_words(two, random.Random(seed))
        assert result.text in {"home Go. Come back.", "Go home. back Come."}
    assert swap_adjacent_words(two, random.Random(0), fraction=1 / 3).meta["perturbation"]["n"] == 1
    with pytest.raises(ValueError, match="fraction must be in"):
        swap_adjacent_words(two, random.Random(0), fraction=0.5)
    with pytest.raises(ValueError, match="found only 2 non-overlapping pairs"):
        swap_adjacent_words(two, random.Random(0), n=3)


def test_replace_words_changes_the_declared_number_of_words() -> None:
    result = replace_words(STIMULUS, random.Random(2), n=4)
    before, after = words(STIMULUS.text), words(result.text)
    assert len(after) == len(before)
    changed = [i for i, (a, b) in enumerate(zip(before, after)) if a.lower() != b.lower()]
    assert len(changed) == 4
    assert all(after[i] in before for i in changed)  # drawn from the stimulus's own words
    assert len(result.meta["perturbation"]["replaced"]) == 4
    assert_spans_exact(result)


def test_replace_words_uses_the_given_pool() -> None:
    result = replace_words(STIMULUS, random.Random(0), fraction=0.5, pool=["zebra"])
    assert words(result.text).count("zebra") == round(0.5 * len(words(STIMULUS.text)))
    with pytest.raises(ValueError, match="no replacement for 'cat'"):
        replace_words(STIMULUS, random.Random(0), fraction=1.0, pool=["cat", "CAT"])
    with pytest.raises(ValueError, match="asked to replace 30 words but it has 23"):
        replace_words(STIMULUS, random.Random(0), n=30)


def test_shuffle_within_sentences_keeps_each_sentences_words() -> None:
    result = shuffle_within_sentences(STIMULUS, random.Random(3))
    for old, new in zip(STIMULUS.sentence_texts, result.sentence_texts):
        assert Counter(words(old)) == Counter(words(new))
        assert old != new and old[-1] == new[-1]
    assert result.sentences == STIMULUS.sentences


def test_shuffle_sentences_keeps_the_sentences_and_changes_their_order() -> None:
    two = Stimulus.from_sentences("t", ["First one.", "Second one."], "test", "p")
    assert shuffle_sentences(two, random.Random(0)).text == "Second one. First one."
    result = shuffle_sentences(STIMULUS, random.Random(4))
    order = result.meta["perturbation"]["order"]
    assert sorted(result.sentence_texts) == sorted(SENTENCES)
    assert list(result.sentence_texts) == [SENTENCES[i] for i in order] != SENTENCES


def test_shuffle_sentences_keeps_the_gaps_between_sentences() -> None:
    text = "One here.\n\nTwo there. Three."
    stimulus = Stimulus("t", text, "test", "p", ((0, 9), (11, 21), (22, 28)))
    result = shuffle_sentences(stimulus, random.Random(0))
    assert result.text.count("\n\n") == 1
    assert [result.text[s:e] for s, e in result.sentences] == list(result.sentence_texts)
    assert sorted(result.sentence_texts) == ["One here.", "Three.", "Two there."]


def test_single_sentence_cannot_change_order() -> None:
    one = Stimulus.from_sentences("t", ["Only one."], "test", "p")
    assert shuffle_sentences(one, random.Random(0)).text == "Only one."


def test_replace_sentences_takes_sentences_from_other_passages_only() -> None:
    result = replace_sentences(STIMULUS, random.Random(0), donors=DONORS, n=2)
    info = result.meta["perturbation"]
    kept = [s for s in result.sentence_texts if s in SENTENCES]
    foreign = [s for s in result.sentence_texts if s not in SENTENCES]
    assert len(kept) == 2 and sorted(foreign) == ["Rain fell all night.", "The river rose."]
    assert info["sentence_passage_ids"].count("weather") == 2
    assert [r["donor_passage_id"] for r in info["replaced"]] == ["weather", "weather"]
    with pytest.raises(ValueError, match="donors from other passages offer 2"):
        replace_sentences(STIMULUS, random.Random(0), donors=DONORS, n=3)


def test_token_shuffle_keeps_the_multiset_of_words() -> None:
    result = token_shuffle(STIMULUS, random.Random(0))
    assert Counter(words(result.text)) == Counter(words(STIMULUS.text))
    assert [len(words(s)) for s in result.sentence_texts] == [len(words(s)) for s in SENTENCES]
    assert words(result.text) != words(STIMULUS.text)


def test_n_and_fraction_are_exclusive() -> None:
    with pytest.raises(ValueError, match="not both"):
        replace_words(STIMULUS, random.Random(0), n=1, fraction=0.1)

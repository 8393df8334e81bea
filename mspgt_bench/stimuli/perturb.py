"""Scale-controlled perturbations of a stimulus (docs/theory.md §4: the scale of a behaviour).

Each perturbation destroys structure at one scale and leaves the others alone:

- local: ``swap_adjacent_words``, ``replace_words`` (a few words change; sentences and their
  order stand);
- intermediate: ``shuffle_within_sentences`` (word order inside each sentence is lost;
  which words each sentence holds, and the sentence order, stand);
- global: ``shuffle_sentences``, ``replace_sentences`` (sentences stay intact; the discourse
  is reordered or interrupted by sentences from other passages);
- control: ``token_shuffle`` (every word of the stimulus shuffled; the null control of P8).

Words are the tokens of :func:`~mspgt_bench.stimuli.base.word_spans`. Perturbations move or
replace words inside their slots and leave punctuation and spacing where they were, so each
sentence keeps its final full stop and the sentence spans of the result are exact.
Capitalisation travels with the word. Each call takes a ``random.Random`` or a
``numpy.random.Generator``, returns a new :class:`Stimulus` whose ``meta["perturbation"]``
records what was done, and changes the text whenever that is possible at all: a
permutation that would leave the text as it was is drawn again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from typing import Literal

from mspgt_bench.stimuli.base import Stimulus, replace_spans, word_spans
from mspgt_bench.stimuli.draw import Draw, RandomSource

Scale = Literal["local", "intermediate", "global", "control"]


def _sentence_words(stimulus: Stimulus) -> list[list[str]]:
    """The words of each sentence."""
    return [
        [sentence[start:end] for start, end in word_spans(sentence)]
        for sentence in stimulus.sentence_texts
    ]


def _with_words(stimulus: Stimulus, sentence_words: Sequence[Sequence[str]]) -> list[str]:
    """Each sentence with its word slots refilled from ``sentence_words``."""
    return [
        replace_spans(sentence, word_spans(sentence), new_words)[0]
        for sentence, new_words in zip(stimulus.sentence_texts, sentence_words, strict=True)
    ]


def _result(stimulus: Stimulus, sentences: Sequence[str], name: str, details: dict) -> Stimulus:
    """The stimulus with its sentences replaced by ``sentences`` and the perturbation recorded."""
    text, spans = replace_spans(stimulus.text, stimulus.sentences, sentences)
    digest = hashlib.sha1(text.encode()).hexdigest()[:10]
    info = {"name": name, "scale": PERTURBATIONS[name][0], "of": stimulus.id, **details}
    return Stimulus(
        f"{stimulus.id}~{name}~{digest}",
        text,
        stimulus.source,
        stimulus.passage_id,
        spans,
        {**stimulus.meta, "perturbation": info},
    )


def _count(n: int | None, fraction: float | None, total: int, most: float = 1.0) -> int:
    """How many units to perturb: ``n``, or ``fraction`` of ``total`` (at least one)."""
    if n is not None and fraction is not None:
        raise ValueError("give n or fraction, not both")
    if fraction is None:
        n = 1 if n is None else n
        if n < 1:
            raise ValueError(f"n must be positive, got {n}")
        return n
    if not 0 < fraction <= most:
        raise ValueError(f"fraction must be in (0, {most:.3g}], got {fraction}")
    return max(1, round(fraction * total))


def _changing_permutation(items: Sequence[str], draw: Draw) -> list[int]:
    """A random order of ``items`` that changes the sequence (identity if none can)."""
    order = list(range(len(items)))
    if len(set(items)) < 2:
        return order
    while [items[i] for i in order] == list(items):
        order = draw.permutation(len(items))
    return order


def swap_adjacent_words(
    stimulus: Stimulus, rng: RandomSource, *, n: int | None = None, fraction: float | None = None
) -> Stimulus:
    """Swap ``n`` (default 1) non-overlapping pairs of adjacent, different words.

    Pairs never cross a sentence boundary. ``fraction`` instead swaps that share of the
    stimulus's swappable pairs; it may be at most 1/3, the most a random choice of
    non-overlapping pairs is sure to reach. ``meta["perturbation"]["pairs"]`` lists each
    swap as ``[sentence index, index of the first word in the sentence]``.

    Raises:
        ValueError: If the stimulus has too few swappable pairs.
    """
    draw = Draw(rng)
    sentence_words = _sentence_words(stimulus)
    candidates = [
        (s, i)
        for s, ws in enumerate(sentence_words)
        for i in range(len(ws) - 1)
        if ws[i] != ws[i + 1]
    ]
    k = _count(n, fraction, len(candidates), most=1 / 3)
    used: set[tuple[int, int]] = set()
    pairs: list[tuple[int, int]] = []
    for c in draw.permutation(len(candidates)):
        s, i = candidates[c]
        if (s, i) in used or (s, i + 1) in used:
            continue
        pairs.append((s, i))
        used |= {(s, i), (s, i + 1)}
        if len(pairs) == k:
            break
    if len(pairs) < k:
        raise ValueError(
            f"stimulus {stimulus.id!r}: asked to swap {k} word pairs but found only "
            f"{len(pairs)} non-overlapping pairs of different adjacent words"
        )
    for s, i in pairs:
        ws = sentence_words[s]
        ws[i], ws[i + 1] = ws[i + 1], ws[i]
    details = {"n": k, "pairs": [list(pair) for pair in sorted(pairs)]}
    return _result(stimulus, _with_words(stimulus, sentence_words), "swap_adjacent_words", details)


def replace_words(
    stimulus: Stimulus,
    rng: RandomSource,
    *,
    n: int | None = None,
    fraction: float | None = None,
    pool: Sequence[str] | None = None,
) -> Stimulus:
    """Replace ``n`` (default 1) or ``fraction`` of the words by words drawn from ``pool``.

    ``pool`` defaults to the stimulus's own words (so the word frequencies stay those of the
    text); pass the words of the whole stimulus set to draw from it instead. Each
    replacement is drawn by frequency and differs from the word it replaces, ignoring case.
    ``meta["perturbation"]["replaced"]`` lists ``[sentence index, word index, old, new]``.

    Raises:
        ValueError: If the stimulus has fewer than ``n`` words or the pool offers no
            different word.
    """
    draw = Draw(rng)
    sentence_words = _sentence_words(stimulus)
    positions = [(s, i) for s, ws in enumerate(sentence_words) for i in range(len(ws))]
    pool = [w for ws in sentence_words for w in ws] if pool is None else list(pool)
    distinct = {w.lower() for w in pool}
    k = _count(n, fraction, len(positions))
    if k > len(positions):
        raise ValueError(
            f"stimulus {stimulus.id!r}: asked to replace {k} words but it has {len(positions)}"
        )
    replaced: list[list] = []
    for c in sorted(draw.sample(len(positions), k)):
        s, i = positions[c]
        old = sentence_words[s][i]
        if not distinct - {old.lower()}:
            raise ValueError(f"the word pool offers no replacement for {old!r}")
        new = old
        while new.lower() == old.lower():
            new = pool[draw.index(len(pool))]
        sentence_words[s][i] = new
        replaced.append([s, i, old, new])
    details = {"n": k, "replaced": replaced}
    return _result(stimulus, _with_words(stimulus, sentence_words), "replace_words", details)


def shuffle_within_sentences(stimulus: Stimulus, rng: RandomSource) -> Stimulus:
    """Permute the words inside every sentence; sentences keep their place and punctuation.

    Every sentence with at least two different words changes.
    """
    draw = Draw(rng)
    sentence_words = _sentence_words(stimulus)
    orders = [_changing_permutation(ws, draw) for ws in sentence_words]
    shuffled = [[ws[i] for i in order] for ws, order in zip(sentence_words, orders)]
    details = {"orders": orders}
    return _result(
        stimulus, _with_words(stimulus, shuffled), "shuffle_within_sentences", details
    )


def shuffle_sentences(stimulus: Stimulus, rng: RandomSource) -> Stimulus:
    """Permute the order of the sentences, each left intact.

    The order always changes when the stimulus has two different sentences.
    ``meta["perturbation"]["order"]`` gives the original index of each sentence of the result.
    """
    sentences = stimulus.sentence_texts
    order = _changing_permutation(sentences, Draw(rng))
    details = {"order": order}
    return _result(stimulus, [sentences[i] for i in order], "shuffle_sentences", details)


def replace_sentences(
    stimulus: Stimulus,
    rng: RandomSource,
    *,
    donors: Sequence[Stimulus],
    n: int | None = None,
    fraction: float | None = None,
) -> Stimulus:
    """Replace ``n`` (default 1) or ``fraction`` of the sentences by sentences of ``donors``.

    Only donors from another passage (a different ``passage_id``) give sentences, each at
    most once. ``meta["perturbation"]["sentence_passage_ids"]`` gives the passage of every
    sentence of the result, so tokens can be labelled by the passage they come from.

    Raises:
        ValueError: If the stimulus has fewer than ``n`` sentences or the donors from other
            passages have fewer than ``n`` sentences.
    """
    draw = Draw(rng)
    sentences = list(stimulus.sentence_texts)
    k = _count(n, fraction, len(sentences))
    pool = [
        (donor, j)
        for donor in donors
        if donor.passage_id != stimulus.passage_id
        for j in range(len(donor.sentences))
    ]
    if k > len(sentences) or k > len(pool):
        raise ValueError(
            f"stimulus {stimulus.id!r}: asked to replace {k} sentences; it has "
            f"{len(sentences)} and the donors from other passages offer {len(pool)}"
        )
    passage_ids = [stimulus.passage_id] * len(sentences)
    replaced: list[dict] = []
    for position, pick in zip(sorted(draw.sample(len(sentences), k)), draw.sample(len(pool), k)):
        donor, j = pool[pick]
        sentences[position] = donor.sentence_texts[j]
        passage_ids[position] = donor.passage_id
        replaced.append(
            {
                "position": position,
                "donor_id": donor.id,
                "donor_passage_id": donor.passage_id,
                "donor_sentence": j,
            }
        )
    details = {"n": k, "replaced": replaced, "sentence_passage_ids": passage_ids}
    return _result(stimulus, sentences, "replace_sentences", details)


def token_shuffle(stimulus: Stimulus, rng: RandomSource) -> Stimulus:
    """Shuffle all words of the stimulus across all sentences (the P8 null control).

    Punctuation stays in place, so the result keeps the same number of sentences, each with
    its original number of words, now drawn from anywhere in the stimulus.
    """
    sentence_words = _sentence_words(stimulus)
    flat = [w for ws in sentence_words for w in ws]
    order = _changing_permutation(flat, Draw(rng))
    shuffled = iter([flat[i] for i in order])
    refilled = [[next(shuffled) for _ in ws] for ws in sentence_words]
    details = {"order": order}
    return _result(stimulus, _with_words(stimulus, refilled), "token_shuffle", details)


PERTURBATIONS: dict[str, tuple[Scale, Callable[..., Stimulus]]] = {
    "swap_adjacent_words": ("local", swap_adjacent_words),
    "replace_words": ("local", replace_words),
    "shuffle_within_sentences": ("intermediate", shuffle_within_sentences),
    "shuffle_sentences": ("global", shuffle_sentences),
    "replace_sentences": ("global", replace_sentences),
    "token_shuffle": ("control", token_shuffle),
}

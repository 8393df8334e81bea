"""Stimuli as windows of consecutive sentences, dealt evenly over the documents of a corpus.

Sources whose text comes as documents (books, files) made of "runs" (maximal stretches of
consecutive clean sentences: anything a source drops ends a run) share two steps:

* :func:`cut` cuts a document's runs into stimuli of consecutive sentences, each of a length
  drawn from the seeded generator and fitted to the length options;
* :func:`deal` shuffles documents and their stimuli with the same generator and deals them
  round-robin, so the first stimuli of a selection all come from different documents.

The same seed gives the same stimuli on every machine with the same corpus text.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

from mspgt_bench.stimuli.base import Stimulus, words
from mspgt_bench.stimuli.length import Length

MakeStimulus = Callable[[int, list[str]], Stimulus]
"""Builds the stimulus whose sentences are ``sentences``, the first being sentence ``first`` of the document."""


def balanced(text: str) -> bool:
    """Whether brackets and double quotes open and close within ``text``."""
    return (
        text.count("(") == text.count(")")
        and text.count("[") == text.count("]")
        and text.count('"') % 2 == 0
        and text.count("“") == text.count("”")
    )


def complete_sentence(sentence: str, min_words: int = 5, max_words: int = 60) -> bool:
    """Starts with a capital (behind an optional bracket or quote), ends with . ! or ?, has a sane length."""
    return (
        sentence.rstrip("\"'”’)")[-1:] in (".", "!", "?")
        and sentence.lstrip("(\"'“‘")[:1].isupper()
        and min_words <= len(words(sentence)) <= max_words
        and balanced(sentence)
    )


def cut(runs: Sequence[Sequence[str]], length: Length, rng: random.Random, make: MakeStimulus) -> list[Stimulus]:
    """Cut a document's runs into stimuli of consecutive sentences (never across two runs)."""
    chunks: list[Stimulus] = []
    offset = 0
    for run in runs:
        position = 0
        while position < len(run):
            target = None if length.max_sentences is None else rng.randint(length.min_sentences, length.max_sentences)
            kept = length.fit(run[position:], limit=target)
            if kept is None:
                position += 1
                continue
            chunks.append(make(offset + position, kept))
            position += len(kept)
        offset += len(run)
    return chunks


def deal(per_document: dict[str, list[Stimulus]], n: int, rng: random.Random, description: str) -> list[Stimulus]:
    """``n`` stimuli dealt round-robin over the documents, both shuffled by ``rng``.

    Raises:
        ValueError: If fewer than ``n`` stimuli exist; ``description`` says which source and options.
    """
    documents = sorted(name for name, chunks in per_document.items() if chunks)
    rng.shuffle(documents)
    for name in documents:
        rng.shuffle(per_document[name])
    dealt = [
        per_document[name][round_]
        for round_ in range(max((len(per_document[name]) for name in documents), default=0))
        for name in documents
        if round_ < len(per_document[name])
    ]
    if len(dealt) < n:
        raise ValueError(f"{description}: only {len(dealt)} passages meet the length options; asked for n={n}")
    return dealt[:n]

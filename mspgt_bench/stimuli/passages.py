"""Turning raw passages (file paragraphs, JSONL records, dataset rows) into stimuli."""

from __future__ import annotations

import random
from collections.abc import Callable

from mspgt_bench.stimuli.base import Stimulus, normalize_whitespace, split_sentences
from mspgt_bench.stimuli.length import Length


def passage_stimulus(
    text: str, length: Length, *, id: str, source: str, passage_id: str, meta: dict
) -> Stimulus | None:
    """The leading sentences of ``text`` that fit ``length``, or ``None`` if too few fit.

    Whitespace is normalised first (wrapped lines become one line), so every source yields
    sentences joined by single spaces, as perturbed stimuli are.
    """
    text = normalize_whitespace(text)
    sentences = length.fit([text[start:end] for start, end in split_sentences(text)])
    if sentences is None:
        return None
    return Stimulus.from_sentences(id, sentences, source, passage_id, meta)


def select(
    count: int,
    n: int | None,
    seed: int,
    build: Callable[[int], Stimulus | None],
    description: str,
    length: Length,
) -> list[Stimulus]:
    """Up to ``n`` stimuli built from passages ``0 .. count-1`` in a seeded random order.

    ``build(i)`` returns ``None`` for a passage that fails the length options; such passages
    are skipped. ``n=None`` builds every passage, in order.

    Raises:
        ValueError: If ``n`` is not positive or fewer than ``n`` passages qualify.
    """
    if n is None:
        return [stimulus for stimulus in map(build, range(count)) if stimulus is not None]
    if n < 1:
        raise ValueError(f"{description}: n must be positive, got {n}")
    chosen: list[Stimulus] = []
    for index in random.Random(seed).sample(range(count), count):
        stimulus = build(index)
        if stimulus is not None:
            chosen.append(stimulus)
            if len(chosen) == n:
                return chosen
    raise ValueError(
        f"{description}: only {len(chosen)} of {count} passages meet "
        f"min_sentences={length.min_sentences}, max_sentences={length.max_sentences}, "
        f"max_chars={length.max_chars}; asked for n={n}"
    )

"""Token labels at three scales, derived from a stimulus' own text (no external tagger).

The labels a scale probe (``mspgt_bench.signals.probes``) decodes from the residual stream. A
token is mapped to text through the tokenizer's character offsets: its *anchor* is its last
character ``c = end − 1`` (as in :func:`~mspgt_bench.interventions.token_classes.token_sentences`),
its word the word span (:func:`~mspgt_bench.stimuli.base.word_spans`) containing ``c`` (none for
punctuation and whitespace), its sentence the sentence span containing ``c`` (a token between
two sentences belongs to the earlier one).

Local (the token and its neighbour):

- ``function_word``: 1 if the token's word is in :data:`FUNCTION_WORDS` (a closed list of English
  articles, determiners, pronouns, prepositions, conjunctions, auxiliaries and particles; case
  folded), else 0 (content words, punctuation).
- ``word_start``: 1 if the token holds the first character of its word, else 0 (word
  continuations, punctuation).
- ``previous_function_word``: ``function_word`` of the previous token (0 for the first token).

Intermediate (the token's sentence):

- ``sentence_position``: the index ``p`` of the token's word within its sentence (for
  punctuation, of the word before it; 0 before the first word), bucketed by
  ``position_edges`` ``e_1 < … < e_m``: class ``#{i : e_i ≤ p}`` (default edges 1, 3, 6, 10
  give the classes 0 | 1–2 | 3–5 | 6–9 | ≥ 10).
- ``sentence_length``: the number of words ``n`` of the token's sentence, bucketed the same way
  by ``length_edges`` (default 10, 20: < 10 | 10–19 | ≥ 20 words).

Global (the token's place in the passage):

- ``sentence_index``: the index of the token's sentence in the stimulus, capped at
  ``max_sentence_index`` (default 3: classes 0, 1, 2, ≥ 3).
- ``passage``: the stimulus' ``passage_id`` (the document or topic it was cut from). Only
  informative when several stimuli share a passage: with stimulus-level cross-validation a
  passage seen by no training stimulus can never be predicted.

Tokens with an empty offset (special tokens such as BOS) get ``None`` for every label.
"""

from __future__ import annotations

import bisect
from collections.abc import Hashable
from itertools import pairwise
from typing import Literal

from pydantic import Field, field_validator

from mspgt_bench.options import Strict
from mspgt_bench.stimuli.base import Stimulus, word_spans

__all__ = [
    "FUNCTION_WORDS",
    "LABELS",
    "ScaleLabelOptions",
    "token_labels",
]

LocalLabel = Literal["function_word", "word_start", "previous_function_word"]
IntermediateLabel = Literal["sentence_position", "sentence_length"]
GlobalLabel = Literal["sentence_index", "passage"]

LABELS: dict[str, tuple[str, ...]] = {
    "local": ("function_word", "word_start", "previous_function_word"),
    "intermediate": ("sentence_position", "sentence_length"),
    "global": ("sentence_index", "passage"),
}
"""The label names of each scale."""

# articles and determiners; pronouns; prepositions; conjunctions and connectives; auxiliaries and
# modals; negation, adverbial particles
_CLOSED_CLASS = """
    a an the this that these those each every either neither some any no all both few many much
    more most less least several such what which whose whatever whichever
    i me my mine myself you your yours yourself yourselves he him his himself she her hers herself
    it its itself we us our ours ourselves they them their theirs themselves one oneself
    who whom whoever someone somebody something anyone anybody anything everyone everybody
    everything nobody nothing none
    about above across after against along among around as at before behind below beneath beside
    besides between beyond by despite down during except for from in inside into like near of off
    on onto out outside over past per since than through throughout till to toward towards under
    underneath unlike until up upon via with within without
    and but or nor so yet if unless because although though while whereas whether when whenever
    where wherever once then else otherwise also
    be am is are was were been being have has had having do does did doing done
    can could may might must shall should will would ought
    not there here how why
    very too just only even still already again ever never always often
"""
FUNCTION_WORDS = frozenset(_CLOSED_CLASS.split())
"""Closed-class English words (202), lower case."""


class ScaleLabelOptions(Strict):
    """Which label each scale uses, and the buckets of the bucketed labels."""

    local_label: LocalLabel = Field("function_word", description="Label of the local scale.")
    intermediate_label: IntermediateLabel = Field("sentence_position", description="Label of the intermediate scale.")
    global_label: GlobalLabel = Field("sentence_index", description="Label of the global scale.")
    position_edges: list[int] = Field(
        default_factory=lambda: [1, 3, 6, 10], description="Bucket edges of the word index within the sentence."
    )
    length_edges: list[int] = Field(
        default_factory=lambda: [10, 20], description="Bucket edges of the sentence length in words."
    )
    max_sentence_index: int = Field(3, ge=1, description="Sentence indices from this one on share one class.")

    @field_validator("position_edges", "length_edges")
    @classmethod
    def _increasing(cls, edges: list[int]) -> list[int]:
        if not edges or any(b <= a for a, b in pairwise(edges)) or edges[0] < 1:
            raise ValueError("bucket edges must be a non-empty, strictly increasing list of positive integers")
        return edges

    def chosen(self) -> dict[str, str]:
        """``{scale: label name}``."""
        return {"local": self.local_label, "intermediate": self.intermediate_label, "global": self.global_label}


def _containing(starts: list[int], ends: list[int], c: int) -> int:
    """Index of the span containing character ``c``, or −1."""
    i = bisect.bisect_right(starts, c) - 1
    return i if i >= 0 and c < ends[i] else -1


def token_labels(
    stimulus: Stimulus, offsets: list[tuple[int, int]], options: ScaleLabelOptions | None = None
) -> dict[str, list[Hashable | None]]:
    """Every label of :data:`LABELS` for each token (``offsets``: the tokenizer's character spans).

    Returns ``{label name: [value per token]}``; ``None`` marks a special token (empty offset).
    """
    options = options or ScaleLabelOptions()
    text = stimulus.text
    spans = word_spans(text)
    word_starts = [s for s, _ in spans]
    word_ends = [e for _, e in spans]
    sentence_starts = [s for s, _ in stimulus.sentences]
    # the words of each sentence, as indices into spans
    first_word = [bisect.bisect_left(word_starts, start) for start, _ in stimulus.sentences]
    last_word = [bisect.bisect_left(word_starts, end) for _, end in stimulus.sentences]
    out: dict[str, list[Hashable | None]] = {name: [] for names in LABELS.values() for name in names}
    previous_function = 0
    for start, end in offsets:
        if end <= start or not sentence_starts:
            for values in out.values():
                values.append(None)
            previous_function = 0
            continue
        c = end - 1
        word = _containing(word_starts, word_ends, c)
        function = int(word >= 0 and text[word_starts[word] : word_ends[word]].lower() in FUNCTION_WORDS)
        sentence = max(bisect.bisect_right(sentence_starts, c) - 1, 0)
        in_sentence = word_starts[first_word[sentence] : last_word[sentence]]
        position = max(bisect.bisect_right(in_sentence, c) - 1, 0)
        out["function_word"].append(function)
        out["word_start"].append(int(word >= 0 and start <= word_starts[word] <= c))
        out["previous_function_word"].append(previous_function)
        out["sentence_position"].append(bisect.bisect_right(options.position_edges, position))
        out["sentence_length"].append(bisect.bisect_right(options.length_edges, len(in_sentence)))
        out["sentence_index"].append(min(sentence, options.max_sentence_index))
        out["passage"].append(stimulus.passage_id)
        previous_function = function
    return out

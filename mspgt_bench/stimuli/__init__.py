"""stimuli: text stimuli from several sources and scale-controlled perturbations of them."""

from __future__ import annotations

from mspgt_bench.stimuli.base import Stimulus, split_sentences, word_spans, words
from mspgt_bench.stimuli.perturb import PERTURBATIONS
from mspgt_bench.stimuli.registry import SOURCES, load_stimuli

__all__ = [
    "PERTURBATIONS",
    "SOURCES",
    "Stimulus",
    "load_stimuli",
    "split_sentences",
    "word_spans",
    "words",
]

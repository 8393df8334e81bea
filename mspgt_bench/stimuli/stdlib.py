"""English prose that ships with Python: the reference-manual topics in ``pydoc_data``.

``pydoc_data.topics.topics`` maps ~80 topic names ("exceptions", "execmodel", ...) to the
plain-text rendering of sections of the Python Language Reference and Library Reference,
about 450k characters in all. It is the largest body of continuous, edited English prose in
the standard library, needs no download, and is the same on every machine running a given
Python version (it changes between versions, so stimuli record the version in ``meta``).

The documents mix prose with code, grammar, tables and lists. Cleaning keeps only prose
paragraphs (one indentation, starting with a capital, no doctest, table, list or
heading lines), strips reST markup (``*emphasis*``, ``::``, footnote marks), splits the rest
into sentences and keeps "runs" of consecutive complete sentences with few code symbols; anything dropped in between ends a run, so a stimulus never skips over a code
example it refers to. Stimuli are windows of consecutive sentences inside one run.
"""

from __future__ import annotations

import platform
import random
import re
from functools import cache

from mspgt_bench.stimuli.base import Stimulus, split_sentences, words
from mspgt_bench.stimuli.length import Length
from mspgt_bench.stimuli.windows import balanced, cut, deal

SOURCE = "stdlib_prose"

_FOOTNOTES = "-[ Footnotes ]-"
# Lines that open a non-prose block: doctest, table, bullet, numbered item, footnote, heading.
_NON_PROSE_LINE = re.compile(r"\s*(>>>|\.\.\.|[|+]|[*-] |\d+\. |\[\w+\]|[-=*~^#]{3,}$)")
_VERSION_NOTE = re.compile(r"(Added|Changed|New|Deprecated|Removed)( in| since)? version")
_EMPHASIS = re.compile(r"\*{1,2}([^*\s][^*]*?)\*{1,2}")
_FOOTNOTE_REFERENCE = re.compile(r"\s*\[(\d+|#\w*)\]")
# The renderer puts code in double quotes: "__init__()". Prose may quote some code, but
# outside the quotes it must look like prose.
_QUOTED_CODE = re.compile(r'"[^"]*"')
_CODE_SYMBOLS = frozenset("[]{}<>=+*/\\|_@#$%^~`")
_MAX_SYMBOL_RATIO = 0.01
_MAX_QUOTED_RATIO = 0.3
_MIN_WORDS, _MAX_WORDS = 5, 60


def _paragraphs(document: str) -> list[list[str]]:
    """The blank-line separated paragraphs of ``document``, as lists of lines."""
    paragraphs: list[list[str]] = [[]]
    for line in document.split(_FOOTNOTES)[0].splitlines():
        if line.strip():
            paragraphs[-1].append(line)
        elif paragraphs[-1]:
            paragraphs.append([])
    return [paragraph for paragraph in paragraphs if paragraph]


def _starts_like_prose(text: str) -> bool:
    """Whether ``text`` starts with a capital letter, possibly behind a bracket or quote."""
    return text.lstrip("(\"“")[:1].isupper()


def _looks_like_code(text: str) -> bool:
    """Whether quoted code dominates ``text`` or code symbols appear outside the quotes."""
    unquoted = _QUOTED_CODE.sub("", text)
    symbols = sum(character in _CODE_SYMBOLS for character in unquoted)
    return (
        1 - len(unquoted) / len(text) > _MAX_QUOTED_RATIO
        or symbols > _MAX_SYMBOL_RATIO * len(text)
    )


def _prose(paragraph: list[str]) -> str | None:
    """The paragraph as one cleaned line of prose, or ``None`` if it is not prose."""
    indents = {len(line) - len(line.lstrip()) for line in paragraph}
    first = paragraph[0].strip()
    if (
        len(indents) > 1
        or not _starts_like_prose(first)
        or _VERSION_NOTE.match(first)
        or any(_NON_PROSE_LINE.match(line) for line in paragraph)
    ):
        return None
    joined = ""
    for line in paragraph:
        line = line.strip()
        # The renderer wraps lines after hyphens, so a trailing hyphen joins without a space.
        joined += line if joined.endswith("-") or not joined else " " + line
    joined = _EMPHASIS.sub(r"\1", joined)
    joined = _FOOTNOTE_REFERENCE.sub("", joined).replace("::", ":")
    return " ".join(joined.split())


def _acceptable(sentence: str) -> bool:
    """Whether a sentence reads as a complete English sentence rather than a code fragment."""
    return (
        sentence.rstrip("\"”’)")[-1:] in (".", "!", "?")
        and _starts_like_prose(sentence)
        and _MIN_WORDS <= len(words(sentence)) <= _MAX_WORDS
        and "*" not in sentence
        and balanced(sentence)
        and not _looks_like_code(sentence)
    )


def _runs(document: str) -> list[list[str]]:
    """Maximal runs of consecutive acceptable sentences in ``document``."""
    runs: list[list[str]] = [[]]
    for paragraph in _paragraphs(document):
        text = _prose(paragraph)
        if text is None:
            runs.append([])
            continue
        for start, end in split_sentences(text):
            if _acceptable(text[start:end]):
                runs[-1].append(text[start:end])
            else:
                runs.append([])
    return [run for run in runs if run]


@cache
def prose_runs() -> dict[str, tuple[tuple[str, ...], ...]]:
    """Every topic's runs of clean consecutive sentences (topics without any are left out)."""
    try:
        from pydoc_data.topics import topics
    except ImportError as error:  # some distributions package pydoc_data separately
        raise RuntimeError(
            "stdlib_prose needs the standard library's pydoc_data package, which this Python "
            "installation lacks; install your distribution's full Python standard library "
            "or use the text_file / jsonl_file sources"
        ) from error
    runs = {topic: tuple(map(tuple, _runs(topics[topic]))) for topic in sorted(topics)}
    return {topic: topic_runs for topic, topic_runs in runs.items() if topic_runs}


def _stimulus(topic: str, first: int, kept: list[str]) -> Stimulus:
    return Stimulus.from_sentences(
        f"{SOURCE}:{topic}:{first}+{len(kept)}",
        kept,
        SOURCE,
        topic,
        {"first_sentence": first, "python": platform.python_version()},
    )


def stdlib_prose(
    n: int | None = None,
    seed: int = 0,
    *,
    min_sentences: int = 3,
    max_sentences: int | None = 6,
    max_chars: int | None = None,
) -> list[Stimulus]:
    """Passages of consecutive sentences from the Python reference manual.

    Each stimulus's sentence count is drawn uniformly from ``[min_sentences, max_sentences]``
    (``max_sentences=None``: a whole run), then shortened to fit ``max_chars``. The seed fixes
    both the cut and the selection. Stimuli are dealt round-robin over topics in a seeded
    order, so the first ones all come from different passages (``passage_id`` is the topic).

    Args:
        n: How many stimuli; ``None`` returns every cut passage in document order.
        seed: Seed for the cut and the selection.
        min_sentences: Fewest sentences per stimulus.
        max_sentences: Most sentences per stimulus.
        max_chars: Most characters per stimulus.

    Raises:
        ValueError: If ``n`` is not positive or fewer than ``n`` passages meet the length
            options.
    """
    if n is not None and n < 1:
        raise ValueError(f"{SOURCE}: n must be positive, got {n}")
    length = Length(min_sentences, max_sentences, max_chars)
    rng = random.Random(seed)
    per_topic = {
        topic: cut(runs, length, rng, lambda first, kept, topic=topic: _stimulus(topic, first, kept))
        for topic, runs in prose_runs().items()
    }
    if n is None:
        return [stimulus for chunks in per_topic.values() for stimulus in chunks]
    options = f"min_sentences={min_sentences}, max_sentences={max_sentences}, max_chars={max_chars}"
    return deal(per_topic, n, rng, f"{SOURCE} ({options})")

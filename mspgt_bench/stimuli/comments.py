"""Code comments: the ``#`` comment blocks of the Python standard library's source (source ``stdlib_comments``).

Provenance and licence. The text is the comments of the pure-Python modules of the standard
library of the Python running mspgt-bench (``sysconfig.get_paths()["stdlib"]``), licensed under
the Python Software Foundation License (PSF-2.0, permissive). It ships with every CPython, needs
no download, and is the same on every machine with the same Python version (stimuli record the
version and the file in ``meta``).

Why it is here: programmers' comments are a genre of their own, terse technical English about
the code beside it ("Note that if __eq__ is defined in this class, then ..."), with identifiers
inside sentences; neither reference-manual prose (``stdlib_prose``) nor narrative
(``kjv_narrative``).

Cleaning: files are read in sorted order, leaving out test suites, ``idlelib``'s tests,
``lib2to3``, ``ensurepip``, ``turtledemo``, ``pydoc_data`` and installed packages. A block is a
stretch of consecutive lines that hold only a comment at the same column (a trailing comment
after code, an empty ``#`` line, a blank line or a change of column ends it); its lines are
joined with spaces after removing the ``#`` marks. Lines that look like a licence header,
an encoding/shebang line, a tool directive (``noqa``, ``type:``, ``pragma``, ``fmt:``) or a
separator ruler end the block too. Blocks are split into sentences; a sentence is kept when it
starts with a capital, ends with ``.``, ``!`` or ``?``, has 5 to 60 words, balanced brackets
and at most 3% characters from ``=+*/\\|@$%^~`{}<>``. A dropped sentence ends a run, and a
stimulus is a window of consecutive sentences inside one run (``passage_id``: the file). The
seeded selection is dealt round-robin over files.
"""

from __future__ import annotations

import io
import platform
import random
import re
import sysconfig
import tokenize
from functools import cache
from pathlib import Path

from mspgt_bench.stimuli.base import Stimulus, normalize_whitespace, split_sentences
from mspgt_bench.stimuli.length import Length
from mspgt_bench.stimuli.windows import complete_sentence, cut, deal

SOURCE = "stdlib_comments"
SKIPPED_FOLDERS = frozenset(
    {"test", "tests", "idle_test", "site-packages", "dist-packages", "__pycache__", "lib2to3", "ensurepip",
     "turtledemo", "pydoc_data"}
)  # fmt: skip
_NOT_PROSE = re.compile(
    r"^(!|-\*-|.*coding[:=]|.*\b(copyright|licen[cs]e[ds]?)\b|\s*(noqa|type:|pragma|fmt:|pylint:)|\s*[-=#*~_]{4,})",
    re.IGNORECASE,
)
_CODE_SYMBOLS = frozenset("=+*/\\|@$%^~`{}<>")
_MAX_SYMBOL_RATIO = 0.03


def stdlib_folder() -> Path:
    """The folder of this Python's standard library source."""
    return Path(sysconfig.get_paths()["stdlib"])


def source_files(folder: Path) -> list[Path]:
    """The standard library's ``.py`` files that are used, relative to ``folder``, in sorted order."""
    files = []
    for path in sorted(folder.rglob("*.py")):
        relative = path.relative_to(folder)
        if not any(part in SKIPPED_FOLDERS or part.startswith("config-") for part in relative.parts[:-1]):
            files.append(relative)
    return files


def comment_blocks(source: str) -> list[str]:
    """The comment blocks of one module's source, each joined into one line (see the module docstring)."""
    blocks: list[list[str]] = [[]]
    last_line, column = -2, -1
    lines = source.splitlines()
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, SyntaxError):
        return []
    for token in tokens:
        if token.type != tokenize.COMMENT:
            continue
        row, col = token.start
        text = token.string.lstrip("#").strip()
        whole_line = not lines[row - 1][:col].strip()
        if not whole_line or not text or _NOT_PROSE.match(text):
            blocks.append([])
            last_line = -2
            continue
        if row != last_line + 1 or col != column:
            blocks.append([])
        blocks[-1].append(text)
        last_line, column = row, col
    return [normalize_whitespace(" ".join(block)) for block in blocks if block]


def _acceptable(sentence: str) -> bool:
    symbols = sum(character in _CODE_SYMBOLS for character in sentence)
    return complete_sentence(sentence) and symbols <= _MAX_SYMBOL_RATIO * len(sentence)


def _runs(block: str) -> list[tuple[str, ...]]:
    runs: list[list[str]] = [[]]
    for start, end in split_sentences(block):
        if _acceptable(block[start:end]):
            runs[-1].append(block[start:end])
        elif runs[-1]:
            runs.append([])
    return [tuple(run) for run in runs if run]


@cache
def comment_runs() -> dict[str, tuple[tuple[str, ...], ...]]:
    """File (relative to the standard library, '/'-separated) -> its runs of clean comment sentences."""
    folder = stdlib_folder()
    files: dict[str, tuple[tuple[str, ...], ...]] = {}
    for relative in source_files(folder):
        try:
            source = (folder / relative).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        runs = tuple(run for block in comment_blocks(source) for run in _runs(block))
        if runs:
            files[relative.as_posix()] = runs
    if not files:
        raise RuntimeError(
            f"{SOURCE}: found no commented Python source under {folder}; this Python installation ships "
            "its standard library compiled only, so use another source"
        )
    return files


def stdlib_comments(
    n: int | None = None,
    seed: int = 0,
    *,
    min_sentences: int = 2,
    max_sentences: int | None = 5,
    max_chars: int | None = None,
) -> list[Stimulus]:
    """Passages of consecutive sentences from the comments of the Python standard library.

    Comment blocks are short, so the defaults ask for 2 to 5 sentences. Each stimulus's sentence
    count is drawn uniformly from ``[min_sentences, max_sentences]`` (``max_sentences=None``: a
    whole run), then shortened to fit ``max_chars``. The seed fixes the cut and the selection;
    stimuli are dealt round-robin over files.

    Args:
        n: How many stimuli; ``None`` returns every cut passage in file order.
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
    python = platform.python_version()
    per_file: dict[str, list[Stimulus]] = {}
    for name, runs in comment_runs().items():

        def make(first: int, sentences: list[str], name: str = name) -> Stimulus:
            meta = {
                "file": name,
                "first_sentence": first,
                "python": python,
                "provenance": f"comments in Lib/{name} of CPython {python}",
                "licence": "PSF-2.0",
            }
            return Stimulus.from_sentences(f"{SOURCE}:{name}:{first}+{len(sentences)}", sentences, SOURCE, name, meta)

        per_file[name] = cut(runs, length, rng, make)
    if n is None:
        return [stimulus for chunks in per_file.values() for stimulus in chunks]
    options = f"min_sentences={min_sentences}, max_sentences={max_sentences}, max_chars={max_chars}"
    return deal(per_file, n, rng, f"{SOURCE} ({options})")

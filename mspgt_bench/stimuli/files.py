"""Stimuli from local files: plain text (blank-line separated passages) and JSON Lines."""

from __future__ import annotations

import json
import os
from pathlib import Path

from mspgt_bench.stimuli.base import Stimulus
from mspgt_bench.stimuli.length import Length
from mspgt_bench.stimuli.passages import passage_stimulus, select


def _read(path: str | os.PathLike, source: str, encoding: str) -> tuple[Path, str]:
    """The file's path and decoded text; errors name the file, the line and the fix."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"{source}: {path} does not exist or is not a file; pass the path of a local file"
        )
    raw = path.read_bytes()
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as error:
        line = raw.count(b"\n", 0, error.start) + 1
        raise ValueError(
            f"{source}: {path}, line {line}: not valid {encoding} ({error.reason}); "
            f"re-save the file as {encoding} or pass encoding= with the file's encoding"
        ) from error
    if not text.strip():
        raise ValueError(f"{source}: {path} is empty; it must contain at least one passage")
    return path, text


def text_file(
    path: str | os.PathLike,
    n: int | None = None,
    seed: int = 0,
    *,
    min_sentences: int = 1,
    max_sentences: int | None = None,
    max_chars: int | None = None,
    encoding: str = "utf-8",
) -> list[Stimulus]:
    """Passages of a plain-text file; passages are separated by one or more blank lines.

    Line breaks inside a passage count as spaces. A passage longer than the length options
    allow is cut to its leading sentences; one with fewer than ``min_sentences`` is skipped.
    ``passage_id`` is ``"<file name>:<first line>"``.

    Args:
        path: The ``.txt`` file.
        n: How many stimuli, drawn at random; ``None``: every passage, in file order.
        seed: Seed for the draw.
        min_sentences: Fewest sentences per stimulus.
        max_sentences: Most sentences per stimulus.
        max_chars: Most characters per stimulus.
        encoding: The file's text encoding.
    """
    length = Length(min_sentences, max_sentences, max_chars)
    path, text = _read(path, "text_file", encoding)
    passages: list[tuple[int, list[str]]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        if passages and passages[-1][0] + len(passages[-1][1]) == number:
            passages[-1][1].append(line)
        else:
            passages.append((number, [line]))

    def build(index: int) -> Stimulus | None:
        line, lines = passages[index]
        return passage_stimulus(
            "\n".join(lines),
            length,
            id=f"text_file:{path.name}:{line}",
            source="text_file",
            passage_id=f"{path.name}:{line}",
            meta={"path": str(path), "line": line},
        )

    return select(len(passages), n, seed, build, f"text_file {path}", length)


def _record(path: Path, number: int, line: str, fields: list[str]) -> dict:
    """Parse one JSONL line and check it has ``fields``, the first (the text) a string."""
    where = f"jsonl_file: {path}, line {number}"
    try:
        record = json.loads(line)
    except json.JSONDecodeError as error:
        raise ValueError(
            f"{where}: invalid JSON ({error.msg}, column {error.colno}); "
            "each line must hold exactly one JSON object"
        ) from error
    if not isinstance(record, dict):
        raise ValueError(
            f"{where}: expected a JSON object, got {type(record).__name__}; "
            'write each record as {"text": "..."}'
        )
    for name in fields:
        if name not in record:
            raise ValueError(
                f"{where}: the record has no field {name!r} (its fields: "
                f"{', '.join(map(repr, record)) or 'none'}); add the field or choose another "
                f"with text_field= / id_field="
            )
    if not isinstance(record[fields[0]], str):
        raise ValueError(
            f"{where}: field {fields[0]!r} holds {type(record[fields[0]]).__name__}, "
            "not a string; the text field must be a JSON string"
        )
    return record


def jsonl_file(
    path: str | os.PathLike,
    n: int | None = None,
    seed: int = 0,
    *,
    text_field: str = "text",
    id_field: str | None = None,
    min_sentences: int = 1,
    max_sentences: int | None = None,
    max_chars: int | None = None,
    encoding: str = "utf-8",
) -> list[Stimulus]:
    """Records of a JSON Lines file, one JSON object per line; blank lines are ignored.

    The whole file is checked first, so a bad line fails at once whatever the seed.
    ``passage_id`` is the record's ``id_field`` if given, else ``"<file name>:<line>"``.

    Args:
        path: The ``.jsonl`` file.
        n: How many stimuli, drawn at random; ``None``: every record, in file order.
        seed: Seed for the draw.
        text_field: The field that holds the text.
        id_field: A field that identifies the passage (optional).
        min_sentences: Fewest sentences per stimulus.
        max_sentences: Most sentences per stimulus.
        max_chars: Most characters per stimulus.
        encoding: The file's text encoding.
    """
    length = Length(min_sentences, max_sentences, max_chars)
    path, text = _read(path, "jsonl_file", encoding)
    fields = [text_field] + ([id_field] if id_field is not None else [])
    records = [
        (number, _record(path, number, line, fields))
        for number, line in enumerate(text.splitlines(), start=1)
        if line.strip()
    ]

    def build(index: int) -> Stimulus | None:
        line, record = records[index]
        passage_id = f"{path.name}:{line}" if id_field is None else str(record[id_field])
        return passage_stimulus(
            record[text_field],
            length,
            id=f"jsonl_file:{path.name}:{line}",
            source="jsonl_file",
            passage_id=passage_id,
            meta={"path": str(path), "line": line},
        )

    return select(len(records), n, seed, build, f"jsonl_file {path}", length)

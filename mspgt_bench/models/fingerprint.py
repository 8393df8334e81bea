"""Content fingerprints of model files, computed without loading a model.

A file's sha256 is read in full once, then trusted while its stat signature (size, mtime, ctime,
inode) stays what it was when it was hashed: within a process from memory, across processes from a
*memo*, a small JSON file mapping each file (by its path relative to the memo's folder when it lies
inside it, else by its absolute path) to its signature and digest. Rewriting a file changes its
mtime and ctime (and ctime cannot be set back by hand), so a changed file is always read again.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from mspgt_bench.atomic import write_json

_BLOCK = 1 << 20
_MEMORY: dict[tuple[str, tuple[int, ...]], str] = {}
"""(absolute path, signature) -> sha256 of the files hashed in this process."""


def file_sha256(path: Path) -> str:
    """The hex sha256 of a file, read in blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(_BLOCK), b""):
            digest.update(block)
    return digest.hexdigest()


def digest(content: Any) -> str:
    """The hex sha256 of ``content`` as canonical JSON (sorted keys)."""
    return hashlib.sha256(json.dumps(content, sort_keys=True, default=str).encode()).hexdigest()


def folder_files(folder: Path, exclude: Iterable[str] = ()) -> list[Path]:
    """The regular files directly inside ``folder`` (what ``from_pretrained`` reads), sorted; hidden ones and ``exclude`` left out."""
    skip = set(exclude)
    return sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".") and p.name not in skip)


def hash_files(paths: Iterable[Path], memo: Path | None = None) -> dict[str, str]:
    """File name -> sha256 of each of ``paths``; a file whose signature is unchanged since it was hashed is not read.

    ``memo`` is the JSON file remembering signatures across processes (updated when anything
    changed; a memo that cannot be written is skipped, it only saves time).
    """
    stored = _read_memo(memo)
    updated = dict(stored)
    digests: dict[str, str] = {}
    for path in paths:
        resolved = path.resolve()
        stat = resolved.stat()
        signature = (stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino)
        key = _memo_key(resolved, memo)
        record = stored.get(key)
        sha = _MEMORY.get((str(resolved), signature))
        if sha is None and isinstance(record, dict) and record.get("stat") == list(signature):
            sha = record.get("sha256")
        if not isinstance(sha, str):
            sha = file_sha256(resolved)
        _MEMORY[(str(resolved), signature)] = sha
        updated[key] = {"stat": list(signature), "sha256": sha}
        digests[path.name] = sha
    if memo is not None and updated != stored:
        try:
            write_json(memo, updated)
        except OSError:
            pass
    return digests


def hub_revision(repo_id: str, revision: str | None) -> str:
    """The commit the local Hugging Face cache resolves ``repo_id`` at ``revision`` to, offline; else ``revision`` as given."""
    try:
        from huggingface_hub import try_to_load_from_cache

        found = try_to_load_from_cache(repo_id, "config.json", revision=revision)
    except (ImportError, ValueError, OSError):
        found = None
    if isinstance(found, str):  # <cache>/models--org--name/snapshots/<commit>/config.json
        return Path(found).parent.name
    return f"{revision or 'main'} (not in the local cache)"


def _read_memo(memo: Path | None) -> dict[str, Any]:
    if memo is None:
        return {}
    try:
        stored = json.loads(memo.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return stored if isinstance(stored, dict) else {}


def _memo_key(resolved: Path, memo: Path | None) -> str:
    """The file's path relative to the memo's folder (so a memo moves with its folder), else absolute."""
    if memo is not None:
        base = Path(os.path.realpath(memo.parent))
        if resolved.is_relative_to(base):
            return resolved.relative_to(base).as_posix()
    return str(resolved)

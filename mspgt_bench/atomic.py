"""Safe file handling: files written whole or not at all, file names from user text, paths kept in a folder.

* :func:`atomic_write_bytes` writes a temporary file in the same folder, then renames it: a run
  killed mid-write leaves the previous file (or none), never a truncated one.
* :func:`slug` turns an id, name or label into one safe path component.
* :func:`inside` resolves a path and refuses it unless it lies under a given folder;
  :func:`read_regular` reads only regular files (no symbolic links) under a folder.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import stat
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

_UMASK = os.umask(0)
os.umask(_UMASK)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename: never a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            os.fchmod(handle.fileno(), 0o666 & ~_UMASK)  # the mode open() would give, not mkstemp's 0600
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def write_json(path: Path, data: Any, *, standard: bool = False) -> None:
    """``data`` as JSON, written atomically, ending in a newline.

    With ``standard`` it is standard JSON for other readers (:func:`dumps`: non-finite numbers as
    ``null``); without, Python's JSON, whose NaN and Infinity round-trip exactly (the run's caches).
    """
    text = dumps(data, indent=2) if standard else json.dumps(data, indent=2, default=_plain)
    atomic_write_text(path, text + "\n")


def dumps(data: Any, **options: Any) -> str:
    """Standard JSON: NaN and ±inf become ``null`` (bare ``NaN`` is not JSON), numpy values plain numbers."""
    return json.dumps(finite(data), allow_nan=False, default=_standard_value, **options)


def finite(value: Any) -> Any:
    """``value`` with every non-finite float, at any depth of dicts, lists and tuples, replaced by None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(item) for item in value]
    return value


def _standard_value(value: Any) -> Any:
    """:func:`dumps`' fallback: numpy scalars and arrays as numbers and lists (non-finite as None), paths as text."""
    return finite(_plain(value))


def _plain(value: Any) -> Any:
    """``json.dumps``' fallback: numpy scalars and arrays as numbers and lists, paths as strings."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot serialise {type(value).__name__}")


SLUG_MAX = 100
"""Longest slug; a longer name keeps its start and gets a hash of the whole name appended."""


class UnsafePathError(ValueError):
    """A path refused: it resolves outside the folder it must stay in, or is not a regular file."""


def slug(text: str) -> str:
    """One safe path component for ``text`` (an id, name or label): names already safe come back unchanged.

    ASCII letters, digits, ``-``, ``_`` and ``.`` are kept and every other character (``/``, ``\\``,
    spaces, non-ASCII) becomes ``_``; leading dots become ``_`` too, so the result is never empty,
    ``.``, ``..`` or hidden. Names over :data:`SLUG_MAX` characters are cut and end in a hash of the whole.
    """
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", text)
    safe = re.sub(r"^\.+", lambda dots: "_" * len(dots.group()), safe) or "_"
    if len(safe) > SLUG_MAX:
        digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:12]
        safe = f"{safe[: SLUG_MAX - len(digest) - 1]}-{digest}"
    return safe


def inside(root: Path, path: Path) -> Path:
    """``path`` resolved (symbolic links followed), after checking that it lies under ``root``.

    Raises :class:`UnsafePathError` naming both if it does not; ``root`` itself counts as inside.
    """
    base = Path(root).resolve()
    resolved = Path(path).resolve()
    if not resolved.is_relative_to(base):
        raise UnsafePathError(f"refusing {path}: it resolves to {resolved}, outside {base}")
    return resolved


def read_regular(root: Path, path: Path) -> bytes:
    """The bytes of ``path`` if it is a regular file under ``root`` and not a symbolic link.

    Raises :class:`UnsafePathError` otherwise (the final component is opened without following
    links, so a file swapped for a link after the check is refused too).
    """
    inside(root, path)
    if Path(path).is_symlink():
        raise UnsafePathError(f"refusing {path}: it is a symbolic link")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        raise UnsafePathError(f"refusing {path}: {exc.strerror}") from exc
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            raise UnsafePathError(f"refusing {path}: it is not a regular file")
        return handle.read()


def set_aside(path: Path) -> Path:
    """Rename an unreadable cache entry to ``<name>.corrupt-<n>`` (the first ``n`` free) beside it; return the new path.

    A symbolic link is renamed, never followed.
    """
    n = 1
    while os.path.lexists(aside := path.with_name(f"{path.name}.corrupt-{n}")):
        n += 1
    os.replace(path, aside)
    return aside

"""Exact content digests: the sha256 of what a cached value was computed from, and of the code that computed it.

:func:`content_digest` hashes nested data exactly: dataclasses field by field, pydantic models by
their dump, numpy arrays by dtype, shape and bytes (never through ``str``, which elides the middle
of a large array), floats by ``repr`` and every NaN alike (``0.1`` is not rounded). Anything
else (a function, an open file, an arbitrary object) raises ``TypeError`` rather than being
hashed by a description that could stay the same while its behaviour changes.

:func:`code_digest` hashes the source of this package and of the modules that define the given
plugin classes, so a cache keyed by it is invalidated by any edit to the code, released or not;
:func:`source_digest` hashes only the files that define the given functions or classes (what
draws a figure, say), so edits elsewhere leave such a cache valid.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import inspect
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

PACKAGE = Path(__file__).parent


def content_digest(content: Any) -> str:
    """The hex sha256 of ``content``, exact for numbers and arrays (module docstring); TypeError for opaque objects."""
    h = hashlib.sha256()
    _feed(h, content)
    return h.hexdigest()


def _feed(h: Any, value: Any) -> None:
    """Add one tagged, length-delimited value to the running hash ``h``."""
    if value is None or isinstance(value, (bool, int, str, bytes)):
        text = value if isinstance(value, bytes) else repr(value).encode()
        h.update(b"%s:%d:" % (type(value).__name__.encode(), len(text)) + text)
    elif isinstance(value, (float, np.floating)):
        _feed_tagged(h, b"float", repr(float(value)).encode())
    elif isinstance(value, (np.integer, np.bool_)):
        _feed(h, value.item())
    elif isinstance(value, np.ndarray):
        array = np.ascontiguousarray(value)
        if array.dtype.hasobject:
            raise TypeError("an object array has no exact content digest")
        if array.dtype.kind in "fc" and np.isnan(array).any():
            array = np.where(np.isnan(array), np.array(np.nan, array.dtype), array)  # one bit pattern for NaN
        _feed_tagged(h, b"array", f"{array.dtype.str}{array.shape}".encode())
        h.update(array.tobytes())
    elif isinstance(value, dict):
        items = sorted(value.items(), key=lambda item: repr(item[0]))
        _feed_tagged(h, b"dict", str(len(items)).encode())
        for key, item in items:
            _feed(h, key)
            _feed(h, item)
    elif isinstance(value, (list, tuple)):
        _feed_tagged(h, b"seq", str(len(value)).encode())
        for item in value:
            _feed(h, item)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        _feed_tagged(h, b"dataclass", type(value).__qualname__.encode())
        _feed(h, {f.name: getattr(value, f.name) for f in dataclasses.fields(value)})
    elif hasattr(value, "model_dump") and not isinstance(value, type):
        _feed_tagged(h, b"model", type(value).__qualname__.encode())
        _feed(h, value.model_dump())
    else:
        raise TypeError(f"{type(value).__qualname__} has no exact content digest; hash the data it was built from")


def _feed_tagged(h: Any, tag: bytes, text: bytes) -> None:
    h.update(b"%s:%d:" % (tag, len(text)) + text)


def code_digest(plugins: Iterable[type] = ()) -> str:
    """The sha256 of every ``.py`` file of mspgt_bench and of the source files defining ``plugins`` outside it."""
    outside = [cls for cls in plugins if (path := _source_file(cls)) is not None and PACKAGE not in path.parents]
    return content_digest([_package_digest(), source_digest(outside)])


def source_digest(code: Iterable[Any]) -> str:
    """The sha256 of the source files that define ``code``: functions, classes, partials of them, callable objects."""
    files = sorted({path for item in code if (path := _source_file(item)) is not None})
    return content_digest([_file_digest(path) for path in files])


@cache
def _package_digest() -> str:
    """The package's source, read once per process (a run does not edit its own code)."""
    return content_digest([(str(p.relative_to(PACKAGE)), p.read_bytes()) for p in sorted(PACKAGE.rglob("*.py"))])


@cache
def _file_digest(path: Path) -> tuple[str, str]:
    return str(path), hashlib.sha256(path.read_bytes()).hexdigest()


def _source_file(code: Any) -> Path | None:
    """The file defining ``code`` (a partial's function, a callable object's class); None for built-ins."""
    while isinstance(code, functools.partial):
        code = code.func
    if not (inspect.isfunction(code) or inspect.ismethod(code) or inspect.isclass(code) or inspect.ismodule(code)):
        code = type(code)
    try:
        source = inspect.getsourcefile(code)
    except TypeError:  # a built-in has no source file
        return None
    return Path(source).resolve() if source else None

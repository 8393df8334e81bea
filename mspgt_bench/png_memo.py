"""Figures by content: a PNG is drawn once for each distinct input and copied from a cache afterwards.

:class:`PngMemo` keys each figure by :func:`figure_key`, a SHA-256 of everything it came from: the
``content`` its caller passes (the plotted numbers, the labels, the title) and the versions of
``mspgt_bench`` and matplotlib. A figure is reused only when all of these are unchanged; one
changed number, label or version draws it again. Numpy arrays enter the key by their exact values
(dtype, shape and bytes, never their printed form, which elides the middle of large arrays), and
NaN always enters the same way. Callers draw from the content alone, so the key covers whatever
the drawing reads. The drawing code itself is covered only through ``mspgt_bench``'s version: a
change to how figures are drawn needs a new version, or an emptied cache folder.

An entry that is not a regular file holding a whole PNG (truncated, a symbolic link, a folder) is
renamed ``<name>.corrupt-<n>`` beside it and the figure drawn again; a link is never followed.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from functools import cache
from importlib.metadata import version
from io import BytesIO
from pathlib import Path
from typing import Any

import numpy as np

from mspgt_bench import __version__
from mspgt_bench.atomic import UnsafePathError, atomic_write_bytes, read_regular

__all__ = ["PngMemo", "figure_key", "is_png", "png_bytes"]

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_END = b"IEND\xaeB`\x82"
"""The last bytes of every whole PNG: the IEND chunk's type and its CRC."""


class PngMemo:
    """A folder of PNGs named by :func:`figure_key`; :meth:`png` draws only what it does not hold.

    ``hits`` counts figures copied from the folder and ``drawn`` those drawn (and stored).
    """

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.hits = 0
        self.drawn = 0

    def png(self, content: Any, draw: Callable[[], bytes]) -> bytes:
        """The PNG of ``content``: the stored one if the folder holds it whole, else ``draw()``, stored."""
        path = self.folder / f"{figure_key(content)}.png"
        stored = self._stored(path)
        if stored is not None:
            self.hits += 1
            return stored
        data = draw()
        atomic_write_bytes(path, data)
        self.drawn += 1
        return data

    def _stored(self, path: Path) -> bytes | None:
        """The entry's bytes if it is a whole PNG in a regular file; None if absent, set aside if not."""
        if not os.path.lexists(path):
            return None
        try:
            data = read_regular(self.folder, path)
        except UnsafePathError:
            data = b""
        if is_png(data):
            return data
        _set_aside(path)
        return None


def figure_key(content: Any) -> str:
    """SHA-256 of ``content`` and the mspgt_bench and matplotlib versions, as canonical JSON.

    ``content`` is JSON-like (dicts with text keys, lists, tuples, text, numbers, None) and may hold
    numpy arrays and scalars; arrays enter by dtype, shape and the SHA-256 of their bytes.
    """
    document = {"content": content, "versions": _versions()}
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), default=_exact)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def is_png(data: bytes) -> bool:
    """Whether ``data`` is a whole PNG: it starts with the PNG signature and ends with the IEND chunk."""
    return data.startswith(PNG_SIGNATURE) and data.endswith(PNG_END)


def png_bytes(figure: Any) -> bytes:
    """A matplotlib ``Figure``, laid out tight, as PNG bytes."""
    figure.tight_layout()
    buffer = BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


@cache
def _versions() -> dict[str, str]:
    return {"mspgt_bench": __version__, "matplotlib": version("matplotlib")}


def _exact(value: Any) -> Any:
    """``json.dumps``' fallback for :func:`figure_key`: arrays by their exact bytes, every NaN alike."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray) and not value.dtype.hasobject:
        array = np.ascontiguousarray(value)
        if array.dtype.kind in "fc":
            array = np.where(np.isnan(array), np.array(np.nan, array.dtype), array)  # one bit pattern for NaN
        digest = hashlib.sha256(array.tobytes()).hexdigest()
        return {"ndarray": {"dtype": array.dtype.str, "shape": list(array.shape), "sha256": digest}}
    raise TypeError(f"cannot key a figure on {type(value).__name__}")


def _set_aside(path: Path) -> None:
    """Rename an unreadable entry (a link is renamed, not followed) to ``<name>.corrupt-<n>``, the first free ``n``."""
    n = 1
    while os.path.lexists(aside := path.with_name(f"{path.name}.corrupt-{n}")):
        n += 1
    os.replace(path, aside)

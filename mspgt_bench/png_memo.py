"""Figures by content: a PNG is drawn once for each distinct input and copied from a cache afterwards.

:class:`PngMemo` keys each figure by :func:`figure_key`, the exact content digest
(:func:`mspgt_bench.content.content_digest`) of everything it came from: the ``content`` its
caller passes (the plotted numbers, the labels, the title), the matplotlib version and the source
files of the drawing function and of :func:`png_bytes` (:func:`mspgt_bench.content.source_digest`:
an edit to how figures are drawn draws them again; edits elsewhere in the package do not). A figure is reused only when all of these are unchanged. Callers draw from the
content alone, so the key covers whatever the drawing reads.

An entry that is not a regular file holding a whole PNG (truncated, a symbolic link, a folder) is
renamed ``<name>.corrupt-<n>`` beside it and the figure drawn again; a link is never followed.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import cache
from importlib.metadata import version
from io import BytesIO
from pathlib import Path
from typing import Any

from mspgt_bench.atomic import UnsafePathError, atomic_write_bytes, read_regular, set_aside
from mspgt_bench.content import content_digest, source_digest

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
        path = self.folder / f"{figure_key(content, draw)}.png"
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
        set_aside(path)
        return None


def figure_key(content: Any, draw: Callable[[], bytes]) -> str:
    """The exact content digest of ``content``, the matplotlib version and the source drawing it.

    ``content`` may hold anything :func:`mspgt_bench.content.content_digest` hashes exactly:
    dicts, lists, text, numbers, None, numpy arrays and scalars. ``draw`` enters by the source
    files of its function (through partials) and of :func:`png_bytes`.
    """
    code = source_digest([draw, png_bytes])
    return content_digest({"content": content, "matplotlib": _matplotlib_version(), "code": code})


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
def _matplotlib_version() -> str:
    return version("matplotlib")

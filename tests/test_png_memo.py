"""Figures by content: drawn once per distinct input, keyed exactly, and never read from a bad entry."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from matplotlib.figure import Figure

from mspgt_bench import content, png_memo
from mspgt_bench.png_memo import PNG_END, PNG_SIGNATURE, PngMemo, figure_key, is_png, png_bytes


class Drawer:
    """A ``draw`` that counts its calls and returns a small whole PNG (signature, body, IEND)."""

    def __init__(self, body: bytes = b"figure") -> None:
        self.calls = 0
        self.body = body

    def __call__(self) -> bytes:
        self.calls += 1
        return PNG_SIGNATURE + self.body + PNG_END


DRAW = Drawer()
"""The ``draw`` keys are computed with: a ``Drawer`` (its source file enters the key)."""


def _content(value: float = 0.5) -> dict:
    return {"title": "m: s.x", "curves": [{"name": "trained", "layers": np.arange(4), "value": np.full(4, value)}]}


def test_the_same_content_twice_is_drawn_once(tmp_path):
    draw, memo = Drawer(), PngMemo(tmp_path)
    first = memo.png(_content(), draw)
    assert memo.png(_content(), draw) == first and draw.calls == 1
    assert (memo.hits, memo.drawn) == (1, 1)
    assert [p.name for p in tmp_path.iterdir()] == [f"{figure_key(_content(), DRAW)}.png"]
    later = PngMemo(tmp_path)  # the next run's memo, on the same folder
    assert later.png(_content(), draw) == first and draw.calls == 1 and later.hits == 1


def test_one_changed_number_is_drawn_again(tmp_path):
    draw, memo = Drawer(), PngMemo(tmp_path)
    memo.png(_content(), draw)
    changed = _content()
    changed["curves"][0]["value"][2] = 0.25
    memo.png(changed, draw)
    assert draw.calls == 2 and memo.drawn == 2 and len(list(tmp_path.iterdir())) == 2


def test_nan_keys_alike_in_numbers_and_arrays():
    def with_nan() -> dict:
        return {"value": float("nan"), "array": np.array([1.0, np.nan]), "scalar": np.float64("nan")}

    assert figure_key(with_nan(), DRAW) == figure_key(with_nan(), DRAW)
    assert figure_key(with_nan(), DRAW) != figure_key({**with_nan(), "value": 0.0}, DRAW)
    negative_nan = np.array([1.0, -np.nan])  # another NaN bit pattern, drawn the same
    assert np.signbit(negative_nan[1])
    assert figure_key({"a": np.array([1.0, np.nan])}, DRAW) == figure_key({"a": negative_nan}, DRAW)


def test_arrays_key_by_every_value_dtype_and_shape():
    a = np.zeros(10_000)
    b = a.copy()
    b[5_000] = 1.0
    assert str(a) == str(b)  # numpy's str elides the middle: it cannot tell these apart
    assert figure_key({"v": a}, DRAW) != figure_key({"v": b}, DRAW)
    assert figure_key({"v": a}, DRAW) != figure_key({"v": a.astype(np.float32)}, DRAW)
    assert figure_key({"v": a}, DRAW) != figure_key({"v": a.reshape(100, 100)}, DRAW)


def test_the_matplotlib_version_and_the_drawing_code_enter_the_key_other_code_does_not(monkeypatch):
    before = figure_key(_content(), DRAW)
    monkeypatch.setattr(png_memo, "_matplotlib_version", lambda: "0.0")
    assert figure_key(_content(), DRAW) != before
    monkeypatch.undo()
    monkeypatch.setattr(png_memo, "source_digest", lambda code: "edited drawing code")
    assert figure_key(_content(), DRAW) != before
    monkeypatch.undo()
    monkeypatch.setattr(content, "_package_digest", lambda: "an edit elsewhere in the package")
    assert figure_key(_content(), DRAW) == before


def test_content_without_an_exact_form_is_refused():
    with pytest.raises(TypeError, match="object has no exact content digest"):
        figure_key({"x": object()}, DRAW)
    with pytest.raises(TypeError, match="object array has no exact content digest"):
        figure_key({"x": np.array([object()])}, DRAW)


def test_a_truncated_entry_is_set_aside_and_drawn_again(tmp_path):
    draw = Drawer()
    whole = PngMemo(tmp_path).png(_content(), draw)
    entry = tmp_path / f"{figure_key(_content(), DRAW)}.png"
    entry.write_bytes(whole[:-5])
    memo = PngMemo(tmp_path)
    assert memo.png(_content(), draw) == whole and draw.calls == 2 and memo.drawn == 1
    assert entry.read_bytes() == whole
    assert entry.with_name(f"{entry.name}.corrupt-1").read_bytes() == whole[:-5]


def test_a_planted_link_is_not_followed_but_set_aside(tmp_path):
    outside = tmp_path / "outside.png"
    outside.write_bytes(Drawer(b"planted")())
    folder = tmp_path / "figures"
    folder.mkdir()
    entry = folder / f"{figure_key(_content(), DRAW)}.png"
    entry.symlink_to(outside)
    draw, memo = Drawer(), PngMemo(folder)
    drawn = memo.png(_content(), draw)
    assert drawn == Drawer()() and draw.calls == 1 and memo.hits == 0
    assert not entry.is_symlink() and entry.read_bytes() == drawn
    assert entry.with_name(f"{entry.name}.corrupt-1").readlink() == outside
    assert outside.read_bytes() == Drawer(b"planted")()  # neither read nor written through the link


def test_a_real_figure_is_a_whole_png():
    fig = Figure(figsize=(1, 1), dpi=20)
    fig.subplots().plot([0, 1], [1, 0])
    data = png_bytes(fig)
    assert is_png(data) and not is_png(data[:-1]) and not is_png(data[1:])


def test_the_folder_is_made_on_the_first_drawing(tmp_path: Path):
    folder = tmp_path / "cache" / "figures"
    PngMemo(folder).png(_content(), Drawer())
    assert len(list(folder.iterdir())) == 1

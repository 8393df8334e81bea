"""Profile figures: one PNG per (model, signal, metric), drawn again only when what it shows changes."""

from __future__ import annotations

import numpy as np

from mspgt_bench.figures import write_profile_figures
from mspgt_bench.png_memo import PngMemo, is_png
from mspgt_bench.signals.base import Profile


def _profile(metric: str, value: np.ndarray, n: int = 6) -> Profile:
    layers = np.arange(len(value))
    return Profile("logit_lens", metric, layers, value, value - 0.1, value + 0.1, n, (layers + 1) / len(value), "t")


def _curves(kl: np.ndarray | None = None, n: int = 6) -> list[tuple[str, str, Profile]]:
    kl = np.linspace(2.0, 0.0, 5) if kl is None else kl
    return [
        ("tiny", "trained", _profile("kl", kl, n)),
        ("tiny", "random_weights", _profile("kl", kl[::-1].copy(), n)),
        ("tiny", "trained", _profile("entropy", np.linspace(1.0, 3.0, 5), n)),
    ]


def _written(paths) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in paths}


def test_a_memo_copies_unchanged_figures_and_draws_the_same_bytes(tmp_path):
    plain = _written(write_profile_figures(tmp_path / "plain", _curves()))
    assert sorted(plain) == ["logit_lens.entropy.png", "logit_lens.kl.png"] and all(map(is_png, plain.values()))
    memo = PngMemo(tmp_path / "cache")
    assert _written(write_profile_figures(tmp_path / "first", _curves(), memo)) == plain
    again = PngMemo(tmp_path / "cache")
    assert _written(write_profile_figures(tmp_path / "second", _curves(), again)) == plain
    assert (memo.drawn, again.drawn, again.hits) == (2, 0, 2)


def test_a_changed_point_or_title_draws_only_its_figure_again(tmp_path):
    write_profile_figures(tmp_path / "first", _curves(), PngMemo(tmp_path / "cache"))
    kl = np.linspace(2.0, 0.0, 5)
    kl[3] += 1e-9
    changed = PngMemo(tmp_path / "cache")
    write_profile_figures(tmp_path / "changed", _curves(kl), changed)
    assert (changed.drawn, changed.hits) == (1, 1)
    fewer = PngMemo(tmp_path / "cache")
    write_profile_figures(tmp_path / "fewer", _curves(n=5), fewer)  # the title counts the stimuli
    assert fewer.drawn == 2

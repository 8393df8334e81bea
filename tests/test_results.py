"""The profile and effects cache files: round trip, absent entries, unreadable ones and moving them aside."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mspgt_bench.results import CacheEntryError, load_effects, load_profiles, save_profiles, set_aside
from mspgt_bench.signals.base import Profile


def _profile() -> Profile:
    layers, value = np.arange(4), np.array([0.1, 0.2, 0.4, 0.8])
    bounds = {"lo": value - 0.05, "hi": value + 0.05, "depth": layers / 3}
    return Profile("logit_lens", "kl", layers, value, n=6, convention="point l = layer l", kind="level", **bounds)


def test_profiles_round_trip_and_absent_entries(tmp_path: Path) -> None:
    stem = tmp_path / "cache" / "m-trained-abc"
    assert load_profiles(stem) is None
    save_profiles(stem, [_profile()], {"n_stimuli": 6})
    (profile,), meta = load_profiles(stem)
    assert meta == {"n_stimuli": 6}
    assert profile.kind == "level" and np.array_equal(profile.value, _profile().value)


def test_stems_with_dots_of_their_own_keep_their_own_files(tmp_path: Path) -> None:
    trained, control = tmp_path / "qwen2.5-coder-1.5b-trained-abc", tmp_path / "qwen2.5-coder-1.5b-random_weights-def"
    save_profiles(trained, [_profile()], {"condition": "trained"})
    assert load_profiles(control) is None  # not the trained model's entry under another name
    save_profiles(control, [_profile()], {"condition": "random_weights"})
    assert load_profiles(trained)[1] == {"condition": "trained"}
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "qwen2.5-coder-1.5b-random_weights-def.json",
        "qwen2.5-coder-1.5b-random_weights-def.npz",
        "qwen2.5-coder-1.5b-trained-abc.json",
        "qwen2.5-coder-1.5b-trained-abc.npz",
    ]


@pytest.mark.parametrize(
    ("suffix", "damage", "reason"),
    [
        (".npz", lambda b: b[:64], "BadZipFile"),
        (".json", lambda b: b[:20], "JSONDecodeError"),
        (".json", lambda b: b'{"meta": {}}', "KeyError"),
    ],
)
def test_an_unreadable_profile_file_is_named_with_its_reason(tmp_path: Path, suffix, damage, reason) -> None:
    stem = tmp_path / "m-trained-abc"
    save_profiles(stem, [_profile()], {})
    broken = stem.with_suffix(suffix)
    broken.write_bytes(damage(broken.read_bytes()))
    with pytest.raises(CacheEntryError) as info:
        load_profiles(stem)
    assert info.value.path == broken and info.value.reason.startswith(reason)


def test_effects_entries(tmp_path: Path) -> None:
    path = tmp_path / "m-trained-effects-abc.json"
    assert load_effects(path) is None
    path.write_text(json.dumps({"rows": [{"value": 1.0}], "per_stimulus": []}))
    assert load_effects(path) == ([{"value": 1.0}], [])
    path.write_text(json.dumps({"rows": {}, "per_stimulus": []}))
    with pytest.raises(CacheEntryError, match="must be lists"):
        load_effects(path)
    path.write_text('{"rows": [')
    with pytest.raises(CacheEntryError, match="JSONDecodeError"):
        load_effects(path)


def test_set_aside_takes_the_next_free_number(tmp_path: Path) -> None:
    path = tmp_path / "entry.npz"
    for n in (1, 2):
        path.write_bytes(b"broken %d" % n)
        aside = set_aside(path)
        assert aside == tmp_path / f"entry.npz.corrupt-{n}" and aside.read_bytes() == b"broken %d" % n
        assert not path.exists()

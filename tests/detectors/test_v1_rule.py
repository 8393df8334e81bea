from __future__ import annotations

import numpy as np
import pytest

from mspgt_bench.detectors.plugins import V1Rule
from mspgt_bench.detectors.v1_rule import v1_rule
from mspgt_bench.signals.base import BootstrapConfig, Profile

L = 30


def one_drop(length: int, position: int) -> np.ndarray:
    """A gently falling MI series with one sharp drop between entries position-1 and position."""
    m = 3.0 - 0.02 * np.arange(length)
    m[position:] -= 1.0
    return m


def test_single_drop_with_pairs_l_to_l_plus_1() -> None:
    # m[p] = MI(p, p+1); the drop starts at pair (12, 13), so layer 13 opens a segment.
    result = v1_rule(one_drop(L - 1, 12), L)
    assert result.segmentation.boundaries == (13,)
    assert result.differences.shape == (L - 2,)


def test_single_drop_with_embedding_pairs() -> None:
    # m[p] = MI(p-1, p); the drop starts at pair (11, 12), so layer 12 opens a segment.
    assert v1_rule(one_drop(L, 12), L).segmentation.boundaries == (12,)


@pytest.mark.parametrize(
    "series",
    [3.0 - 0.03 * np.arange(L - 1), 2.0 + 0.3 * np.sin(np.arange(L - 1) / 5.0), np.ones(L - 1)],
)
def test_smooth_series_has_no_boundary(series: np.ndarray) -> None:
    assert v1_rule(series, L).segmentation.boundaries == ()


def test_factor_is_configurable() -> None:
    m = one_drop(L - 1, 12)
    assert v1_rule(m, L, factor=100.0).segmentation.boundaries == ()
    assert v1_rule(m, L, factor=2.0).threshold < v1_rule(m, L, factor=1.0).threshold


def test_invalid_length() -> None:
    with pytest.raises(ValueError, match="length"):
        v1_rule(np.ones(L - 3), L)


def _profile(key: str, values: np.ndarray) -> tuple[str, Profile]:
    signal, metric = key.split(".")
    layers = np.arange(len(values))
    return key, Profile(signal, metric, layers, values, values, values, 1, (layers + 1) / len(values), "test")


def test_the_plugin_alone_is_the_mi_rule() -> None:
    profiles = dict([_profile("mutual_information.mi", one_drop(L, 12))])
    assert V1Rule().detect(profiles, L, BootstrapConfig()).segmentation.boundaries == (12,)


def test_v1_fusion_weights_the_inputs_and_flips_rising_ones() -> None:
    span = 2.0 + 0.01 * np.arange(L)
    span[20:] += 3.0  # attention span rises at layer 20: a boundary once flipped
    profiles = dict([_profile("mutual_information.mi", one_drop(L, 12)), _profile("attention.span", span)])
    boot = BootstrapConfig()

    def boundaries(weights: dict[str, float], flip: list[str]) -> tuple[int, ...]:
        return V1Rule(profiles=weights, flip=flip).detect(profiles, L, boot).segmentation.boundaries

    assert boundaries({"mutual_information.mi": 0.5, "attention.span": 0.5}, ["attention.span"]) == (12, 20)
    assert boundaries({"mutual_information.mi": 0.5, "attention.span": 0.5}, []) == (12,)  # a rise is no drop
    assert boundaries({"mutual_information.mi": 0.05, "attention.span": 0.95}, ["attention.span"]) == (20,)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"profiles": {"a.b": 0.5, "c.d": 0.3}}, "sum to 1"),
        ({"profiles": {"a.b": 1.0}, "flip": ["c.d"]}, "not in `profiles`"),
    ],
)
def test_v1_fusion_options_are_checked(options: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        V1Rule(**options)

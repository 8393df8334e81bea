from __future__ import annotations

import numpy as np
import pytest

from mspgt_bench.detectors.fusion import fuse_profiles, stack_profiles, zscore


def test_zscore_known_values() -> None:
    # mean 2.5, population std sqrt(1.25)
    expected = np.array([-1.5, -0.5, 0.5, 1.5]) / np.sqrt(1.25)
    np.testing.assert_allclose(zscore([1.0, 2.0, 3.0, 4.0]), expected)


def test_zscore_columns_and_constant() -> None:
    z = zscore(np.column_stack([[0.0, 2.0], [5.0, 5.0]]))
    np.testing.assert_allclose(z, [[-1.0, 0.0], [1.0, 0.0]])


def test_zscore_rejects_nan() -> None:
    with pytest.raises(ValueError):
        zscore([1.0, np.nan])


def test_fuse_is_weighted_sum_of_zscores() -> None:
    a = np.array([0.0, 1.0, 2.0])
    b = np.array([10.0, 10.0, 40.0])
    fused = fuse_profiles({"a": a, "b": b}, {"a": 0.25, "b": 0.75}, require_unit_sum=True)
    np.testing.assert_allclose(fused, 0.25 * zscore(a) + 0.75 * zscore(b))


def test_fuse_is_scale_free_in_each_profile() -> None:
    a = np.array([0.0, 1.0, 3.0])
    np.testing.assert_allclose(
        fuse_profiles({"a": a}, {"a": 1.0}), fuse_profiles({"a": 100 * a + 7}, {"a": 1.0})
    )


@pytest.mark.parametrize(
    ("weights", "message"),
    [
        ({"a": 0.5}, "missing"),
        ({"a": 0.5, "b": 0.5, "c": 0.0}, "unknown"),
        ({"a": -0.1, "b": 1.1}, "non-negative"),
        ({"a": float("nan"), "b": 1.0}, "non-negative"),
        ({"a": 0.0, "b": 0.0}, "all weights are zero"),
    ],
)
def test_fuse_weight_validation(weights: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        fuse_profiles({"a": [0.0, 1.0], "b": [1.0, 0.0]}, weights)


def test_unit_sum_flag() -> None:
    profiles = {"a": [0.0, 1.0, 2.0], "b": [2.0, 0.0, 1.0]}
    fuse_profiles(profiles, {"a": 1.0, "b": 1.0})
    with pytest.raises(ValueError, match="sum to 1"):
        fuse_profiles(profiles, {"a": 1.0, "b": 1.0}, require_unit_sum=True)


def test_profiles_must_share_length() -> None:
    with pytest.raises(ValueError, match="length"):
        fuse_profiles({"a": [0.0, 1.0], "b": [0.0, 1.0, 2.0]}, {"a": 0.5, "b": 0.5})


def test_stack_profiles_order_and_standardisation() -> None:
    stacked = stack_profiles({"x": [1.0, 2.0, 3.0], "y": [0.0, 0.0, 9.0]})
    assert stacked.shape == (3, 2)
    np.testing.assert_allclose(stacked[:, 0], zscore([1.0, 2.0, 3.0]))
    np.testing.assert_allclose(stack_profiles({"x": [1.0, 2.0]}, standardize=False), [[1.0], [2.0]])

from __future__ import annotations

import numpy as np
import pytest

from mspgt_bench.detectors.fusion import zscore


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

"""The cross-validated ridge probe: planted labels, shuffled labels, scikit-learn parity, control tasks."""

from __future__ import annotations

import numpy as np
import pytest

from mspgt_bench.metrics.probe import control_labels, group_folds, ridge_probe_predictions


def _states(n: int = 600, d: int = 24, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)) * rng.uniform(0.2, 5.0, size=d) + rng.normal(scale=10.0, size=d)
    groups = np.repeat(np.arange(n // 20), 20)  # 20 tokens per "stimulus"
    return x, groups


def test_recovers_a_planted_linear_label_and_scores_chance_on_shuffled_labels():
    x, groups = _states()
    rng = np.random.default_rng(1)
    planted = rng.integers(0, 2, size=len(x))
    direction = rng.normal(size=x.shape[1])
    x = x + np.outer(planted, 8.0 * x.std(axis=0) * direction / np.linalg.norm(direction))  # classes 8 sd apart
    shuffled = rng.permutation(planted)
    folds = group_folds(groups, 5)
    real, null = ridge_probe_predictions(x, [planted, shuffled], folds, alpha=1e-3)
    assert (real == planted).mean() > 0.99
    assert abs((null == shuffled).mean() - 0.5) < 0.06


def test_equals_standard_scaler_plus_ridge_classifier():
    pytest.importorskip("sklearn")
    from sklearn.linear_model import RidgeClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x, groups = _states(n=300, d=12, seed=2)
    x[:, 3] = 7.0  # a constant feature
    rng = np.random.default_rng(3)
    labels = [(x[:, 0] + rng.normal(size=300) > x[:, 0].mean()).astype(int), rng.integers(0, 4, size=300)]
    folds = group_folds(groups, 4, seed=5)
    alpha = 0.3
    ours = ridge_probe_predictions(x, labels, folds, alpha=alpha)
    for y, predicted in zip(labels, ours):
        expected = np.empty_like(y)
        for f in np.unique(folds):
            train = folds != f
            model = make_pipeline(StandardScaler(), RidgeClassifier(alpha=alpha * train.sum()))
            expected[~train] = model.fit(x[train], y[train]).predict(x[~train])
        np.testing.assert_array_equal(predicted, expected)


def test_folds_never_split_a_group():
    groups = np.repeat([7, 3, 9, 1, 4, 8, 2], 5)
    folds = group_folds(groups, 3, seed=1)
    for g in np.unique(groups):
        assert len(set(folds[groups == g])) == 1
    assert sorted(np.bincount(folds[::5])) == [2, 2, 3]
    assert np.array_equal(folds, group_folds(groups, 3, seed=1))
    assert len(np.unique(group_folds(groups, 50))) == 7  # at most one fold per group
    with pytest.raises(ValueError, match="at least 2 groups"):
        group_folds(np.zeros(4), 5)


def test_type_control_gives_each_type_one_label_with_the_real_distribution():
    rng = np.random.default_rng(0)
    types = rng.integers(0, 2000, size=20000)
    labels = (rng.random(20000) < 0.3).astype(int)
    control = control_labels("type", labels, types, np.random.default_rng(4))
    for t in np.unique(types)[:50]:
        assert len(set(control[types == t])) == 1
    assert abs(control.mean() - 0.3) < 0.03
    shuffled = control_labels("shuffle", labels, types, np.random.default_rng(4))
    assert sorted(shuffled) == sorted(labels) and not np.array_equal(shuffled, labels)
    with pytest.raises(ValueError, match="control kind"):
        control_labels("words", labels, types, rng)


def test_rejects_non_positive_ridge():
    x, groups = _states(n=40)
    with pytest.raises(ValueError, match="alpha"):
        ridge_probe_predictions(x, [np.zeros(40, dtype=int)], group_folds(groups, 2), alpha=0)

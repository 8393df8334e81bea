"""Cross-validated linear probes and their control task.

**Probe**: a ridge (least-squares) classifier on standardised features, as scikit-learn's
``StandardScaler`` + ``RidgeClassifier`` (Rifkin & Klautau 2004, "In Defense of One-Vs-All
Classification"): with ``Z`` the training states standardised by the training mean and
(population) standard deviation and ``Y`` the one-hot labels,

    ``W = (ZᵀZ + λI)⁻¹ Zᵀ(Y − Ȳ)``,  ``λ = α · n_train``,  class(x) = argmax ``((x − μ)/σ)W + Ȳ``

(the intercept is the class frequency, since ``Z`` is centred; a constant feature gets σ = 1).
Closed form, so a whole profile costs one ``d × d`` solve per point and fold: all folds come from
per-fold sums (``XᵀX``, ``ΣX``, ``XᵀY``, ``ΣY``; training sums = totals − the fold's), and every
label vector probed on the same states shares the solve.

**Cross-validation** is grouped: whole groups (stimuli) are dealt into folds, so tokens of one
passage are never both in training and test. Each row gets its out-of-fold prediction.

**Control tasks** keep the real labels' distribution and break their link to the states;
``selectivity = accuracy − control accuracy``:

- ``"type"`` (Hewitt & Liang 2019, "Designing and Interpreting Probes with Control Tasks"):
  every token *type* gets one label drawn at random from the empirical distribution of the real
  labels, and all its tokens carry it. A probe scores above chance on it by memorising types, so
  selectivity credits only what the representation encodes beyond the token's identity. The
  right null for a *lexical* label (one a type lookup could solve).
- ``"shuffle"``: the real labels randomly permuted over the tokens (the distribution is kept
  exactly). A probe scores chance on it, so selectivity is accuracy above chance. The right null
  for a *contextual* label (sentence position, passage): no function of the type solves it, and
  a type control would measure lexical memorisation instead, which fades with depth as context
  mixes in.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np

__all__ = ["ControlKind", "control_labels", "group_folds", "ridge_probe_predictions"]

ControlKind = Literal["type", "shuffle"]


def group_folds(groups: np.ndarray, n_folds: int, seed: int = 0) -> np.ndarray:
    """Fold index of each row: the distinct groups in a seeded random order, dealt round-robin into ``min(n_folds, #groups)`` folds."""
    unique, inverse = np.unique(np.asarray(groups), return_inverse=True)
    k = min(n_folds, len(unique))
    if k < 2:
        raise ValueError(f"cross-validation needs at least 2 groups (stimuli), got {len(unique)}")
    fold_of_group = np.empty(len(unique), dtype=np.int64)
    fold_of_group[np.random.default_rng(seed).permutation(len(unique))] = np.arange(len(unique)) % k
    return fold_of_group[inverse]


def control_labels(kind: ControlKind, labels: np.ndarray, types: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Control labels of ``kind`` for ``labels`` (``types``: the token type of each row; see the module docstring)."""
    labels = np.asarray(labels)
    if kind == "shuffle":
        return rng.permutation(labels)
    if kind != "type":
        raise ValueError(f"control kind must be 'type' or 'shuffle', got {kind!r}")
    unique, inverse = np.unique(np.asarray(types), return_inverse=True)
    values, counts = np.unique(labels, return_counts=True)
    return values[rng.choice(len(values), size=len(unique), p=counts / counts.sum())][inverse]


def ridge_probe_predictions(
    x: np.ndarray, labels: Sequence[np.ndarray], folds: np.ndarray, alpha: float = 1.0
) -> list[np.ndarray]:
    """Out-of-fold predicted class of every row, for each label vector (see the module docstring).

    Args:
        x: ``[n, d]`` features.
        labels: label vectors ``[n]`` of integer classes ``0 … C−1``, all probed on ``x``.
        folds: ``[n]`` fold index of each row (e.g. from :func:`group_folds`).
        alpha: ridge strength per training row (``λ = α · n_train``), > 0.
    """
    if alpha <= 0:
        raise ValueError("alpha must be > 0")
    x = np.asarray(x, dtype=np.float64)
    n, d = x.shape
    sizes = [int(y.max()) + 1 for y in labels]
    onehot = np.zeros((n, sum(sizes)))
    offsets = np.cumsum([0] + sizes)
    for y, offset in zip(labels, offsets):
        onehot[np.arange(n), offset + np.asarray(y)] = 1.0
    fold_ids = np.unique(folds)
    parts = {f: folds == f for f in fold_ids}
    gram = {f: x[m].T @ x[m] for f, m in parts.items()}
    sums = {f: x[m].sum(axis=0) for f, m in parts.items()}
    cross = {f: x[m].T @ onehot[m] for f, m in parts.items()}
    counts = {f: onehot[m].sum(axis=0) for f, m in parts.items()}
    total = [sum(table.values()) for table in (gram, sums, cross, counts)]
    predictions = [np.empty(n, dtype=np.int64) for _ in labels]
    for f, test in parts.items():
        s_xx, s_x, s_xy, s_y = (t - table[f] for t, table in zip(total, (gram, sums, cross, counts)))
        n_train = n - int(test.sum())
        mean = s_x / n_train
        scatter = s_xx - n_train * np.outer(mean, mean)
        scale = np.sqrt(np.clip(np.diag(scatter) / n_train, 0.0, None))
        scale[scale <= 1e-12 * max(1.0, float(scale.max()))] = 1.0
        zz = scatter / np.outer(scale, scale) + alpha * n_train * np.eye(d)
        zy = (s_xy - np.outer(mean, s_y)) / scale[:, None]
        weights = np.linalg.solve(zz, zy)
        scores = ((x[test] - mean) / scale) @ weights + s_y / n_train
        for k, (offset, size) in enumerate(zip(offsets, sizes)):
            predictions[k][test] = scores[:, offset : offset + size].argmax(axis=1)
    return predictions

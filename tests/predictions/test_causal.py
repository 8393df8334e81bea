"""P4 (scale specificity) and P6 (local brittleness ratio) on effect matrices built to satisfy or violate them."""

from __future__ import annotations

import numpy as np
import pytest

from mspgt_bench.predictions.base import PredictionContext, TargetEffects
from mspgt_bench.predictions.causal import (
    BrittlenessRatio,
    ScaleSpecificity,
    double_centred_log,
    log_interaction,
    row_dominance,
)
from mspgt_bench.signals.base import BootstrapConfig
from mspgt_bench.suite.schema import PredictionSpec

BOOT = BootstrapConfig(n_boot=200, seed=0)
SCALES = ("local", "intermediate", "global")
SEGMENTS = ((0, 4), (4, 9), (9, 12))


def test_a_product_matrix_has_no_interaction():
    # E[s, c] = a_s * b_c: segments differ in strength, scales in sensitivity, nothing specific
    matrix = np.outer([5.0, 1.0, 0.2], [1.0, 2.0, 3.0])
    assert np.allclose(double_centred_log(matrix), 0.0)
    assert log_interaction(matrix) == pytest.approx(0.0, abs=1e-12)


def test_a_two_by_two_interaction_is_a_quarter_of_the_log_odds_ratio():
    matrix = np.array([[4.0, 1.0], [2.0, 3.0]])
    assert log_interaction(matrix) == pytest.approx(np.log(4 * 3 / (1 * 2)) / 4)


def test_row_dominance_is_positive_only_when_every_row_peaks_on_its_diagonal():
    boosted = np.outer([5.0, 1.0, 0.2], [1.0, 2.0, 3.0]) * np.array([[2, 1, 1], [1, 2, 1], [1, 1, 2]])
    # diag interaction = (2/3)·log 2, off-diagonal = -(1/3)·log 2: margin log 2
    assert row_dominance(boosted) == pytest.approx(np.log(2))
    one_row_off = boosted * np.array([[1, 1, 1], [1, 1, 1], [1, 3, 1]])
    assert row_dominance(one_row_off) < 0
    assert log_interaction(one_row_off) > 0  # the mean diagonal can still be positive


def test_non_positive_entries_make_the_statistic_undefined():
    assert np.isnan(log_interaction(np.array([[1.0, -0.1], [1.0, 1.0]])))


def _effects(pattern: np.ndarray, n: int = 40, noise: float = 0.1, seed: int = 0, prefix: str = "delta_loss_") -> list:
    """Per-stimulus effects whose mean matrix is ``pattern`` [segments, scales], with multiplicative noise."""
    rng = np.random.default_rng(seed)
    targets = []
    for s, (start, end) in enumerate(SEGMENTS):
        values = {f"{prefix}{scale}": pattern[s, c] * np.exp(rng.normal(0, noise, n)) for c, scale in enumerate(SCALES)}
        values["kl"] = pattern[s].mean() * np.exp(rng.normal(0, noise, n))
        targets.append(TargetEffects(f"delete[{start}:{end}]", start, end - 1, values))
    return targets[::-1]  # run order is not depth order: the prediction must sort


def _context(targets, condition: str = "trained", model: str = "m", family: str = "llama") -> PredictionContext:
    return PredictionContext(model, family, condition, 12, {}, BOOT, effects={"segments": targets})


def _p4(statistic: str = "log_interaction") -> ScaleSpecificity:
    spec = PredictionSpec(
        id="P4",
        name="scale_specificity",
        statistic=statistic,
        threshold=0.0,
        direction="greater",
        options={"intervention": "segments", "n_boot": 200},
    )
    return ScaleSpecificity(spec)


MAIN_EFFECTS = np.outer([5.0, 1.0, 0.2], [1.0, 2.0, 3.0])
DIAGONAL = MAIN_EFFECTS * (1 + np.eye(3))
ANTI_DIAGONAL = MAIN_EFFECTS * (1 + np.eye(3)[::-1])
SHIFTED = MAIN_EFFECTS * (1 + np.roll(np.eye(3), 1, axis=1))  # each segment hurts the next scale most


@pytest.mark.parametrize("statistic", ["log_interaction", "row_dominance"])
def test_p4_passes_when_each_segment_hurts_its_own_scale_most(statistic):
    outcome = _p4(statistic).evaluate(_context(_effects(DIAGONAL)))
    assert outcome.status == "PASS"
    assert outcome.details["segments"] == ["delete[0:4]", "delete[4:9]", "delete[9:12]"]
    assert np.allclose(outcome.details["matrix"], DIAGONAL, rtol=0.1)


@pytest.mark.parametrize("pattern", [SHIFTED, ANTI_DIAGONAL], ids=["shifted", "anti-diagonal"])
def test_p4_row_dominance_fails_when_segments_hurt_other_scales_most(pattern):
    assert _p4("row_dominance").evaluate(_context(_effects(pattern))).status == "FAIL"


def test_p4_log_interaction_fails_when_each_segment_hurts_the_next_scale_most():
    outcome = _p4().evaluate(_context(_effects(SHIFTED)))
    # diagonal interaction of a shifted identity boost: -(1/3)·log 2
    assert outcome.status == "FAIL" and outcome.value == pytest.approx(-np.log(2) / 3, abs=0.05)


def test_p4_is_not_a_pass_without_specificity():
    outcome = _p4().evaluate(_context(_effects(MAIN_EFFECTS, noise=0.3, seed=3)))
    assert outcome.status in ("INCONCLUSIVE", "FAIL")
    assert outcome.ci_low < 0.05 and abs(outcome.value) < 0.1


def test_p4_explains_a_wrong_segment_count_and_a_missing_intervention():
    with pytest.raises(ValueError, match="n_segments: 3"):
        _p4().evaluate(_context(_effects(DIAGONAL)[:2]))
    with pytest.raises(LookupError, match="needs intervention 'segments'"):
        _p4().evaluate(PredictionContext("m", "llama", "trained", 12, {}, BOOT))


def test_p4_is_inconclusive_when_an_intervention_does_not_hurt_a_scale():
    pattern = DIAGONAL.copy()
    pattern[2, 0] = -0.5  # deleting the last segment helps local tokens: log undefined
    outcome = _p4().evaluate(_context(_effects(pattern, noise=0.01)))
    assert outcome.status == "INCONCLUSIVE" and "undefined" in outcome.reason


def _p6(statistic: str = "fold_difference", threshold: float = 2.0, min_models: int = 1) -> BrittlenessRatio:
    spec = PredictionSpec(
        id="P6",
        name="brittleness_ratio",
        statistic=statistic,
        threshold=threshold,
        direction="greater",
        options={"intervention": "segments", "families": ["llama", "qwen2"], "min_models": min_models, "n_boot": 200},
    )
    return BrittlenessRatio(spec)


def _family_contexts(local_llama: float, local_qwen: float) -> list[PredictionContext]:
    out = []
    for i, (family, local) in enumerate([("llama", local_llama), ("llama", local_llama), ("qwen2", local_qwen)]):
        pattern = MAIN_EFFECTS.copy()
        pattern[0] = local  # kl of the first segment = mean of its row = local
        out.append(_context(_effects(pattern, seed=i), model=f"{family}-{i}", family=family))
    return out


def test_p6_measures_the_planted_fold_difference_in_either_direction():
    outcome = _p6().evaluate_many(_family_contexts(1.0, 8.0))["llama/qwen2"]
    assert outcome.status == "PASS" and outcome.value == pytest.approx(8.0, rel=0.1)
    ratio = _p6("ratio", threshold=1.0).evaluate_many(_family_contexts(1.0, 8.0))["llama/qwen2"]
    assert ratio.status == "FAIL" and ratio.value == pytest.approx(1 / 8, rel=0.1)
    assert _p6(threshold=20.0).evaluate_many(_family_contexts(1.0, 8.0))["llama/qwen2"].status == "FAIL"


def test_p6_skips_with_too_few_models_of_a_family():
    outcome = _p6(min_models=2).evaluate_many(_family_contexts(1.0, 8.0))["llama/qwen2"]
    assert outcome.status == "SKIP" and "'qwen2': 1" in outcome.reason


def _local_kl(model: str, family: str, kl: list[float]) -> PredictionContext:
    """A model whose local segment's KL is exactly ``kl`` per stimulus (the other segments: 10× more)."""
    values = np.array(kl)
    targets = [TargetEffects(f"ablate[{a}:{b}]", a, b - 1, {"kl": values * (1 if a == 0 else 10)}) for a, b in SEGMENTS]
    return _context(targets, model=model, family=family)


def test_p6_with_one_model_per_family_is_the_ratio_of_their_mean_local_kl():
    # Llama: mean KL (1 + 3 + 2)/3 = 2; Qwen2: 0.25 → ratio 8, fold difference 8, and no resample differs
    contexts = [_local_kl("smol", "llama", [1.0, 3.0, 2.0]), _local_kl("qwen", "qwen2", [0.25, 0.25, 0.25])]
    fold = _p6(threshold=10.0).evaluate_many(contexts)["llama/qwen2"]
    assert fold.value == pytest.approx(8.0) and fold.status in {"FAIL", "INCONCLUSIVE"}
    assert fold.details["single_model"] == ["llama", "qwen2"] and fold.n == 2
    assert fold.details["family_brittleness"] == pytest.approx({"llama": 2.0, "qwen2": 0.25})
    constant = [_local_kl("smol", "llama", [2.0] * 3), _local_kl("qwen", "qwen2", [0.25] * 3)]
    exact = _p6(threshold=7.9).evaluate_many(constant)["llama/qwen2"]
    assert [exact.value, exact.ci_low, exact.ci_high] == pytest.approx([8.0, 8.0, 8.0]) and exact.status == "PASS"
    assert _p6(threshold=8.0).evaluate_many(constant)["llama/qwen2"].status == "FAIL"  # 8 is not above 8


def test_p6_with_several_models_per_family_takes_their_geometric_mean():
    # Llama: models at 2 and 8 → geometric mean 4 (the arithmetic mean 5 would give 10); Qwen2: 0.5 → ratio 8
    contexts = [
        _local_kl("llama-a", "llama", [2.0] * 4),
        _local_kl("qwen", "qwen2", [0.5] * 4),
        _local_kl("llama-b", "llama", [8.0] * 4),
    ]
    ratio = _p6("ratio", threshold=1.0).evaluate_many(contexts)["llama/qwen2"]
    assert ratio.value == pytest.approx(8.0) and ratio.status == "PASS" and ratio.n == 3
    assert ratio.details["models"] == {"llama": ["llama-a", "llama-b"], "qwen2": ["qwen"]}
    assert ratio.details["single_model"] == ["qwen2"]
    flipped = BrittlenessRatio(
        PredictionSpec(
            id="P6",
            name="brittleness_ratio",
            statistic="ratio",
            threshold=1.0,
            direction="less",
            options={"intervention": "segments", "families": ["qwen2", "llama"], "n_boot": 50},
        )
    ).evaluate_many(contexts)["qwen2/llama"]
    assert flipped.value == pytest.approx(1 / 8) and flipped.status == "PASS"


def test_p4_names_the_cells_with_no_value():
    targets = _effects(DIAGONAL)
    targets[0].values["delta_loss_global"][:] = np.nan  # targets are in reverse depth order
    outcome = _p4().evaluate(_context(targets))
    assert outcome.status == "INCONCLUSIVE"
    assert "delete[9:12] × global" in outcome.reason and "incomplete" in outcome.reason

"""The planted-structure bank: does the default detector find planted boundaries, and nothing else?

Synthetic profiles with steps in a level, spikes in a change, both fused, at depths 8–48, with
equal and unequal segments and boundaries two layers from either end; and profiles without
structure (smooth decay, monotone trend, sigmoid drift, slow wave, flat), each under
per-stimulus noise. The bank reports recall and precision of boundaries within ±1 layer, the
share of structureless profiles given any boundary, and P1's false-PASS rate on them, and
holds them to the targets: recall ≥ 0.95, precision ≥ 0.95, P1 false PASS ≤ 5%.

Weight-edited real architectures are in ``test_planted_model.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from mspgt_bench.detectors.plugins import BoundaryEvidence, Detection
from mspgt_bench.predictions.base import PredictionContext
from mspgt_bench.predictions.segments import SegmentCount
from mspgt_bench.signals.base import BootstrapConfig, Profile
from mspgt_bench.suite.schema import PredictionSpec
from tests.detectors.planted import STRUCTURELESS, spike_change, step_level, synthetic_profile

DEPTHS = (8, 12, 16, 24, 32, 48)
SEEDS = (0, 1)
NOISES = (0.05, 0.15)
"""Per-stimulus noise sd (levels around 1–2, changes around 1): clean, and three times noisier."""
BOOT = BootstrapConfig(n_boot=100, seed=0)
P1 = PredictionSpec(
    id="P1", name="segment_count", statistic="criterion_margin", threshold=0.0, direction="greater",
    options={"detector": "bank", "n_boot": 100},
)


def boundary_sets(n_layers: int) -> dict[str, tuple[int, int]]:
    """Equal thirds, both boundaries two layers from an end, and unequal segments."""
    sets = {
        "thirds": (n_layers // 3, 2 * n_layers // 3),
        "near both ends": (2, n_layers - 2),
        "unequal": (2, n_layers // 2 + 1),
    }
    return {name: b for name, b in sets.items() if b[1] - b[0] >= 2}


def planted_profiles(
    construction: str, n_layers: int, bounds: tuple[int, int], noise: float, rng: np.random.Generator
) -> list[Profile]:
    """The profiles of one planted case (one or two signals)."""
    step = synthetic_profile("level", "level", step_level(n_layers, bounds, [1.0, 2.0, 1.4]), noise, rng)
    spike = synthetic_profile("change", "change", spike_change(n_layers, bounds, 3.0, decay=2.0 / n_layers), noise, rng)
    trend = synthetic_profile("level", "level", step_level(n_layers, bounds, [1.0, 2.0, 1.4], trend=0.02), noise, rng)
    return {
        "step in level": [step],
        "step on a trend": [trend],
        "spike in change": [spike],
        "step and spike fused": [step, spike],
    }[construction]


CONSTRUCTIONS = ("step in level", "step on a trend", "spike in change", "step and spike fused")


def detect(profiles: list[Profile], n_layers: int) -> tuple[Detection, str]:
    """The default evidence detector on the profiles, and P1's verdict on its result."""
    by_key = {f"{p.signal}.{p.metric}": p for p in profiles}
    detection = BoundaryEvidence(label="bank", profiles={k: 1.0 for k in by_key}, n_boot=20, n_null=100).detect(
        by_key, n_layers, BOOT
    )
    context = PredictionContext("m", "f", "trained", n_layers, by_key, BOOT, {"bank": detection})
    return detection, SegmentCount(P1).evaluate(context).status


@dataclass
class Tally:
    true: int = 0
    found: int = 0
    recalled: int = 0
    precise: int = 0
    cases: int = 0
    passes: int = 0

    def add(self, truth: tuple[int, ...], found: tuple[int, ...], status: str) -> None:
        self.cases += 1
        self.true += len(truth)
        self.found += len(found)
        self.recalled += sum(any(abs(t - f) <= 1 for f in found) for t in truth)
        self.precise += sum(any(abs(t - f) <= 1 for t in truth) for f in found)
        self.passes += status == "PASS"


@pytest.fixture(scope="module")
def bank() -> dict[str, Tally]:
    tallies: dict[str, Tally] = {}
    misses: list[str] = []
    for n_layers in DEPTHS:
        for seed in SEEDS:
            for noise in NOISES:
                rng = np.random.default_rng([n_layers, seed, int(noise * 100)])
                case = f"L={n_layers}, noise {noise}, seed {seed}"
                for construction in CONSTRUCTIONS:
                    for name, bounds in boundary_sets(n_layers).items():
                        profiles = planted_profiles(construction, n_layers, bounds, noise, rng)
                        detection, status = detect(profiles, n_layers)
                        found = detection.segmentation.boundaries
                        tallies.setdefault(construction, Tally()).add(bounds, found, status)
                        if len(found) != 2 or any(abs(a - b) > 1 for a, b in zip(found, bounds)):
                            misses.append(f"{construction}, {name}, {case}: planted {bounds}, found {found}")
                for name, (kind, mean) in STRUCTURELESS.items():
                    detection, status = detect([synthetic_profile("null", kind, mean(n_layers), noise, rng)], n_layers)
                    tallies.setdefault("structureless", Tally()).add((), detection.segmentation.boundaries, status)
                    if detection.segmentation.boundaries:
                        misses.append(f"{name}, {case}: found {detection.segmentation.boundaries}")
    tallies["_misses"] = misses  # type: ignore[assignment]
    return tallies


def test_bank_meets_recall_precision_and_false_pass_targets(bank, capsys):
    misses = bank.pop("_misses")
    planted = [t for name, t in bank.items() if name != "structureless"]
    recall = sum(t.recalled for t in planted) / sum(t.true for t in planted)
    precision = sum(t.precise for t in planted) / max(sum(t.found for t in planted), 1)
    null = bank["structureless"]
    false_boundary = null.found / null.cases
    false_pass = null.passes / null.cases
    with capsys.disabled():
        print("\nplanted-structure bank (default `evidence` detector, ±1 layer):")
        for name, t in bank.items():
            if name == "structureless":
                continue
            print(
                f"  {name:22s} cases {t.cases:3d}  recall {t.recalled / t.true:.3f}  "
                f"precision {t.precise / max(t.found, 1):.3f}  P1 PASS {t.passes / t.cases:.3f}"
            )
        print(f"  {'all planted':22s} recall {recall:.3f}  precision {precision:.3f}")
        print(
            f"  structureless          cases {null.cases:3d}  boundaries per case {false_boundary:.3f}  "
            f"P1 false PASS {false_pass:.3f}"
        )
        for miss in misses:
            print(f"  miss: {miss}")
    assert recall >= 0.95 and precision >= 0.95, (recall, precision)
    assert false_pass <= 0.05, false_pass
    assert false_boundary <= 0.05, false_boundary

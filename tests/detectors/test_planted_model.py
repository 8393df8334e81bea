"""Known answers on real architectures: weight-edited Llama, Qwen2 and Gemma 3 configs.

Planted: large residual updates at layer 0 and at the boundary layers, small ones elsewhere
(``tests/detectors/planted.py``). The quickstart's detector (``suites/quickstart.yaml``:
fused angular distance and logit-lens KL) must find the boundaries within one layer and P1
must PASS; on the unedited random-weight twins it must find nothing and P1 must not PASS. The
bank prints what it found per case.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from mspgt_bench.detectors.plugins import BoundaryEvidence, ChangePoint, Detection
from mspgt_bench.models.hf import HFAdapter
from mspgt_bench.predictions.base import PredictionContext
from mspgt_bench.predictions.segments import SegmentCount
from mspgt_bench.signals.base import BootstrapConfig, Profile
from mspgt_bench.suite.schema import PredictionSpec
from tests.detectors.planted import model_profiles, planted_model, spike_ratios, step_ratios

QUICKSTART = Path(__file__).parents[2] / "suites" / "quickstart.yaml"
BOOT = BootstrapConfig(n_boot=100, seed=0)
FAMILIES = ("llama", "qwen2", "gemma3")


def quickstart_spec(kind: str) -> dict:
    """The options of the quickstart's detector, or of its P1 prediction, as the suite file has them."""
    suite = yaml.safe_load(QUICKSTART.read_text())
    if kind == "detector":
        (detector,) = (d for d in suite["detectors"] if d["id"] == "fused")
        return detector
    (p1,) = (p for p in suite["predictions"] if p["name"] == "segment_count")
    return p1


def quickstart_detect(profiles: dict[str, Profile], n_layers: int) -> tuple[Detection, str]:
    """The quickstart's fused detector and P1 verdict on one model's profiles."""
    spec = quickstart_spec("detector")
    assert spec["name"] == BoundaryEvidence.name
    detection = BoundaryEvidence(label="fused", **spec["options"]).detect(profiles, n_layers, BOOT)
    p1 = PredictionSpec.model_validate(quickstart_spec("p1"))
    context = PredictionContext("m", "f", "trained", n_layers, profiles, BOOT, {"fused": detection})
    return detection, SegmentCount(p1).evaluate(context).status


@pytest.mark.parametrize(
    ("family", "n_layers", "planted"),
    [("llama", 12, (4, 8)), ("qwen2", 12, (4, 8)), ("gemma3", 12, (4, 8)), ("llama", 24, (2, 15)), ("qwen2", 24, (9, 22))],
)
def test_planted_boundaries_are_found_and_p1_passes(family, n_layers, planted, capsys):
    profiles = model_profiles(planted_model(family, spike_ratios(n_layers, planted)))
    detection, p1 = quickstart_detect(profiles, n_layers)
    found = detection.segmentation.boundaries
    with capsys.disabled():
        evidence = [round(float(detection.evidence[b - 1]), 2) for b in found]
        print(f"\n  planted {family}-{n_layers} {planted}: found {found}, evidence {evidence}, P1 {p1}")
    assert len(found) == 2 and all(abs(f - p) <= 1 for f, p in zip(found, planted)), found
    assert p1 == "PASS"
    for stability in detection.bootstrap.stability:
        assert stability.within_tolerance > 0.8


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("n_layers", [12, 24])
def test_unplanted_twin_has_no_boundary_and_p1_does_not_pass(family, n_layers, capsys):
    profiles = model_profiles(HFAdapter(f"tiny-{family}", seed=11, n_layers=n_layers))
    detection, p1 = quickstart_detect(profiles, n_layers)
    with capsys.disabled():
        print(f"\n  twin {family}-{n_layers}: largest evidence {detection.evidence.max():.2f} "
              f"(threshold {detection.null.threshold:.2f}), found {detection.segmentation.boundaries}, P1 {p1}")
    assert detection.segmentation.boundaries == ()
    assert p1 != "PASS"


def test_a_step_in_the_rate_of_change_is_a_level_the_suite_can_declare():
    """Segments that differ in how fast they change: the angular distance steps, it does not spike."""
    profiles = model_profiles(planted_model("llama", step_ratios(12, (4, 8), (0.2, 1.5, 0.6))))
    as_change = BoundaryEvidence(profiles={"angular_distance.angular_all": 1.0}, n_boot=20).detect(profiles, 12, BOOT)
    as_level = BoundaryEvidence(
        profiles={"angular_distance.angular_all": 1.0}, kinds={"angular_distance.angular_all": "level"}, n_boot=20
    ).detect(profiles, 12, BOOT)
    assert as_change.segmentation.boundaries == ()  # no peak: a step in a change profile is not a spike
    found = as_level.segmentation.boundaries
    assert len(found) == 2 and abs(found[0] - 4) <= 1 and abs(found[1] - 8) <= 1, found


def test_changepoint_refuses_a_change_profile_with_the_fix():
    profiles = model_profiles(HFAdapter("tiny-llama", seed=11, n_layers=8), n_stimuli=4)
    with pytest.raises(ValueError, match="angular_distance.angular_all \\(change\\).*use the `evidence` detector"):
        ChangePoint(profiles={"angular_distance.angular_all": 1.0}).detect(profiles, 8, BOOT)

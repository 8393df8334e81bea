"""Detections and outcomes are cached by exact content: an unchanged rerun computes none of them again
and writes the same bytes; a changed input recomputes exactly the stages that read it."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest

from mspgt_bench.detectors.plugins import BoundaryEvidence, ChangePoint
from mspgt_bench.plugins import registry
from mspgt_bench.run import RunOptions, run_suite
from mspgt_bench.run.cache import stage_path
from mspgt_bench.run.plan import Progress, plan_run
from mspgt_bench.suite.loader import load_suite
from tests.run.test_cache import StageLines

TABLES = ("verdicts.csv", "boundaries.csv", "profiles.csv")


def _suite(minimal_suite, **overrides) -> dict:
    family = {"family": "toy"}
    suite = minimal_suite(
        models=[{"name": "tiny-llama", **family}, {"name": "tiny-mistral", **family}],
        detectors=[
            {
                "name": "evidence",
                "id": "fused",
                "options": {
                    "profiles": {"logit_lens.kl": 1.0, "angular_distance.angular_all": 1.0},
                    "n_boot": 20,
                    "n_null": 20,
                },
            },
            {"name": "changepoint", "id": "steps", "options": {"profiles": {"logit_lens.kl": 1.0}, "n_boot": 20}},
        ],
        controls={"shuffled_tokens": True},
    )
    suite["predictions"] += [
        {
            "id": "P1",
            "name": "segment_count",
            "statistic": "criterion_margin",
            "threshold": 0.0,
            "direction": "greater",
            "options": {"detector": "fused", "n_boundaries": 1, "n_boot": 20},
        },
        {
            "id": "P2",
            "name": "boundary_position",
            "statistic": "later_minus_local",
            "threshold": 0.0,
            "direction": "greater",
            "options": {"detector": "steps", "n_boundaries": 1, "n_boot": 20},
        },
        {
            "id": "P5",
            "name": "boundary_cv",
            "statistic": "boundary_cv",
            "threshold": 0.4,
            "direction": "greater",
            "options": {"family": "toy", "detector": "fused", "min_models": 2, "n_boundaries": 1, "n_boot": 20},
        },
    ]
    suite.update(overrides)
    return suite


@pytest.fixture
def calls(monkeypatch) -> Counter:
    """Counts every detector and prediction computation of the run (each still computes)."""
    counter: Counter = Counter()

    def counting(cls: type, method: str) -> None:
        original = getattr(cls, method)

        def wrapper(self, *args, **kwargs):
            counter[f"{cls.__name__}.{method}"] += 1
            return original(self, *args, **kwargs)

        monkeypatch.setattr(cls, method, wrapper)

    counting(BoundaryEvidence, "detect")
    counting(ChangePoint, "detect")
    for name in ("profile_contrast", "segment_count", "boundary_position"):
        counting(registry("predictions").get(name), "evaluate")
    counting(registry("predictions").get("boundary_cv"), "evaluate_many")
    return counter


def _run(path: Path, out: Path, progress=None):
    return run_suite(load_suite(path), RunOptions(out=out), progress)


def _tables(out: Path) -> dict[str, bytes]:
    return {name: (out / name).read_bytes() for name in TABLES}


def test_an_unchanged_rerun_computes_no_detection_or_outcome_and_writes_the_same_bytes(
    write_suite, minimal_suite, tmp_path, calls
):
    path, out = write_suite(_suite(minimal_suite)), tmp_path / "run"
    p5 = [row for row in _run(path, out).verdict_rows if row["prediction"] == "P5"]
    assert len(p5) == 2 and all(row["status"] != "ERROR" for row in p5)  # one per condition: it ran
    first = _tables(out)
    cells = 2 * 2  # two models, trained and shuffled tokens
    assert calls["BoundaryEvidence.detect"] == calls["ChangePoint.detect"] == cells
    assert calls["SegmentCount.evaluate"] == cells and calls["BoundaryCV.evaluate_many"] == 2
    calls.clear()
    _run(path, out)
    assert sum(calls.values()) == 0, calls
    assert _tables(out) == first


def test_a_changed_detector_recomputes_detections_and_outcomes_a_changed_threshold_only_outcomes(
    write_suite, minimal_suite, tmp_path, calls
):
    out = tmp_path / "run"
    _run(write_suite(_suite(minimal_suite)), out)
    changed = _suite(minimal_suite)
    changed["detectors"][1]["options"]["n_boot"] = 30
    calls.clear()
    _run(write_suite(changed, "detector.yaml"), out)
    assert calls["ChangePoint.detect"] == 4 and calls["BoundaryEvidence.detect"] == 4  # one entry per cell
    assert calls["BoundaryPosition.evaluate"] == 4 and calls["BoundaryCV.evaluate_many"] == 2

    changed["predictions"][0]["threshold"] = 0.5
    calls.clear()
    _run(write_suite(changed, "threshold.yaml"), out)
    assert calls["ChangePoint.detect"] == calls["BoundaryEvidence.detect"] == 0
    assert calls["ProfileContrast.evaluate"] == 4 and calls["BoundaryCV.evaluate_many"] == 0


def test_an_edit_to_the_code_recomputes_detections_and_outcomes(
    write_suite, minimal_suite, tmp_path, calls, monkeypatch
):
    path, out = write_suite(_suite(minimal_suite)), tmp_path / "run"
    _run(path, out)
    calls.clear()
    monkeypatch.setattr("mspgt_bench.run.cache.code_digest", lambda plugins: "edited")
    _run(path, out)
    assert calls["BoundaryEvidence.detect"] == 4 and calls["SegmentCount.evaluate"] == 4


def test_an_unreadable_detections_entry_is_set_aside_and_recomputed(write_suite, minimal_suite, tmp_path, calls):
    path, out = write_suite(_suite(minimal_suite)), tmp_path / "run"
    _run(path, out)
    first = _tables(out)
    (entry,) = (out / "cache").glob("tiny-llama-trained-detections-*.json")
    entry.write_bytes(entry.read_bytes()[:100])
    calls.clear()
    progress = StageLines()
    _run(path, out, progress)
    assert calls["BoundaryEvidence.detect"] == 1 and calls["ChangePoint.detect"] == 1
    assert any("could not be read" in line and entry.name in line for line in progress.lines)
    assert list(out.glob(f"cache/{entry.name}.corrupt-1")) and entry.is_file()
    assert _tables(out) == first


def test_an_erroring_prediction_is_not_saved_and_runs_again(write_suite, minimal_suite, tmp_path, calls):
    suite = minimal_suite()
    suite["predictions"][0]["options"]["profile"] = "logit_lens.no_such_metric"
    path, out = write_suite(suite), tmp_path / "run"
    first = _run(path, out)
    assert {row["status"] for row in first.verdict_rows} == {"ERROR"}
    assert not list((out / "cache").glob("*-outcomes-*.json"))
    calls.clear()
    _run(path, out)
    assert calls["ProfileContrast.evaluate"] == 1


def test_a_detector_whose_rules_cannot_be_rebuilt_is_computed_every_run(
    write_suite, minimal_suite, tmp_path, calls, monkeypatch
):
    counted = ChangePoint.detect  # the counting wrapper of the fixture
    monkeypatch.setattr(ChangePoint, "detect", lambda self, *args: replace(counted(self, *args), rule_state=None))
    path, out = write_suite(_suite(minimal_suite)), tmp_path / "run"
    _run(path, out)
    first = _tables(out)
    calls.clear()
    _run(path, out)
    assert calls["ChangePoint.detect"] == calls["BoundaryEvidence.detect"] == 4  # the cell's detections go together
    assert calls["SegmentCount.evaluate"] == 4 and calls["BoundaryCV.evaluate_many"] == 2
    assert not list((out / "cache").glob("*-detections-*")) and not list((out / "cache").glob("*-outcomes-*"))
    assert _tables(out) == first


def test_inputs_without_an_exact_digest_have_no_cache_entry(write_suite, minimal_suite, tmp_path):
    ctx = plan_run(load_suite(write_suite(minimal_suite())), RunOptions(out=tmp_path / "run"), Progress())
    assert stage_path(ctx, "cell", "outcomes", {"opaque": object()}, []) is None
    assert stage_path(ctx, "cell", "outcomes", {"n": 1}, []).parent == tmp_path / "run" / "cache"

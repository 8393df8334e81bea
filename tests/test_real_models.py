"""The real offline models end to end (slow: they load pretrained weights from the zoo cache)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mspgt_bench.cli import main

pytestmark = pytest.mark.slow
QUICKSTART = Path(__file__).resolve().parents[1] / "suites" / "quickstart.yaml"


@pytest.mark.parametrize("model", ["smollm2-135m", "gemma3-270m"])
def test_quickstart_runs_offline_on_the_real_model(model, tmp_path, capsys):
    assert main(["run", str(QUICKSTART), "--model", model, "--out", str(tmp_path), "--limit", "6"]) == 0
    document = json.loads((tmp_path / "results.json").read_text())
    trained = [r for r in document["verdicts"] if r["condition"] == "trained"]
    assert {r["prediction"] for r in trained} == {"P1-three-segments", "P2-local-first", "P7-sharpening", "early-change"}
    assert all(r["status"] in {"PASS", "FAIL", "INCONCLUSIVE"} for r in trained), [r["reason"] for r in trained]
    meta = document["provenance"]["models"][f"{model}/trained"]
    assert meta["provenance"]["random_weights"] is False and meta["forward_calls"] == 1
    lens = [r for r in document["profiles"] if r["condition"] == "trained" and r["metric"] == "kl"]
    assert abs(lens[-1]["value"]) < 1e-3  # the logit lens at the last layer is the model's own output
    assert "verdicts" in capsys.readouterr().out

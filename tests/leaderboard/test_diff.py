"""``mspgt-bench diff``: verdict changes, value changes beyond a tolerance, added and removed items."""

from __future__ import annotations

import json

from mspgt_bench.cli import main


def test_a_run_against_itself_has_no_changes(runs, capsys):
    assert main(["diff", str(runs["a"]), str(runs["a"])]) == 0
    out = capsys.readouterr().out
    assert "No changes" in out and "## " not in out


def test_models_added_and_removed(runs, capsys):
    assert main(["diff", str(runs["a"]), str(runs["b"])]) == 1
    out = capsys.readouterr().out
    assert "## Models added\n\n- tiny-qwen3" in out
    assert "## Models removed\n\n- tiny-llama\n- tiny-gpt2" in out
    assert "Verdict changes" not in out and "Provenance differs" not in out


def test_verdict_value_and_prediction_changes(runs, edited_copy, capsys):
    changed = {}

    def edit(document):
        row = next(v for v in document["verdicts"] if v["condition"] == "trained" and v["value"] is not None)
        changed.update(row)
        row["status"] = "FAIL" if row["status"] != "FAIL" else "PASS"
        row["non_discriminative"] = False
        row["value"] = row["value"] * 1.5 + 1.0
        tiny = next(v for v in document["verdicts"] if v["prediction"] == row["prediction"] and v is not row)
        tiny["value"] = tiny["value"] * (1 + 1e-9)
        document["verdicts"] = [v for v in document["verdicts"] if v["prediction"] != "early-change"]
        document["provenance"]["seed"] = 5

    b = edited_copy(runs["a"], "b", edit)
    assert main(["diff", str(runs["a"]), str(b)]) == 1
    out = capsys.readouterr().out
    assert "- seed: 0 -> 5" in out
    assert "## Predictions removed\n\n- early-change" in out
    assert "## Verdict changes (1)" in out
    before = changed["status"] + (" †" if changed["non_discriminative"] else "")
    after = "FAIL" if changed["status"] != "FAIL" else "PASS"
    assert f"| {changed['model']} | trained | {changed['prediction']} | {before} | {after} |" in out
    assert "## Value changes beyond rtol=1e-06, atol=1e-12 (1)" in out

    assert main(["diff", str(runs["a"]), str(b), "--format", "json", "--rtol", "1e-12"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["changed"] is True and data["predictions_removed"] == ["early-change"]
    assert len(data["values"]) == 2 and data["verdicts"][0]["after"] == after


def test_an_unreadable_run_is_an_error(runs, tmp_path, capsys):
    assert main(["diff", str(runs["a"]), str(tmp_path / "nope")]) == 2
    assert f"error: {tmp_path / 'nope'}: does not exist" in capsys.readouterr().err

"""End to end on a tiny model: outputs, controls, ERROR cells, and reruns that reuse the cache."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch
from transformers import AutoModelForCausalLM

from mspgt_bench.models.tiny import byte_tokenizer, tiny_config
from mspgt_bench.plugins import registry
from mspgt_bench.result_schema import SCHEMA_VERSION, load_results
from mspgt_bench.run import RunOptions, run_suite
from mspgt_bench.signals.logit_lens import LogitLens
from mspgt_bench.suite.loader import load_suite


def _run(path, out, **options):
    return run_suite(load_suite(path), RunOptions(out=out, **options))


def test_run_writes_tidy_results_with_provenance(write_suite, minimal_suite, tmp_path):
    suite = minimal_suite(controls={"random_weights": True, "shuffled_tokens": True}, output={"figures": True})
    result = _run(write_suite(suite), tmp_path / "run")
    run_dir = tmp_path / "run"
    document = json.loads((run_dir / "results.json").read_text())
    assert document["schema_version"] == SCHEMA_VERSION
    versions = document["provenance"]["versions"]
    assert {"mspgt_bench", "torch", "transformers"} <= set(versions)
    conditions = {row["condition"] for row in document["verdicts"]}
    assert conditions == {"trained", "random_weights", "shuffled_tokens"}
    trained = next(r for r in document["verdicts"] if r["condition"] == "trained")
    assert set(trained["controls"]) == {"random_weights", "shuffled_tokens"}
    assert trained["status"] in {"PASS", "FAIL", "INCONCLUSIVE"}
    assert trained["ci_low"] <= trained["value"] <= trained["ci_high"]
    assert trained["non_discriminative"] == (trained["status"] == "PASS" and "PASS" in trained["controls"].values())
    profiles = pd.read_csv(run_dir / "profiles.csv")
    assert set(profiles["signal"]) == {"logit_lens", "angular_distance"}
    assert (profiles["ci_low"] <= profiles["value"] + 1e-12).all()
    assert (run_dir / "verdicts.csv").is_file() and (run_dir / "suite.yaml").is_file()
    assert list((run_dir / "figures" / "tiny-llama").glob("logit_lens.kl.png"))
    meta = document["provenance"]["models"]["tiny-llama/trained"]
    assert meta["forward_calls"] == 2 and meta["cached"] is False
    assert {"load_s", "capture_s", "reduce_s", "detect_s", "effects_s", "predict_s"} <= set(meta["timings"])
    assert result.verdict_rows == document["verdicts"]


def test_rerun_reuses_cached_profiles_and_gives_identical_numbers(write_suite, minimal_suite, tmp_path):
    path = write_suite(minimal_suite())
    first = _run(path, tmp_path / "run")
    second = _run(path, tmp_path / "run")
    assert second.results[0].meta["cached"] is True
    assert first.verdict_rows == second.verdict_rows
    assert first.profile_rows == second.profile_rows


def test_seed_override_and_limit(write_suite, minimal_suite, tmp_path):
    path = write_suite(minimal_suite())
    limited = _run(path, tmp_path / "a", limit=3, seed=7)
    assert limited.verdict_rows[0]["n"] == 3 and limited.verdict_rows[0]["seed"] == 7


def test_a_failing_prediction_is_an_error_cell_not_a_crash(write_suite, minimal_suite, tmp_path):
    suite = minimal_suite()
    suite["predictions"][0]["options"]["profile"] = "logit_lens.nothing"
    result = _run(write_suite(suite), tmp_path / "run")
    (row,) = result.verdict_rows
    assert row["status"] == "ERROR" and "logit_lens.nothing" in row["reason"]


def test_an_unloadable_model_is_an_error_row(write_suite, minimal_suite, tmp_path):
    suite = minimal_suite(models=[{"name": "tiny-llama"}, {"name": "/nonexistent/model-folder"}])
    result = _run(write_suite(suite), tmp_path / "run")
    statuses = {row["model"]: row["status"] for row in result.verdict_rows}
    assert statuses["/nonexistent/model-folder"] == "ERROR"
    assert statuses["tiny-llama"] != "ERROR"


def test_cross_model_prediction_rows_per_family(write_suite, minimal_suite, tmp_path):
    suite = minimal_suite(
        models=[{"name": "tiny-llama", "family": "A"}, {"name": "tiny-qwen2", "family": "A"}, {"name": "tiny-gpt2"}],
        detectors=[{"name": "evidence", "id": "det", "options": {"profiles": {"angular_distance.angular_all": 1.0}, "n_boot": 20}}],
    )
    suite["predictions"] = [
        {"id": f"P5-{family}", "name": "boundary_cv", "statistic": "boundary_cv", "threshold": 0.1, "direction": "less",
         "options": {"family": family, "detector": "det", "n_boundaries": 1, "min_models": 2, "n_boot": 20}}
        for family in ("A", "gpt2")
    ]
    result = _run(write_suite(suite), tmp_path / "run")
    rows = {row["prediction"]: row for row in result.verdict_rows}
    assert rows["P5-A"]["model"] == "family:A" and rows["P5-A"]["n"] == 2
    assert rows["P5-A"]["status"] in {"PASS", "FAIL", "INCONCLUSIVE"}
    assert rows["P5-gpt2"]["status"] == "SKIP" and "needs at least 2 models" in rows["P5-gpt2"]["reason"]


def test_interventions_run_and_are_cached(write_suite, minimal_suite, tmp_path):
    from mspgt_bench.result_schema import load_results

    suite = minimal_suite(interventions=[{"name": "layer_deletion"}], output={"figures": True})
    path = write_suite(suite)
    first = _run(path, tmp_path / "run")
    deletion = [r for r in first.effect_rows if r["intervention"] == "layer_deletion" and r["metric"] == "top1_agreement"]
    assert [r["layer"] for r in deletion] == [0, 1, 2, 3]
    assert all(0.0 <= r["value"] <= 1.0 and r["condition"] == "trained" for r in deletion)
    document = load_results(tmp_path / "run")
    assert len(document.effects) == len(first.effect_rows)
    assert list((tmp_path / "run" / "figures" / "tiny-llama" / "interventions").glob("layer_deletion.*.png"))
    second = _run(path, tmp_path / "run")
    assert json.dumps(second.effect_rows) == json.dumps(first.effect_rows)  # NaN-safe equality


def test_p4_and_p6_read_segment_interventions_placed_by_a_detector(write_suite, minimal_suite, tmp_path):
    detector = {"profiles": {"angular_distance.angular_all": 1.0, "logit_lens.kl": 1.0}, "n_boot": 20}
    suite = minimal_suite(
        models=[{"name": "tiny-llama", "args": {"n_layers": 8}}, {"name": "tiny-qwen2", "args": {"n_layers": 8}}],
        detectors=[{"name": "evidence", "id": "fused", "options": detector}],
        interventions=[
            {"name": "layer_deletion", "id": "segments", "options": {"segments_from": "fused", "n_segments": 3}}
        ],
        controls={"shuffled_tokens": True},
    )
    suite["predictions"] = [
        {"id": "P4", "name": "scale_specificity", "statistic": "log_interaction", "threshold": 0.0,
         "direction": "greater", "options": {"intervention": "segments", "n_boot": 50}},
        {"id": "P6", "name": "brittleness_ratio", "statistic": "fold_difference", "threshold": 2.0,
         "direction": "greater", "options": {"intervention": "segments", "families": ["llama", "qwen2"], "n_boot": 50}},
    ]
    result = _run(write_suite(suite), tmp_path / "run")
    trained = next(r for r in result.results if r.model.name == "tiny-llama" and r.condition == "trained")
    segments = trained.context.detections["fused"].segments(3)
    targets = sorted({row["target"] for row in trained.effects if row["intervention"] == "segments"})
    assert targets == sorted(f"delete[{a}:{b}]" for a, b in segments)
    rows = {(row["prediction"], row["model"], row["condition"]): row for row in result.verdict_rows}
    p4 = rows[("P4", "tiny-llama", "trained")]
    matrix = trained.outcomes["P4"].details["matrix"]
    assert len(matrix) == 3 and all(len(row) == 3 for row in matrix)
    # random weights: truncating the context changes little, so some scale may have no token at all
    assert p4["status"] in {"PASS", "FAIL"} or "the effect matrix is incomplete" in p4["reason"] or p4["value"] is not None
    # the control runs its own interventions on its own segments
    control = next(r for r in result.results if r.model.name == "tiny-llama" and r.condition == "shuffled_tokens")
    assert control.effects and {row["condition"] for row in control.effects} == {"shuffled_tokens"}
    assert rows[("P4", "tiny-llama", "shuffled_tokens")]["status"] != "ERROR"
    p6 = rows[("P6", "family:llama/qwen2", "trained")]
    assert p6["status"] in {"PASS", "FAIL", "INCONCLUSIVE"} and p6["value"] >= 1.0


def test_generation_read_outs_on_detected_segments_feed_p4_and_skip_under_controls(write_suite, minimal_suite, tmp_path):
    detector = {"profiles": {"angular_distance.angular_all": 1.0, "logit_lens.kl": 1.0}, "n_boot": 20}
    suite = minimal_suite(
        models=[{"name": "tiny-llama", "args": {"n_layers": 8}}],
        detectors=[{"name": "evidence", "id": "fused", "options": detector}],
        generation=[
            {"id": "gen", "segments_from": "fused", "n_segments": 3, "n_prompts": 3,
             "options": {"max_new_tokens": 6, "coherence_window": 2}}
        ],
        controls={"shuffled_tokens": True},
    )
    suite["predictions"] = [
        {"id": "P4-gen", "name": "scale_specificity", "statistic": "log_interaction", "threshold": 0.0,
         "direction": "greater",
         "options": {"intervention": "gen", "metric_prefix": "abs_delta_",
                     "scales": ["ttr", "punctuation_rate", "coherence"], "n_boot": 50}},
    ]
    result = _run(write_suite(suite), tmp_path / "run")
    trained = next(r for r in result.results if r.condition == "trained")
    segments = trained.context.detections["fused"].segments(3)
    rows = [row for row in trained.effects if row["intervention"] == "gen" and row["metric"] == "ttr"]
    assert [(row["layer"], row["layer_end"] + 1) for row in rows] == list(segments)
    assert all(row["plugin"] == "layer_deletion" and row["n"] <= 3 for row in rows)
    (gen,) = [effects for label, effects in trained.context.effects.items() if label == "gen"]
    assert len(gen) == 3 and all(len(c.values["abs_delta_ttr"]) == 3 for c in gen)
    assert np.all(np.nan_to_num(gen[0].values["abs_delta_ttr"]) >= 0)
    verdicts = {row["condition"]: row for row in result.verdict_rows}
    assert verdicts["trained"]["status"] != "ERROR"
    assert verdicts["shuffled_tokens"]["status"] == "SKIP" and "controls: true" in verdicts["shuffled_tokens"]["reason"]


class _Exploding(LogitLens):
    """The logit lens, broken on purpose: its reduction raises on the first batch."""

    def update(self, captured):
        raise RuntimeError("exploded")


@pytest.fixture
def exploding_signal():
    signals = registry("signals")
    signals.add("exploding", _Exploding, "tests")
    yield
    signals._entries.pop("exploding")


def test_a_failing_signal_errors_only_the_predictions_that_read_it(write_suite, minimal_suite, tmp_path, exploding_signal):
    suite = minimal_suite(signals=[{"name": "logit_lens"}, {"name": "exploding", "id": "boom"}])
    reads_boom = {**suite["predictions"][0], "id": "P7-boom"}
    reads_boom["options"] = {**reads_boom["options"], "profile": "boom.kl"}
    suite["predictions"].append(reads_boom)
    result = _run(write_suite(suite), tmp_path / "run")
    statuses = {row["prediction"]: row for row in result.verdict_rows}
    assert statuses["P7"]["status"] in {"PASS", "FAIL", "INCONCLUSIVE"}
    assert statuses["P7-boom"]["status"] == "ERROR"
    assert "signal 'boom' failed on this model: RuntimeError: exploded" in statuses["P7-boom"]["reason"]
    assert result.results[0].meta["signal_errors"] == {"boom": "RuntimeError: exploded"}
    load_results(tmp_path / "run")  # the schema knows signal_errors


def test_a_model_with_nan_weights_is_an_explicit_error(write_suite, minimal_suite, tmp_path):
    model = AutoModelForCausalLM.from_config(tiny_config("llama"))
    with torch.no_grad():
        model.model.layers[1].mlp.down_proj.weight[0, 0] = float("nan")
    folder = tmp_path / "nan-llama"
    model.save_pretrained(folder)
    byte_tokenizer().save_pretrained(folder)
    result = _run(write_suite(minimal_suite(models=[{"name": str(folder)}])), tmp_path / "run")
    (row,) = result.verdict_rows
    assert row["status"] == "ERROR" and "NaN or inf" in row["reason"], row["reason"]

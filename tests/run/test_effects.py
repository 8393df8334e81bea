"""The effects stage: the run's seed reaches interventions that take one, unless the suite sets it."""

from __future__ import annotations

import pandas as pd

from mspgt_bench.run import RunOptions, run_suite
from mspgt_bench.run.effects import with_run_seed
from mspgt_bench.suite.loader import load_suite


def _effects(write_suite, minimal_suite, out, run_seed: int, **noise_options) -> pd.DataFrame:
    suite = minimal_suite(
        signals=[{"name": "logit_lens"}],
        predictions=[],
        interventions=[
            {"name": "layer_deletion", "options": {"layers": [1]}},
            {"name": "residual_noise", "options": {"layers": [1], "sigmas": [1.0], **noise_options}},
        ],
    )
    result = run_suite(load_suite(write_suite(suite)), RunOptions(out=out, seed=run_seed))
    rows = pd.DataFrame(result.effect_rows)
    return rows[rows["metric"] == "kl"].set_index("intervention")["value"]


def test_the_run_seed_reaches_an_unseeded_intervention(write_suite, minimal_suite, tmp_path):
    first = _effects(write_suite, minimal_suite, tmp_path / "a", run_seed=0)
    second = _effects(write_suite, minimal_suite, tmp_path / "b", run_seed=7)
    assert first["layer_deletion"] == second["layer_deletion"]  # same model, no randomness
    assert first["residual_noise"] != second["residual_noise"]  # other noise draws


def test_a_seed_in_the_suite_wins_over_the_run_seed(write_suite, minimal_suite, tmp_path):
    pinned = [_effects(write_suite, minimal_suite, tmp_path / f"s{s}", run_seed=s, seed=3) for s in (0, 7)]
    assert pinned[0]["residual_noise"] == pinned[1]["residual_noise"]


def test_with_run_seed_only_fills_a_seed_the_schema_takes():
    from mspgt_bench.interventions.library import INTERVENTIONS

    noise, deletion = INTERVENTIONS["residual_noise"].Options, INTERVENTIONS["layer_deletion"].Options
    assert with_run_seed({}, noise, 5) == {"seed": 5}
    assert with_run_seed({"seed": 1}, noise, 5) == {"seed": 1}
    assert with_run_seed({}, deletion, 5) == {}

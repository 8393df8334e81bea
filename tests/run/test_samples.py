"""samples.jsonl holds the values behind every interval: recomputing from it gives the reported numbers."""

from __future__ import annotations

import numpy as np
import pandas as pd

from mspgt_bench.result_schema import EffectSample, SignalSample, read_sample
from mspgt_bench.run import RunOptions, run_suite
from mspgt_bench.suite.loader import load_suite


def test_profile_and_effect_values_are_the_means_of_the_samples(write_suite, minimal_suite, tmp_path):
    suite = minimal_suite(
        controls={"shuffled_tokens": True},
        interventions=[{"name": "layer_deletion", "options": {"layers": [0, 2]}}],
    )
    result = run_suite(load_suite(write_suite(suite)), RunOptions(out=tmp_path / "run"))
    samples = [read_sample(line) for line in (tmp_path / "run" / "samples.jsonl").read_text().splitlines()]
    signals = [s for s in samples if isinstance(s, SignalSample)]
    effects = [s for s in samples if isinstance(s, EffectSample)]

    kl = [s for s in signals if (s.condition, s.signal, s.metric) == ("trained", "logit_lens", "kl")]
    assert len(kl) == 6 and len({s.stimulus for s in kl}) == 6  # one line per stimulus
    profiles = pd.DataFrame(result.profile_rows)
    reported = profiles[(profiles.condition == "trained") & (profiles.signal == "logit_lens") & (profiles.metric == "kl")]
    np.testing.assert_allclose(np.mean([s.values for s in kl], axis=0), reported["value"].to_numpy(), rtol=1e-12)
    assert {s.condition for s in signals} == {"trained", "shuffled_tokens"}

    deletion = [s for s in effects if s.condition == "trained" and s.intervention == "layer_deletion"]
    assert len(deletion) == 6
    rows = pd.DataFrame(result.effect_rows)
    for target in ("delete[l=0]", "delete[l=2]"):
        row = rows[(rows.condition == "trained") & (rows.target == target) & (rows.metric == "kl")].iloc[0]
        mean = np.mean([s.targets[target]["kl"] for s in deletion])
        assert np.isclose(mean, row["value"], rtol=1e-9), (target, mean, row["value"])

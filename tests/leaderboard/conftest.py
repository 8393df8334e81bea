"""Real runs of a small suite on tiny models, shared by the leaderboard, diff and site tests.

Run ``a`` has tiny-llama and tiny-gpt2, run ``b`` tiny-qwen3, both of the same suite (with a
change-point detector, so there are boundary rows, and both null controls).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from mspgt_bench.cli import main
from mspgt_bench.run import RunOptions, run_suite
from mspgt_bench.suite.loader import load_suite

SUITE: dict[str, Any] = {
    "suite": {"name": "lb-test", "version": "1", "description": "leaderboard tests"},
    "models": [{"name": "tiny-llama"}],
    "stimuli": {"source": "stdlib_prose", "n": 6, "seed": 0, "max_tokens": 32},
    "signals": [
        {"name": "logit_lens", "options": {"max_positions": 8}},
        {"name": "angular_distance", "options": {"n": 1}},
    ],
    "detectors": [
        {
            "name": "evidence",
            "id": "cp",
            "options": {
                "profiles": {"logit_lens.kl": 1.0, "angular_distance.angular_all": 1.0},
                # the pages need boundaries to show; a random 4-layer model has none above the
                # default threshold, so the site tests lower it until its wiggles count
                "min_evidence": 0.001,
                "n_null": 20,
                "min_size": 1,
                "k_max": 3,
                "n_boot": 20,
            },
        }
    ],
    "predictions": [
        {
            "id": "P7-sharpening",
            "name": "profile_contrast",
            "statistic": "mean_difference",
            "threshold": 0.0,
            "direction": "less",
            "options": {
                "profile": "logit_lens.kl",
                "window_a": {"start": 0.67, "end": 1.0},
                "window_b": {"start": 0.34, "end": 0.66},
            },
        },
        {
            "id": "early-change",
            "name": "profile_contrast",
            "statistic": "mean_difference",
            "threshold": 0.0,
            "direction": "greater",
            "options": {
                "profile": "angular_distance.angular_all",
                "window_a": {"start": 0.0, "end": 0.33},
                "window_b": {"start": 0.34, "end": 0.66},
            },
        },
        {
            "id": "P1-three-segments",
            "name": "segment_count",
            "statistic": "criterion_margin",
            "threshold": 0.0,
            "direction": "greater",
            "options": {"detector": "cp", "n_boundaries": 2, "n_boot": 20},
        },
    ],
    "controls": {"random_weights": True, "shuffled_tokens": True},
    "bootstrap": {"n_boot": 100},
    "run": {"batch_size": 6},
    "output": {"formats": ["json", "csv"], "figures": True},
}


@pytest.fixture(scope="session")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Run directories ``a`` (tiny-llama, tiny-gpt2) and ``b`` (tiny-qwen3) of the same suite."""
    root = tmp_path_factory.mktemp("runs")
    suite_file = root / "lb-test.yaml"
    suite_file.write_text(yaml.safe_dump(SUITE, sort_keys=False))
    loaded = load_suite(suite_file)
    models = {"a": ["tiny-llama", "tiny-gpt2"], "b": ["tiny-qwen3"]}
    for name, names in models.items():
        run_suite(loaded, RunOptions(out=root / name, models=names))
    return {name: root / name for name in models}


@pytest.fixture
def edited_copy(tmp_path: Path) -> Callable[..., Path]:
    """Copy a run directory and apply ``edit(document)`` to its results.json."""

    def copy(run: Path, name: str, edit: Callable[[dict[str, Any]], None]) -> Path:
        target = tmp_path / name
        shutil.copytree(run, target, ignore=shutil.ignore_patterns("cache"))
        document = json.loads((target / "results.json").read_text())
        edit(document)
        (target / "results.json").write_text(json.dumps(document))
        return target

    return copy


@pytest.fixture(scope="session")
def site(runs: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site ``mspgt-bench publish a b --out ...`` writes."""
    out = tmp_path_factory.mktemp("site") / "site"
    assert main(["publish", str(runs["a"]), str(runs["b"]), "--out", str(out)]) == 0
    return out

"""Shared fixtures: tiny random-weight models of every supported family, and suite files."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from mspgt_bench.models.hf import HFAdapter


@pytest.fixture(autouse=True)
def _results_files_read_back(request: pytest.FixtureRequest):
    """After each test, every ``results.json`` left in its temporary folder must load through the schema.

    A test that writes a malformed one on purpose is marked ``writes_bad_results``.
    """
    checked = "tmp_path" in request.fixturenames and not request.node.get_closest_marker("writes_bad_results")
    folder = request.getfixturevalue("tmp_path") if checked else None  # set up now, so torn down after this check
    yield
    if folder is not None:
        from mspgt_bench.result_schema import load_results

        for path in folder.rglob("results.json"):
            load_results(path)


@pytest.fixture(scope="session")
def tiny_adapter() -> Callable[[str], HFAdapter]:
    """A cached loader of ``tiny-<family>`` adapters (loading is the slow part of small tests)."""
    cache: dict[str, HFAdapter] = {}

    def load(family: str) -> HFAdapter:
        if family not in cache:
            cache[family] = HFAdapter(f"tiny-{family}")
        return cache[family]

    return load


@pytest.fixture
def write_suite(tmp_path: Path) -> Callable[..., Path]:
    """Write a suite mapping (or raw text) to a YAML file in a temporary folder."""

    def write(content: dict | str, name: str = "suite.yaml") -> Path:
        path = tmp_path / name
        path.write_text(content if isinstance(content, str) else yaml.safe_dump(content, sort_keys=False))
        return path

    return write


@pytest.fixture
def minimal_suite() -> Callable[..., dict]:
    """A small valid suite on tiny-llama; sections can be replaced by keyword."""
    return _minimal_suite


def _minimal_suite(**overrides: object) -> dict:
    suite = {
        "suite": {"name": "t", "version": "1"},
        "models": [{"name": "tiny-llama"}],
        "stimuli": {"source": "stdlib_prose", "n": 6, "seed": 0, "max_tokens": 48},
        "signals": [{"name": "logit_lens"}, {"name": "angular_distance"}],
        "predictions": [
            {
                "id": "P7",
                "name": "profile_contrast",
                "statistic": "mean_difference",
                "threshold": 0.0,
                "direction": "less",
                "options": {
                    "profile": "logit_lens.kl",
                    "window_a": {"start": 0.67, "end": 1.0},
                    "window_b": {"start": 0.0, "end": 0.5},
                },
            }
        ],
        "bootstrap": {"n_boot": 200},
        "run": {"batch_size": 4},
        "output": {"figures": False},
    }
    suite.update(overrides)
    return suite

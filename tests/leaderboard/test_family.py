"""The family comparison: boundary depth per model, grouped by family, on the index of the published site."""

from __future__ import annotations

import re

import pytest

from mspgt_bench.leaderboard.family_figure import (
    ModelDepths,
    _positions,
    detectors,
    family_models,
    family_png,
)
from mspgt_bench.leaderboard.runs import Run, load_runs
from mspgt_bench.result_schema import load_results

PNG = b"\x89PNG\r\n\x1a\n"


def test_models_are_grouped_by_family_with_the_boundaries_the_detector_found(runs):
    loaded, _ = load_runs([runs["a"], runs["b"]])
    models = family_models(loaded)
    assert [(m.family, m.model, m.run, m.n_layers) for m in models] == [
        ("gpt2", "tiny-gpt2", "a", 4),
        ("llama", "tiny-llama", "a", 4),
        ("qwen3", "tiny-qwen3", "b", 4),
    ]
    for m in models:
        rows = [b for b in load_results(runs[m.run]).boundaries if b.model == m.model and b.condition == "trained"]
        assert [(d.index, d.depth) for d in m.found.get("cp", [])] == [(b.boundary, b.depth) for b in rows]
        for d, b in zip(m.found.get("cp", []), rows):
            assert d.depth == pytest.approx(b.layer / 4)
            if b.ci_low is not None:
                assert (d.low, d.high) == pytest.approx((b.ci_low / 4, b.ci_high / 4))
    assert detectors(models) == ["cp"]
    assert family_png(models, with_run=True).startswith(PNG)


def test_families_are_separated_by_a_gap_on_the_y_axis():
    models = [ModelDepths("r", name, family, 4) for name, family in [("a", "f"), ("b", "f"), ("c", "g")]]
    ys, bands = _positions(models, gap=0.5)
    assert ys == [0.0, 1.0, 2.5]
    assert bands == [("f", 0.0, 1.0), ("g", 2.5, 2.5)]


def test_the_split_a_p5_verdict_compared_is_drawn_for_its_detector(runs, edited_copy):
    def add_p5(document: dict) -> None:
        template = next(v for v in document["verdicts"] if v["condition"] == "trained")
        document["verdicts"].append(
            template
            | {
                "model": "family:llama",
                "prediction": "P5-llama",
                "prediction_plugin": "boundary_cv",
                "statistic": "boundary_cv",
                "details": {"detector": "cp", "depths": {"tiny-llama": [0.25, 0.75]}, "n_sizes": 2},
            }
        )

    (run,), _ = load_runs([edited_copy(runs["a"], "with-p5", add_p5)])
    llama = next(m for m in family_models([run]) if m.model == "tiny-llama")
    assert llama.compared == {"cp": [0.25, 0.75]}
    assert family_png(family_models([run])).startswith(PNG)


def test_no_boundaries_and_no_detector_draw_nothing(runs):
    (run,), _ = load_runs([runs["b"]])
    bare = Run(run.label, run.path, run.document.model_copy(update={"boundaries": []}))
    models = family_models([bare])
    assert [m.model for m in models] == ["tiny-qwen3"] and models[0].found == {}
    assert family_png(models) is None


def test_the_index_shows_the_family_figure_and_its_numbers(site):
    index = (site / "index.html").read_text()
    figure = re.search(r'<figure id="family-figure"><img src="([^"]+)"[^>]*>', index)
    assert figure and (site / figure.group(1)).read_bytes().startswith(PNG)
    assert "3 trained models in 3 families: gpt2 (1), llama (1), qwen3 (1)" in index
    table = re.search(r'<table id="family-boundaries".*?</table>', index, re.DOTALL).group(0)
    assert len(re.findall(r"<tr><td>", table)) == 3
    assert index.index('id="families"') < index.index('id="family-figure"') < index.index('id="runs"')

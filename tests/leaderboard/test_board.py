"""The leaderboard matrix: rows per model, families, pass rates, family-level verdicts, run loading."""

from __future__ import annotations

from pathlib import Path

import pytest

from mspgt_bench.leaderboard import fmt
from mspgt_bench.leaderboard.board import Tally, build_leaderboard, tally
from mspgt_bench.leaderboard.runs import MixedSuitesError, check_same_suite, load_runs, slug
from mspgt_bench.leaderboard.text import to_markdown
from mspgt_bench.result_schema import load_results
from mspgt_bench.run import ResolvedModel


def test_rows_are_trained_models_grouped_by_family(runs):
    loaded, problems = load_runs([runs["a"], runs["b"]])
    board = build_leaderboard(loaded, problems)
    assert not problems and [r.label for r in loaded] == ["a", "b"]
    assert [g.family for g in board.families] == ["gpt2", "llama", "qwen3"]
    assert {(row.run, row.model) for row in board.rows} == {
        ("a", "tiny-llama"),
        ("a", "tiny-gpt2"),
        ("b", "tiny-qwen3"),
    }
    assert board.predictions == ["P7-sharpening", "early-change", "P1-three-segments"]
    assert board.title() == f"lb-test v1 (sha256 {loaded[0].document.provenance.suite_sha256[:12]})"
    for row in board.rows:
        trained = [v for v in load_results(runs[row.run]).verdicts if v.model == row.model and v.condition == "trained"]
        passed = [v for v in trained if v.status == "PASS"]
        counted = [v for v in trained if v.status != "SKIP"]
        assert row.tally == Tally(len(passed), sum(not v.non_discriminative for v in passed), len(counted))
        assert all(cell.condition == "trained" for cell in row.cells.values())


def test_pass_rates_ignore_skip_and_count_errors_as_not_passed(runs):
    cells = [v for v in load_results(runs["a"]).verdicts if v.condition == "trained"][:3]
    statuses = [("PASS", True), ("SKIP", False), ("ERROR", False)]
    edited = [c.model_copy(update={"status": s, "non_discriminative": nd}) for c, (s, nd) in zip(cells, statuses)]
    result = tally(edited)
    assert result == Tally(passed=1, discriminative=0, counted=2)
    assert result.pass_rate == 0.5 and result.discriminative_rate == 0.0
    assert Tally().pass_rate is None


def _board_with_family_row(run_dir: Path, **fields):
    """The leaderboard of ``run_dir`` with one more trained verdict (its first, with ``fields`` changed), and that verdict."""
    (run,), _ = load_runs([run_dir])
    template = next(v for v in run.document.verdicts if v.condition == "trained")
    row = template.model_copy(update=fields)
    document = run.document.model_copy(update={"verdicts": [*run.document.verdicts, row]})
    return build_leaderboard([type(run)(run.label, run.path, document)]), row


def test_family_level_rows_belong_to_the_family(runs):
    board, family_row = _board_with_family_row(runs["a"], model="family:llama", prediction="P5-cv", status="SKIP")
    assert "family:llama" not in {row.model for row in board.rows}
    assert board.family_predictions == ["P5-cv"] and "P5-cv" not in board.predictions
    llama = next(g for g in board.families if g.family == "llama")
    assert llama.cells["P5-cv"] == [("a", family_row)]


def test_a_comparison_of_two_families_has_no_model_count_of_its_own(runs):
    board, _ = _board_with_family_row(runs["a"], model="family:llama/gpt2", family="llama/gpt2", prediction="P6")
    counts = {g.family: fmt.model_count(g) for g in board.families}
    assert counts == {"gpt2": "1", "llama": "1", "llama/gpt2": "—"}
    assert "| llama/gpt2 | — |" in to_markdown(board)


@pytest.mark.writes_bad_results
def test_unreadable_runs_are_problems_and_labels_stay_unique(runs, tmp_path):
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "results.json").write_text("{")
    loaded, problems = load_runs([runs["a"], tmp_path / "missing", broken, runs["a"]])
    assert [r.label for r in loaded] == ["a", "a-2"]
    assert [(p.path, p.message.split(" (")[0]) for p in problems] == [
        (tmp_path / "missing", "does not exist; give a run directory of `mspgt-bench run` or its results.json"),
        (broken / "results.json", "not valid JSON"),
    ]


def test_runs_of_different_suites_are_refused_unless_allowed(runs, edited_copy):
    other = edited_copy(runs["b"], "other", lambda d: d["suite"].update(version="2"))
    loaded, _ = load_runs([runs["a"], other])
    with pytest.raises(MixedSuitesError, match="--allow-mixed") as info:
        check_same_suite(loaded, allow_mixed=False)
    assert "lb-test v1" in str(info.value) and "lb-test v2" in str(info.value) and str(other) in str(info.value)
    assert check_same_suite(loaded, allow_mixed=True) is True
    assert build_leaderboard(loaded, mixed=True).title() == "mixed suites"
    same, _ = load_runs([runs["a"], runs["b"]])
    assert check_same_suite(same, allow_mixed=False) is False


@pytest.mark.parametrize("name", ["tiny-llama", "Qwen/Qwen2.5-0.5B", "./models/my model:v1"])
def test_figure_folders_follow_the_runner_naming(name):
    assert slug(name) == ResolvedModel(name, "hf", None, None, {}).slug()


def test_a_results_file_path_also_works(runs):
    (run,), problems = load_runs([runs["a"] / "results.json"])
    assert not problems and run.path == runs["a"] and isinstance(run.path, Path)

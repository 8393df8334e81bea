"""Runs with several stimulus sets on the leaderboard, the site and the diff: one row per set, the ‡ flag."""

from __future__ import annotations

import csv
import io
import json
import shutil

import pytest
import yaml

from mspgt_bench.leaderboard.board import build_leaderboard
from mspgt_bench.leaderboard.board_html import leaderboard_page
from mspgt_bench.leaderboard.diff import diff_runs
from mspgt_bench.leaderboard.runs import load_runs
from mspgt_bench.leaderboard.site import publish
from mspgt_bench.leaderboard.text import to_csv, to_json, to_markdown
from mspgt_bench.run import RunOptions, run_suite
from mspgt_bench.suite.loader import load_suite

from .conftest import SUITE


@pytest.fixture(scope="module")
def flagged_run(tmp_path_factory):
    """A two-set run of the leaderboard suite on tiny-llama, edited so P7 disagrees between the sets."""
    root = tmp_path_factory.mktemp("sets")
    suite = {**SUITE, "stimuli": [
        {"id": "prose", "source": "stdlib_prose", "n": 6, "max_tokens": 32},
        {"id": "comments", "source": "stdlib_comments", "n": 6, "max_tokens": 32},
    ]}  # fmt: skip
    (root / "s.yaml").write_text(yaml.safe_dump(suite, sort_keys=False))
    run_suite(load_suite(root / "s.yaml"), RunOptions(out=root / "plain", models=["tiny-llama"]))
    shutil.copytree(root / "plain", root / "flagged", ignore=shutil.ignore_patterns("cache"))
    document = json.loads((root / "flagged" / "results.json").read_text())
    statuses = {"prose": "PASS", "comments": "FAIL"}
    for row in document["verdicts"]:
        if row["prediction"] == "P7-sharpening" and row["condition"] == "trained":
            row["status"], row["non_discriminative"] = statuses[row["stimulus_set"]], False
            row["model"] = "<i>tiny</i>"
            row["corpus_statuses"], row["corpus_sensitive"] = statuses, True
    (root / "flagged" / "results.json").write_text(json.dumps(document))
    return root


def test_one_row_per_model_and_set_with_the_flag_in_every_format(flagged_run) -> None:
    runs, problems = load_runs([flagged_run / "flagged"])
    board = build_leaderboard(runs, problems)
    assert board.stimulus_sets and board.corpus_sensitive
    assert {(row.model, row.stimulus_set) for row in board.rows} >= {
        ("tiny-llama", "prose"),
        ("tiny-llama", "comments"),
    }
    markdown = to_markdown(board)
    assert "| stimuli |" in markdown and "‡ = corpus-sensitive" in markdown
    assert "PASS ‡" in markdown and "FAIL ‡" in markdown
    table = list(csv.DictReader(io.StringIO(to_csv(board))))
    flagged = [r for r in table if r["corpus_sensitive"] == "True"]
    assert {r["stimulus_set"] for r in flagged} == {"prose", "comments"}
    assert json.loads(flagged[0]["corpus_statuses"]) == {"prose": "PASS", "comments": "FAIL"}
    data = json.loads(to_json(board))
    models = [m for family in data["families"] for m in family["models"]]
    assert {m.get("stimulus_set") for m in models} == {"prose", "comments"}
    page = leaderboard_page(board, values=True)
    assert 'class="badge PASS cs"' in page and "corpus-sensitive: prose PASS, comments FAIL" in page
    assert "<i>tiny</i>" not in page and "&lt;i&gt;tiny&lt;/i&gt;" in page  # escaped


def test_site_model_page_and_diff_keep_the_sets_apart(flagged_run, tmp_path) -> None:
    runs, _ = load_runs([flagged_run / "plain", flagged_run / "flagged"])
    index = publish(runs, [], tmp_path / "site")
    page = (index.parent / "runs" / runs[0].label / "model-tiny-llama.html").read_text()
    assert "<th" in page and "stimuli" in page and "trained/prose" in page
    changes = diff_runs(runs[0], runs[1])
    assert {c.prediction for c in changes.verdicts} <= {"P7-sharpening [prose]", "P7-sharpening [comments]"}


def test_old_single_set_cells_dump_as_before(runs) -> None:
    loaded, _ = load_runs([runs["a"]])
    data = json.loads(to_json(build_leaderboard(loaded)))
    cell = next(iter(data["families"][0]["models"][0]["cells"].values()))
    assert not {"stimulus_set", "corpus_statuses", "corpus_sensitive"} & set(cell)
    assert "stimulus_set" not in to_csv(build_leaderboard(loaded)).splitlines()[0]

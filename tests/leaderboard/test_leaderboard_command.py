"""``mspgt-bench leaderboard``: Markdown, values, CSV, JSON, HTML, refused mixes, unreadable runs."""

from __future__ import annotations

import csv
import json

import pytest

from mspgt_bench.cli import main
from mspgt_bench.result_schema import load_results


def _trained(run):
    return [v for v in load_results(run).verdicts if v.condition == "trained"]


def test_markdown_matrix_with_provenance(runs, capsys):
    assert main(["leaderboard", str(runs["a"]), str(runs["b"])]) == 0
    out = capsys.readouterr().out
    sha = load_results(runs["a"]).provenance.suite_sha256
    assert out.startswith(f"# Leaderboard: lb-test v1 (sha256 {sha[:12]})\n")
    header = next(line for line in out.splitlines() if line.startswith("| family | model |"))
    assert header == (
        "| family | model | run | P7-sharpening | early-change | P1-three-segments | pass rate | discriminative |"
    )
    rows = [line for line in out.splitlines() if line.startswith("| ") and "tiny-" in line.split("|")[2]]
    assert [line.split(" | ")[1] for line in rows] == ["tiny-gpt2", "tiny-llama", "tiny-qwen3"]
    llama = next(line for line in rows if "tiny-llama" in line)
    for verdict in (v for v in _trained(runs["a"]) if v.model == "tiny-llama"):
        assert verdict.status + (" †" if verdict.non_discriminative else "") in llama
    assert "## Families" in out and "## Runs" in out and "| a | " in out and "| b | " in out
    provenance = load_results(runs["a"]).provenance
    assert f"| {provenance.seed} | {provenance.versions.mspgt_bench} | {provenance.versions.torch} |" in out


def test_values_show_each_interval(runs, capsys):
    assert main(["leaderboard", str(runs["a"]), "--values"]) == 0
    out = capsys.readouterr().out
    verdict = next(v for v in _trained(runs["a"]) if v.value is not None)
    assert f"{verdict.value:.4g} [{verdict.ci_low:.4g}, {verdict.ci_high:.4g}]" in out
    assert "| run |" not in out.split("## Families")[0]


def test_csv_and_json_written_with_out(runs, tmp_path, capsys):
    target = tmp_path / "board.csv"
    assert main(["leaderboard", str(runs["a"]), str(runs["b"]), "--format", "csv", "--out", str(target)]) == 0
    assert f"wrote {target}" in capsys.readouterr().out
    rows = list(csv.DictReader(target.open()))
    expected = _trained(runs["a"]) + _trained(runs["b"])
    assert len(rows) == len(expected) == 9
    first = next(r for r in rows if r["model"] == expected[0].model and r["prediction"] == expected[0].prediction)
    assert float(first["value"]) == expected[0].value and first["status"] == expected[0].status
    assert json.loads(first["controls"]) == expected[0].controls

    target = tmp_path / "board.json"
    assert main(["leaderboard", str(runs["a"]), str(runs["b"]), "--format", "json", "--out", str(target)]) == 0
    data = json.loads(target.read_text())
    assert [f["family"] for f in data["families"]] == ["gpt2", "llama", "qwen3"]
    llama = data["families"][1]["models"][0]
    assert llama["model"] == "tiny-llama" and set(llama["cells"]) == set(data["predictions"])
    assert data["runs"][0]["provenance"]["versions"]["mspgt_bench"] and data["problems"] == []


def test_html_is_one_self_contained_page(runs, capsys):
    assert main(["leaderboard", str(runs["a"]), "--format", "html"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("<!DOCTYPE html>") and '<table id="leaderboard" class="sortable">' in out
    assert "<style>" in out and "<script>" in out and "http" not in out.replace("http-equiv", "")


def test_mixed_suites_are_refused_unless_allowed(runs, edited_copy, capsys):
    other = edited_copy(runs["b"], "other", lambda d: d["suite"].update(version="2"))
    assert main(["leaderboard", str(runs["a"]), str(other)]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "different suites" in captured.err and "--allow-mixed" in captured.err
    assert main(["leaderboard", str(runs["a"]), str(other), "--allow-mixed"]) == 0
    assert capsys.readouterr().out.startswith("# Leaderboard: mixed suites")


@pytest.mark.writes_bad_results
def test_unreadable_runs_are_reported_and_the_others_shown(runs, tmp_path, edited_copy, capsys):
    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    (corrupt / "results.json").write_text('{"schema_version": "1.0", "suite": ')
    future = edited_copy(runs["b"], "future", lambda d: d.update(schema_version="2.0"))
    argv = ["leaderboard", str(runs["a"]), str(corrupt), str(tmp_path / "missing"), str(future)]
    assert main(argv) == 1
    captured = capsys.readouterr()
    assert "tiny-llama" in captured.out and "tiny-qwen3" not in captured.out
    section = captured.out.split("## Unreadable runs")[1]
    assert f"`{corrupt / 'results.json'}`: not valid JSON" in section
    assert f"`{tmp_path / 'missing'}`: does not exist" in section
    assert f"`{future / 'results.json'}`: schema_version '2.0' is not supported" in section
    assert f"error: {corrupt / 'results.json'}: not valid JSON" in captured.err
    assert main(["leaderboard", str(corrupt)]) == 2
    assert "none of the given runs could be read" in capsys.readouterr().err

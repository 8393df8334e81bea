"""Several stimulus sets per suite: schema, per-set runs, the corpus-sensitive flag and how it is shown."""

from __future__ import annotations

import json
import re

import pytest
import yaml
from rich.console import Console

from mspgt_bench.cli import main
from mspgt_bench.corpora import corpus_agreement, flag_corpus_sensitivity
from mspgt_bench.report import verdict_table
from mspgt_bench.result_schema import load_results
from mspgt_bench.run import Progress, RunOptions, run_suite
from mspgt_bench.run.cache import profiles_stem
from mspgt_bench.run.plan import plan_run
from mspgt_bench.suite.loader import SuiteError, load_suite

from .conftest import _minimal_suite

SETS = [
    {"id": "prose", "source": "stdlib_prose", "n": 6, "seed": 0, "max_tokens": 48},
    {"id": "narrative", "source": "kjv_narrative", "n": 6, "seed": 0, "max_tokens": 48},
]


@pytest.fixture(scope="module")
def two_set_run(tmp_path_factory):
    """A tiny-llama run of the minimal suite on two stimulus sets (6 stimuli each, n_boot 200, no figures)."""
    root = tmp_path_factory.mktemp("corpora")
    path = root / "suite.yaml"
    path.write_text(yaml.safe_dump(_minimal_suite(stimuli=SETS), sort_keys=False))
    return path, run_suite(load_suite(path), RunOptions(out=root / "run"))


@pytest.mark.parametrize(
    ("statuses", "agree"),
    [
        ({"a": "PASS", "b": "PASS"}, True),
        ({"a": "PASS", "b": "FAIL"}, False),
        ({"a": "INCONCLUSIVE", "b": "PASS", "c": "PASS"}, False),
        ({"a": "FAIL", "b": "ERROR", "c": "FAIL"}, True),  # ERROR and SKIP decide nothing
        ({"a": "PASS", "b": "SKIP"}, None),
        ({"a": "PASS"}, None),
    ],
)
def test_agreement_of_hand_made_statuses(statuses, agree) -> None:
    assert corpus_agreement(statuses) is agree


def test_flag_marks_every_row_of_a_disagreeing_group_and_leaves_single_set_rows_alone() -> None:
    def row(model, prediction, stimulus_set, status):
        return {"model": model, "condition": "trained", "prediction": prediction, "stimulus_set": stimulus_set,
                "status": status}  # fmt: skip

    rows = [
        row("m", "P1", "prose", "PASS"),
        row("m", "P1", "fiction", "PASS"),
        row("m", "P7", "prose", "PASS"),
        row("m", "P7", "fiction", "FAIL"),
        row("m", "P2", "prose", "PASS"),
        row("m", "P2", "fiction", "SKIP"),
        {"model": "m", "condition": "trained", "prediction": "P9", "status": "PASS"},
    ]
    flag_corpus_sensitivity(rows)
    assert [r["corpus_sensitive"] for r in rows[:6]] == [False, False, True, True, None, None]
    assert rows[2]["corpus_statuses"] == {"prose": "PASS", "fiction": "FAIL"}
    assert "corpus_sensitive" not in rows[6] and "corpus_statuses" not in rows[6]


def test_stimuli_list_needs_unique_slug_ids(write_suite) -> None:
    problems = {
        "duplicate": [{"id": "a"}, {"id": "a"}],
        "missing": [{"id": "a"}, {"source": "stdlib_prose"}],
        "slug": [{"id": "my set"}],
        "empty": [],
    }
    messages = {}
    for name, stimuli in problems.items():
        with pytest.raises(SuiteError) as info:
            load_suite(write_suite(_minimal_suite(stimuli=stimuli), name=f"{name}.yaml"))
        (problem,) = info.value.problems
        messages[name] = str(problem)
    assert "duplicate.yaml: stimuli: " in messages["duplicate"] and "duplicate stimulus set id" in messages["duplicate"]
    assert "give each set its own `id:`" in messages["duplicate"]
    assert "missing.yaml: stimuli[1].id: required key is missing; add it" in messages["missing"]
    assert "stimuli[0].id: 'my set' is not a short slug" in messages["slug"]
    assert "stimuli: " in messages["empty"] and "empty" in messages["empty"]


def test_list_entries_are_checked_like_the_mapping(write_suite) -> None:
    stimuli = [{"id": "a", "source": "kjv_narativ"}, {"id": "b", "nn": 3, "options": {"max_sentence": 2}}]
    with pytest.raises(SuiteError) as info:
        load_suite(write_suite(_minimal_suite(stimuli=stimuli)))
    text = "\n".join(map(str, info.value.problems))
    assert "stimuli[0].source: unknown stimulus source 'kjv_narativ'. Did you mean 'kjv_narrative'?" in text
    assert "stimuli[1].nn: unknown key. Did you mean 'n'? Valid keys here: source, n, seed, max_tokens, options, id" in text
    assert "stimuli[1].options.max_sentence: unknown option. Did you mean 'max_sentences'?" in text


def test_a_single_mapping_is_one_unnamed_set_whose_cache_files_name_no_set(write_suite, tmp_path) -> None:
    loaded = load_suite(write_suite(_minimal_suite()))
    (only,) = loaded.suite.stimulus_sets()
    assert only.set_id is None and only is loaded.suite.stimuli
    assert "id" not in only.model_dump()  # the cache key of single-set suites does not change
    ctx = plan_run(loaded, RunOptions(out=tmp_path / "run"), Progress())
    trained = ctx.cells(ctx.models[0])[0]
    stem = profiles_stem(ctx, trained).name
    assert re.fullmatch(r"tiny-llama-trained-[0-9a-f]{20}", stem), stem
    reseeded = plan_run(loaded, RunOptions(out=tmp_path / "run", seed=1), Progress())
    assert profiles_stem(reseeded, reseeded.cells(reseeded.models[0])[0]).name != stem  # the seed is in the key


def test_each_set_is_run_and_every_row_names_its_set(two_set_run) -> None:
    _, result = two_set_run
    rows = result.verdict_rows
    assert [(r["stimulus_set"], r["prediction"]) for r in rows] == [("prose", "P7"), ("narrative", "P7")]
    for row in rows:
        assert row["status"] in {"PASS", "FAIL", "INCONCLUSIVE"} and row["n"] == 6
        statuses = {r["stimulus_set"]: r["status"] for r in rows}
        assert row["corpus_statuses"] == statuses
        assert row["corpus_sensitive"] == (len(set(statuses.values())) > 1)
    assert rows[0]["value"] != rows[1]["value"]  # different text, different statistic
    assert {r.stimulus_set for r in result.results} == {"prose", "narrative"}
    assert {r["stimulus_set"] for r in result.profile_rows} == {"prose", "narrative"}
    document = load_results(result.run_dir)  # the schema accepts the new fields
    assert set(document.provenance.models) == {"tiny-llama/trained/prose", "tiny-llama/trained/narrative"}
    assert document.verdicts[0].stimulus_set == "prose"


def test_a_rerun_reuses_each_sets_cache(two_set_run) -> None:
    path, first = two_set_run
    second = run_suite(load_suite(path), RunOptions(out=first.run_dir))
    assert all(r.meta["cached"] for r in second.results)
    assert second.verdict_rows == first.verdict_rows
    assert len(list((first.run_dir / "cache").glob("tiny-llama-trained-*.npz"))) == 2  # one profile entry per stimulus set


def test_the_cli_prints_the_set_of_each_row_and_the_corpus_flag(write_suite, tmp_path, capsys) -> None:
    suite = write_suite(_minimal_suite(stimuli=SETS))
    assert main(["run", str(suite), "--out", str(tmp_path / "r"), "--limit", "4"]) == 0
    out = capsys.readouterr().out
    assert "stimuli" in out and "prose" in out and "narrative" in out
    assert "corpus-sensitive:" in out and "trained verdicts differ between stimulus sets (prose, narrative)" in out


def test_the_verdict_table_marks_corpus_sensitive_rows_and_escapes_markup() -> None:
    base = {"condition": "trained", "family": "llama", "statistic": "mean_difference", "value": 0.1, "ci_low": 0.0,
            "ci_high": 0.2, "threshold": 0.0, "direction": "greater", "reason": "", "controls": {}}  # fmt: skip
    rows = [
        {**base, "model": "[bold]m[/bold]", "prediction": "P7", "stimulus_set": "prose", "status": "PASS",
         "corpus_sensitive": True, "corpus_statuses": {"prose": "PASS", "fiction": "FAIL"}},  # fmt: skip
        {**base, "model": "[bold]m[/bold]", "prediction": "P7", "stimulus_set": "fiction", "status": "FAIL",
         "corpus_sensitive": True, "corpus_statuses": {"prose": "PASS", "fiction": "FAIL"}},  # fmt: skip
    ]
    console = Console(width=200, record=True)
    console.print(verdict_table(rows, "t: verdicts"))
    text = console.export_text()
    assert text.count("(corpus-sensitive)") == 2 and "fiction: FAIL" in text
    assert "[bold]m[/bold]" in text  # shown as written, not read as markup


def test_single_set_outputs_name_no_set(write_suite, minimal_suite, tmp_path) -> None:
    result = run_suite(load_suite(write_suite(minimal_suite())), RunOptions(out=tmp_path / "run"))
    for table in (result.verdict_rows, result.profile_rows):
        assert not any({"stimulus_set", "corpus_sensitive", "corpus_statuses"} & set(row) for row in table)
    document = json.loads((tmp_path / "run" / "results.json").read_text())
    assert list(document["provenance"]["models"]) == ["tiny-llama/trained"]
    assert "stimulus_set" not in (tmp_path / "run" / "verdicts.csv").read_text()

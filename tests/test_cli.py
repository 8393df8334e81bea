"""The command line: exit codes and messages of validate, list, plugins and run."""

from __future__ import annotations

import json

from mspgt_bench.cli import main


def test_validate_ok_and_errors(write_suite, minimal_suite, capsys):
    assert main(["validate", str(write_suite(minimal_suite()))]) == 0
    assert "valid" in capsys.readouterr().out
    bad = minimal_suite(signals=[{"name": "logit_lenz"}])
    bad["models"] = [{"name": "tiny-llama", "adaptr": "hf"}]
    bad["stimuli"]["n"] = "many"
    assert main(["validate", str(write_suite(bad))]) == 1
    err = capsys.readouterr().err
    assert "3 problems" in err
    assert "Did you mean 'adapter'?" in err and "Did you mean 'logit_lens'?" in err and "'many'" in err


def test_list_and_plugins(capsys):
    assert main(["list", "signals"]) == 0
    out = capsys.readouterr().out
    assert "logit_lens" in out and "angular_distance" in out
    assert main(["list", "models"]) == 0
    assert "smollm2-135m" in capsys.readouterr().out
    assert main(["plugins", "--json"]) == 0
    names = [p["name"] for p in json.loads(capsys.readouterr().out)]
    assert "mspgt_bench.builtin" in names


def test_run_prints_the_verdict_table(write_suite, minimal_suite, tmp_path, capsys):
    assert main(["run", str(write_suite(minimal_suite())), "--out", str(tmp_path / "r"), "--limit", "4"]) == 0
    out = capsys.readouterr().out
    assert "verdicts" in out and "P7" in out and "tiny-llama" in out


def test_a_misspelt_model_name_is_refused_before_anything_is_written(write_suite, minimal_suite, tmp_path, capsys):
    out = tmp_path / "never"
    assert main(["run", str(write_suite(minimal_suite())), "--model", "smollm2-13m", "--out", str(out)]) == 1
    assert "Did you mean 'smollm2-135m'" in capsys.readouterr().err  # (or a plugin's near name too)
    assert not out.exists()

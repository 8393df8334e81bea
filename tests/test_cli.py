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


def test_a_run_with_an_error_verdict_exits_3(write_suite, minimal_suite, tmp_path, capsys):
    suite = minimal_suite()
    suite["predictions"][0]["options"]["profile"] = "logit_lens.nothing"
    assert main(["run", str(write_suite(suite)), "--out", str(tmp_path / "r"), "--limit", "4"]) == 3
    assert "1 verdict(s) are ERROR" in capsys.readouterr().out
    assert (tmp_path / "r" / "verdicts.csv").is_file()  # the outputs are written all the same


def test_an_out_that_is_a_file_is_one_error_line(write_suite, minimal_suite, tmp_path, capsys):
    taken = tmp_path / "taken"
    taken.write_text("not a folder")
    assert main(["run", str(write_suite(minimal_suite())), "--out", str(taken), "--limit", "4"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error:") and str(taken) in err and "Traceback" not in err
    assert taken.read_text() == "not a folder"


def test_markup_in_user_text_is_printed_as_text(write_suite, minimal_suite, tmp_path, capsys):
    suite = minimal_suite(models=[{"name": "tiny-llama", "family": "[/bold][trained]"}])
    assert main(["run", str(write_suite(suite)), "--out", str(tmp_path / "r"), "--limit", "4"]) == 0
    assert "[/bold][trained]" in capsys.readouterr().out


def test_ctrl_c_exits_130_with_one_line(write_suite, minimal_suite, tmp_path):
    import signal
    import subprocess
    import sys

    # A shell without job control starts background commands with SIGINT ignored, and a child
    # inherits that (Python then installs no KeyboardInterrupt handler). The run gets Python's own
    # handler back, as a terminal's Ctrl-C finds it, whatever started the tests; it then calls
    # main() as the `mspgt-bench` console script does.
    launcher = (
        "import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
        "from mspgt_bench.cli import main; sys.exit(main())"
    )
    suite = str(write_suite(minimal_suite()))
    command = [sys.executable, "-c", launcher, "run", suite, "--out", str(tmp_path / "r")]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for line in process.stdout:  # interrupt once the run is under way, not while Python starts
        if "loading" in line:
            break
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=120)
    # main() returns 130. Interrupted while a model loads, CPython sometimes ends the process with
    # the SIGINT itself after that (seen in half of such runs under `python -m`), which a shell
    # reports as status 130 too; either way the one line below was printed.
    assert process.returncode in (130, -signal.SIGINT), err
    assert "interrupted" in err and "Traceback" not in err


def _model_with_shipped_code(folder):
    """A real tiny Llama folder whose config points AutoModelForCausalLM at Python shipped beside it."""
    from transformers import LlamaForCausalLM

    from mspgt_bench.models.tiny import byte_tokenizer, tiny_config

    LlamaForCausalLM(tiny_config("llama")).save_pretrained(folder)
    byte_tokenizer().save_pretrained(folder)
    marker = folder / "EXECUTED"  # an absolute path: transformers runs a copy of the module from its own cache
    (folder / "modeling_marked.py").write_text(
        "from pathlib import Path\n"
        f"Path({str(marker)!r}).write_text('shipped code ran')\n"
        "from transformers import LlamaForCausalLM\n\n\n"
        "class MarkedLlama(LlamaForCausalLM):\n    pass\n"
    )
    config = json.loads((folder / "config.json").read_text())
    config["auto_map"] = {"AutoModelForCausalLM": "modeling_marked.MarkedLlama"}
    (folder / "config.json").write_text(json.dumps(config))
    return marker


def test_code_shipped_with_a_model_runs_only_with_the_flag(write_suite, minimal_suite, tmp_path):
    folder = tmp_path / "shipped-code"
    folder.mkdir()
    marker = _model_with_shipped_code(folder)
    suite = write_suite(minimal_suite(models=[{"name": str(folder)}]))
    main(["run", str(suite), "--out", str(tmp_path / "without"), "--limit", "4"])
    assert not marker.exists()
    main(["run", str(suite), "--out", str(tmp_path / "with"), "--limit", "4", "--trust-remote-code"])
    assert marker.read_text() == "shipped code ran"


def test_plan_lists_the_cells_and_writes_nothing(write_suite, minimal_suite, tmp_path, capsys):
    suite = write_suite(minimal_suite(controls={"random_weights": True}))
    assert main(["plan", str(suite), "--out", str(tmp_path / "r")]) == 0
    out = capsys.readouterr().out
    assert "tiny-llama [trained]" in out and "tiny-llama [random_weights]" in out
    assert "2 cell(s): 0 cached, 2 to compute, 4 forward passes to run" in out
    assert not (tmp_path / "r").exists()


def test_only_failed_without_a_previous_run_is_one_error_line(write_suite, minimal_suite, tmp_path, capsys):
    assert main(["run", str(write_suite(minimal_suite())), "--out", str(tmp_path / "r"), "--only-failed"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: --only-failed") and "results.json" in err and "Traceback" not in err


def test_a_ray_address_where_nothing_answers_is_one_error_line(write_suite, minimal_suite, tmp_path, capsys):
    import pytest

    pytest.importorskip("ray")
    command = ["run", str(write_suite(minimal_suite())), "--out", str(tmp_path / "r"), "--executor", "ray"]
    assert main([*command, "--address", "127.0.0.1:9"]) == 1
    assert capsys.readouterr().err.startswith("error: nothing answers at 127.0.0.1:9")

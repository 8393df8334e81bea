"""The results schema: a real run validates; broken files are refused naming the file and the reason."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from mspgt_bench import results
from mspgt_bench.result_schema import SCHEMA_VERSION, ResultsDocument, ResultsError, load_results
from mspgt_bench.run import RunOptions, run_suite
from mspgt_bench.suite.loader import load_suite


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real tiny run with both controls and a detector, so every row type is present."""
    root = tmp_path_factory.mktemp("schema")
    suite = {
        "suite": {"name": "schema", "version": "1"},
        "models": [{"name": "tiny-llama"}],
        "stimuli": {"source": "stdlib_prose", "n": 4, "seed": 0, "max_tokens": 24},
        "signals": [{"name": "logit_lens", "options": {"max_positions": 4}}],
        "detectors": [
            {
                "name": "changepoint",
                "options": {"profiles": {"logit_lens.kl": 1}, "criterion": "penalty", "pen": 0.01, "min_size": 1},
            }
        ],
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
        "controls": {"random_weights": True, "shuffled_tokens": True},
        "bootstrap": {"n_boot": 50},
        "output": {"figures": False},
    }
    path = root / "suite.yaml"
    path.write_text(yaml.safe_dump(suite))
    run_suite(load_suite(path), RunOptions(out=root / "run"))
    return root / "run"


def _write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "results.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


def test_the_reader_and_the_runner_agree_on_the_version():
    assert SCHEMA_VERSION == results.SCHEMA_VERSION


def test_a_real_run_validates(run_dir):
    document = load_results(run_dir)
    assert isinstance(document, ResultsDocument)
    assert load_results(run_dir / "results.json").provenance.seed == document.provenance.seed
    assert {v.condition for v in document.verdicts} == {"trained", "random_weights", "shuffled_tokens"}
    trained = next(v for v in document.verdicts if v.condition == "trained")
    assert set(trained.controls) == {"random_weights", "shuffled_tokens"}
    assert document.boundaries and document.profiles
    assert document.provenance.models["tiny-llama/trained"].provenance.n_layers == 4
    assert document.provenance.suite_sha256 == trained.suite_sha256


def test_missing_file_names_it(tmp_path):
    with pytest.raises(ResultsError, match=r"results\.json: no such file") as info:
        load_results(tmp_path)
    assert info.value.path == tmp_path / "results.json"
    with pytest.raises(ResultsError, match="nowhere: does not exist"):
        load_results(tmp_path / "nowhere")


@pytest.mark.writes_bad_results
def test_corrupt_json_names_the_file_and_the_position(tmp_path, run_dir):
    text = (run_dir / "results.json").read_text()
    path = _write(tmp_path, text[: len(text) // 2])
    with pytest.raises(ResultsError) as info:
        load_results(path)
    message = str(info.value)
    assert message.startswith(f"{path}: not valid JSON (line ")


@pytest.mark.writes_bad_results
def test_missing_key_names_the_file_and_the_key(tmp_path, run_dir):
    document = json.loads((run_dir / "results.json").read_text())
    del document["provenance"]["suite_sha256"]
    del document["verdicts"][0]["status"]
    with pytest.raises(ResultsError) as info:
        load_results(_write(tmp_path, document))
    message = str(info.value)
    assert str(tmp_path / "results.json") in message and "does not match the results schema" in message
    assert "provenance.suite_sha256: Field required" in message
    assert "verdicts.0.status: Field required" in message


@pytest.mark.parametrize(
    ("version", "expected"),
    [("2.0", "is not supported"), ("1.9", "is newer than this reader's"), ("one", "is not supported")],
)
@pytest.mark.writes_bad_results
def test_other_schema_versions_are_refused(tmp_path, run_dir, version, expected):
    document = json.loads((run_dir / "results.json").read_text())
    document["schema_version"] = version
    with pytest.raises(ResultsError, match=expected) as info:
        load_results(_write(tmp_path, document))
    assert str(tmp_path / "results.json") in str(info.value)


@pytest.mark.writes_bad_results
def test_not_a_results_file(tmp_path):
    with pytest.raises(ResultsError, match="expected a JSON object"):
        load_results(_write(tmp_path, [1, 2]))
    with pytest.raises(ResultsError, match="no 'schema_version' key"):
        load_results(_write(tmp_path, {"verdicts": []}))


@pytest.mark.writes_bad_results
def test_rows_are_checked_beyond_their_keys(tmp_path, run_dir):
    document = json.loads((run_dir / "results.json").read_text())
    trained = next(v for v in document["verdicts"] if v["condition"] == "trained")
    del trained["controls"]
    document["verdicts"][-1]["status"] = "MAYBE"
    with pytest.raises(ResultsError) as info:
        load_results(_write(tmp_path, document))
    message = str(info.value)
    assert "'controls' and 'non_discriminative' belong to trained rows" in message
    assert "status: Input should be 'PASS', 'FAIL', 'INCONCLUSIVE', 'ERROR' or 'SKIP'" in message

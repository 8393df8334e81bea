"""Suite validation: every problem names the file, the key path, what is wrong and the fix."""

from __future__ import annotations

import pytest

from mspgt_bench.suite.loader import SuiteError, load_suite


def _problems(path) -> list[str]:
    with pytest.raises(SuiteError) as info:
        load_suite(path)
    return [str(p) for p in info.value.problems]


def test_minimal_suite_is_valid_and_hash_is_stable(write_suite, minimal_suite):
    path = write_suite(minimal_suite())
    first, second = load_suite(path), load_suite(path)
    assert first.sha256 == second.sha256
    assert first.suite.models[0].adapter == "hf"


def test_misspelled_key_suggests_the_right_one(write_suite, minimal_suite):
    suite = minimal_suite()
    suite["models"] = [{"name": "tiny-llama", "adaptr": "hf"}]
    (problem,) = _problems(write_suite(suite))
    assert "suite.yaml: models[0].adaptr: unknown key. Did you mean 'adapter'?" in problem
    assert "Valid keys here: name, adapter, family, size, args" in problem


def test_wrong_type_names_the_value(write_suite, minimal_suite):
    suite = minimal_suite(stimuli={"n": "thirty"})
    (problem,) = _problems(write_suite(suite))
    assert "stimuli.n:" in problem and "valid integer" in problem and "'thirty'" in problem


def test_unknown_plugin_name_gets_did_you_mean(write_suite, minimal_suite):
    suite = minimal_suite(signals=[{"name": "logit_lenz"}])
    (problem,) = _problems(write_suite(suite))
    assert "signals[0].name: unknown signal 'logit_lenz'. Did you mean 'logit_lens'?" in problem


def test_bad_plugin_option_is_reported_with_its_path(write_suite, minimal_suite):
    suite = minimal_suite(signals=[{"name": "angular_distance", "options": {"steps": 2}}])
    (problem,) = _problems(write_suite(suite))
    assert "signals[0].options.steps: unknown option. Valid options here: n." in problem


def test_all_problems_are_reported_together(write_suite, minimal_suite):
    suite = minimal_suite(signals=[{"name": "nope"}], stimuli={"source": "stdlib_prosse"})
    problems = _problems(write_suite(suite))
    assert len(problems) == 2
    assert any("Did you mean 'stdlib_prose'" in p for p in problems)


def test_missing_required_key(write_suite, minimal_suite):
    suite = minimal_suite()
    del suite["models"]
    (problem,) = _problems(write_suite(suite))
    assert "models: required key is missing" in problem


def test_include_merges_and_errors_name_the_including_file(write_suite, minimal_suite):
    base = minimal_suite()
    write_suite({"stimuli": base.pop("stimuli"), "bootstrap": {"n_boot": 300}}, name="base.yaml")
    top = write_suite({"include": ["base.yaml"], **base, "bootstrap": {"method": "bca"}})
    loaded = load_suite(top)
    assert loaded.suite.bootstrap.n_boot == 300 and loaded.suite.bootstrap.method == "bca"
    assert loaded.suite.stimuli.n == 6
    write_suite({"stimuli": {"nn": 3}}, name="bad_base.yaml")
    bad = write_suite({"include": "bad_base.yaml", **base}, name="top.yaml")
    (problem,) = _problems(bad)
    assert problem.startswith(str(bad.parent / "bad_base.yaml")) and "stimuli.nn" in problem


def test_include_cycle_and_missing_file(write_suite):
    write_suite({"include": ["b.yaml"]}, name="a.yaml")
    b = write_suite({"include": ["a.yaml"]}, name="b.yaml")
    assert "include cycle" in _problems(b)[0]
    missing = write_suite({"include": ["nowhere.yaml"]}, name="c.yaml")
    assert "nowhere.yaml" in _problems(missing)[0] and "file not found" in _problems(missing)[0]


def test_yaml_is_data_only(write_suite, minimal_suite):
    text = "suite: !!python/object/apply:os.system ['echo pwned']\n"
    (problem,) = _problems(write_suite(text))
    assert "not valid YAML" in problem


def test_prediction_statistic_must_be_offered(write_suite, minimal_suite):
    suite = minimal_suite()
    suite["predictions"][0]["statistic"] = "median"
    (problem,) = _problems(write_suite(suite))
    assert "predictions[0].statistic" in problem and "mean_difference" in problem


def test_validation_writes_nothing(write_suite, minimal_suite, tmp_path):
    suite = minimal_suite(signals=[{"name": "nope"}])
    path = write_suite(suite)
    before = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(SuiteError):
        load_suite(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_a_reference_to_a_missing_detector_or_intervention_is_named(write_suite, minimal_suite):
    suite = minimal_suite(
        detectors=[{"name": "changepoint", "id": "fused", "options": {"profiles": {"logit_lens.kl": 1.0}}}],
        interventions=[{"name": "layer_deletion", "id": "segments", "options": {"segments_from": "fusde"}}],
    )
    suite["predictions"].append(
        {
            "id": "P4",
            "name": "scale_specificity",
            "statistic": "log_interaction",
            "threshold": 0.0,
            "direction": "greater",
            "options": {"intervention": "segment"},
        }
    )
    with pytest.raises(SuiteError) as info:
        load_suite(write_suite(suite))
    problems = {p.path: p.message for p in info.value.problems}
    assert "Did you mean 'fused'?" in problems["interventions[0].options.segments_from"]
    assert "Did you mean 'segments'?" in problems["predictions[1].options.intervention"]
    assert len(problems) == 2


def test_generation_names_its_detector_and_its_options_are_checked(write_suite, minimal_suite):
    suite = minimal_suite(
        detectors=[{"name": "changepoint", "id": "fused", "options": {"profiles": {"logit_lens.kl": 1.0}}}],
        generation=[
            {"id": "gen", "segments_from": "fusd", "options": {"intervention": "layer_swap", "max_new_tokns": 5}}
        ],
    )
    problems = {p.path: p.message for p in _raised(write_suite(suite))}
    assert "Did you mean 'fused'?" in problems["generation[0].segments_from"]
    assert "only position-independent edits apply" in problems["generation[0].options.intervention"]
    assert "Did you mean 'max_new_tokens'?" in problems["generation[0].options.max_new_tokns"]


def _raised(path):
    with pytest.raises(SuiteError) as info:
        load_suite(path)
    return info.value.problems


def test_where_a_suite_runs_does_not_change_its_hash(write_suite, minimal_suite):
    local = load_suite(write_suite(minimal_suite(), "local.yaml"))
    on_ray = load_suite(write_suite(minimal_suite(run={"batch_size": 4, "executor": "ray", "address": "auto"}), "ray.yaml"))
    other_batch = load_suite(write_suite(minimal_suite(run={"batch_size": 2}), "batch.yaml"))
    assert on_ray.sha256 == local.sha256
    assert other_batch.sha256 != local.sha256  # what it computes still counts

"""Planning a run: where it goes (names slugged, nothing written yet) and how models are named on disk."""

from __future__ import annotations

from mspgt_bench.atomic import slug
from mspgt_bench.run.plan import Progress, ResolvedModel, RunOptions, plan_run
from mspgt_bench.suite.loader import load_suite


def test_the_default_run_directory_is_the_slugged_suite_name_under_output_dir(write_suite, minimal_suite, tmp_path):
    parent = tmp_path / "runs"
    for name in ("../../elsewhere", str(tmp_path / "absolute"), "quick start"):
        suite = minimal_suite(suite={"name": name, "version": "1"}, output={"figures": False, "dir": str(parent)})
        ctx = plan_run(load_suite(write_suite(suite)), RunOptions(), Progress())
        assert ctx.run_dir == parent / slug(name) and ctx.run_dir.parent == parent


def test_planning_creates_the_run_directory_but_writes_nothing_in_it(write_suite, minimal_suite, tmp_path):
    """suite.yaml is written with the other outputs at the end, so a failed run leaves none of its own."""
    ctx = plan_run(load_suite(write_suite(minimal_suite())), RunOptions(out=tmp_path / "run"), Progress())
    assert ctx.run_dir.is_dir() and list(ctx.run_dir.iterdir()) == []


def test_a_models_file_names_use_the_shared_slug():
    for name in ("tiny-llama", "Qwen/Qwen2.5-0.5B", "../../x", "/abs/model"):
        assert ResolvedModel(name, "hf", None, None, {}).slug() == slug(name)
    assert ResolvedModel("../../x", "hf", None, None, {}).slug() == "___.._x"

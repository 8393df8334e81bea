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


def test_the_plan_counts_each_cells_passes_and_memory_and_writes_nothing(
    write_suite, minimal_suite, tmp_path, tiny_adapter
):
    from mspgt_bench.run.dryrun import NOT_CACHED, plan_cells

    suite = minimal_suite(
        controls={"random_weights": True}, interventions=[{"name": "layer_deletion", "options": {"layers": [1, 2]}}]
    )
    plans = plan_cells(load_suite(write_suite(suite)), RunOptions(out=tmp_path / "run"))
    assert [plan.cell.label for plan in plans] == ["tiny-llama [trained]", "tiny-llama [random_weights]"]
    params = sum(p.numel() for p in tiny_adapter("llama").model.parameters())
    for plan in plans:
        assert plan.cost.capture_passes == 2  # 6 stimuli in batches of 4
        assert plan.cost.intervention_passes == 2 * (1 + 2)  # per batch: the recorded clean pass, two targets
        assert plan.cost.weight_bytes == params * 4  # float32
        assert plan.cached == NOT_CACHED and plan.computed
        assert (plan.resources.num_cpus, plan.resources.num_gpus) == (1, 0)
    assert not (tmp_path / "run").exists()


def test_the_plan_sees_the_cells_a_run_cached_and_the_forward_passes_it_made(write_suite, minimal_suite, tmp_path):
    from mspgt_bench.run import run_suite
    from mspgt_bench.run.dryrun import CACHED, plan_cells

    suite = load_suite(write_suite(minimal_suite(controls={"shuffled_tokens": True})))
    result = run_suite(suite, RunOptions(out=tmp_path / "run"))
    plans = plan_cells(suite, RunOptions(out=tmp_path / "run"))
    assert [plan.cached for plan in plans] == [CACHED, CACHED] and not any(plan.computed for plan in plans)
    assert [plan.cost.capture_passes for plan in plans] == [r.meta["forward_calls"] for r in result.results]


LLAMA_70B = {
    "architectures": ["LlamaForCausalLM"],
    "model_type": "llama",
    "hidden_size": 8192,
    "intermediate_size": 28672,
    "num_hidden_layers": 80,
    "num_attention_heads": 64,
    "num_key_value_heads": 8,
    "vocab_size": 128256,
    "max_position_embeddings": 131072,
    "rms_norm_eps": 1e-05,
    "rope_theta": 500000.0,
    "tie_word_embeddings": False,
}
"""The config of Llama 3.1 70B (no weights needed to estimate it)."""


def test_a_70b_model_is_estimated_from_its_config_and_placed_by_its_max_memory(write_suite, minimal_suite, tmp_path):
    import json

    from mspgt_bench.run.estimate import GIB, PROCESS_BYTES, cell_cost, model_shape, task_resources

    folder = tmp_path / "llama-70b"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(LLAMA_70B))
    placement = {"dtype": "bfloat16", "device_map": "auto", "max_memory": {"0": "75GiB", "1": "75GiB", "cpu": "64GiB"}}
    suite = minimal_suite(models=[{"name": str(folder), "args": placement}], controls={"random_weights": True})
    ctx = plan_run(load_suite(write_suite(suite)), RunOptions(out=tmp_path / "run"), Progress())
    trained, twin = ctx.all_cells()
    shape = model_shape(trained.model)
    assert (shape.n_params, shape.n_layers, shape.dtype_bytes) == (70_553_706_496, 80, 2)
    cost = cell_cost(ctx, trained, shape)
    assert cost.weight_bytes == 70_553_706_496 * 2
    assert task_resources(trained, cost).num_gpus == 2
    assert task_resources(trained, cost).memory == PROCESS_BYTES + 64 * GIB  # loaded weights go to the GPUs
    assert task_resources(twin, cost).memory == PROCESS_BYTES + cost.weight_bytes  # the twin is built on the host


def test_without_a_readable_config_the_size_label_gives_the_parameters():
    from mspgt_bench.run.estimate import model_shape

    hub = ResolvedModel("some-org/not-in-the-local-cache-70b", "hf", "llama", "70B", {"model": "some-org/x-70b"})
    assert model_shape(hub).n_params == 70_000_000_000

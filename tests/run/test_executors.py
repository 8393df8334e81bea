"""Executors: the ray executor on a local two-node cluster gives the local executor's bytes, retries a cell
whose worker dies, resumes a killed driver from its cache; ``--only-failed`` recomputes only failed cells.

The cluster (``ray.cluster_utils.Cluster``: two nodes of one CPU, bound to 127.0.0.1, no dashboard,
token authentication off, 100 MiB object stores) is started once for the module (about 5-10 s).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from mspgt_bench.run import RunOptions, run_suite
from mspgt_bench.run.cache import FINGERPRINT_MEMO
from mspgt_bench.run.cell import RecordedProgress, run_cell
from mspgt_bench.run.executors import NotCachedCellsError
from mspgt_bench.run.plan import plan_run
from mspgt_bench.run.profiles import AdapterPool
from mspgt_bench.run.ray_executor import compute_cell
from mspgt_bench.suite.loader import load_suite

TABLES = ("verdicts.csv", "profiles.csv", "boundaries.csv", "effects.csv")
RAY_ENV = {"RAY_AUTH_MODE": "disabled", "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}
"""Token authentication off for the test cluster, and 127.0.0.1 kept as the address drivers connect to."""


def _three_families(minimal_suite) -> dict:
    """Tiny Llama, Qwen2 and Gemma 3 under both controls (9 cells), with a fused boundary detector and P1."""
    return minimal_suite(
        models=[{"name": "tiny-llama"}, {"name": "tiny-qwen2"}, {"name": "tiny-gemma3"}],
        controls={"random_weights": True, "shuffled_tokens": True},
        detectors=[
            {
                "name": "evidence",
                "id": "fused",
                "options": {"profiles": {"angular_distance.angular_all": 1.0, "logit_lens.kl": 1.0}, "n_null": 40},
            }
        ],
        predictions=[
            *minimal_suite()["predictions"],
            {
                "id": "P1",
                "name": "segment_count",
                "statistic": "criterion_margin",
                "threshold": 0.0,
                "direction": "greater",
                "options": {"detector": "fused", "n_boundaries": 1, "n_boot": 50},
            },
        ],
    )


@pytest.fixture(scope="module")
def ray_address() -> Iterator[str]:
    """The address of a two-node Ray cluster on 127.0.0.1, shut down after the module.

    Drivers join it from subprocesses started with :data:`RAY_ENV`: Ray reads
    ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER`` when it is imported, and without it a driver would
    swap 127.0.0.1 for the machine's address, where this cluster does not listen.
    """
    with pytest.MonkeyPatch.context() as patch, tempfile.TemporaryDirectory(prefix="mspgt-ray-") as scratch:
        for name, value in RAY_ENV.items():
            patch.setenv(name, value)
        patch.setenv("RAY_TMPDIR", scratch)  # its sessions and address file stay out of /tmp/ray (short: socket paths)
        pytest.importorskip("ray", reason='the ray executor needs pip install -e ".[ray]"')
        from ray.cluster_utils import Cluster

        node = {"num_cpus": 1, "object_store_memory": 100 << 20, "node_ip_address": "127.0.0.1"}
        cluster = Cluster(initialize_head=True, head_node_args={**node, "include_dashboard": False})
        try:
            cluster.add_node(**node)
            cluster.wait_for_nodes()
            yield cluster.address
        finally:
            cluster.shutdown()


_REFERENCE: dict[str, tuple[Path, Path]] = {}


@pytest.fixture
def families(minimal_suite, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The three-family suite file and its local run's directory (the reference bytes; run once per module)."""
    if "families" not in _REFERENCE:
        import yaml

        folder = tmp_path_factory.mktemp("families")
        suite = folder / "suite.yaml"
        suite.write_text(yaml.safe_dump(_three_families(minimal_suite), sort_keys=False))
        run_suite(load_suite(suite), RunOptions(out=folder / "local"))
        _REFERENCE["families"] = suite, folder / "local"
    return _REFERENCE["families"]


def _same_tables(a: Path, b: Path) -> None:
    for table in TABLES:
        assert (a / table).read_bytes() == (b / table).read_bytes(), table


def _cli(suite: Path, out: Path, address: str, *extra: str) -> list[str]:
    """``mspgt-bench run SUITE --out OUT --executor ray --address ADDRESS ...`` as a command line."""
    run = ["run", str(suite), "--out", str(out), "--executor", "ray", "--address", address, *extra]
    return [sys.executable, "-m", "mspgt_bench.cli", *run]


def _on_ray(suite: Path, out: Path, address: str, *extra: str) -> subprocess.CompletedProcess:
    """Run the suite with the ray executor from a driver process; it must exit 0."""
    env = {**os.environ, **RAY_ENV}
    done = subprocess.run(
        _cli(suite, out, address, *extra), check=False, env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    return done


def test_a_ray_run_writes_the_bytes_of_a_local_run_and_a_rerun_comes_from_the_cache(ray_address, families, tmp_path):
    suite, local = families
    first = _on_ray(suite, tmp_path / "ray", ray_address)
    _same_tables(local, tmp_path / "ray")
    assert first.stdout.count("sent to Ray") == 9
    assert sorted(p.name for p in (tmp_path / "ray" / "cache").glob("*.npz")) == sorted(
        p.name for p in (local / "cache").glob("*.npz")
    ), "the driver writes the cache entries a local run writes"

    again = _on_ray(suite, tmp_path / "ray", ray_address)
    assert "ray: 9 cell(s) from the cache, 0 to compute" in again.stdout
    _same_tables(local, tmp_path / "ray")


def _model_that_kills_its_first_worker(folder: Path, attempts: Path) -> None:
    """A tiny Llama folder whose shipped modeling code ends the process the first time it is imported."""
    from transformers import LlamaForCausalLM

    from mspgt_bench.models.tiny import byte_tokenizer, tiny_config

    LlamaForCausalLM(tiny_config("llama")).save_pretrained(folder)
    byte_tokenizer().save_pretrained(folder)
    (folder / "modeling_once.py").write_text(
        "import os\nfrom pathlib import Path\n"
        f"attempts = Path({str(attempts)!r})\n"
        "first = not attempts.exists()\n"
        "with attempts.open('a') as log:\n    log.write(f'{os.getpid()}\\n')\n"
        "if first:\n    os._exit(1)  # the worker process dies: a system failure Ray retries\n"
        "from transformers import LlamaForCausalLM\n\n\nclass OnceLlama(LlamaForCausalLM):\n    pass\n"
    )
    config = json.loads((folder / "config.json").read_text())
    config["auto_map"] = {"AutoModelForCausalLM": "modeling_once.OnceLlama"}
    (folder / "config.json").write_text(json.dumps(config))


def test_a_cell_whose_worker_dies_is_retried_and_gives_the_local_bytes(
    ray_address, write_suite, minimal_suite, tmp_path
):
    folder, attempts = tmp_path / "once", tmp_path / "attempts.log"
    folder.mkdir()
    _model_that_kills_its_first_worker(folder, attempts)
    suite = write_suite(minimal_suite(models=[{"name": str(folder), "family": "llama"}]))
    _on_ray(suite, tmp_path / "ray", ray_address, "--trust-remote-code")  # exit 0: no verdict is ERROR
    assert len(attempts.read_text().split()) == 2, "one worker died, the retry ran the cell"
    run_suite(load_suite(suite), RunOptions(out=tmp_path / "local", trust_remote_code=True))
    _same_tables(tmp_path / "local", tmp_path / "ray")


def _finished(cache: Path) -> dict[str, int]:
    """Profile entries complete in ``cache`` (both files), with the mtime of their ``.npz``."""
    return {p.stem: p.stat().st_mtime_ns for p in cache.glob("*.npz") if p.with_suffix(".json").is_file()}


def test_a_killed_driver_resumes_computing_only_the_unfinished_cells(ray_address, families, tmp_path):
    suite, local = families
    out = tmp_path / "killed"
    env = {**os.environ, **RAY_ENV}
    driver = subprocess.Popen(
        _cli(suite, out, ray_address), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 300
    while not _finished(out / "cache") and time.monotonic() < deadline:
        time.sleep(0.05)  # kill once the first cell is back, mid-run
    driver.send_signal(signal.SIGKILL)
    driver.wait()
    finished = _finished(out / "cache")
    assert 1 <= len(finished) < 9, "the kill must land mid-run (9 cells in all)"
    assert not (out / "verdicts.csv").exists()

    resumed = _on_ray(suite, out, ray_address)
    assert resumed.stdout.count("cached profiles reused") == len(finished)
    assert f"ray: {len(finished)} cell(s) from the cache, {9 - len(finished)} to compute" in resumed.stdout
    assert {stem: _finished(out / "cache")[stem] for stem in finished} == finished, "finished cells not rewritten"
    _same_tables(local, out)


def test_a_cell_computed_as_a_task_body_is_the_local_cell_and_survives_rays_serialiser(
    write_suite, minimal_suite, tmp_path
):
    """compute_cell (the task's body, here without Ray) matches run_cell, and its result crosses cloudpickle."""
    ray_cloudpickle = pytest.importorskip("ray.cloudpickle")
    suite = _three_families(minimal_suite)
    suite["models"] = [{"name": "tiny-llama"}]
    ctx = plan_run(load_suite(write_suite(suite)), RunOptions(out=tmp_path / "run"), RecordedProgress())
    cell = ctx.all_cells()[0]
    returned = compute_cell(ctx, cell, {})
    with AdapterPool(ctx, cell.model) as pool:
        local = run_cell(ctx, cell, pool)
    written = sorted(p.name for p in (ctx.run_dir / "cache").iterdir() if p.name != FINGERPRINT_MEMO)
    assert sorted(returned.files) == written, "the task returns the cache entries a local cell writes"
    copy = ray_cloudpickle.loads(ray_cloudpickle.dumps(returned.result))
    assert {k: v.status for k, v in copy.outcomes.items()} == {k: v.status for k, v in local.outcomes.items()}
    (detection,) = copy.detections
    mean = detection.per_stimulus.mean(axis=0)
    assert detection.fit(mean, 1) == local.detections[0].fit(mean, 1)  # the detector's closures came along
    assert detection.segment(mean).boundaries == local.detections[0].segment(mean).boundaries
    assert np.array_equal(copy.context.profiles["logit_lens.kl"].value, local.context.profiles["logit_lens.kl"].value)


def _break(folder: Path) -> Path:
    """Move a model folder's weights aside (its cells then fail to load); returns where they went."""
    weights = folder / "model.safetensors"
    aside = folder.parent / "weights.aside"
    weights.rename(aside)
    return aside


def test_only_failed_recomputes_the_failed_cells_and_takes_the_rest_from_the_cache(
    write_suite, minimal_suite, tmp_path
):
    from transformers import LlamaForCausalLM

    from mspgt_bench.models.tiny import byte_tokenizer, tiny_config

    folder = tmp_path / "flaky"
    LlamaForCausalLM(tiny_config("llama")).save_pretrained(folder)
    byte_tokenizer().save_pretrained(folder)
    aside = _break(folder)
    suite = load_suite(write_suite(minimal_suite(models=[{"name": "tiny-qwen2"}, {"name": str(folder)}])))
    out = tmp_path / "run"
    first = run_suite(suite, RunOptions(out=out))
    assert [r.key for r in first.results if "error" in r.meta] == [f"{folder}/trained"]
    finished = _finished(out / "cache")

    aside.rename(folder / "model.safetensors")
    progress = RecordedProgress()
    second = run_suite(suite, RunOptions(out=out, only_failed=True), progress)
    assert not any("error" in r.meta for r in second.results)
    assert sum("cached profiles reused" in line for line in progress.lines) == 1
    assert {stem: _finished(out / "cache")[stem] for stem in finished} == finished

    for path in (out / "cache").glob("tiny-qwen2-*"):
        path.unlink()  # a cell that did not fail is no longer cached: refused before any model loads
    with pytest.raises(NotCachedCellsError, match=r"tiny-qwen2 \[trained\]"):
        run_suite(suite, RunOptions(out=out, only_failed=True))


def test_a_task_given_a_cells_cached_profiles_computes_only_its_effects(write_suite, minimal_suite, tmp_path):
    suite = minimal_suite(interventions=[{"name": "layer_deletion", "options": {"layers": [1]}}])
    ctx = plan_run(load_suite(write_suite(suite)), RunOptions(out=tmp_path / "run"), RecordedProgress())
    (cell,) = ctx.all_cells()
    first = compute_cell(ctx, cell, {})
    stages = ("-effects-", "-detections-", "-outcomes-")
    profiles = {name: data for name, data in first.files.items() if not any(stage in name for stage in stages)}
    assert len(profiles) == 2 and sorted(name.split("-")[-2] for name in set(first.files) - set(profiles)) == [
        "detections",
        "effects",
        "outcomes",
    ]
    again = compute_cell(ctx, cell, profiles)
    assert sorted(again.files) == sorted(set(first.files) - set(profiles))
    assert any("cached profiles reused" in line for line in again.lines)


def test_a_model_placed_by_device_map_and_max_memory_gives_the_same_bytes(write_suite, minimal_suite, tmp_path):
    """The HF adapter hands device_map/max_memory to accelerate (here all on the CPU): loaded and twin alike."""
    pytest.importorskip("accelerate", reason='device_map needs pip install -e ".[ray]"')
    from transformers import LlamaForCausalLM

    from mspgt_bench.models.tiny import byte_tokenizer, tiny_config

    folder = tmp_path / "llama"
    LlamaForCausalLM(tiny_config("llama")).save_pretrained(folder)
    byte_tokenizer().save_pretrained(folder)
    placed = {"name": str(folder), "args": {"device_map": "auto", "max_memory": {"cpu": "1GiB"}}}
    for name, model in (("plain", {"name": str(folder)}), ("placed", placed)):
        suite = minimal_suite(models=[model], controls={"random_weights": True})
        result = run_suite(load_suite(write_suite(suite, f"{name}.yaml")), RunOptions(out=tmp_path / name))
    assert [r.meta["provenance"]["device_map"] for r in result.results] == [{"": "cpu"}, {"": "cpu"}]
    for table in ("profiles.csv", "boundaries.csv"):  # verdicts.csv differs in suite_sha256: the suites differ
        assert (tmp_path / "plain" / table).read_bytes() == (tmp_path / "placed" / table).read_bytes(), table

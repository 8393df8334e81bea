"""The ``ray`` executor: every cell a Ray task, results back through the object store, outputs written here.

The driver (this process) first serves every cell it can from the run's cache
(:func:`~mspgt_bench.run.cell.from_cache`: no model loads; detection and predictions are
recomputed, as in a local rerun). Each remaining cell becomes one task of :func:`compute_cell`,
declaring the CPUs, GPUs and host memory :mod:`.estimate` gives for its model, and retried up to
:data:`MAX_RETRIES` times when its worker process or node dies (exceptions are not retried:
:func:`~mspgt_bench.run.cell.run_cell` already turns a failing model, signal or intervention into
an ERROR result).

**Where results travel.** A task computes in a private temporary run directory on its node and
returns, through Ray's object store, its :class:`~mspgt_bench.run.results.ConditionResult`
(profiles, detections and prediction contexts: numpy arrays and dataclasses, serialised with
Ray's cloudpickle, which also carries the detectors' ``segment``/``fit_fixed`` closures), the
cache files it wrote and its progress lines. The driver writes those files into its own
``<run_dir>/cache`` as each task finishes, so the run directory needs no shared file system
and a driver killed mid-run leaves every finished cell cached. Nodes need the models' weights
(a zoo model prepared in ``$MSPGT_CACHE``, a local folder at the same path, or hub access) and
the same mspgt-bench and library versions as the driver (a task reports its versions; a mismatch
is said on the progress line, since its cache entries would not match the driver's keys).
"""

from __future__ import annotations

import socket
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from mspgt_bench.atomic import atomic_write_bytes, inside
from mspgt_bench.results import profile_files
from mspgt_bench.run.cache import FINGERPRINT_MEMO, library_versions, profiles_stem
from mspgt_bench.run.cell import RecordedProgress, errored, from_cache, run_cell
from mspgt_bench.run.estimate import GIB, Resources, cell_cost, model_shape, task_resources
from mspgt_bench.run.executors import ExecutorUnavailableError, serve_finished
from mspgt_bench.run.plan import Cell, Progress, RunContext
from mspgt_bench.run.profiles import AdapterPool
from mspgt_bench.run.results import ConditionResult

MAX_RETRIES = 3
"""Times a cell's task is retried after its worker process or node died."""


@dataclass
class CellReturn:
    """What a cell's task sends back: its result, the cache files it wrote, its progress lines, its versions."""

    result: ConditionResult
    files: dict[str, bytes]
    lines: list[str]
    versions: dict[str, str | None]


def compute_cell(ctx: RunContext, cell: Cell, cached: dict[str, bytes]) -> CellReturn:
    """Run one cell in a private run directory (the body of a Ray task; plain Python, testable without Ray).

    ``cached`` are cache files the driver already has for the cell (its profiles, when only its
    effects are missing); they are put in place first, so only what is missing is computed.
    """
    with tempfile.TemporaryDirectory(prefix="mspgt-cell-") as folder:
        cache = Path(folder) / "cache"
        cache.mkdir()
        for name, data in cached.items():
            atomic_write_bytes(inside(cache, cache / name), data)
        progress = RecordedProgress()
        local = replace(ctx, run_dir=Path(folder), progress=progress)
        with AdapterPool(local, cell.model) as pool:
            result = run_cell(local, cell, pool)
        written = sorted(p for p in cache.iterdir() if p.is_file() and p.name not in cached)
        files = {p.name: p.read_bytes() for p in written if p.name != FINGERPRINT_MEMO}
    return CellReturn(result, files, progress.lines, library_versions())


class RayExecutor:
    """Runs the cells a run's cache does not hold as Ray tasks on the cluster at ``address``.

    ``address``: ``auto`` (the cluster ``ray start`` made on this machine, or ``RAY_ADDRESS``),
    ``HOST:PORT``, or ``None`` to start a Ray instance on this machine for the run alone. A Ray
    already initialised in this process is used as it is.
    """

    def __init__(self, address: str | None = None) -> None:
        self.address = address

    def run(self, ctx: RunContext) -> list[ConditionResult]:
        cells = ctx.all_cells()
        results: dict[int, ConditionResult] = serve_finished(ctx, cells) if ctx.rerun is not None else {}
        for index, cell in enumerate(cells):
            served = None if index in results else from_cache(ctx, cell)
            if served is not None:
                results[index] = served
        todo = [index for index in range(len(cells)) if index not in results]
        ctx.progress.stage(f"ray: {len(cells) - len(todo)} cell(s) from the cache, {len(todo)} to compute")
        if todo:
            with _connected(self.address):
                results |= _compute(ctx, {index: cells[index] for index in todo})
        for index, cell in enumerate(cells):
            results[index].model = cell.model  # results of one model share its planned ResolvedModel
        return [results[index] for index in range(len(cells))]


def _compute(ctx: RunContext, cells: dict[int, Cell]) -> dict[int, ConditionResult]:
    """Each cell as a task declaring its resources; results collected as tasks finish."""
    import ray

    task = ray.remote(compute_cell)
    shipped = ray.put(replace(ctx, progress=Progress()))
    gpus, largest = ray.cluster_resources().get("GPU", 0) > 0, _largest_node()
    shapes = {id(model): model_shape(model) for model in ctx.models}
    results: dict[int, ConditionResult] = {}
    pending: dict[Any, int] = {}
    for index, cell in cells.items():
        need = task_resources(cell, cell_cost(ctx, cell, shapes[id(cell.model)]), gpus_available=gpus)
        refusal = _infeasible(need, largest)
        if refusal is not None:
            results[index] = errored(ctx, cell, RuntimeError(refusal))
            continue
        options = {"num_cpus": need.num_cpus, "num_gpus": need.num_gpus, "memory": need.memory}
        ref = task.options(**options, max_retries=MAX_RETRIES, retry_exceptions=False, name=cell.label)
        pending[ref.remote(shipped, cell, _profile_files(ctx, cell))] = index
        ctx.progress.stage(f"{cell.label}: sent to Ray ({need.describe()})")
    while pending:
        (done,), _ = ray.wait(list(pending), num_returns=1)
        index = pending.pop(done)
        results[index] = _collect(ctx, cells[index], done)
    return results


def _collect(ctx: RunContext, cell: Cell, ref: Any) -> ConditionResult:
    """A finished task's result; its cache files written into the run's cache, its lines said here."""
    import ray

    try:
        returned: CellReturn = ray.get(ref)
    except ray.exceptions.RayError as exc:  # its worker or node died MAX_RETRIES + 1 times, or a bug escaped
        return errored(ctx, cell, exc)
    cache = ctx.run_dir / "cache"
    cache.mkdir(parents=True, exist_ok=True)
    for name, data in returned.files.items():
        atomic_write_bytes(inside(cache, cache / name), data)
    for line in returned.lines:  # said here, under the cell's name
        ctx.progress.stage(line if line.startswith(cell.label) else f"{cell.label}: {line}")
    if returned.versions != library_versions():
        ctx.progress.stage(
            f"{cell.label}: its worker runs other versions ({returned.versions}) than this driver "
            f"({library_versions()}); its cache entries will not be found by this driver's keys"
        )
    return returned.result


def _profile_files(ctx: RunContext, cell: Cell) -> dict[str, bytes]:
    """The cell's cached profile files (when only its effects were missing), to save the task a capture pass."""
    paths = profile_files(profiles_stem(ctx, cell))
    return {path.name: path.read_bytes() for path in paths} if all(path.is_file() for path in paths) else {}


def _largest_node() -> dict[str, float]:
    """The most CPUs, GPUs and memory any one live node of the cluster offers."""
    import ray

    largest: dict[str, float] = {}
    for node in ray.nodes():
        if node.get("Alive"):
            for name, amount in node.get("Resources", {}).items():
                largest[name] = max(largest.get(name, 0.0), float(amount))
    return largest


def _infeasible(need: Resources, largest: dict[str, float]) -> str | None:
    """Why no node of the cluster can run a task needing ``need`` (Ray would wait for one forever), or None."""
    checks = (
        ("CPU", need.num_cpus, lambda amount: f"{amount:g} CPU"),
        ("GPU", need.num_gpus, lambda amount: f"{amount:g} GPU"),
        ("memory", need.memory, lambda amount: f"{amount / GIB:.1f} GiB of memory"),
    )
    short = [
        f"{show(wanted)} (the largest node has {show(largest.get(name, 0.0))})"
        for name, wanted, show in checks
        if wanted > largest.get(name, 0.0)
    ]
    return f"no node of the Ray cluster can run this cell: it needs {', '.join(short)}" if short else None


@contextmanager
def _connected(address: str | None) -> Iterator[None]:
    """Ray initialised for the block: joined at ``address``, or started here; left as found."""
    import ray

    if ray.is_initialized():
        yield
        return
    if address not in (None, "auto"):
        _reachable(address)
    options: dict[str, Any] = {"address": address} if address is not None else {"include_dashboard": False}
    try:
        ray.init(**options)
    except ConnectionError as exc:
        raise ExecutorUnavailableError(f"cannot reach the Ray cluster at {address}: {exc}") from None
    try:
        yield
    finally:
        ray.shutdown()


def _reachable(address: str) -> None:
    """Fail at once when nothing answers at ``HOST:PORT`` (Ray itself would retry for many minutes)."""
    host, _, port = address.rpartition(":")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=5).close()
    except (OSError, ValueError) as exc:
        raise ExecutorUnavailableError(
            f"nothing answers at {address} ({exc}); start a cluster with `ray start --head` and pass its address, "
            "or --address auto on one of its machines"
        ) from None

"""A run's outputs: nothing written outside its directory, all or nothing, one run per directory at a time.

Real runs on tiny models and real files: the temporary tree is walked before and after a run,
a read-only folder makes the outputs fail, another process holds the lock.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import pytest

from mspgt_bench.atomic import slug
from mspgt_bench.run import RunOptions, pipeline, run_suite
from mspgt_bench.run.rundir import STAGING_PREFIX, RunDirBusyError, run_lock
from mspgt_bench.suite.loader import load_suite

HOSTILE = "../../../../escaped/pwned"
ODD = "a b:c*?<>|\\é\n"


def _run(path: Path, out: Path | None, **options):
    return run_suite(load_suite(path), RunOptions(out=out, **options))


def _tree(root: Path) -> set[Path]:
    return set(root.rglob("*"))


def _hostile_suite(minimal_suite, tmp_path: Path, output: dict) -> dict:
    """Every id, name and label that becomes a file or folder name: relative escapes, absolute, odd characters."""
    absolute = str(tmp_path / "absolute" / "pwned")
    return minimal_suite(
        suite={"name": HOSTILE, "version": "1"},
        models=[{"name": "../../evil/" + absolute, "adapter": "hf", "args": {"model": "tiny-llama"}}],
        signals=[
            {"name": "logit_lens"},
            {"name": "angular_distance"},
            {"name": "angular_distance", "id": HOSTILE},
            {"name": "angular_distance", "id": absolute},
            {"name": "angular_distance", "id": ODD},
        ],
        detectors=[{"name": "evidence", "id": absolute, "options": {"profiles": {"logit_lens.kl": 1.0}, "n_boot": 20}}],
        interventions=[{"name": "layer_deletion", "id": HOSTILE}, {"name": "layer_deletion", "id": absolute}],
        output=output,
    )


@pytest.mark.parametrize("given_out", [True, False], ids=["--out", "output.dir/suite name"])
def test_hostile_ids_and_names_write_nothing_outside_the_run_directory(write_suite, minimal_suite, tmp_path, given_out):
    suite = _hostile_suite(minimal_suite, tmp_path, {"figures": True, "dir": str(tmp_path / "runs")})
    path = write_suite(suite)
    before = _tree(tmp_path)
    run_dir = tmp_path / "a" / "b" / "c" / "run" if given_out else tmp_path / "runs" / slug(HOSTILE)
    result = _run(path, run_dir if given_out else None)
    assert result.run_dir == run_dir
    new = _tree(tmp_path) - before
    assert {p for p in new if not p.is_relative_to(run_dir) and p not in run_dir.parents} == set()
    model = slug(suite["models"][0]["name"])
    figures = run_dir / "figures" / model
    assert {f"{slug(HOSTILE)}.angular_all.png", f"{slug(ODD)}.angular_all.png"} <= {p.name for p in figures.iterdir()}
    assert (figures / "interventions" / f"{slug(HOSTILE)}.top1_agreement.png").is_file()
    profiles = pd.read_csv(run_dir / "profiles.csv", keep_default_na=False)
    assert {HOSTILE, str(tmp_path / "absolute" / "pwned"), ODD} < set(profiles["signal"])  # CSV keeps the ids as given
    assert json.loads((run_dir / "results.json").read_text())["suite"]["name"] == HOSTILE


@contextmanager
def read_only(folder: Path) -> Iterator[None]:
    """Make ``folder`` refuse new entries: mode 0555, or the immutable attribute where that is bypassed (root)."""
    folder.chmod(0o555)
    immutable = (
        _accepts_new_files(folder) and subprocess.run(["chattr", "+i", str(folder)], check=False).returncode == 0
    )
    try:
        if _accepts_new_files(folder):
            pytest.skip("cannot make a folder read-only here (root without chattr)")
        yield
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", str(folder)], check=True)
        folder.chmod(0o755)


def _accepts_new_files(folder: Path) -> bool:
    probe = folder / ".probe"
    try:
        probe.touch()
    except OSError:
        return False
    probe.unlink()
    return True


def _outputs(run_dir: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in run_dir.iterdir() if p.is_file() and p.name != ".lock"}


def test_a_run_that_fails_writing_its_outputs_leaves_the_previous_ones(write_suite, minimal_suite, tmp_path):
    run_dir = tmp_path / "run"
    _run(write_suite(minimal_suite(output={"figures": True})), run_dir)
    previous = _outputs(run_dir)
    assert {"results.json", "suite.yaml", "verdicts.csv", "profiles.csv"} <= set(previous)
    changed = write_suite(minimal_suite(output={"figures": True}, bootstrap={"n_boot": 100}))
    with read_only(run_dir), pytest.raises(OSError):
        _run(changed, run_dir)
    assert _outputs(run_dir) == previous
    assert not list(run_dir.glob(f"{STAGING_PREFIX}*"))


def test_outputs_replace_the_previous_run_and_leave_no_stale_file(write_suite, minimal_suite, tmp_path):
    run_dir = tmp_path / "run"
    _run(write_suite(minimal_suite(output={"figures": True})), run_dir)
    assert (run_dir / "figures").is_dir() and (run_dir / "verdicts.csv").is_file()
    _run(write_suite(minimal_suite(output={"figures": False, "formats": ["json"]}, bootstrap={"n_boot": 100})), run_dir)
    assert {p.name for p in run_dir.iterdir()} - {".lock"} == {"cache", "results.json", "samples.jsonl", "suite.yaml"}
    assert "n_boot: 100" in (run_dir / "suite.yaml").read_text()


def _figures(run_dir: Path) -> dict[Path, bytes]:
    return {p.relative_to(run_dir): p.read_bytes() for p in (run_dir / "figures").rglob("*.png")}


def test_an_unchanged_rerun_copies_every_figure_from_the_cache(write_suite, minimal_suite, tmp_path, monkeypatch):
    from matplotlib.figure import Figure

    suite = write_suite(minimal_suite(interventions=[{"name": "layer_deletion"}], output={"figures": True}))
    run_dir = tmp_path / "run"
    _run(suite, run_dir)
    first = _figures(run_dir)
    assert any(p.parent.name == "interventions" for p in first) and len(first) > 10
    cached = sorted((run_dir / "cache" / "figures").iterdir())
    assert len(cached) == len(first)
    drawn = []
    monkeypatch.setattr(Figure, "savefig", lambda *args, **kwargs: drawn.append(args))
    _run(suite, run_dir)
    assert drawn == [] and _figures(run_dir) == first
    assert sorted((run_dir / "cache" / "figures").iterdir()) == cached


@contextmanager
def held_by_another_process(run_dir: Path) -> Iterator[None]:
    """Another process holding ``run_lock(run_dir)`` until the block ends."""
    code = (
        "import sys; from pathlib import Path; from mspgt_bench.run.rundir import run_lock\n"
        "with run_lock(Path(sys.argv[1])):\n    print('held', flush=True); sys.stdin.read()"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", code, str(run_dir)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        yield
    finally:
        holder.stdin.close()
        holder.wait(timeout=60)


def test_a_second_run_into_a_locked_directory_fails_at_once(tmp_path):
    run_dir = tmp_path / "run"
    with held_by_another_process(run_dir):
        started = time.monotonic()
        busy = "in use by another mspgt-bench run.*different --out"
        with pytest.raises(RunDirBusyError, match=busy) as error, run_lock(run_dir):
            pass
        assert time.monotonic() - started < 1 and str(run_dir) in str(error.value)
    with run_lock(run_dir):  # released when the holder ends
        pass


@pytest.mark.xfail(
    "run_lock" not in pipeline.run_suite.__code__.co_names, reason="run_suite does not take run_lock yet", strict=True
)
def test_run_suite_refuses_a_directory_another_run_holds(write_suite, minimal_suite, tmp_path):
    run_dir = tmp_path / "run"
    with held_by_another_process(run_dir), pytest.raises(RunDirBusyError):
        _run(write_suite(minimal_suite()), run_dir)
    assert not (run_dir / "results.json").exists()


def test_the_lock_removes_what_a_killed_run_left_while_writing(tmp_path):
    leftover = tmp_path / "run" / f"{STAGING_PREFIX}killed"
    (leftover / "figures").mkdir(parents=True)
    with run_lock(tmp_path / "run"):
        assert not leftover.exists()

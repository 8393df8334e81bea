"""A run killed with SIGKILL mid-way resumes from its cache and ends with the numbers of an uninterrupted run."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path


def _command(suite: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "mspgt_bench.cli", "run", str(suite), "--out", str(out)]


def test_kill_9_then_rerun_gives_the_numbers_of_a_clean_run(write_suite, minimal_suite, tmp_path):
    suite = write_suite(
        minimal_suite(
            models=[{"name": "tiny-llama"}, {"name": "tiny-qwen2"}],
            controls={"random_weights": True, "shuffled_tokens": True},
        )
    )
    killed = tmp_path / "killed"
    process = subprocess.Popen(_command(suite, killed), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while not list((killed / "cache").glob("*.npz")) and time.monotonic() < deadline:
        time.sleep(0.05)  # kill once the first cell is cached, mid-run
    process.send_signal(signal.SIGKILL)
    process.wait()
    finished_before_kill = len(list((killed / "cache").glob("*.npz")))
    assert 1 <= finished_before_kill < 6, "the kill must land mid-run (6 cells in all)"
    assert not (killed / "verdicts.csv").exists()

    resumed = subprocess.run(_command(suite, killed), capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stdout.count("cached profiles reused") == finished_before_kill
    clean = subprocess.run(_command(suite, tmp_path / "clean"), capture_output=True, text=True)
    assert clean.returncode == 0, clean.stderr
    for table in ("verdicts.csv", "profiles.csv", "boundaries.csv"):
        assert (killed / table).read_bytes() == (tmp_path / "clean" / table).read_bytes(), table

"""The benchmark scripts under bench/ start, parse their options and run on a tiny model (no timing assertions)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).parents[1] / "bench"
SCRIPTS = ["floor_ratio.py", "deletion_sweep.py", "memory.py", "scaling.py", "peers.py"]


def _run(*args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], check=False, capture_output=True, text=True, timeout=timeout, cwd=BENCH.parent)


@pytest.mark.parametrize("script", SCRIPTS)
def test_help(script: str) -> None:
    proc = _run(str(BENCH / script), "--help")
    assert proc.returncode == 0, proc.stderr
    assert "--repeats" in proc.stdout and "--threads" in proc.stdout


def test_peers_on_tiny_model_agree_and_skip_missing_peers() -> None:
    proc = _run(str(BENCH / "peers.py"), "--model", "tiny-llama", "--stimuli", "4", "--tokens", "16", "--repeats", "1",
                "--threads", "1")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert out.startswith("machine: ")
    assert "mspgt-bench (resume)" in out and "HF hooks (naive)" in out
    for peer in ("nnsight", "TransformerLens"):  # either it ran or it was skipped with a reason
        assert f"SKIP {peer}" in out or f"\n{peer} " in out
    assert "NO" not in out.split("implementation", 1)[1].split("(effect values")[0]


def test_memory_on_tiny_model_compares_whole_batches_and_accounts_the_states() -> None:
    proc = _run(str(BENCH / "memory.py"), "--model", "tiny-llama", "--sizes", "8,16", "--signal", "cka",
                "--signal", "angular_4", "--trace", "--threads", "1")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert out.startswith("machine: ") and "signals cka, angular_4" in out and "warning" not in out
    assert "largest batch (real tok)" in out and "heap used" in out and "per-batch trace, 16 stimuli" in out
    held = {}
    for line in out.split("expected B/stim", 1)[1].splitlines()[2:]:
        cells = line.split()
        if cells and cells[0] in ("cka", "angular_4"):
            held[cells[0]] = (cells[-2], cells[-1])
    assert held == {"cka": ("50", "50"), "angular_4": ("16", "16")}  # what each signal holds is what it should

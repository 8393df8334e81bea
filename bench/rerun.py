"""Rerun: what the run cache saves, the whole `mspgt-bench run` process timed, start-up included.

    python bench/rerun.py                                        # suites/quickstart.yaml, 3 repeats
    python bench/rerun.py --suite suites/mspgt.yaml --limit 4    # the full suite on 4 stimuli
    python bench/rerun.py --out runs/quickstart                  # reuse a run directory (no first run)

Into one run directory, the script times:

* ``first``: the suite from an empty cache (skipped, and not timed, with ``--out`` naming a
  directory that already holds a run: it is copied first, so the original stays as it was);
* ``profiles cached``: every rerun before detections, outcomes and figures were cached: each
  repeat first deletes ``cache/*-detections-*``, ``cache/*-outcomes-*`` and ``cache/figures/``,
  so the nulls, the bootstraps and the figures are computed again;
* ``unchanged``: the rerun with everything cached.

Each is a fresh ``python -m mspgt_bench.cli run`` process; the table gives the median of the
repeats and its ratio to ``profiles cached``. It checks that every rerun wrote byte-identical
CSVs, and says so.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import machine_line, print_table

CSVS = ("verdicts.csv", "boundaries.csv", "profiles.csv", "effects.csv")
STAGE_ENTRIES = ("*-detections-*.json", "*-outcomes-*.json")


def run(suite: Path, out: Path, limit: int | None) -> float:
    """Seconds of one whole ``mspgt-bench run`` process; raises if it does not exit 0."""
    command = [sys.executable, "-m", "mspgt_bench.cli", "run", str(suite), "--out", str(out)]
    command += ["--limit", str(limit)] if limit else []
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def forget_stages(out: Path) -> None:
    """Delete the cached detections, outcomes and figures: what a rerun recomputed before they were cached."""
    for pattern in STAGE_ENTRIES:
        for path in (out / "cache").glob(pattern):
            path.unlink()
    shutil.rmtree(out / "cache" / "figures", ignore_errors=True)


def csv_bytes(out: Path) -> dict[str, bytes]:
    return {name: (out / name).read_bytes() for name in CSVS if (out / name).is_file()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--suite", type=Path, default=Path("suites/quickstart.yaml"))
    parser.add_argument("--limit", type=int, default=None, help="stimuli per set (mspgt-bench run --limit)")
    parser.add_argument("--out", type=Path, default=None, help="a run directory to copy and rerun (skips the first run)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(machine_line())
    with tempfile.TemporaryDirectory(prefix="mspgt-rerun-") as folder:
        out = Path(folder) / "run"
        rows = []
        if args.out is not None:
            shutil.copytree(args.out, out)
        else:
            rows.append(("first", run(args.suite, out, args.limit)))
        reference = csv_bytes(out) if args.out is None else None
        timings: dict[str, list[float]] = {"profiles cached": [], "unchanged": []}
        identical = True
        for _ in range(args.repeats):
            forget_stages(out)
            timings["profiles cached"].append(run(args.suite, out, args.limit))
            reference = reference or csv_bytes(out)
            identical &= csv_bytes(out) == reference
            timings["unchanged"].append(run(args.suite, out, args.limit))
            identical &= csv_bytes(out) == reference
        rows += [(name, statistics.median(seconds)) for name, seconds in timings.items()]
    base = statistics.median(timings["profiles cached"])
    print(f"suite {args.suite}{f' --limit {args.limit}' if args.limit else ''}; median of {args.repeats} repeats")
    print_table(["run", "wall s", "÷ profiles cached"], [(name, seconds, seconds / base) for name, seconds in rows])
    print("every rerun wrote byte-identical CSVs" if identical else "RERUNS DIFFER: some CSV changed between reruns")


if __name__ == "__main__":
    main()

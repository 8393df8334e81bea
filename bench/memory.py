"""Memory: peak RSS of a suite's signals run at N, 4N and 16N stimuli, each in a fresh process.

    python bench/memory.py                                   # suites/signals.yaml on smollm2-135m, N = 4 (4, 16, 64 stimuli)
    python bench/memory.py --model tiny-llama --n 8          # quick check
    python bench/memory.py suites/quickstart.yaml --n 8 --repeats 3 --threads 1
    python bench/memory.py --model tiny-llama --n 8 --env MALLOC_ARENA_MAX=1   # allocator arenas (see below)

Each size runs in its own subprocess (``--child``), so one size's allocations cannot hide
another's. The child loads the model and the stimuli, runs the shared capture pass feeding
every observational signal of the suite (``--all-signals``: scale_sensitivity's extra passes
too), then reduces the signals to profiles (bootstraps included), and reports:

* ``load``: peak RSS (``resource.getrusage(RUSAGE_SELF).ru_maxrss``) after loading model and stimuli;
* ``capture``: peak RSS after the capture pass (the per-batch activations are transient; what
  stays is each signal's state);
* ``profiles``: peak RSS after the profiles (dataset signals stack their states and build
  ``n × n`` matrices here);
* ``retained``: current RSS after the capture pass minus current RSS after loading;
* ``states``: the bytes the signals actually hold after the capture pass (numpy arrays and
  tensors reachable from each signal object), and what they *should* need per stimulus:
  ``4·(L+1)·d`` for each dataset signal (``DatasetSignal``: one pooled float32 state per stream
  state), ``8·points`` per metric for per-stimulus signals (one float64 row), nothing per
  stimulus for CKA (per-batch ``[L+1, L+1]`` HSIC sums).

Growth is against the N run; "B / extra stimulus" = (peak at kN − peak at N) / ((k−1)·N). With
``--repeats R`` every size runs R times and the medians are printed. Streaming holds when the
capture-peak growth per extra stimulus is close to the state bytes per stimulus.

Allocator caveat (measured, tiny-llama, signals.yaml): with glibc's default malloc arenas the
child's RSS grows by ~0.6-1 MB per stimulus although the signals hold ~5 KB per stimulus; almost
all of it comes from CKA's per-batch float64 Gram/HSIC temporaries left as fragmented free
memory in per-thread arenas (not a leak: with ``--env MALLOC_ARENA_MAX=1`` or
``--env MALLOC_MMAP_THRESHOLD_=65536`` the retained growth disappears).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import statistics
import subprocess
import sys
from pathlib import Path

from _common import add_common_args, human_bytes, machine_line, print_table, set_threads

DEFAULT_SUITE = str(Path(__file__).parents[1] / "suites" / "signals.yaml")


def peak_rss() -> int:
    """Peak resident set size of this process in bytes (Linux reports KiB)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def current_rss() -> int:
    """Current resident set size in bytes (``/proc/self/statm``; the peak where that is missing)."""
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return peak_rss()


def held_bytes(obj, seen: set[int] | None = None) -> int:
    """Bytes of the numpy arrays and torch tensors reachable from ``obj`` (attributes, dicts, lists)."""
    import numpy as np
    import torch

    seen = set() if seen is None else seen
    if id(obj) in seen:
        return 0
    seen.add(id(obj))
    if isinstance(obj, np.ndarray):
        return obj.nbytes if obj.base is None else held_bytes(obj.base, seen)  # a view keeps its base alive
    if isinstance(obj, torch.Tensor):
        return obj.untyped_storage().nbytes()
    if isinstance(obj, dict):
        return sum(held_bytes(v, seen) for v in obj.values())
    if isinstance(obj, (list, tuple, set)):
        return sum(held_bytes(v, seen) for v in obj)
    if hasattr(obj, "__dict__") and not isinstance(obj, type):
        return sum(held_bytes(v, seen) for v in vars(obj).values())
    return 0


def expected_per_stimulus(signal, n_layers: int, d_model: int, n_stimuli: int) -> tuple[int, str]:
    """The state bytes per stimulus ``signal`` should need, and the formula."""
    from mspgt_bench.signals.base import PerStimulusSignal
    from mspgt_bench.signals.dataset import DatasetSignal

    if isinstance(signal, DatasetSignal):
        return 4 * (n_layers + 1) * d_model, "4(L+1)d"
    if isinstance(signal, PerStimulusSignal):
        points = sum(len(next(iter(rows.values()))) for rows in signal._values.values() if rows)
        return 8 * points, f"8 x {points} points"
    return 0, "per batch"


def child(args: argparse.Namespace) -> None:
    set_threads(args.threads)
    import torch  # noqa: F401
    from _common import SuiteSetup

    from mspgt_bench.capture import capture_pass

    setup = SuiteSetup(args.suite, args.model, n=args.n, observational=not args.all_signals)
    adapter = setup.adapter
    gc.collect()
    out = {"n": len(setup.stimuli), "load_peak": peak_rss(), "load_now": current_rss(),
           "n_layers": adapter.n_layers, "d_model": adapter.d_model}
    signals = setup.signals()
    capture_pass(adapter, setup.stimuli, signals, batch_size=setup.batch_size, max_tokens=setup.max_tokens)
    gc.collect()
    out["capture_peak"], out["capture_now"] = peak_rss(), current_rss()
    out["states"] = {s.label: held_bytes(s) for s in signals}
    out["expected"] = {s.label: expected_per_stimulus(s, adapter.n_layers, adapter.d_model, out["n"]) for s in signals}
    for signal in signals:
        signal.profiles(setup.boot)
    out["profiles_peak"] = peak_rss()
    print("MEMORY_JSON " + json.dumps(out))


def run_child(args: argparse.Namespace, n: int) -> dict:
    cmd = [sys.executable, __file__, args.suite, "--child", "--n", str(n)]
    if args.model:
        cmd += ["--model", args.model]
    if args.threads:
        cmd += ["--threads", str(args.threads)]
    if args.all_signals:
        cmd.append("--all-signals")
    env = dict(os.environ, **dict(item.split("=", 1) for item in args.env))
    proc = subprocess.run(cmd, check=False, capture_output=True, text=True, env=env)
    for line in proc.stdout.splitlines():
        if line.startswith("MEMORY_JSON "):
            return json.loads(line.removeprefix("MEMORY_JSON "))
    raise RuntimeError(f"child for n={n} failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("suite", nargs="?", default=DEFAULT_SUITE, help="suite whose signals section runs")
    parser.add_argument("--model", default=None, help="model (default: the suite's first)")
    parser.add_argument("--n", type=int, default=4, help="N: runs N, 4N and 16N stimuli (default 4)")
    parser.add_argument("--all-signals", action="store_true", help="include scale_sensitivity (extra passes)")
    parser.add_argument("--env", action="append", default=[], metavar="KEY=VALUE",
                        help="environment of the child runs, e.g. MALLOC_ARENA_MAX=1 (repeatable)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    add_common_args(parser, repeats=1)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    set_threads(args.threads)
    print(machine_line())

    sizes = [args.n, 4 * args.n, 16 * args.n]
    runs = {n: [run_child(args, n) for _ in range(args.repeats)] for n in sizes}

    def med(n: int, key: str) -> float:
        return statistics.median(r[key] for r in runs[n])

    first = runs[sizes[0]][0]
    L, d = first["n_layers"], first["d_model"]
    print(f"suite {args.suite}, model {args.model or 'from the suite'} (L = {L}, d = {d}); "
          f"{args.repeats} child run(s) per size, medians; peak RSS = ru_maxrss of the child"
          + (f"; child env {' '.join(args.env)}" if args.env else ""))
    print()
    rows = []
    for n in sizes:
        rows.append([
            n,
            human_bytes(med(n, "load_peak")),
            human_bytes(med(n, "capture_peak")),
            human_bytes(med(n, "profiles_peak")),
            human_bytes(med(n, "capture_now") - med(n, "load_now")),
            human_bytes(statistics.median(sum(r["states"].values()) for r in runs[n])),
        ])
    print_table(["stimuli", "peak load", "peak capture", "peak profiles", "retained", "signal states"], rows)
    print()

    base = sizes[0]
    growth_rows = []
    for n in sizes[1:]:
        extra = n - base
        row = [f"{n} vs {base}"]
        for key in ("capture_peak", "profiles_peak"):
            delta = med(n, key) - med(base, key)
            row += [human_bytes(delta), f"{delta / extra:,.0f}"]
        retained = (med(n, "capture_now") - med(n, "load_now")) - (med(base, "capture_now") - med(base, "load_now"))
        states = statistics.median(sum(r["states"].values()) for r in runs[n]) - statistics.median(
            sum(r["states"].values()) for r in runs[base])
        row += [f"{retained / extra:,.0f}", f"{states / extra:,.0f}"]
        growth_rows.append(row)
    print_table(["growth", "capture peak", "B/extra stim", "profiles peak", "B/extra stim", "retained B/stim",
                 "states B/stim"], growth_rows)
    print()

    last = runs[sizes[-1]][0]
    expected_total = 0
    state_rows = []
    for label, (per_stimulus, formula) in last["expected"].items():
        expected_total += per_stimulus
        measured = (last["states"][label] - runs[base][0]["states"][label]) / (sizes[-1] - base)
        state_rows.append([label, formula, f"{per_stimulus:,}", f"{measured:,.0f}"])
    state_rows.append(["total", "", f"{expected_total:,}", ""])
    print("state each signal should need per stimulus, and what it holds (growth of reachable arrays per extra stimulus):")
    print_table(["signal", "formula", "expected B/stim", "held B/stim"], state_rows)
    growth = (med(sizes[-1], "capture_peak") - med(base, "capture_peak")) / (sizes[-1] - base)
    print()
    print(f"capture-peak growth {growth:,.0f} B per extra stimulus vs {expected_total:,} B of states per stimulus: "
          f"ratio {growth / expected_total if expected_total else float('nan'):.2f} "
          "(about 1 = growth only from per-stimulus states; RSS noise is a few MiB, so use a larger --n for a sharper ratio)")


if __name__ == "__main__":
    main()

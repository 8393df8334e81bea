"""Scaling: wall time of a suite's signals run against the number of stimuli and against depth.

    python bench/scaling.py                                  # suites/signals.yaml; N = 8 16 32 64 on tiny-llama; depth 8 16 32 at N = 16
    python bench/scaling.py --model smollm2-135m --sizes 4 8 16 --depths   # N only, on the real model
    python bench/scaling.py --repeats 3 --threads 1

Two sweeps, each point the median over ``--repeats`` of one run of every observational signal
of the suite (the shared capture pass, then the profiles with their bootstraps), timed in two
phases:

* **stimuli**: ``--sizes`` stimuli on ``--model`` (default ``tiny-llama``);
* **depth**: ``tiny_config(family, n_layers)`` models (``HFAdapter("tiny-<family>", n_layers=L)``,
  seeded random weights, d = 64) with ``--depths`` layers, ``--depth-n`` stimuli each.

For each phase and the total it prints the fitted log-log exponent ``b`` of ``t ≈ a · x^b``
(``numpy.polyfit`` on ``log x, log t``): 1 = linear. The capture phase should be linear in both;
dataset signals' profiles (n × n kernels, eigendecompositions per resample) grow faster in N,
CKA's ``[L+1, L+1]`` matrices faster in depth.
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

import numpy as np
from _common import SuiteSetup, add_common_args, machine_line, print_table, set_threads, timed

from mspgt_bench.capture import capture_pass

DEFAULT_SUITE = str(Path(__file__).parents[1] / "suites" / "signals.yaml")


def one_run(setup: SuiteSetup) -> tuple[float, float]:
    """Wall seconds of (capture pass, profiles) for fresh signals."""
    signals = setup.signals()
    capture, _, _ = timed(lambda: capture_pass(setup.adapter, setup.stimuli, signals, batch_size=setup.batch_size,
                                               max_tokens=setup.max_tokens))
    profiles, _, _ = timed(lambda: [s.profiles(setup.boot) for s in signals])
    return capture, profiles


def measure(setup: SuiteSetup, repeats: int) -> tuple[float, float, float]:
    """Medians of capture, profiles and their sum over ``repeats`` runs (after one untimed warm-up batch)."""
    capture_pass(setup.adapter, setup.stimuli[: setup.batch_size], setup.signals(), batch_size=setup.batch_size,
                 max_tokens=setup.max_tokens)
    runs = [one_run(setup) for _ in range(max(1, repeats))]
    return (statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs),
            statistics.median(r[0] + r[1] for r in runs))


def exponent(xs: list[int], ts: list[float]) -> float:
    """Slope of ``log t`` against ``log x`` (least squares)."""
    if len(xs) < 2:
        return float("nan")
    return float(np.polyfit(np.log(xs), np.log(ts), 1)[0])


def report(title: str, xname: str, xs: list[int], points: list[tuple[float, float, float]]) -> None:
    print(title)
    rows = [[x, c, p, t, t / x] for x, (c, p, t) in zip(xs, points)]
    print_table([xname, "capture s", "profiles s", "total s", f"total s / {xname}"], rows, floatfmt=".3f")
    fits = [exponent(xs, [p[i] for p in points]) for i in range(3)]
    print(f"fitted exponent b (t ~ {xname}^b): capture {fits[0]:.2f}, profiles {fits[1]:.2f}, total {fits[2]:.2f}")
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("suite", nargs="?", default=DEFAULT_SUITE, help="suite whose signals section runs")
    parser.add_argument("--model", default="tiny-llama", help="model of the stimuli sweep (default tiny-llama)")
    parser.add_argument("--sizes", type=int, nargs="*", default=[8, 16, 32, 64], help="stimulus counts (empty: skip)")
    parser.add_argument("--family", default="llama", help="tiny config family of the depth sweep")
    parser.add_argument("--depths", type=int, nargs="*", default=[8, 16, 32], help="layer counts (empty: skip)")
    parser.add_argument("--depth-n", type=int, default=16, help="stimuli per depth point")
    parser.add_argument("--all-signals", action="store_true", help="include scale_sensitivity (extra passes)")
    add_common_args(parser, repeats=2)
    args = parser.parse_args()
    set_threads(args.threads)
    print(machine_line())
    observational = not args.all_signals

    if args.sizes:
        points = []
        for n in args.sizes:
            setup = SuiteSetup(args.suite, args.model, n=n, observational=observational)
            points.append(measure(setup, args.repeats))
        batch, tokens = setup.batch_size, setup.max_tokens
        report(f"time against stimuli: {args.model}, {len(setup.specs)} signals of {Path(args.suite).name}, "
               f"batch {batch}, <= {tokens} tokens, median of {args.repeats}", "N", args.sizes, points)
    if args.depths:
        points = []
        for depth in args.depths:
            setup = SuiteSetup(args.suite, f"tiny-{args.family}", n=args.depth_n, observational=observational,
                               adapter_args={"n_layers": depth})
            assert setup.adapter.n_layers == depth
            points.append(measure(setup, args.repeats))
        report(f"time against depth: tiny-{args.family} (d = {setup.adapter.d_model}), {args.depth_n} stimuli, "
               f"median of {args.repeats}", "layers", args.depths, points)


if __name__ == "__main__":
    main()

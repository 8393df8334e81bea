"""Memory: peak RSS of a suite's signals run at N, 4N and 8N stimuli, each in a fresh process.

    python bench/memory.py                                  # suites/signals.yaml on smollm2-135m: 8, 32, 64 stimuli
    python bench/memory.py --trace --repeats 2              # + per-batch peak / heap trace; medians of 2 runs
    python bench/memory.py --signal cka --sizes 8,64 --repeats 2        # one signal alone (its label; repeatable)
    python bench/memory.py --sizes 8,64 --malloc-trim                   # diagnostic: what the allocator retains
    python bench/memory.py --sizes 8,64 --env MALLOC_MMAP_THRESHOLD_=1048576   # allocator experiment (below)
    python bench/memory.py --model tiny-llama --sizes 8,16              # quick check (~15 s)

Each size runs in its own subprocess (``--child``), so one size's allocations cannot hide
another's. The child loads the model and the stimuli, runs the shared capture pass feeding
every observational signal of the suite (``--all-signals``: scale_sensitivity's extra passes
too; ``--signal LABEL``: only those), then reduces the signals to profiles (bootstraps
included), and reports:

* ``peak load`` / ``peak capture`` / ``peak profiles``: peak RSS (``ru_maxrss``) after loading,
  after the capture pass, after the profiles; ``capture s``: wall time of the capture pass;
* ``+file RSS`` / ``+anon RSS``: resident growth from after loading to after the capture, split
  by ``/proc/self/smaps_rollup``. The file part (~510 MiB for smollm2-135m) is the memory-mapped
  safetensors weights, paged in by the first forward pass: it is why capture minus load looks
  like 0.6 GiB even for one batch, and it does not depend on N;
* ``heap used`` / ``heap free``: glibc ``mallinfo2()`` after the capture (all arenas). ``used``
  is what the process keeps alive; ``free`` is memory malloc holds without returning it
  (fragmentation, untrimmed top) -- resident, but nobody's state;
* ``signal states``: bytes of numpy arrays / tensors reachable from each signal object, and
  what each should need per stimulus: ``4·(L+1)·d`` per dataset signal, ``8·points`` per
  per-stimulus signal, ``2·8·(L+1)²`` per minibatch for CKA;
* with ``--trace``: peak, RSS and heap after every batch.

Like with like. Sizes are whole batches: N defaults to the suite's batch size (8), and the
largest batch of each size is printed. With signals.yaml every size from 8 on has a full
``8 x 96``-token batch (667-768 real tokens), so each size has the same per-batch transient
and peak(kN) − peak(N) is what accumulates across batches. The former default N = 4 compared
one ``4 x 96`` batch (344 real tokens) with full batches: its smaller transient alone was
counted as "growth" (current HEAD, original script: 2.0 / 2.9 / 3.0 GiB at 4 / 16 / 64
stimuli, "80 MB per extra stimulus" from 4 to 16). Peaks also vary between identical runs
when the allocator's state differs (64 stimuli on 74238d2, before the logit-lens change: 1.5,
1.9 and 2.3 GiB in three runs, 1.7 in an earlier one), so use ``--repeats`` and read ``±``.

Measured 2026-11-25, smollm2-135m, 2-core AMD EPYC (shared), ``--threads 2``, HEAD a6f8462.
Peak capture in MiB at 8 / 32 / 64 stimuli; heap used / free after the capture, 8 -> 64
stimuli; growth per extra stimulus, 64 vs 8: capture peak / heap used (states: 222 KB):

    HEAD (CKA as committed)        3,004 / 3,034 / 3,034   used 198 -> 211, free 257 -> 357   0.6 MB / 227 KB
      another run                  2.9 / 3.0 / 2.9 GiB     used 198 -> 211, free 233 -> 292  -0.1 MB / 226 KB
    + this CKA change              2,974 / 3,094 / 3,150   used 198 -> 211, free 259 -> 378   3.3 MB / 229 KB
    + no_grad around the updates   1,677 / 1,726 / 1,871   used 198 -> 211, free 225 -> 446   3.6 MB / 227 KB
      (proposed, capture.py; 2 runs each, spread ±6-11)
      another run (8 / 64)         1,777 /   -   / 1,767   used 199 -> 211, free 241 -> 222  -0.2 MB / 226 KB
      + malloc_trim(0) per batch   1,676 /   -   / 1,730   anon RSS retained +6 -> +18 MiB    1.0 MB; 37.1 s
      + MMAP_THRESHOLD_ 1 MiB      1,620 /   -   / 1,628   used 167 -> 180, free  34 ->  17   0.16 MB; 46.4 s
    cka alone, HEAD (2 runs)       1,267 ±2 / - / 1,368 ±21                 free 221 -> 278
    cka alone, this change         1,156 ±18 / - / 1,187 ±2                 free 127 -> 145

(capture of 64 stimuli with no_grad: 37.7 s; ``MMAP_THRESHOLD_`` = ``--env MALLOC_MMAP_THRESHOLD_=1048576``.)

What that says:

* Heap in use grows by 226-229 KB per extra stimulus in every configuration, against 222 KB of
  signal states: nothing but the states is retained. The rest of the "growth" is transient
  peaks and malloc's free heap.
* The capture peak (~2.9-3.1 GiB) is one batch's transient, the same at 8 and at 64 stimuli:
  since 1d34b75 the logit lens reads out through the unembedding ``nn.Linear`` weight outside
  ``torch.no_grad``/``inference_mode`` (the forward pass runs under inference mode, the signal
  updates do not). The weight requires grad, so every ``[512, V]`` chunk's logits and ``exp``
  are saved for backward in a graph that lives until the update returns. One logit-lens update
  on one batch peaks 1,769 MiB above its starting RSS (2,853 MiB), 431 MiB under
  ``torch.no_grad()`` (1,562 MiB). With ``no_grad`` around the signal updates the capture peak
  drops by ~1.3 GiB (table) and the capture time does not change (37.7 s vs 39.3 s at 64).
* Beyond that, the capture peak grows by −10 to +194 MiB from 8 to 64 stimuli (−0.2 to 3.6 MB
  per extra stimulus), the order of the run-to-run spread (~100 MiB at 8 and at 64). It is
  glibc's free heap: batches are length-sorted, so each batch's transients (activations,
  attention patterns, logit pieces, per-state copies) are a little larger than the holes the
  previous batch freed, and glibc's dynamic mmap threshold (raised to the largest freed mmapped
  block, up to 32 MiB) sends blocks up to that size to the heap, where small long-lived
  allocations pin them. Heap extension per step, summed over the 8 batches of 64 stimuli
  (no_grad): CKA as committed 137 MiB, after this change 0 (two runs); forward pass 126-321,
  angular_distance 82-210, angular_4 8-30, attention 0-46, logit lens −75 to 64, the entropy
  signals ±170 (a trim is booked to whichever step frees). ``malloc_trim(0)`` after every batch
  returns it (anon RSS after the capture +6 / +18 MiB, no time cost); a fixed ``M_MMAP_THRESHOLD``
  of 1 MiB keeps such blocks out of the heap (0.16 MB per stimulus, below the states) at +23%
  capture time. Environment settings are workarounds, not fixes; ``MALLOC_ARENA_MAX=1`` (the
  earlier workaround) only limits the number of arenas.
* CKA's own share: it built each Gram separately, stacked them ([L+1, n, n] float64, 65 MB at
  512 rows), subtracted ``diag_embed`` (two more blocks that size), converted each state to
  float64 twice and held L+1 clipped copies and L+1 gathered row copies (55 MB at 768 rows) per
  batch. Now: one Gram block per batch shared by the chunks and both variants, diagonals zeroed
  in place, rows gathered and clipped one state at a time, bit-identical results. Alone, its
  capture peak is 110-180 MiB lower and its free heap ~100 MiB smaller.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import time
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


def rss_split() -> tuple[int, int]:
    """``(anonymous, file-backed)`` resident bytes (``/proc/self/smaps_rollup``; ``(current, 0)`` elsewhere).

    File-backed pages are mostly the model's weights: safetensors are memory-mapped and only
    paged in by the first forward pass, so they show up after the capture, not after loading.
    """
    try:
        fields = {}
        with open("/proc/self/smaps_rollup") as fh:
            for line in fh:
                key, _, rest = line.partition(":")
                if rest.strip().endswith("kB"):
                    fields[key] = int(rest.split()[0]) * 1024
        return fields["Anonymous"], fields["Rss"] - fields["Anonymous"]
    except (OSError, KeyError, ValueError):
        return current_rss(), 0


def heap_stats() -> dict[str, int] | None:
    """glibc ``mallinfo2()`` over all arenas: bytes in use, free inside the heaps, and mmapped; None without it.

    ``free`` is memory malloc holds but has not returned to the system (it counts in RSS where
    it was touched): the allocator's retention, not anything the program keeps alive.
    """
    try:
        import ctypes

        class MallInfo2(ctypes.Structure):
            _fields_ = [(name, ctypes.c_size_t) for name in (
                "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]

        libc = ctypes.CDLL(None)
        libc.mallinfo2.restype = MallInfo2
        info = libc.mallinfo2()
    except (OSError, AttributeError):
        return None
    return {"heap": info.arena, "used": info.uordblks, "free": info.fordblks, "mmapped": info.hblkhd}


def malloc_trim():
    """glibc ``malloc_trim`` (returns free heap pages to the system), or None without glibc."""
    try:
        import ctypes

        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return trim


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


def expected_per_stimulus(signal, n_layers: int, d_model: int, batch_size: int) -> tuple[int, str]:
    """The state bytes per stimulus ``signal`` should need, and the formula."""
    from mspgt_bench.signals.base import PerStimulusSignal
    from mspgt_bench.signals.cka import VARIANTS, CKASignal
    from mspgt_bench.signals.dataset import DatasetSignal

    if isinstance(signal, CKASignal):  # one [L+1, L+1] float64 HSIC sum per variant and minibatch
        return round(len(VARIANTS) * 8 * (n_layers + 1) ** 2 / batch_size), f"{len(VARIANTS)}x8(L+1)^2/batch"
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

    from mspgt_bench.capture import capture_pass, length_sorted_batches

    setup = SuiteSetup(args.suite, args.model, n=args.n, observational=not args.all_signals)
    adapter = setup.adapter
    specs = setup.specs
    if args.signal:
        unknown = sorted(set(args.signal) - {s.label for s in specs})
        if unknown:
            raise SystemExit(f"no signal {', '.join(unknown)} in the suite (labels: {', '.join(s.label for s in specs)})")
        specs = [s for s in specs if s.label in args.signal]
    # the largest batch: its forward pass and signal updates make the per-batch transient peak
    batches = length_sorted_batches(setup.stimuli, setup.batch_size)
    shapes = []
    for indices in batches:
        mask = adapter.tokenize([setup.stimuli[i].text for i in indices], indices, setup.max_tokens).attention_mask
        shapes.append((len(indices), int(mask.shape[1]), int(mask.sum())))
    gc.collect()
    out = {"n": len(setup.stimuli), "load_peak": peak_rss(), "load_now": current_rss(), "load_split": rss_split(),
           "load_heap": heap_stats(), "n_layers": adapter.n_layers, "d_model": adapter.d_model,
           "batch_size": setup.batch_size, "largest_batch": max(shapes, key=lambda b: (b[0] * b[1], b[2])),
           "batches": len(batches), "trace": []}
    signals = setup.signals(specs)

    trim = malloc_trim() if args.malloc_trim else None

    def on_batch(_size: int) -> None:
        if trim is not None:
            trim(0)
        heap = heap_stats() or {}
        out["trace"].append({"shape": shapes[len(out["trace"])], "peak": peak_rss(), "now": current_rss(),
                             "heap_used": heap.get("used"), "heap_free": heap.get("free")})

    start = time.perf_counter()
    capture_pass(adapter, setup.stimuli, signals, batch_size=setup.batch_size, max_tokens=setup.max_tokens,
                 on_batch=on_batch)
    out["capture_s"] = time.perf_counter() - start
    gc.collect()
    out["capture_peak"], out["capture_now"] = peak_rss(), current_rss()
    out["capture_split"], out["capture_heap"] = rss_split(), heap_stats()
    out["states"] = {s.label: held_bytes(s) for s in signals}
    out["expected"] = {
        s.label: expected_per_stimulus(s, adapter.n_layers, adapter.d_model, setup.batch_size) for s in signals
    }
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
    for label in args.signal:
        cmd += ["--signal", label]
    if args.malloc_trim:
        cmd.append("--malloc-trim")
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
    parser.add_argument("--n", type=int, default=None,
                        help="N: runs N, 4N and 8N stimuli (default: the suite's batch size, so every size is whole batches)")
    parser.add_argument("--sizes", default=None, metavar="N1,N2,...",
                        help="explicit stimulus counts instead of N, 4N, 8N (the first is the baseline)")
    parser.add_argument("--signal", action="append", default=[], metavar="LABEL",
                        help="run only this signal of the suite (its label, e.g. cka or angular_4; repeatable)")
    parser.add_argument("--all-signals", action="store_true", help="include scale_sensitivity (extra passes)")
    parser.add_argument("--env", action="append", default=[], metavar="KEY=VALUE",
                        help="environment of the child runs, e.g. MALLOC_ARENA_MAX=1 (repeatable)")
    parser.add_argument("--trace", action="store_true", help="print the per-batch peak / heap trace of each size")
    parser.add_argument("--malloc-trim", action="store_true",
                        help="diagnostic: glibc malloc_trim(0) after every batch (what stays is held by the program)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    add_common_args(parser, repeats=1)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    set_threads(args.threads)
    print(machine_line())

    if args.sizes:
        sizes = [int(v) for v in args.sizes.split(",")]
    else:
        if args.n is None:
            from mspgt_bench.suite.loader import load_suite

            args.n = load_suite(args.suite).suite.run.batch_size
        sizes = [args.n, 4 * args.n, 8 * args.n]
    runs = {n: [run_child(args, n) for _ in range(args.repeats)] for n in sizes}

    def med(n: int, get) -> float:
        values = [get(r) for r in runs[n]]
        return float("nan") if any(v is None for v in values) else statistics.median(values)

    def key(name: str):
        return lambda r: r[name]

    def heap(stage: str, field: str):
        return lambda r: None if r[f"{stage}_heap"] is None else r[f"{stage}_heap"][field]

    def states(r: dict) -> int:
        return sum(r["states"].values())

    first = runs[sizes[0]][0]
    L, d, batch_size = first["n_layers"], first["d_model"], first["batch_size"]
    print(f"suite {args.suite}, model {args.model or 'from the suite'} (L = {L}, d = {d}), batch size {batch_size}"
          + (f", signals {', '.join(args.signal)}" if args.signal else "")
          + f"; {args.repeats} child run(s) per size, medians; peak = ru_maxrss of the child"
          + (f"; child env {' '.join(args.env)}" if args.env else "")
          + ("; malloc_trim(0) after every batch" if args.malloc_trim else ""))
    odd = [n for n in sizes if n % batch_size]
    if odd:
        print(f"warning: {odd} not a multiple of the batch size {batch_size}: a short batch has a smaller transient peak")
    print()
    rows = []
    for n in sizes:
        b, t, tokens = first_run(runs, n)["largest_batch"]
        rows.append([
            n, first_run(runs, n)["batches"], f"{b} x {t} ({tokens})",
            mib(med(n, key("load_peak"))),
            mib(med(n, key("capture_peak")))
            + (f" ±{mib((max(r['capture_peak'] for r in runs[n]) - min(r['capture_peak'] for r in runs[n])) / 2)}"
               if args.repeats > 1 else ""),
            mib(med(n, key("profiles_peak"))),
            mib(med(n, lambda r: r["capture_split"][1] - r["load_split"][1])),
            mib(med(n, lambda r: r["capture_split"][0] - r["load_split"][0])),
            mib(med(n, heap("capture", "used"))),
            mib(med(n, heap("capture", "free"))),
            human_bytes(med(n, states)),
            f"{med(n, key('capture_s')):.1f}",
        ])
    print_table(["stimuli", "batches", "largest batch (real tok)", "peak load", "peak capture", "peak profiles",
                 "+file RSS", "+anon RSS", "heap used", "heap free", "signal states", "capture s"], rows)
    print("(+file / +anon: resident growth from after loading to after the capture; the file part is the "
          "memory-mapped weights paged in by the first forward pass. heap used / free: glibc mallinfo2 after "
          "the capture; free = held by malloc, not by the program)")
    print()

    base = sizes[0]
    growth_rows = []
    for n in sizes[1:]:
        extra = n - base

        def per(get, n: int = n, extra: int = extra) -> str:
            delta = med(n, get) - med(base, get)
            return "n/a" if math.isnan(delta) else f"{delta / extra:,.0f}"

        growth_rows.append([f"{n} vs {base}", mib(med(n, key("capture_peak")) - med(base, key("capture_peak"))),
                            per(key("capture_peak")), per(key("profiles_peak")),
                            per(lambda r: r["capture_split"][0] - r["load_split"][0]),
                            per(heap("capture", "used")), per(heap("capture", "free")), per(states)])
    print_table(["growth", "capture peak", "peak B/stim", "profiles peak B/stim", "anon RSS B/stim",
                 "heap used B/stim", "heap free B/stim", "states B/stim"], growth_rows)
    print()

    if args.trace:
        for n in sizes:
            print(f"per-batch trace, {n} stimuli (first run): after each batch's signal updates")
            trace_rows = [[i, f"{t['shape'][0]} x {t['shape'][1]} ({t['shape'][2]})", mib(t["peak"]), mib(t["now"]),
                           mib(float("nan") if t["heap_used"] is None else t["heap_used"]),
                           mib(float("nan") if t["heap_free"] is None else t["heap_free"])]
                          for i, t in enumerate(first_run(runs, n)["trace"])]
            print_table(["batch", "B x T (real tok)", "peak", "RSS", "heap used", "heap free"], trace_rows)
            print()

    last = first_run(runs, sizes[-1])
    expected_total = 0
    state_rows = []
    for label, (per_stimulus, formula) in last["expected"].items():
        expected_total += per_stimulus
        measured = (last["states"][label] - first_run(runs, base)["states"][label]) / (sizes[-1] - base)
        state_rows.append([label, formula, f"{per_stimulus:,}", f"{measured:,.0f}"])
    state_rows.append(["total", "", f"{expected_total:,}", ""])
    print("state each signal should need per stimulus, and what it holds (growth of reachable arrays per extra stimulus):")
    print_table(["signal", "formula", "expected B/stim", "held B/stim"], state_rows)
    extra = sizes[-1] - base
    growth = (med(sizes[-1], key("capture_peak")) - med(base, key("capture_peak"))) / extra
    used = (med(sizes[-1], heap("capture", "used")) - med(base, heap("capture", "used"))) / extra
    free = (med(sizes[-1], heap("capture", "free")) - med(base, heap("capture", "free"))) / extra
    print()
    spread = max(max(r["capture_peak"] for r in runs[n]) - min(r["capture_peak"] for r in runs[n]) for n in sizes)
    print(f"capture-peak growth {growth:,.0f} B per extra stimulus ({sizes[-1]} vs {base}) vs {expected_total:,} B of "
          "states per stimulus" + (f" (ratio {growth / expected_total:.2f}; about 1 = growth only from the states)"
                                   if expected_total else "")
          + (f"; largest spread of one size's capture peak over its {args.repeats} runs: {mib(spread)}"
             if args.repeats > 1 else "; one run per size: peaks vary by 100s of MiB between identical runs "
             "when the allocator's state differs, use --repeats"))
    if not math.isnan(used):
        print(f"heap in use (what the process keeps) grew {used:,.0f} B per extra stimulus; malloc's free heap "
              f"(retained, not in use) {free:,.0f} B")


def first_run(runs: dict, n: int) -> dict:
    return runs[n][0]


def mib(n: float) -> str:
    """Bytes as MiB without decimals (GiB with one decimal hides 100 MiB steps)."""
    return "n/a" if math.isnan(n) else f"{n / 2**20:,.0f} MiB"


if __name__ == "__main__":
    main()

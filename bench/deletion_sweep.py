"""Benchmark: a full single-layer deletion sweep, resumed from cached residuals vs. naive full passes.

Both sweeps run on the same stimuli in the same process, interleaved repeat by repeat:

- **resume**: one recorded clean pass per batch (``record``), then for each layer ``l`` the
  stream resumes at ``l + 1`` from the cached clean state ``h_l`` (deleting ``l`` makes
  ``h_{l+1} = h_l``): ``L + L(L−1)/2`` decoder-layer executions per batch.
- **naive**: one clean forward pass, then one full forward pass per layer with a plain forward
  hook that returns the layer's input as its output: ``L + L²`` executions.

Both end with the same tail per target (intervened pass): final norm + unembedding + the effect metrics
(KL, top-1 agreement, Δloss, Δentropy; chunked over positions). The table reports medians of
wall-clock and process CPU seconds over the repeats for the whole sweep and for the decoder
stack alone (no unembedding/metrics), the layer-execution counts, and checks that both sweeps
give the same effect values. It also times the unembedding alone (clean + ``L`` targets × every
real position) and prints the whole-sweep ratio the two decoder stacks would give if the metrics cost
nothing beyond it: the read-out every target needs bounds the ratio from below.

    python bench/deletion_sweep.py                       # smollm2-135m, 8 stimuli × 64 tokens, 3 repeats
    python bench/deletion_sweep.py --stimuli 16 --repeats 5 --threads 1
"""

from __future__ import annotations

import argparse
import statistics

import torch
from _common import add_common_args, machine_line, set_threads, timed

from mspgt_bench.interventions.effects import BASE_METRICS, CleanReference
from mspgt_bench.interventions.sweep import batches_of
from mspgt_bench.models.hf import HFAdapter
from mspgt_bench.models.resume import Step, count_layer_calls, record
from mspgt_bench.stimuli.stdlib import stdlib_prose

Result = dict[str, torch.Tensor]  # metric -> [n_layers, n_stimuli]


def _identity_hook(_module, args, kwargs, output):
    hidden = args[0] if args else kwargs["hidden_states"]
    return (hidden, *output[1:]) if isinstance(output, tuple) else hidden


def _collect(per_layer: list[list[dict[str, torch.Tensor]]]) -> Result:
    """``per_layer[l]`` = per-batch metric dicts -> metric -> ``[L, n_stimuli]``."""
    return {m: torch.stack([torch.cat([part[m] for part in batches]) for batches in per_layer]) for m in BASE_METRICS}


@torch.inference_mode()
def resume_sweep(adapter: HFAdapter, batches: list, metrics: bool = True) -> Result | None:
    n = adapter.n_layers
    per_layer: list[list[dict]] = [[] for _ in range(n)]
    for batch in batches:
        clean = record(adapter, batch)
        ref = CleanReference.of_resid(adapter, clean.states[-1], batch) if metrics else None
        for layer in range(n):
            resid = clean.resume({layer: Step(modules=())})
            if ref is not None:
                per_layer[layer].append(ref.compare_resid(resid))
    return _collect(per_layer) if metrics else None


@torch.inference_mode()
def naive_sweep(adapter: HFAdapter, batches: list, metrics: bool = True) -> Result | None:
    n = adapter.n_layers
    per_layer: list[list[dict]] = [[] for _ in range(n)]
    for batch in batches:
        clean = adapter.final_resid(batch.input_ids, batch.attention_mask)
        ref = CleanReference.of_resid(adapter, clean, batch) if metrics else None
        for layer in range(n):
            handle = adapter.layers[layer].register_forward_hook(_identity_hook, with_kwargs=True)
            try:
                resid = adapter.final_resid(batch.input_ids, batch.attention_mask)
            finally:
                handle.remove()
            if ref is not None:
                per_layer[layer].append(ref.compare_resid(resid))
    return _collect(per_layer) if metrics else None


@torch.inference_mode()
def unembedding_only(adapter: HFAdapter, batches: list, targets: int) -> None:
    """The final norm + unembedding of every real position, ``targets`` times per batch (no metrics)."""
    for batch in batches:
        rows = torch.randn(int(batch.attention_mask.sum()), adapter.d_model)
        for _ in range(targets):
            adapter.logits_from_resid(rows)


def tokenized_batches(adapter: HFAdapter, n_stimuli: int, tokens: int, batch_size: int) -> list:
    """``n_stimuli`` stdlib-prose stimuli (seed 0), tokenized to at most ``tokens``, in batches."""
    stimuli = stdlib_prose(n_stimuli, 0)
    return [adapter.tokenize([stimuli[i].text for i in idx], idx, tokens) for idx in batches_of(stimuli, batch_size)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--stimuli", type=int, default=8)
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=8)
    add_common_args(parser, repeats=3)
    args = parser.parse_args()
    set_threads(args.threads)
    print(machine_line())

    adapter = HFAdapter(args.model)
    batches = tokenized_batches(adapter, args.stimuli, args.tokens, args.batch_size)
    n = adapter.n_layers
    tokens = sum(int(b.attention_mask.sum()) for b in batches)
    print(f"model {args.model}: {n} layers; {args.stimuli} stimuli, {tokens} tokens in {len(batches)} batch(es); "
          f"torch threads {torch.get_num_threads()}; {args.repeats} repeats (interleaved)")

    with count_layer_calls(adapter) as resumed_count:
        resume_sweep(adapter, batches, metrics=False)
    with count_layer_calls(adapter) as naive_count:
        naive_sweep(adapter, batches, metrics=False)

    resume_sweep(adapter, batches[:1], metrics=False)  # warm-up
    times: dict[str, list[tuple[float, float]]] = {k: [] for k in ("resume", "naive", "resume_stack", "naive_stack", "unembed")}
    results: dict[str, Result] = {}
    for repeat in range(args.repeats):
        order = ("resume", "naive") if repeat % 2 == 0 else ("naive", "resume")
        for name in order:
            fn = resume_sweep if name == "resume" else naive_sweep
            wall, cpu, out = timed(lambda fn=fn: fn(adapter, batches))
            times[name].append((wall, cpu))
            results[name] = out
            wall, cpu, _ = timed(lambda fn=fn: fn(adapter, batches, metrics=False))
            times[f"{name}_stack"].append((wall, cpu))
        wall, cpu, _ = timed(lambda: unembedding_only(adapter, batches, n + 1))
        times["unembed"].append((wall, cpu))

    def med(name: str, index: int) -> float:
        return statistics.median(t[index] for t in times[name])

    print()
    print(f"{'':34s}{'resume':>10s}{'naive':>10s}{'ratio':>8s}")
    counts = (resumed_count.total, naive_count.total)
    print(f"{'decoder-layer executions':34s}{counts[0]:>10d}{counts[1]:>10d}{counts[0] / counts[1]:>8.3f}")
    expected = (len(batches) * (n + n * (n - 1) // 2), len(batches) * (n + n * n))
    print(f"{'  expected L+L(L-1)/2 | L+L^2':34s}{expected[0]:>10d}{expected[1]:>10d}")
    for label, suffix in (("whole sweep", ""), ("decoder stack only", "_stack")):
        for unit, index in (("wall s", 0), ("cpu s", 1)):
            r, v = med("resume" + suffix, index), med("naive" + suffix, index)
            print(f"{f'{label}, median {unit}':34s}{r:>10.2f}{v:>10.2f}{r / v:>8.3f}")
    print()
    print("effect values, resume vs naive (max |difference| over layers × stimuli):")
    for metric in BASE_METRICS:
        a, b = results["resume"][metric], results["naive"][metric]
        print(f"  {metric:16s} {float((a - b).abs().max()):.2e}   (range of values {float(a.min()):.3g} .. {float(a.max()):.3g})")
    agree = all(torch.allclose(results["resume"][m], results["naive"][m], atol=1e-4, rtol=1e-4) for m in BASE_METRICS)
    print(f"agreement within 1e-4: {'yes' if agree else 'NO'}")
    unembed = med("unembed", 0)
    bound = (unembed + med("resume_stack", 0)) / (unembed + med("naive_stack", 0))
    print(f"unembedding alone (final norm + W_U at every real position; clean + {n} targets): {unembed:.2f} s median wall;")
    print(f"  the whole-sweep ratio if the metrics cost nothing beyond it: {bound:.3f} (both sweeps pay it once per target)")
    ratio = med("resume", 0) / med("naive", 0)
    print(f"whole-sweep wall-clock ratio {ratio:.3f} (target <= 0.6: {'met' if ratio <= 0.6 else 'not met'})")


if __name__ == "__main__":
    main()

"""Floor ratio: a suite's capture pass against the bare forward passes it needs.

    python bench/floor_ratio.py [SUITE] [--model NAME] [--limit N] [--repeats R] [--threads T]

Times, on the same model, stimuli, batches and batch size, in one process:
  * floor: plain ``model(input_ids, attention_mask)`` under ``torch.inference_mode()``;
  * suite: the shared capture pass feeding every signal of the suite, plus reducing the
    signals to profiles (bootstrap intervals included);
and prints the median of each over the repeats, their ratio (target <= 1.25), and the time
each signal adds when it runs alone (to show where the cost goes).
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch
from _common import SuiteSetup, add_common_args, machine_line, set_threads

from mspgt_bench.capture import capture_pass, length_sorted_batches
from mspgt_bench.plugins import registry
from mspgt_bench.signals.base import BootstrapConfig

DEFAULT_SUITE = str(Path(__file__).parents[1] / "suites" / "signals.yaml")


def _floor(adapter, stimuli, batch_size: int, max_tokens: int) -> float:
    started = time.perf_counter()
    with torch.inference_mode():
        for indices in length_sorted_batches(stimuli, batch_size):
            batch = adapter.tokenize([stimuli[i].text for i in indices], indices, max_tokens)
            adapter.model(input_ids=batch.input_ids, attention_mask=batch.attention_mask, use_cache=False)
    return time.perf_counter() - started


def _suite_pass(adapter, stimuli, specs, batch_size: int, max_tokens: int, boot: BootstrapConfig) -> float:
    signals = [registry("signals").get(s.name)(adapter.n_layers, label=s.label, **s.options) for s in specs]
    started = time.perf_counter()
    capture_pass(adapter, stimuli, signals, batch_size=batch_size, max_tokens=max_tokens)
    for signal in signals:
        signal.profiles(boot)
    return time.perf_counter() - started


def lens_bound(adapter, stimuli, specs, max_tokens: int) -> str | None:
    """The logit lens's unembedding multiply-adds against the forward pass's weight products, as text."""
    lens = [s for s in specs if s.name == "logit_lens"]
    if not lens or adapter.layers is None:
        return None
    k = lens[0].options.get("max_positions")
    lengths = [int(adapter.tokenize([s.text], [0], max_tokens).attention_mask.sum()) for s in stimuli]
    d, n_layers = adapter.d_model, adapter.n_layers
    vocab = adapter.model.get_output_embeddings().weight.shape[0]
    per_token_layer = sum(p.numel() for p in adapter.layers[0].parameters() if p.dim() == 2)
    forward = sum(lengths) * (n_layers * per_token_layer + d * vocab)
    read_outs = sum(n if k is None else min(k, n) for n in lengths) * n_layers * d * vocab
    return (
        f"arithmetic: the logit lens unembeds {read_outs / 1e9:.1f} G multiply-adds, the forward pass's weight "
        f"products are {forward / 1e9:.1f} G,\n  so no implementation of this suite can go below a floor ratio of "
        f"{1 + read_outs / forward:.2f} (lens positions: {k or 'all'})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("suite", nargs="?", default=DEFAULT_SUITE)
    parser.add_argument("--model", default=None)
    parser.add_argument("--limit", type=int, default=None)
    add_common_args(parser, repeats=3)
    args = parser.parse_args()
    set_threads(args.threads)
    print(machine_line())

    setup = SuiteSetup(args.suite, args.model, args.limit)
    adapter, stimuli, observational = setup.adapter, setup.stimuli, setup.specs
    batch, tokens, boot = setup.batch_size, setup.max_tokens, setup.boot

    _floor(adapter, stimuli, batch, tokens)  # warm-up
    floors = [_floor(adapter, stimuli, batch, tokens) for _ in range(args.repeats)]
    suites = [_suite_pass(adapter, stimuli, observational, batch, tokens, boot) for _ in range(args.repeats)]
    floor, full = statistics.median(floors), statistics.median(suites)
    print(f"model {setup.model.name}, {len(stimuli)} stimuli x <= {tokens} tokens, batch {batch}, torch threads {torch.get_num_threads()}")
    print(f"{'what':<28}{'median s':>10}{'ratio':>8}")
    print(f"{'bare forward (floor)':<28}{floor:>10.2f}{1.0:>8.2f}")
    print(f"{'all observational signals':<28}{full:>10.2f}{full / floor:>8.2f}   target <= 1.25")
    for spec_ in observational:
        alone = _suite_pass(adapter, stimuli, [spec_], batch, tokens, boot)
        print(f"{'  ' + spec_.label + ' alone':<28}{alone:>10.2f}{alone / floor:>8.2f}")
    others = [s for s in observational if s.name != "logit_lens"]
    if len(others) < len(observational) and others:
        rest = statistics.median(_suite_pass(adapter, stimuli, others, batch, tokens, boot) for _ in range(args.repeats))
        print(f"{'all but the logit lens':<28}{rest:>10.2f}{rest / floor:>8.2f}   target <= 1.25")
    bound = lens_bound(adapter, stimuli, observational, tokens)
    if bound:
        print(bound)


if __name__ == "__main__":
    main()

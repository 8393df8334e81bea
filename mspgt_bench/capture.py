"""The shared capture pass: one forward pass per stimulus batch feeds every signal."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial

import torch

from mspgt_bench.models.base import ModelAdapter
from mspgt_bench.models.sites import Site
from mspgt_bench.signals.base import CapturedBatch, Signal
from mspgt_bench.stimuli.base import Stimulus


def length_sorted_batches(stimuli: Sequence[Stimulus], batch_size: int) -> list[list[int]]:
    """Stimulus indices grouped into batches of similar length, so little compute goes to padding."""
    order = sorted(range(len(stimuli)), key=lambda i: (len(stimuli[i].text), i))
    return [order[start : start + batch_size] for start in range(0, len(order), batch_size)]


def capture_pass(
    adapter: ModelAdapter,
    stimuli: Sequence[Stimulus],
    signals: Sequence[Signal],
    *,
    batch_size: int,
    max_tokens: int,
    on_batch: Callable[[int], None] | None = None,
) -> int:
    """Run each stimulus batch through the model once, capturing the union of the signals' sites.

    Activations live only for the duration of one batch: each signal reduces them into its own
    state before the next batch runs. A signal that compares the stimuli with edited copies of
    them (it has ``variants``) gets one extra pass per variant, on its own sites only. Returns the
    number of forward calls made.
    """
    sites = sorted({site for signal in signals for site in signal.sites()})
    calls = _passes(adapter, stimuli, sites, batch_size, max_tokens, [s.update for s in signals], on_batch)
    for signal in signals:
        variants = getattr(signal, "variants", None)
        if variants is None:
            continue
        for name, perturbed in variants(list(stimuli)).items():
            update = partial(signal.update_variant, name)
            calls += _passes(adapter, perturbed, signal.sites(), batch_size, max_tokens, [update], None)
    return calls


def _passes(
    adapter: ModelAdapter,
    stimuli: Sequence[Stimulus],
    sites: list[Site],
    batch_size: int,
    max_tokens: int,
    consumers: list[Callable[[CapturedBatch], None]],
    on_batch: Callable[[int], None] | None,
) -> int:
    """One forward pass per batch, each batch handed to every consumer and then dropped."""
    calls = 0
    for indices in length_sorted_batches(stimuli, batch_size):
        batch = adapter.tokenize([stimuli[i].text for i in indices], indices, max_tokens)
        with adapter.capture(sites) as acts:
            logits = adapter.forward(batch, logits=Site("logits") in sites)
        calls += 1
        captured = CapturedBatch(batch, acts, logits, adapter, [stimuli[i] for i in indices])
        # no autograd graph through the model's weights (a read-out of [512, V] logits would keep
        # ~1.3 GiB for backward); no_grad, not inference_mode: states are edited in place later
        with torch.no_grad():
            for consume in consumers:
                consume(captured)
        del captured, acts, logits
        if on_batch is not None:
            on_batch(len(indices))
    return calls

"""The shared capture pass: one forward pass per stimulus batch feeds every signal."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from mspgt_bench.models.base import ModelAdapter
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
    state before the next batch runs. Returns the number of forward calls made.
    """
    sites = sorted({site for signal in signals for site in signal.sites()})
    calls = 0
    for indices in length_sorted_batches(stimuli, batch_size):
        batch = adapter.tokenize([stimuli[i].text for i in indices], indices, max_tokens)
        with adapter.capture(sites) as acts:
            logits = adapter.forward(batch)
        calls += 1
        captured = CapturedBatch(batch, acts, logits, adapter)
        for signal in signals:
            signal.update(captured)
        del captured, acts, logits
        if on_batch is not None:
            on_batch(len(indices))
    return calls

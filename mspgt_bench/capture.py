"""The shared capture pass: one forward pass per stimulus batch feeds every signal."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Protocol

import torch

from mspgt_bench.models.base import ModelAdapter, TokenBatch
from mspgt_bench.models.sites import Site
from mspgt_bench.stimuli.base import Stimulus


@dataclass
class CapturedBatch:
    """Everything one forward pass of one stimulus batch produced."""

    batch: TokenBatch
    acts: dict[Site, torch.Tensor]
    logits: torch.Tensor | None
    """Output logits, or None when no signal asked for the ``logits`` site."""
    adapter: ModelAdapter
    stimuli: list[Stimulus] = field(default_factory=list)
    """The stimulus of each row (text, sentence spans, passage), for signals that label tokens."""

    @property
    def mask(self) -> torch.Tensor:
        """``[batch, tokens]`` boolean mask of real (non-padding) tokens."""
        return self.batch.attention_mask.bool()

    def stream(self) -> list[torch.Tensor]:
        """The residual stream as ``L+1`` states: embedding output, then each layer's output."""
        n = self.adapter.n_layers
        return [self.acts[Site("resid_pre", 0)]] + [self.acts[Site("resid_post", layer)] for layer in range(n)]

    def last_token(self, states: torch.Tensor) -> torch.Tensor:
        """``[batch, d]`` the state at each stimulus' last real token (right padding)."""
        rows = torch.arange(states.shape[0], device=states.device)
        return states[rows, self.batch.lengths - 1]


class Consumer(Protocol):
    """What the capture pass feeds: a signal (:class:`~mspgt_bench.signals.base.Signal`).

    A consumer may also have ``variants(stimuli) -> {name: edited stimuli}`` and
    ``update_variant(name, captured)``: each variant then gets a pass of its own.
    """

    def sites(self) -> list[Site]:
        """The sites this consumer reads."""

    def update(self, captured: CapturedBatch) -> None:
        """Reduce one captured batch into the consumer's state."""


class Isolated:
    """A consumer whose first exception is recorded, not raised, so the pass and the other consumers go on.

    After a failure it consumes nothing more; ``error`` holds ``"<ExceptionType>: <message>"``.
    ``call`` runs any other method of the consumer (its profiles, say) under the same guard.
    """

    def __init__(self, consumer: Any) -> None:
        self.consumer = consumer
        self.error: str | None = None

    @classmethod
    def build(cls, factory: Callable[..., Any], *args: Any, **kwargs: Any) -> Isolated:
        """The consumer ``factory(*args, **kwargs)`` builds; if that raises, an ``Isolated`` that has already failed."""
        isolated = cls(None)
        isolated.consumer = isolated.call(lambda: factory(*args, **kwargs))
        return isolated

    def call(self, method: Callable[..., Any], *args: Any) -> Any:
        """``method(*args)``, or None once this consumer has failed (recording a new failure)."""
        if self.error is not None:
            return None
        try:
            return method(*args)
        except Exception as exc:  # one signal's bug must not cost the others their profiles
            self.error = f"{type(exc).__name__}: {exc}"
            return None

    def sites(self) -> list[Site]:
        return [] if self.error is not None else self.consumer.sites()

    def update(self, captured: CapturedBatch) -> None:
        self.call(self.consumer.update, captured)

    def variants(self, stimuli: list[Stimulus]) -> dict[str, list[Stimulus]]:
        make = getattr(self.consumer, "variants", None) if self.error is None else None
        return {} if make is None else self.call(make, stimuli) or {}

    def update_variant(self, name: str, captured: CapturedBatch) -> None:
        self.call(self.consumer.update_variant, name, captured)


class NonFiniteOutputError(ValueError):
    """The model produced NaN or inf on real tokens: every number computed from it would be meaningless."""


def check_finite(acts: dict[Site, torch.Tensor], logits: torch.Tensor | None, mask: torch.Tensor) -> None:
    """Raise :class:`NonFiniteOutputError` naming the first site with NaN/inf at a real (unpadded) token."""
    tensors = [("logits", logits)] if logits is not None else []
    tensors += [(str(site), value) for site, value in acts.items()]
    for name, value in tensors:
        if value.dim() >= 2 and tuple(value.shape[:2]) == tuple(mask.shape):
            value = value[mask]
        if not bool(torch.isfinite(value).all()):
            raise NonFiniteOutputError(f"the model produced NaN or inf at {name} on real tokens")


def length_sorted_batches(stimuli: Sequence[Stimulus], batch_size: int) -> list[list[int]]:
    """Stimulus indices grouped into batches of similar length, so little compute goes to padding."""
    order = sorted(range(len(stimuli)), key=lambda i: (len(stimuli[i].text), i))
    return [order[start : start + batch_size] for start in range(0, len(order), batch_size)]


def capture_pass(
    adapter: ModelAdapter,
    stimuli: Sequence[Stimulus],
    signals: Sequence[Consumer],
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
        check_finite(acts, logits, batch.attention_mask.bool())
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

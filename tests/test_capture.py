"""The shared capture pass: one forward call per batch, results independent of batching."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mspgt_bench.capture import capture_pass, length_sorted_batches
from mspgt_bench.signals.angular import AngularDistance
from mspgt_bench.signals.base import BootstrapConfig
from mspgt_bench.signals.logit_lens import LogitLens
from mspgt_bench.stimuli.stdlib import stdlib_prose


@pytest.fixture(scope="module")
def stimuli():
    return stdlib_prose(n=7, seed=3)


def _profiles(adapter, stimuli, batch_size):
    signals = [LogitLens(adapter.n_layers), AngularDistance(adapter.n_layers)]
    calls = []
    handle = adapter.model.register_forward_hook(lambda *_: calls.append(1))
    try:
        returned = capture_pass(adapter, stimuli, signals, batch_size=batch_size, max_tokens=40)
    finally:
        handle.remove()
    profiles = {f"{p.signal}.{p.metric}": p for s in signals for p in s.profiles(BootstrapConfig(n_boot=50))}
    return profiles, len(calls), returned


def test_one_forward_call_per_batch_for_all_signals(tiny_adapter, stimuli):
    adapter = tiny_adapter("llama")
    _, counted, returned = _profiles(adapter, stimuli, batch_size=3)
    assert counted == returned == 3  # ceil(7 / 3) batches, shared by both signals


@pytest.mark.parametrize("family", ["llama", "gemma3", "gpt2"])
def test_profiles_do_not_depend_on_batch_size_or_padding(tiny_adapter, stimuli, family):
    adapter = tiny_adapter(family)
    one, _, _ = _profiles(adapter, stimuli, batch_size=1)
    many, _, _ = _profiles(adapter, stimuli, batch_size=7)
    assert one.keys() == many.keys()
    for key in one:
        np.testing.assert_allclose(one[key].per_stimulus, many[key].per_stimulus, rtol=2e-4, atol=2e-5, err_msg=key)


def test_batches_group_similar_lengths(stimuli):
    batches = length_sorted_batches(stimuli, 3)
    assert sorted(i for b in batches for i in b) == list(range(len(stimuli)))
    lengths = [len(stimuli[i].text) for b in batches for i in b]
    assert lengths == sorted(lengths)


class _GradProbe(LogitLens):
    """The logit lens, also recording whether autograd was on while it reduced a batch."""

    grad_enabled: list[bool]

    def update(self, captured) -> None:
        self.grad_enabled = [*getattr(self, "grad_enabled", []), torch.is_grad_enabled()]
        super().update(captured)


def test_signals_reduce_batches_without_an_autograd_graph(tiny_adapter, stimuli):
    """A read-out through weights that require grad would otherwise keep every logits chunk for backward."""
    adapter = tiny_adapter("llama")
    assert any(p.requires_grad for p in adapter.model.parameters())
    probe = _GradProbe(adapter.n_layers)
    capture_pass(adapter, stimuli, [probe], batch_size=4, max_tokens=40)
    assert probe.grad_enabled == [False, False]

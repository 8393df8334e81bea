"""Streamed layer × layer CKA: invariances, agreement with full-batch CKA, buffering, clipping, bootstrap."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mspgt_bench.capture import capture_pass
from mspgt_bench.metrics.cka import StreamingCKA, clip_massive_dims, linear_cka
from mspgt_bench.models.sites import Site
from mspgt_bench.signals.base import BootstrapConfig
from mspgt_bench.signals.cka import CKASignal
from mspgt_bench.stimuli.stdlib import stdlib_prose

FAMILIES = ["llama", "qwen2", "qwen3", "mistral", "gemma3", "gpt2"]


def _synthetic_units(n_units, rows, seed=0, noise=0.0):
    """Per unit, three states: X, a rotated and scaled copy of X (plus noise), an independent cloud."""
    rng = np.random.default_rng(seed)
    rotation = torch.tensor(np.linalg.qr(rng.normal(size=(12, 12)))[0])
    for _ in range(n_units):
        x = torch.tensor(rng.normal(size=(rows, 12)))
        copy = 3 * x @ rotation + noise * torch.tensor(rng.normal(size=(rows, 12)))
        yield [x, copy, torch.tensor(rng.normal(size=(rows, 12)))]


def test_diagonal_is_one_and_rotation_invariant():
    signal = CKASignal(2)
    for unit in _synthetic_units(5, 40):
        signal.add_rows(unit)
    raw = signal.matrices()["raw"]
    np.testing.assert_allclose(np.diag(raw), 1.0, atol=1e-12)
    assert raw[0, 1] == pytest.approx(1.0, abs=1e-6) and abs(raw[0, 2]) < 0.1
    np.testing.assert_allclose(raw, raw.T, atol=1e-12)


def test_units_and_chunks_reproduce_streaming_cka():
    units = list(_synthetic_units(3, 50, seed=1, noise=1.0))
    reference = StreamingCKA(3)
    signal = CKASignal(2, max_rows=20)  # each 50-row unit is computed as chunks of 17, 16, 17 rows
    for unit in units:
        signal.add_rows(unit)
        for start, stop in ((0, 17), (17, 33), (33, 50)):
            reference.update([u[start:stop] for u in unit])
    np.testing.assert_allclose(signal.matrices()["raw"], reference.matrix().numpy(), rtol=1e-6)
    assert signal.n_units == 3 and signal.unit_hsic().shape == (3, 3, 3)


def test_small_batches_are_buffered_to_four_rows(tiny_adapter):
    adapter = tiny_adapter("llama")
    signal = CKASignal(adapter.n_layers, tokens="last")
    capture_pass(adapter, stdlib_prose(n=9, seed=0), [signal], batch_size=1, max_tokens=16)
    assert signal.n_units == 2 and signal.dropped_rows == 1 and signal.n_rows == 8
    (adjacent, _) = signal.profiles(BootstrapConfig(n_boot=20))
    assert adjacent.n == 8 and np.all(np.isfinite(adjacent.value))


def test_clipping_removes_a_planted_massive_dimension():
    rng = np.random.default_rng(2)
    x = torch.tensor(rng.normal(size=(64, 16)))
    rotation = torch.tensor(np.linalg.qr(rng.normal(size=(16, 16)))[0])
    spike = torch.zeros(64, 1)
    spike[::8] = 1000.0  # the first token of each of 8 "stimuli" carries a massive activation in one dimension
    before = torch.cat([x, torch.zeros(64, 1)], dim=1)
    after = torch.cat([x @ rotation, spike], dim=1)
    signal = CKASignal(1)
    signal.add_rows([before, after])
    assert signal.clip_dims() == [[], [16]]
    matrices = signal.matrices()
    assert matrices["raw"][0, 1] < 0.2
    assert matrices["clipped"][0, 1] == pytest.approx(1.0, abs=1e-9)


def _reference_states(adapter, text, max_tokens):
    """The L+1 stream states of one stimulus, unbatched: transformers hidden states with the raw last layer."""
    ids = adapter.tokenizer(text, return_tensors="pt", truncation=True, max_length=max_tokens).input_ids
    last = Site("resid_post", adapter.n_layers - 1)
    with adapter.capture([last]) as acts, torch.inference_mode():
        hidden = adapter.model(ids, output_hidden_states=True).hidden_states
    return [h[0] for h in hidden[:-1]] + [acts[last][0]]


def test_streamed_cka_agrees_with_full_batch_cka_on_the_same_tokens(tiny_adapter):
    adapter = tiny_adapter("gemma3")
    stimuli = stdlib_prose(n=16, seed=6)
    per_stimulus = [_reference_states(adapter, s.text, 24) for s in stimuli]
    points = adapter.n_layers + 1
    tokens = [torch.cat([states[p] for states in per_stimulus]) for p in range(points)]
    unbiased = np.array([[float(linear_cka(tokens[a], tokens[b], unbiased=True)) for b in range(points)] for a in range(points)])
    biased = np.array([float(linear_cka(tokens[l], tokens[l + 1])) for l in range(points - 1)])

    one = CKASignal(adapter.n_layers)  # a single minibatch: exactly the full-batch unbiased CKA
    capture_pass(adapter, stimuli, [one], batch_size=16, max_tokens=24)
    np.testing.assert_allclose(one.matrices()["raw"], unbiased, atol=1e-4)
    assert one.n_rows == len(tokens[0])

    # Two minibatches of 8 stimuli: close to the full-batch value. (Rows of a minibatch come from a
    # few stimuli, not an iid sample of tokens, so the gap grows as minibatches hold fewer stimuli.)
    streamed = CKASignal(adapter.n_layers)
    capture_pass(adapter, stimuli, [streamed], batch_size=8, max_tokens=24)
    (adjacent, clipped) = streamed.profiles(BootstrapConfig(n_boot=200))
    assert streamed.n_units == 2 and streamed.n_rows == len(tokens[0])
    np.testing.assert_allclose(adjacent.value, np.diagonal(unbiased, offset=1), atol=0.03)
    np.testing.assert_allclose(adjacent.value, biased, atol=0.05)
    assert adjacent.layers.tolist() == list(range(adapter.n_layers))
    np.testing.assert_allclose(adjacent.depth, (np.arange(adapter.n_layers) + 0.5) / adapter.n_layers)


def test_bootstrap_over_minibatches_covers_and_narrows():
    widths = []
    for n_units in (5, 60):
        signal = CKASignal(2)
        for unit in _synthetic_units(n_units, 16, seed=n_units, noise=3.0):
            signal.add_rows(unit)
        (adjacent, _) = signal.profiles(BootstrapConfig(n_boot=500))
        assert np.all(adjacent.lo <= adjacent.value) and np.all(adjacent.value <= adjacent.hi)
        widths.append(adjacent.hi - adjacent.lo)
        assert signal.bootstrap_matrices(BootstrapConfig(n_boot=500)).shape == (500, 3, 3)
    assert np.all(widths[1] < 0.6 * widths[0])
    single = CKASignal(2)
    single.add_rows(next(_synthetic_units(1, 16)))
    assert np.all(np.isnan(single.profiles(BootstrapConfig(n_boot=20))[0].lo))


@pytest.mark.parametrize("family", FAMILIES)
def test_tiny_model_profiles_are_finite(tiny_adapter, family):
    adapter = tiny_adapter(family)
    signals = {tokens: CKASignal(adapter.n_layers, tokens=tokens, max_positions=8) for tokens in ("all", "last")}
    capture_pass(adapter, stdlib_prose(n=12, seed=5), list(signals.values()), batch_size=4, max_tokens=24)
    for tokens, signal in signals.items():
        profiles = {p.metric: p for p in signal.profiles(BootstrapConfig(n_boot=100))}
        assert set(profiles) == {"adjacent", "adjacent_clipped"}
        for p in profiles.values():
            assert p.layers.tolist() == list(range(adapter.n_layers)) and p.n == 12
            assert np.all(np.isfinite(p.value) & np.isfinite(p.lo) & np.isfinite(p.hi)), p.metric
        for matrix in signal.matrices().values():
            assert matrix.shape == (adapter.n_layers + 1,) * 2
            np.testing.assert_allclose(np.diag(matrix), 1.0, atol=1e-9)
        assert signal.n_rows == (12 if tokens == "last" else 12 * 8)


@pytest.mark.parametrize("clip_mode", ["zero", "clip"])
def test_clipped_copies_made_one_state_at_a_time_give_the_same_hsic(clip_mode):
    """The clipped variant streams one state's clipped copy at a time into StreamingCKA: the same bits as
    updating with the list of all clipped copies."""
    rng = np.random.default_rng(3)
    rows = [torch.tensor(rng.normal(size=(90, 16)), dtype=torch.float32) for _ in range(4)]
    for r in rows:
        r[:, 5] *= 300.0
    signal = CKASignal(3, max_rows=40, clip_mode=clip_mode)  # chunks of 30 rows
    signal.add_rows(rows)
    dims = signal._clip_dims
    reference = StreamingCKA(4)
    for start in (0, 30, 60):
        reference.update([clip_massive_dims(r[start : start + 30], dims=d, mode=clip_mode)[0] for r, d in zip(rows, dims)])
    assert torch.equal(signal.unit_hsic("clipped")[0], reference.hsic_sum)
    assert all(5 in d for d in signal.clip_dims())


def test_rows_gathered_per_state_and_chunk_equal_the_gathered_unit(tiny_adapter):
    """update() gathers each state's rows per chunk from the captured batch (no L+1 copies up front) and
    shares one Gram block across chunks and variants: the same bits as add_rows() with all rows gathered."""
    from mspgt_bench.signals.base import spread_positions

    adapter = tiny_adapter("llama")
    options = {"max_rows": 16, "max_positions": 10}  # 40 rows per batch: chunks of 13, 14, 13 rows
    streamed, gathered = CKASignal(adapter.n_layers, **options), CKASignal(adapter.n_layers, **options)

    class Gathered:  # the straightforward reduction: all rows of the batch, then add_rows
        def sites(self):
            return gathered.sites()

        def update(self, captured):
            index, valid = spread_positions(captured.mask, options["max_positions"])
            rows = torch.arange(index.shape[0]).unsqueeze(1).expand_as(index)
            b, t = rows[valid], index[valid]
            gathered.add_rows([s[b, t] for s in captured.stream()], captured.batch.stimulus_index)

    capture_pass(adapter, stdlib_prose(n=12, seed=1), [streamed, Gathered()], batch_size=4, max_tokens=32)
    assert streamed.n_units == gathered.n_units == 3 and streamed.n_rows == gathered.n_rows
    for variant in ("raw", "clipped"):
        assert torch.equal(streamed.unit_hsic(variant), gathered.unit_hsic(variant))
    assert streamed.clip_dims() == gathered.clip_dims()
    assert [p.n for p in streamed.profiles(BootstrapConfig(n_boot=20))] == [12, 12]

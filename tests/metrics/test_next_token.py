"""One-pass next-token statistics and the two exact forms of KL(p ‖ q) against a reference."""

from __future__ import annotations

import math

import pytest
import torch

from mspgt_bench.metrics.divergence import entropy_from_logits, kl_from_logits
from mspgt_bench.metrics.next_token import AffineReadout, ReferenceDistribution, softmax_stats


def test_uniform_logits_have_entropy_log_v_and_lse_log_v_plus_c():
    z = torch.full((3, 50), 2.5)
    stats, _e, total = softmax_stats(z)
    torch.testing.assert_close(stats.entropy, torch.full((3,), math.log(50)))
    torch.testing.assert_close(stats.lse, torch.full((3,), 2.5 + math.log(50)))
    assert total.tolist() == [50.0] * 3


def test_stats_match_the_float64_definitions():
    torch.manual_seed(0)
    z = torch.randn(7, 300) * 4
    stats, e, total = softmax_stats(z)
    torch.testing.assert_close(stats.entropy.double(), entropy_from_logits(z.double()), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(stats.lse.double(), torch.logsumexp(z.double(), -1), atol=1e-5, rtol=1e-6)
    assert stats.top1.tolist() == z.argmax(-1).tolist()
    torch.testing.assert_close((e / total[:, None]).double(), torch.softmax(z.double(), -1), atol=1e-6, rtol=1e-5)


def _affine(d: int = 8, v: int = 120, bias: bool = True) -> AffineReadout:
    torch.manual_seed(1)
    norm = torch.nn.LayerNorm(d)
    head = torch.nn.Linear(d, v, bias=bias)
    with torch.no_grad():
        head.weight.mul_(4)
        if bias:
            head.bias.normal_(0, 2)
    return AffineReadout(norm, head.weight.detach(), head.bias.detach() if bias else None)


def _read(readout: AffineReadout, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Normed states, logits and their log-sum-exp."""
    n = readout.norm(h)
    z = readout.logits(n)
    return n, z, softmax_stats(z)[0].lse


@pytest.mark.parametrize("bias", [True, False])
def test_affine_and_vocabulary_forms_give_the_float64_kl(bias):
    readout = _affine(bias=bias)
    h_ref = torch.randn(10, 8)
    h = h_ref + 0.5 * torch.randn(10, 8)
    with torch.no_grad():
        n_ref, n = readout.norm(h_ref), readout.norm(h)
        z_ref, z = readout.logits(n_ref), readout.logits(n)
        expected = kl_from_logits(z_ref.double(), z.double())
        lse = softmax_stats(z)[0].lse
        # chunks of 4 rows: the reference concatenates them in row order
        chunks = [(z_ref[i : i + 4], n_ref[i : i + 4]) for i in range(0, 10, 4)]
        affine = ReferenceDistribution(chunks, readout)
        vocabulary = ReferenceDistribution([(z_ref[i : i + 4], None) for i in range(0, 10, 4)])
        by_affine = affine.kl(slice(0, 10), z.clone(), lse, n)
        by_vocabulary = vocabulary.kl(slice(0, 10), z.clone(), lse)
    torch.testing.assert_close(by_affine.double(), expected, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(by_vocabulary.double(), expected, atol=1e-5, rtol=1e-4)
    assert expected.mean() > 0.1  # a real difference, not a trivially small one


def test_identical_states_give_exactly_zero_in_both_forms():
    readout = _affine()
    h = torch.randn(6, 8)
    with torch.no_grad():
        n, z, lse = _read(readout, h)
        assert ReferenceDistribution([(z, n)], readout).kl(slice(None), z.clone(), lse, n).tolist() == [0.0] * 6
        assert ReferenceDistribution([(z, None)]).kl(slice(None), z.clone(), lse).tolist() == [0.0] * 6


def test_rows_select_reference_rows_and_the_affine_form_needs_normed_states():
    readout = _affine()
    h_ref = torch.randn(5, 8)
    with torch.no_grad():
        n_ref, z_ref, _lse = _read(readout, h_ref)
        ref = ReferenceDistribution([(z_ref, n_ref)], readout)
        rows = torch.tensor([3, 3, 0])
        # comparing reference rows with themselves, picked by an index tensor: zero
        z = z_ref[rows]
        lse = softmax_stats(z)[0].lse
        assert ref.kl(rows, z, lse, n_ref[rows]).tolist() == [0.0] * 3
        with pytest.raises(ValueError, match="normed states"):
            ref.kl(rows, z, lse)

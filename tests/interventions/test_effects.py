"""Effect metrics against hand computations and the float64 library definitions."""

from __future__ import annotations

import math

import pytest
import torch

from mspgt_bench.interventions.effects import METRICS, CleanReference
from mspgt_bench.metrics.divergence import entropy_from_logits, kl_from_logits
from mspgt_bench.metrics.next_token import AffineReadout


def _setup(chunk: int = 3):
    torch.manual_seed(0)
    clean = torch.randn(2, 5, 50) * 3
    other = clean + torch.randn(2, 5, 50)
    ids = torch.randint(0, 50, (2, 5))
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]])
    return clean, other, ids, mask, CleanReference(clean, ids, mask, chunk=chunk)


def _masked_mean(values, mask):
    return [values[b][mask[b].bool()].double().mean().item() for b in range(len(values))]


def test_metrics_match_the_definitions():
    clean, other, ids, mask, ref = _setup()
    out = ref.compare(other)
    kl = kl_from_logits(clean.double(), other.double())
    torch.testing.assert_close(out["kl"], torch.tensor(_masked_mean(kl, mask), dtype=torch.float64), atol=1e-5, rtol=1e-5)
    agree = (clean.argmax(-1) == other.argmax(-1)).float()
    assert out["top1_agreement"].tolist() == _masked_mean(agree, mask)
    dent = entropy_from_logits(other.double()) - entropy_from_logits(clean.double())
    torch.testing.assert_close(out["delta_entropy"], torch.tensor(_masked_mean(dent, mask), dtype=torch.float64), atol=1e-5, rtol=1e-5)
    # Δloss: only positions whose next token is real (4 in row 0, 2 in row 1)
    lp, lq = torch.log_softmax(clean.double(), -1), torch.log_softmax(other.double(), -1)
    expected = []
    for b, n in ((0, 5), (1, 3)):
        terms = [-(lq[b, t, ids[b, t + 1]] - lp[b, t, ids[b, t + 1]]).item() for t in range(n - 1)]
        expected.append(sum(terms) / len(terms))
    torch.testing.assert_close(out["delta_loss"], torch.tensor(expected, dtype=torch.float64), atol=1e-5, rtol=1e-5)
    assert set(out) == set(METRICS[:4])


def test_identical_logits_give_exact_zeros_and_chunking_does_not_matter():
    clean, other, ids, mask, ref = _setup(chunk=3)
    same = ref.compare(clean.clone())
    assert same["kl"].tolist() == [0.0, 0.0] and same["top1_agreement"].tolist() == [1.0, 1.0]
    assert same["delta_loss"].tolist() == [0.0, 0.0] and same["delta_entropy"].tolist() == [0.0, 0.0]
    whole = CleanReference(clean, ids, mask, chunk=1000).compare(other)
    for metric, value in ref.compare(other).items():
        torch.testing.assert_close(value, whole[metric], atol=1e-6, rtol=1e-6)


def test_resid_path_unembeds_like_the_logits_path():
    torch.manual_seed(1)
    head = torch.nn.Linear(6, 40)
    resid = torch.randn(2, 5, 6)
    ids = torch.randint(0, 40, (2, 5))
    mask = torch.ones(2, 5, dtype=torch.long)
    with torch.inference_mode():
        by_resid = CleanReference(resid, ids, mask, to_logits=head, chunk=4)
        by_logits = CleanReference(head(resid), ids, mask)
        moved = resid + 0.3 * torch.randn_like(resid)
        a, b = by_resid.compare_resid(moved), by_logits.compare(head(moved))
    for metric in a:
        torch.testing.assert_close(a[metric], b[metric], atol=1e-5, rtol=1e-5)


def test_delta_loss_by_token_class():
    clean, other, ids, _mask, ref = _setup()
    classes = torch.tensor([[-1, 0, 1, 2, 0], [-1, 2, 2, -1, -1]])  # by target position j
    ref.set_classes(classes)
    out = ref.compare(other)
    lp, lq = torch.log_softmax(clean.double(), -1), torch.log_softmax(other.double(), -1)

    def d(b, j):  # Δloss of the target at j, predicted at j - 1
        return -(lq[b, j - 1, ids[b, j]] - lp[b, j - 1, ids[b, j]]).item()

    assert math.isclose(out["delta_loss_local"][0].item(), (d(0, 1) + d(0, 4)) / 2, abs_tol=1e-5)
    assert math.isclose(out["delta_loss_intermediate"][0].item(), d(0, 2), abs_tol=1e-5)
    assert math.isclose(out["delta_loss_global"][1].item(), (d(1, 1) + d(1, 2)) / 2, abs_tol=1e-5)
    assert math.isnan(out["delta_loss_local"][1].item())  # no local target in row 1
    loss = ref.loss_by_target
    assert math.isnan(loss[0, 0]) and math.isnan(loss[1, 3])
    assert math.isclose(loss[0, 2].item(), -lp[0, 1, ids[0, 2]].item(), abs_tol=1e-5)


def test_affine_readout_gives_the_same_metrics_as_the_vocabulary_form():
    torch.manual_seed(2)
    norm, head = torch.nn.LayerNorm(6), torch.nn.Linear(6, 40)
    affine = AffineReadout(norm, head.weight.detach(), head.bias.detach())
    resid = torch.randn(2, 5, 6)
    ids = torch.randint(0, 40, (2, 5))
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 1, 0]])
    with torch.inference_mode():
        by_affine = CleanReference(resid, ids, mask, affine=affine, chunk=3)
        by_vocabulary = CleanReference(resid, ids, mask, to_logits=lambda r: head(norm(r)), chunk=3)
        moved = resid + 0.5 * torch.randn_like(resid)
        a, b = by_affine.compare_resid(moved), by_vocabulary.compare_resid(moved)
        assert by_affine.compare_resid(resid.clone())["kl"].tolist() == [0.0, 0.0]
        with pytest.raises(ValueError, match="compare_resid"):
            by_affine.compare(head(norm(moved)))
    assert a["kl"].min() > 0.01
    for metric in a:
        torch.testing.assert_close(a[metric], b[metric], atol=1e-5, rtol=1e-5)

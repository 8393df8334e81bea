"""Token classes: the definition on hand-made losses, the sentence map, and the context forward passes."""

from __future__ import annotations

import math

import torch

from mspgt_bench.interventions.token_classes import (
    GLOBAL,
    INTERMEDIATE,
    LOCAL,
    UNCLASSIFIED,
    TokenClassOptions,
    classify,
    compute_token_classes,
    token_sentences,
)
from mspgt_bench.stimuli.base import Stimulus

NAN = float("nan")


def test_classify_hand_made_losses():
    full = torch.tensor([2.0, 2.0, 2.0, 2.0, 2.0, NAN])
    local = torch.tensor([2.4, 3.0, 3.0, 2.5, 1.0, 2.0])
    sentence = torch.tensor([2.4, 2.3, 4.0, 2.5, 1.0, 2.0])
    classes = classify(full, local, sentence, tolerance=0.5)
    # within τ locally; sentence needed; only the passage helps; boundary τ counts as local;
    # a shorter context predicting better is local; undefined full loss
    assert classes.tolist() == [LOCAL, INTERMEDIATE, GLOBAL, LOCAL, LOCAL, UNCLASSIFIED]
    assert classify(full, local, sentence, tolerance=2.0).tolist()[:3] == [LOCAL, LOCAL, LOCAL]


def test_token_sentences_from_offsets():
    # text "It rains. We stay."
    sentences = ((0, 9), (10, 18))
    offsets = [(0, 2), (2, 8), (8, 9), (9, 12), (12, 17), (17, 18), (0, 0)]
    # "It" " rains" "." " We" " stay" "." <pad>: " We" starts in the gap but ends in sentence 1
    assert token_sentences(offsets, sentences) == [0, 0, 0, 1, 1, 1, -1]
    assert token_sentences([(9, 10)], sentences) == [0]  # a lone space between sentences: the earlier one


def test_context_losses_come_from_the_right_truncated_contexts(tiny_adapter):
    adapter = tiny_adapter("llama")  # byte tokenizer: one token per character
    stimulus = Stimulus.from_sentences("s", ["Abc def.", "Ghi jkl mno."], "hand", "p")
    batch = adapter.tokenize([stimulus.text], [0], 64)
    enc = adapter.tokenizer([stimulus.text], return_offsets_mapping=True)
    ids = batch.input_ids[0]
    n = len(ids)
    with torch.inference_mode():
        logp = torch.log_softmax(adapter.logits_from_resid(adapter.final_resid(batch.input_ids)).float(), -1)[0]
    full = torch.full((1, n), NAN)
    full[0, 1:] = -logp[:-1].gather(-1, ids[1:, None]).squeeze(-1)
    k = 3
    tc = compute_token_classes(adapter, batch, [stimulus], [enc["offset_mapping"][0]], full, TokenClassOptions(k=k, tolerance=0.1))

    def fresh_loss(start: int, j: int) -> float:
        with torch.inference_mode():
            resid = adapter.final_resid(ids[None, start:j])
            return -torch.log_softmax(adapter.logits_from_resid(resid[0, -1]).float(), -1)[ids[j]].item()

    assert tc.sentence[0].tolist() == [0] * 9 + [1] * (n - 9)  # "Abc def. " then "Ghi jkl mno."
    assert all(c == UNCLASSIFIED for c in tc.classes[0, : k + 1].tolist())
    for j in (5, 12, 18):
        assert math.isclose(tc.loss_local[0, j].item(), fresh_loss(j - k, j), abs_tol=1e-4)
    # j=18 lies in sentence 1 (first token 9) and 18 > 9 + k: its sentence context starts at 9
    assert math.isclose(tc.loss_sentence[0, 18].item(), fresh_loss(9, 18), abs_tol=1e-4)
    # j=11 is within k of its sentence start: the sentence context is the local one
    assert tc.loss_sentence[0, 11].item() == tc.loss_local[0, 11].item()
    # j=6 in sentence 0 starting at token 0: the sentence context is the full context
    assert tc.loss_sentence[0, 6].item() == full[0, 6].item()
    expected = classify(tc.loss_full, tc.loss_local, tc.loss_sentence, 0.1)
    assert torch.equal(tc.classes, expected)

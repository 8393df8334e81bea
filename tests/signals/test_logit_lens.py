"""Logit lens: zero KL at the last layer, and agreement with a slow reference."""

from __future__ import annotations

import numpy as np
import torch

from mspgt_bench.capture import capture_pass
from mspgt_bench.signals.base import BootstrapConfig
from mspgt_bench.signals.logit_lens import LogitLens
from mspgt_bench.stimuli.stdlib import stdlib_prose


def test_kl_is_zero_at_the_last_layer_and_matches_reference(tiny_adapter):
    adapter = tiny_adapter("qwen3")
    stimuli = stdlib_prose(n=3, seed=1)
    signal = LogitLens(adapter.n_layers)
    capture_pass(adapter, stimuli, [signal], batch_size=2, max_tokens=24)
    profiles = {p.metric: p for p in signal.profiles(BootstrapConfig(n_boot=50))}
    kl = profiles["kl"].per_stimulus
    assert np.all(np.abs(kl[:, -1]) < 1e-5)
    assert profiles["final_top1_rank"].per_stimulus[:, -1].max() == 0

    # Slow reference: one stimulus at a time, hidden states from transformers, explicit loops.
    model = adapter.model
    for row, stimulus in enumerate(stimuli):
        ids = adapter.tokenizer(stimulus.text, return_tensors="pt", truncation=True, max_length=24).input_ids
        with torch.inference_mode():
            out = model(ids, output_hidden_states=True)
        p = torch.softmax(out.logits[0].double(), -1)
        for layer in range(adapter.n_layers - 1):
            with torch.inference_mode():
                q_logits = model.lm_head(model.model.norm(out.hidden_states[layer + 1]))[0].double()
            q = torch.softmax(q_logits, -1)
            per_token = [float((p[t] * (p[t].log() - q[t].log())).sum()) for t in range(ids.shape[1])]
            entropy = [float(-(q[t] * q[t].log()).sum()) for t in range(ids.shape[1])]
            assert abs(kl[row, layer] - np.mean(per_token)) < 1e-4
            assert abs(profiles["entropy"].per_stimulus[row, layer] - np.mean(entropy)) < 1e-4

"""The Qwen2.5-Coder models of the offline zoo through the HF adapter (slow: real pretrained weights).

The tests read the prepared folders only and never download: a model that is not prepared is skipped,
and the skip names the command that prepares it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch

from mspgt_bench.models import zoo
from mspgt_bench.models.base import TokenBatch
from mspgt_bench.models.hf import HFAdapter
from mspgt_bench.models.sites import LAYER_SITES, Site, all_layers

pytestmark = pytest.mark.slow

DEPTHS = {"qwen2.5-coder-0.5b": 24, "qwen2.5-coder-1.5b": 28}
PROMPT = "The capital of France is"


@pytest.fixture(scope="module", params=sorted(DEPTHS))
def qwen(request: pytest.FixtureRequest) -> Iterator[HFAdapter]:
    """A prepared Qwen2.5-Coder model loaded by the HF adapter, one model at a time."""
    name = request.param
    if not zoo.is_prepared(name):
        pytest.skip(str(zoo.ModelNotPreparedError(name, "the slow tests do not download")))
    adapter = HFAdapter(name)
    yield adapter
    adapter.close()


def _greedy(adapter: HFAdapter, prompt: str, n_tokens: int) -> str:
    """The text ``n_tokens`` greedy steps of the adapter's forward pass add to ``prompt``."""
    ids = adapter.tokenize([prompt], [0], 32).input_ids
    prompt_length = ids.shape[1]
    for _ in range(n_tokens):
        logits = adapter.forward(TokenBatch(ids, torch.ones_like(ids), [0]))
        ids = torch.cat([ids, logits[:, -1].argmax(dim=-1, keepdim=True)], dim=1)
    return adapter.tokenizer.decode(ids[0, prompt_length:])


def test_loads_as_qwen2_with_every_canonical_site(qwen: HFAdapter) -> None:
    depth = DEPTHS[qwen.model_id]
    provenance = qwen.provenance()
    assert qwen.family == "qwen2" and provenance["architecture"] == "Qwen2ForCausalLM"
    assert qwen.n_layers == depth and provenance["source"].startswith("offline zoo: ")
    batch = qwen.tokenize([PROMPT], [0], 32)
    sites = [Site("logits"), *(site for kind in LAYER_SITES for site in all_layers(kind, depth))]
    with qwen.capture(sites) as acts:
        logits = qwen.forward(batch)
    assert set(acts) == set(sites)
    tokens = batch.input_ids.shape[1]
    assert acts[Site("resid_post", depth - 1)].shape == (1, tokens, qwen.d_model)
    assert acts[Site("attn_pattern", depth - 1)].shape[-2:] == (tokens, tokens)
    lens = qwen.logits_from_resid(acts[Site("resid_post", depth - 1)])
    torch.testing.assert_close(lens, logits, atol=1e-4, rtol=1e-4)


def test_greedily_completes_the_capital_of_france(qwen: HFAdapter) -> None:
    assert _greedy(qwen, PROMPT, 2).startswith(" Paris")

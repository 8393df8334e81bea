"""One vLLM engine and one HF model for the whole test session (starting an engine takes 10-30 s)."""

from __future__ import annotations

import pytest

from mspgt_bench.models.base import TokenBatch
from mspgt_bench.stimuli.base import Stimulus
from mspgt_bench.stimuli.stdlib import stdlib_prose

MODEL = "smollm2-135m"
PLUGIN_MISSING = "the mspgt-vllm plugin is not installed here: pip install --no-deps -e plugins/mspgt-vllm"


@pytest.fixture(scope="session")
def vllm_adapter():
    pytest.importorskip(
        "vllm", reason="vLLM is not installed here: pip install 'plugins/mspgt-vllm[cpu]' (CPU) or '[gpu]'"
    )
    adapter_module = pytest.importorskip("mspgt_vllm.adapter", reason=PLUGIN_MISSING)
    adapter = adapter_module.VLLMAdapter(MODEL, dtype="float32", max_model_len=512)
    yield adapter
    adapter.close()


@pytest.fixture(scope="session")
def hf_adapter():
    from mspgt_bench.models.hf import HFAdapter

    return HFAdapter(MODEL, dtype="float32")


@pytest.fixture(scope="session")
def prose() -> list[Stimulus]:
    """Eight real prose stimuli of different lengths (so the batch is padded)."""
    return stdlib_prose(8, 0)


def tokenize(adapter, stimuli: list[Stimulus], max_tokens: int = 48) -> TokenBatch:
    return adapter.tokenize([s.text for s in stimuli], list(range(len(stimuli))), max_tokens)

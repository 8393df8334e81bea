"""Shared pieces of the intervention tests: a stimulus set and a batch helper."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from mspgt_bench.models.base import TokenBatch
from mspgt_bench.stimuli.base import Stimulus
from mspgt_bench.stimuli.stdlib import stdlib_prose


@pytest.fixture(scope="session")
def prose() -> list[Stimulus]:
    """Four real prose stimuli (two or more sentences each)."""
    return stdlib_prose(4, 0)


@pytest.fixture(scope="session")
def batch_of() -> Callable[..., TokenBatch]:
    def tokenize(adapter, stimuli: list[Stimulus], max_tokens: int = 40) -> TokenBatch:
        return adapter.tokenize([s.text for s in stimuli], list(range(len(stimuli))), max_tokens)

    return tokenize


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny models run faster on one thread (no OpenMP spin on a busy 2-core machine); restored after."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)

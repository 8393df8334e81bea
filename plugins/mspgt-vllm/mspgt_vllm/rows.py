"""Map vLLM's flattened token rows back to the right-padded ``[batch, tokens, d]`` layout.

vLLM runs every request of a scheduler step as one flat sequence of rows
``[n_tokens_in_step, d]``: the requests are concatenated in scheduler order, which need not be
the order they were submitted in, and a batch may be spread over several steps. Each request's
rows carry its positions ``0 .. n−1``. With chunked prefill off and prefix caching off, a prompt
is always computed whole in one step, so a run of rows whose positions go ``0, 1, ..., n−1`` is
one prompt; its token ids (read from the embedding's input) tell which batch row it is. Two
identical prompts are interchangeable (the same computation), so either assignment is exact.
Decode steps (position > 0 at a run's start) and padding rows match no prompt and are ignored.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = ["RowMap", "match_rows", "prompt_runs"]


def prompt_runs(positions: Tensor) -> list[tuple[int, int]]:
    """``(start, length)`` of each run of flat rows whose positions count up from 0 by 1."""
    pos = positions.tolist()
    runs: list[tuple[int, int]] = []
    start = None
    for i, p in enumerate(pos):
        if p == 0:
            if start is not None:
                runs.append((start, i - start))
            start = i
        elif start is not None and p != pos[i - 1] + 1:
            runs.append((start, i - start))
            start = None
    if start is not None:
        runs.append((start, len(pos) - start))
    return runs


@dataclass
class RowMap:
    """Which flat rows of one step hold which (batch row, token) of the padded layout."""

    flat: Tensor
    """``[m]`` indices into the step's flat rows."""
    row: Tensor
    """``[m]`` batch row of each."""
    token: Tensor
    """``[m]`` token position of each."""

    @property
    def rows(self) -> set[int]:
        return set(self.row.tolist())

    def pad(self, flat: Tensor, shape: tuple[int, int]) -> Tensor:
        """``[n, d]`` step rows -> ``[batch, tokens, d]``, zeros where this step has no row."""
        return self.fill(flat.new_zeros((*shape, flat.shape[-1])), flat)

    def fill(self, padded: Tensor, flat: Tensor) -> Tensor:
        """Write this step's rows of ``flat`` into ``padded`` (a batch may span several steps)."""
        padded[self.row, self.token] = flat[self.flat].to(padded.dtype)
        return padded

    def unpad(self, padded: Tensor, flat: Tensor) -> Tensor:
        """A copy of ``flat`` with this step's rows taken from ``padded``."""
        out = flat.clone()
        out[self.flat] = padded[self.row, self.token].to(flat.dtype)
        return out


def match_rows(positions: Tensor, step_ids: Tensor | None, prompts: list[list[int]], taken: set[int]) -> RowMap:
    """Assign this step's prompt runs to batch rows not ``taken`` yet (updated in place).

    A run matches a row whose prompt has the same token ids; without ids (a pipeline stage that
    does not embed) it matches the first free row of the same length, in submission order.
    """
    flat, row, token = [], [], []
    ids = step_ids.tolist() if step_ids is not None else None
    for start, length in prompt_runs(positions):
        run = ids[start : start + length] if ids is not None else None
        for index, prompt in enumerate(prompts):
            if index in taken or len(prompt) != length or (run is not None and run != prompt):
                continue
            taken.add(index)
            flat.extend(range(start, start + length))
            row.extend([index] * length)
            token.extend(range(length))
            break
    device = positions.device
    return RowMap(_long(flat, device), _long(row, device), _long(token, device))


def _long(values: list[int], device: torch.device) -> Tensor:
    return torch.tensor(values, dtype=torch.long, device=device)

"""Known-answer tests of the flat-row bookkeeping (no vLLM needed, only the plugin package)."""

from __future__ import annotations

import pytest
import torch

from .conftest import PLUGIN_MISSING

rows_module = pytest.importorskip("mspgt_vllm.rows", reason=PLUGIN_MISSING)
match_rows, prompt_runs = rows_module.match_rows, rows_module.prompt_runs

PROMPTS = [[5, 6, 7], [8, 9], [5, 6, 7], [1, 2, 3, 4]]


def test_prompt_runs_split_at_position_zero_and_drop_decode_rows() -> None:
    # two prompts, then a decode row (position 9 starts no run), then a one-token prompt
    positions = torch.tensor([0, 1, 2, 0, 1, 9, 0])
    assert prompt_runs(positions) == [(0, 3), (3, 2), (6, 1)]


def test_prompt_runs_end_a_run_where_positions_jump() -> None:
    assert prompt_runs(torch.tensor([0, 1, 5, 6, 0])) == [(0, 2), (4, 1)]


def test_rows_out_of_submission_order_are_matched_by_token_ids() -> None:
    # scheduler order: row 3, row 1, then padding (position 0, id 0)
    ids = torch.tensor([1, 2, 3, 4, 8, 9, 0])
    positions = torch.tensor([0, 1, 2, 3, 0, 1, 0])
    taken: set[int] = set()
    rows = match_rows(positions, ids, PROMPTS, taken)
    assert taken == {1, 3}
    assert rows.flat.tolist() == [0, 1, 2, 3, 4, 5]
    assert rows.row.tolist() == [3, 3, 3, 3, 1, 1]
    assert rows.token.tolist() == [0, 1, 2, 3, 0, 1]


def test_identical_prompts_take_distinct_rows() -> None:
    ids = torch.tensor([5, 6, 7, 5, 6, 7])
    positions = torch.tensor([0, 1, 2, 0, 1, 2])
    taken: set[int] = set()
    rows = match_rows(positions, ids, PROMPTS, taken)
    assert taken == {0, 2}
    assert rows.row.tolist() == [0, 0, 0, 2, 2, 2]


def test_without_ids_runs_match_free_rows_of_their_length_in_order() -> None:
    taken = {0}
    rows = match_rows(torch.tensor([0, 1, 2, 0, 1]), None, PROMPTS, taken)
    assert rows.row.tolist() == [2, 2, 2, 1, 1]


def test_pad_fill_and_unpad_round_trip_across_two_steps() -> None:
    flat_a = torch.arange(12.0).reshape(6, 2)  # step 1: rows 3 (4 tokens) and 1 (2 tokens)
    flat_b = 100 + torch.arange(12.0).reshape(6, 2)  # step 2: rows 0 and 2
    taken: set[int] = set()
    step_a = match_rows(torch.tensor([0, 1, 2, 3, 0, 1]), torch.tensor([1, 2, 3, 4, 8, 9]), PROMPTS, taken)
    step_b = match_rows(torch.tensor([0, 1, 2, 0, 1, 2]), torch.tensor([5, 6, 7, 5, 6, 7]), PROMPTS, taken)
    padded = step_b.fill(step_a.pad(flat_a, (4, 4)), flat_b)
    assert padded[3].tolist() == flat_a[:4].tolist()
    assert padded[1, :2].tolist() == flat_a[4:].tolist() and padded[1, 2:].abs().sum() == 0
    assert padded[0, :3].tolist() == flat_b[:3].tolist() and padded[2, :3].tolist() == flat_b[3:].tolist()
    edited = step_a.unpad(padded + 1, flat_a)
    assert torch.equal(edited, flat_a + 1)
    assert torch.equal(step_a.unpad(padded * 0, flat_a), torch.zeros_like(flat_a))

"""Character offsets of the tokens of a batch: which text each token of a row stands for."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mspgt_bench.models.base import TokenBatch


def token_offsets(tokenizer: Any, texts: Sequence[str], batch: TokenBatch) -> list[list[tuple[int, int]]] | None:
    """Character span ``(start, end)`` of each real token of each row of ``batch``, or None.

    Each text is tokenised again, untruncated and unpadded, with the tokenizer's offset mapping;
    it is used when its first ``length`` ids equal the batch row's (the batch may be truncated).
    None when the tokenizer gives no offset mapping or a row's ids differ.
    """
    try:
        enc = tokenizer(list(texts), return_offsets_mapping=True)
    except (NotImplementedError, ValueError, TypeError, KeyError):
        return None
    out = []
    for row, length in enumerate(batch.lengths.tolist()):
        ids = batch.input_ids[row, :length].tolist()
        if enc["input_ids"][row][:length] != ids:
            return None
        out.append([tuple(span) for span in enc["offset_mapping"][row][:length]])
    return out

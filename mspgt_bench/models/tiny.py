"""Seeded random-weight configs of real architectures, plus a byte-level tokenizer, for tests.

They exercise the real transformers model code of each family with no download.
"""

from __future__ import annotations

from functools import lru_cache

from tokenizers import Tokenizer, decoders, models, pre_tokenizers
from transformers import (
    AutoConfig,
    PretrainedConfig,
    PreTrainedTokenizerFast,
)

BYTE_VOCAB = 256
SPECIAL_TOKENS = ("<bos>", "<eos>", "<pad>")
TINY_VOCAB = BYTE_VOCAB + len(SPECIAL_TOKENS)

_COMMON = dict(vocab_size=TINY_VOCAB, bos_token_id=256, eos_token_id=257, pad_token_id=258, tie_word_embeddings=False)
_DECODER = dict(
    hidden_size=64,
    intermediate_size=128,
    num_hidden_layers=4,
    num_attention_heads=4,
    num_key_value_heads=2,
    max_position_embeddings=512,
)

TINY_CONFIGS: dict[str, tuple[str, dict]] = {
    "llama": ("llama", _DECODER),
    "qwen2": ("qwen2", _DECODER),
    "qwen3": ("qwen3", {**_DECODER, "head_dim": 16}),
    "mistral": ("mistral", {**_DECODER, "sliding_window": None}),
    "gemma3": ("gemma3_text", {**_DECODER, "head_dim": 16, "sliding_window": 16}),
    "gpt2": ("gpt2", dict(n_embd=64, n_layer=4, n_head=4, n_positions=512)),
}


def tiny_config(family: str, n_layers: int | None = None) -> PretrainedConfig:
    """A small config of ``family``'s real architecture (4 layers, d=64 unless ``n_layers``)."""
    try:
        model_type, kwargs = TINY_CONFIGS[family]
    except KeyError:
        raise ValueError(f"no tiny config for family {family!r}; known: {', '.join(TINY_CONFIGS)}") from None
    kwargs = {**_COMMON, **kwargs}
    if n_layers is not None:
        kwargs["n_layer" if model_type == "gpt2" else "num_hidden_layers"] = n_layers
    return AutoConfig.for_model(model_type, **kwargs)


@lru_cache(maxsize=1)
def byte_tokenizer() -> PreTrainedTokenizerFast:
    """A byte-level tokenizer: one token per UTF-8 byte, ids 0..255, then <bos> <eos> <pad>."""
    alphabet = pre_tokenizers.ByteLevel.alphabet()
    vocab = {ch: i for i, ch in enumerate(sorted(alphabet, key=_byte_of))}
    vocab.update({tok: BYTE_VOCAB + i for i, tok in enumerate(SPECIAL_TOKENS)})
    core = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    core.decoder = decoders.ByteLevel()
    return PreTrainedTokenizerFast(
        tokenizer_object=core, bos_token="<bos>", eos_token="<eos>", pad_token="<pad>"
    )


def _byte_of(char: str) -> int:
    """The byte a ByteLevel alphabet character stands for (GPT-2's printable byte mapping)."""
    code = ord(char)
    if 33 <= code <= 126 or 161 <= code <= 172 or 174 <= code <= 255:
        return code
    offset = code - 256
    unprintable = [b for b in range(256) if not (33 <= b <= 126 or 161 <= b <= 172 or 174 <= b <= 255)]
    return unprintable[offset]

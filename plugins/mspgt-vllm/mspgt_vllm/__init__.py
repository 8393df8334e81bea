"""mspgt-bench plugin: the ``vllm`` model adapter and the zoo entry ``smollm2-135m-vllm``.

vLLM itself is imported only when an adapter is built, so ``mspgt-bench list`` and ``validate``
work where vLLM is not installed.
"""

from __future__ import annotations

from mspgt_bench.hookspecs import Register, hookimpl
from mspgt_bench.models.entries import ModelEntry

__version__ = "0.1.0"


@hookimpl
def register_model_adapters(register: Register) -> None:
    from mspgt_vllm.adapter import VLLMAdapter

    register("vllm", VLLMAdapter)


@hookimpl
def register_offline_models(register: Register) -> None:
    register(
        "smollm2-135m-vllm",
        ModelEntry(
            "smollm2-135m-vllm",
            "vllm",
            "llama",
            "135M",
            "SmolLM2-135M-Instruct of the offline zoo served by vLLM (float32, eager, in-process engine)",
            {"model": "smollm2-135m"},
        ),
    )

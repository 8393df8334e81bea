"""Example mspgt-bench plugin: the ``hf-config`` model adapter and one named model using it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mspgt_bench.hookspecs import Register, hookimpl
from mspgt_bench.models.entries import ModelEntry
from mspgt_bench.models.hf import HFAdapter
from mspgt_bench.models.tiny import TINY_VOCAB, byte_tokenizer

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

__version__ = "0.1.0"


class ConfigAdapter(HFAdapter):
    """Builds ``model_type`` from the inline ``config`` with seeded random weights.

    It overrides the HF adapter's one building hook, :meth:`~mspgt_bench.models.hf.HFAdapter.build_model`;
    everything else (sites, hooks, logit lens, interventions) is inherited, so any architecture
    with a family map works.
    """

    def __init__(
        self, model_type: str, config: dict[str, Any] | None = None, *, name: str | None = None, **kwargs: Any
    ) -> None:
        self._model_type = model_type
        self._config = dict(config or {})
        super().__init__(name or f"hf-config:{model_type}", **kwargs)

    def build_model(
        self, *, trust_remote_code: bool, n_layers: int | None
    ) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
        from transformers import AutoConfig

        settings = {"vocab_size": TINY_VOCAB, "pad_token_id": TINY_VOCAB - 1, **self._config}
        config = AutoConfig.for_model(self._model_type, **settings)
        self.source = f"inline config ({self._model_type}, random weights, seed {self.seed})"
        return self.random_model(config), byte_tokenizer()


@hookimpl
def register_model_adapters(register: Register) -> None:
    register("hf-config", ConfigAdapter)


@hookimpl
def register_offline_models(register: Register) -> None:
    register(
        "example-gpt2-2l",
        ModelEntry(
            "example-gpt2-2l",
            "hf-config",
            "gpt2",
            "tiny",
            "2-layer GPT-2 built from an inline config by the example plugin",
            {"model_type": "gpt2", "config": {"n_layer": 2, "n_embd": 32, "n_head": 4, "n_positions": 256}},
        ),
    )

"""The ``vllm`` model adapter: the canonical sites and interventions through hooks in vLLM's worker.

Why: vLLM is how a suite reaches models too large for one device (tensor and pipeline parallel)
and how researchers already serve them. The model runs in vLLM's engine; this adapter installs
forward hooks on its decoder layers for the duration of one ``generate`` call per stimulus batch
(:mod:`mspgt_vllm.worker`) and maps vLLM's flattened token rows back to the right-padded
``[batch, tokens, d]`` layout of :class:`~mspgt_bench.models.base.TokenBatch`
(:mod:`mspgt_vllm.rows`). Tokenisation is the model's HF tokenizer with the HF adapter's settings,
so both backends see the same token ids.

Sites: ``resid_pre[l]``, ``resid_post[l]``, ``attn_out[l]``, ``mlp_out[l]`` (at the modules of the
core's family map), ``logits``. ``attn_pattern[l]`` is a :class:`SiteError`: vLLM's fused attention
kernels never materialise the probabilities. Hooks need eager execution (``enforce_eager=True``,
the default); prefix caching and chunked prefill are switched off so every prompt is computed
whole, in one engine step.

Output side: :meth:`VLLMAdapter.prompt_logprobs` reads ``log p(x_t | x_<t)`` from vLLM's
``prompt_logprobs``, so a loss needs no logits leaving the engine.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any, Literal

import torch
from torch import Tensor

from mspgt_bench.models.base import ModelAdapter, TokenBatch
from mspgt_bench.models.families import FamilyMap, family_for
from mspgt_bench.models.resume import Step
from mspgt_bench.models.sites import Site, SiteError
from mspgt_vllm.residuals import VLLMResiduals
from mspgt_vllm.worker import Job, close_session, open_session, unembed

__all__ = ["ENGINE_ENV", "VLLMAdapter"]

ENGINE_ENV = {
    # the engine runs in this process, so apply_model reaches the model without pickling
    "VLLM_ENABLE_V1_MULTIPROCESSING": "0",
    # GiB of KV cache on CPU (vLLM's default of 4 is far more than a stimulus batch needs)
    "VLLM_CPU_KVCACHE_SPACE": "1",
    # spares a 9-14 s compile of the sampler helpers on first use; the model runs eagerly anyway
    "TORCHDYNAMO_DISABLE": "1",
}
SUB_MODULE_SITES = ("attn_out", "mlp_out")


class VLLMAdapter(ModelAdapter):
    """A causal LM served by an in-process ``vllm.LLM``.

    ``model`` is a name of the offline zoo, a local folder or a hub id. The engine options
    (``dtype``, ``max_model_len``, ``enforce_eager``, ``tensor_parallel_size``,
    ``pipeline_parallel_size``, ``distributed_executor_backend``, ``max_num_batched_tokens``) are
    passed to ``vllm.LLM`` unchanged. ``random_weights`` serves the HF adapter's seeded random
    twin (saved to a temporary folder), so the null control is the same model on both backends.
    Unset variables of :data:`ENGINE_ENV` are set before vLLM is imported.
    """

    backend = "vllm"

    def __init__(
        self,
        model: str,
        *,
        dtype: Literal["float32", "float16", "bfloat16"] = "float32",
        max_model_len: int = 512,
        enforce_eager: bool = True,
        tensor_parallel_size: int = 1,
        pipeline_parallel_size: int = 1,
        distributed_executor_backend: str | None = None,
        max_num_batched_tokens: int | None = None,
        revision: str | None = None,
        trust_remote_code: bool = False,
        random_weights: bool = False,
        seed: int = 0,
    ) -> None:
        for name, value in ENGINE_ENV.items():
            os.environ.setdefault(name, value)
        from transformers import AutoConfig, AutoTokenizer
        from vllm import LLM

        self.model_id = model
        self.dtype = dtype
        self.revision = revision
        self.random_weights = random_weights
        self.seed = seed
        self._scratch: tempfile.TemporaryDirectory | None = None
        location, self.source = self._locate(trust_remote_code)
        config = AutoConfig.from_pretrained(location, revision=revision, trust_remote_code=trust_remote_code)
        self.map: FamilyMap = family_for(config.model_type)
        self.family = self.map.family
        self.n_layers = config.num_hidden_layers
        self.d_model = config.hidden_size
        self.architecture = config.architectures[0] if config.architectures else config.model_type
        self.tokenizer = AutoTokenizer.from_pretrained(location, revision=revision, trust_remote_code=trust_remote_code)
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.tokenizer.padding_side = "right"  # signals index the last real token as length - 1
        self.engine_args: dict[str, Any] = {
            "dtype": dtype,
            "max_model_len": max_model_len,
            "enforce_eager": enforce_eager,
            "tensor_parallel_size": tensor_parallel_size,
            "pipeline_parallel_size": pipeline_parallel_size,
            "distributed_executor_backend": distributed_executor_backend,
            "max_num_batched_tokens": max_num_batched_tokens,
            "enable_prefix_caching": False,
            "enable_chunked_prefill": False,
            "skip_tokenizer_init": True,
            "seed": seed,
        }
        self.engine = LLM(model=location, revision=revision, trust_remote_code=trust_remote_code, **self.engine_args)
        self._capturing: tuple[list[Site], dict[Site, Tensor]] | None = None

    def _locate(self, trust_remote_code: bool) -> tuple[str, str]:
        """The folder (or hub id) vLLM loads, and where it came from."""
        if self.random_weights:
            from mspgt_bench.models.hf import HFAdapter

            twin = HFAdapter(
                self.model_id,
                dtype=self.dtype,
                revision=self.revision,
                random_weights=True,
                seed=self.seed,
                trust_remote_code=trust_remote_code,
            )
            self._scratch = tempfile.TemporaryDirectory(prefix="mspgt-vllm-random-")
            twin.model.save_pretrained(self._scratch.name)
            twin.tokenizer.save_pretrained(self._scratch.name)
            twin.close()
            return self._scratch.name, f"random weights (HF adapter's twin, seed {self.seed}) of {twin.source}"
        from mspgt_bench.models import zoo

        if self.model_id in zoo.OFFLINE_MODELS:
            location = zoo.resolve(self.model_id)
            return str(location), f"offline zoo: {location}"
        if Path(self.model_id).is_dir():
            return self.model_id, f"local folder: {Path(self.model_id).resolve()}"
        return self.model_id, "hub"

    # -- running -------------------------------------------------------------------------
    def tokenize(self, texts: list[str], stimulus_index: list[int], max_tokens: int) -> TokenBatch:
        enc = self.tokenizer(texts, return_tensors="pt", padding=True, truncation=True, max_length=max_tokens)
        return TokenBatch(enc["input_ids"], enc["attention_mask"], stimulus_index)

    @contextmanager
    def capture(self, sites: Iterable[Site]) -> Iterator[dict[Site, Tensor]]:
        wanted = sorted(set(sites))
        for site in wanted:
            self._check_site(site)
        store: dict[Site, Tensor] = {}
        self._capturing = (wanted, store)
        try:
            yield store
        finally:
            self._capturing = None

    def _check_site(self, site: Site) -> None:
        if site.kind == "logits":
            return
        if site.kind == "attn_pattern":
            raise SiteError(
                f"site {site} is not available on the vllm backend: its fused attention kernels never "
                "materialise the attention probabilities (use the hf adapter for attention signals)"
            )
        if site.layer is None or not 0 <= site.layer < self.n_layers:
            raise SiteError(f"site {site} does not resolve: {self.model_id} has layers 0..{self.n_layers - 1}")
        if site.kind not in ("resid_pre", "resid_post", *SUB_MODULE_SITES):
            raise SiteError(f"site kind {site.kind!r} is not supported by the vllm adapter")

    def forward(self, batch: TokenBatch, *, logits: bool = True) -> Tensor | None:
        wanted, store = self._capturing or ([], {})
        keys = {(site.kind, site.layer) for site in wanted if site.kind != "logits"}
        last = ("resid_post", self.n_layers - 1)
        acts = self._run(batch, keys | ({last} if logits else set()))
        store.update({Site(*key): acts[key] for key in keys})
        if not logits:
            return None
        out = self.logits_from_resid(acts[last])
        if Site("logits") in wanted:
            store[Site("logits")] = out
        return out

    def logits_from_resid(self, resid: Tensor) -> Tensor:
        flat = resid.reshape(-1, resid.shape[-1])
        results = self.engine.apply_model(partial(unembed, flat, self.map.final_norm))
        logits = next(r for r in results if r is not None)
        return logits.reshape(*resid.shape[:-1], logits.shape[-1])

    def final_resid(
        self, input_ids: Tensor, attention_mask: Tensor | None = None, steps: Mapping[int, Step] | None = None
    ) -> Tensor:
        """The last layer's output (before the final norm) of one pass, with ``steps`` applied by hooks."""
        mask = torch.ones_like(input_ids) if attention_mask is None else attention_mask
        batch = TokenBatch(input_ids, mask, [])
        last = ("resid_post", self.n_layers - 1)
        return self._run(batch, {last}, steps)[last]

    def record_residuals(self, batch: TokenBatch) -> VLLMResiduals:
        keys = {("resid_pre", 0)} | {("resid_post", layer) for layer in range(self.n_layers)}
        acts = self._run(batch, keys)
        states = [acts[("resid_pre", 0)]] + [acts[("resid_post", layer)] for layer in range(self.n_layers)]
        return VLLMResiduals(self, batch, states)

    def prompt_logprobs(self, batch: TokenBatch) -> Tensor:
        """``[batch, tokens]`` ``log p(x_t | x_<t)`` as vLLM computes it; NaN at ``t = 0`` and on padding."""
        from vllm import SamplingParams

        prompts = _prompts(batch)
        outputs = self._generate(
            prompts, SamplingParams(max_tokens=1, temperature=0.0, prompt_logprobs=0, detokenize=False)
        )
        out = torch.full(batch.input_ids.shape, float("nan"))
        for row, (prompt, output) in enumerate(zip(prompts, outputs)):
            out[row, 1 : len(prompt)] = torch.tensor(
                [entry[token].logprob for token, entry in zip(prompt[1:], output.prompt_logprobs[1:])]
            )
        return out

    def _run(
        self, batch: TokenBatch, keys: set[tuple[str, int]], steps: Mapping[int, Step] | None = None
    ) -> dict[tuple[str, int], Tensor]:
        """One hooked ``generate`` over the batch: the ``keys`` captured in the padded layout."""
        from vllm import SamplingParams

        if not self.engine_args["enforce_eager"]:
            raise NotImplementedError("the vllm adapter's hooks need enforce_eager=True (compiled graphs skip them)")
        prompts = _prompts(batch)
        modules = {kind: getattr(self.map, kind) for kind in SUB_MODULE_SITES}
        job = Job(prompts, int(batch.input_ids.shape[1]), self.map.layers, set(keys), modules, dict(steps or {}))
        self.engine.apply_model(partial(open_session, job))
        try:
            self._generate(prompts, SamplingParams(max_tokens=1, temperature=0.0, detokenize=False))
        finally:
            results = [r for r in self.engine.apply_model(close_session) if r is not None]
        seen = set().union(*(r["rows"] for r in results))
        if seen != set(range(len(prompts))):
            missing = sorted(set(range(len(prompts))) - seen)
            raise RuntimeError(f"batch rows {missing} were not computed as whole prompts in one engine step")
        acts: dict[tuple[str, int], Tensor] = {}
        for result in results:  # pipeline stages hold different layers; tensor-parallel ranks agree
            for key, value in result["store"].items():
                acts.setdefault(key, value)
        return acts

    def _generate(self, prompts: list[list[int]], params: Any) -> list[Any]:
        from vllm.inputs import TokensPrompt

        return self.engine.generate([TokensPrompt(prompt_token_ids=p) for p in prompts], params, use_tqdm=False)

    def provenance(self) -> dict[str, Any]:
        import transformers
        import vllm

        return {
            "model_id": self.model_id,
            "revision": self.revision,
            "source": self.source,
            "backend": self.backend,
            "family": self.family,
            "architecture": self.architecture,
            "n_layers": self.n_layers,
            "d_model": self.d_model,
            "dtype": self.dtype,
            "random_weights": self.random_weights,
            "engine_args": self.engine_args,
            "engine_env": {name: os.environ.get(name) for name in ENGINE_ENV},
            "vllm": vllm.__version__,
            "transformers": transformers.__version__,
        }

    def close(self) -> None:
        """Shut the engine down and free its memory, so another engine can start in this process."""
        from vllm.distributed.parallel_state import destroy_distributed_environment, destroy_model_parallel

        self.engine.llm_engine.engine_core.shutdown()
        del self.engine
        destroy_model_parallel()
        destroy_distributed_environment()
        if self._scratch is not None:
            self._scratch.cleanup()


def _prompts(batch: TokenBatch) -> list[list[int]]:
    return [row[:length].tolist() for row, length in zip(batch.input_ids, batch.lengths.tolist())]

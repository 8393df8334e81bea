"""Hugging Face transformers adapter: any ``AutoModelForCausalLM`` whose family has a site map."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn
from torch.utils.hooks import RemovableHandle

from mspgt_bench.metrics.next_token import AffineReadout
from mspgt_bench.models import resume
from mspgt_bench.models.base import ModelAdapter, TokenBatch
from mspgt_bench.models.families import FamilyMap, family_for
from mspgt_bench.models.modules import first_tensor, submodule
from mspgt_bench.models.sites import Site, SiteError

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


class HFAdapter(ModelAdapter):
    """Loads a causal LM with transformers and exposes the canonical sites through hooks.

    ``model`` is a name of the offline zoo, a ``tiny-<family>`` config, a local folder, or a hub id.
    ``random_weights`` builds the same architecture from its config with seeded random weights
    (the untrained twin used as a null control).

    A subclass that builds its model another way overrides :meth:`build_model`; sites, hooks,
    the logit lens and interventions come with the class.

    ``device_map`` and ``max_memory`` (suite ``args``; they need accelerate) spread a model too
    large for one device over several, as ``from_pretrained`` takes them: ``device_map: auto``
    with ``max_memory: {"0": 70GiB, "1": 70GiB, cpu: 200GiB}``, say (GPU indices quoted in YAML). Loaded weights go straight to
    their devices; a model built from a config (the random-weight twin) is built on the host and
    then dispatched. Inputs go to the device of the input embeddings; ``device`` is then unused.
    """

    backend = "hf"

    def __init__(
        self,
        model: str,
        *,
        dtype: str = "float32",
        device: str = "cpu",
        revision: str | None = None,
        random_weights: bool = False,
        seed: int = 0,
        trust_remote_code: bool = False,
        n_layers: int | None = None,
        device_map: str | dict[str, Any] | None = None,
        max_memory: dict[str | int, str | int] | None = None,
    ) -> None:
        if dtype not in DTYPES:
            raise ValueError(f"dtype {dtype!r} is not supported; use one of {', '.join(DTYPES)}")
        self.model_id = model
        self.dtype = dtype
        self.device = torch.device(device)
        self.revision = revision
        self.random_weights = random_weights
        self.seed = seed
        self.source = ""
        self.device_map = device_map
        self.max_memory = None if max_memory is None else {_device_key(k): v for k, v in max_memory.items()}
        self.model, self.tokenizer = self.build_model(trust_remote_code=trust_remote_code, n_layers=n_layers)
        if device_map is None:
            self.model.to(self.device)
        else:  # dispatched over devices by accelerate: inputs go where the embeddings are
            self.model = self._dispatch(self.model)
            self.device = self.model.get_input_embeddings().weight.device
        self.model.eval()
        self.map: FamilyMap = family_for(self.model.config.model_type)
        self.family = self.map.family
        self.layers: nn.ModuleList = submodule(self.model, self.map.layers)
        self.n_layers = len(self.layers)
        self.d_model = self.model.get_input_embeddings().embedding_dim
        self._final_norm = submodule(self.model, self.map.final_norm)
        self._unembed = submodule(self.model, self.map.unembed)
        self._softcap = getattr(self.model.config, "final_logit_softcapping", None)

    # -- loading -------------------------------------------------------------------------
    def build_model(
        self, *, trust_remote_code: bool, n_layers: int | None
    ) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
        """Build the causal LM and its tokenizer: the hook a subclass overrides to build them another way.

        Called once by ``__init__``, after ``model_id``, ``dtype``, ``revision``, ``random_weights``
        and ``seed`` are set; ``trust_remote_code`` and ``n_layers`` (layers of a ``tiny-*``
        config) are the constructor's. Returns a transformers causal LM whose ``config.model_type``
        has a family map (``__init__`` moves it to ``device`` and eval mode) and a tokenizer that
        pads on the right with a pad token set. Sets ``self.source``, where the weights came from
        (recorded in the provenance). :meth:`random_model` gives seeded random weights for a config.
        """
        from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

        from mspgt_bench.models import tiny

        if self.model_id.startswith("tiny-"):
            config = tiny.tiny_config(self.model_id.removeprefix("tiny-"), n_layers)
            self.source = "tiny config (random weights)"
            return self.random_model(config), tiny.byte_tokenizer()
        from mspgt_bench.models import zoo

        if self.model_id in zoo.OFFLINE_MODELS:
            location = str(zoo.resolve(self.model_id))
            self.source = f"offline zoo: {location}"
        elif Path(self.model_id).is_dir():
            location = self.model_id
            self.source = f"local folder: {Path(location).resolve()}"
        else:
            location = self.model_id
            self.source = "hub"
        kwargs = {"revision": self.revision, "trust_remote_code": trust_remote_code}
        tokenizer = AutoTokenizer.from_pretrained(location, **kwargs)
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        tokenizer.padding_side = "right"  # signals index the last real token as length - 1
        if self.random_weights:
            config = AutoConfig.from_pretrained(location, **kwargs)
            return self.random_model(config), tokenizer
        placement = {"device_map": self.device_map, "max_memory": self.max_memory} if self.device_map else {}
        model = AutoModelForCausalLM.from_pretrained(location, dtype=DTYPES[self.dtype], **kwargs, **placement)
        return model, tokenizer

    def _dispatch(self, model: PreTrainedModel) -> PreTrainedModel:
        """``model`` placed by ``device_map`` within ``max_memory`` (accelerate), unless loading already placed it.

        ``from_pretrained`` places the weights it loads itself; a model built otherwise (the
        random-weight twin, a subclass's :meth:`build_model`) is dispatched here.
        """
        if getattr(model, "hf_device_map", None) is not None:
            return model
        try:
            from accelerate import dispatch_model, infer_auto_device_map
        except ImportError:
            raise ImportError(
                'device_map needs accelerate: pip install -e ".[ray]" (or pip install accelerate)'
            ) from None
        device_map = self.device_map
        if isinstance(device_map, str):
            no_split = getattr(model, "_no_split_modules", None) or []
            device_map = infer_auto_device_map(model, max_memory=self.max_memory, no_split_module_classes=no_split)
        return dispatch_model(model, device_map=device_map)

    def random_model(self, config: Any) -> PreTrainedModel:
        """The causal LM of ``config`` with random weights drawn from ``seed``, in ``dtype`` (the global RNG is left as it was)."""
        from transformers import AutoModelForCausalLM

        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            return AutoModelForCausalLM.from_config(config, dtype=DTYPES[self.dtype])

    # -- running -------------------------------------------------------------------------
    def tokenize(self, texts: list[str], stimulus_index: list[int], max_tokens: int) -> TokenBatch:
        enc = self.tokenizer(
            texts,
            return_tensors="pt",
            padding=True,
            truncation=True,
            max_length=max_tokens,
        )
        return TokenBatch(enc["input_ids"].to(self.device), enc["attention_mask"].to(self.device), stimulus_index)

    @torch.inference_mode()
    def forward(self, batch: TokenBatch, *, logits: bool = True) -> torch.Tensor | None:
        out = self.model(
            input_ids=batch.input_ids,
            attention_mask=batch.attention_mask,
            use_cache=False,
            logits_to_keep=0 if logits else 1,
        )
        return out.logits if logits else None

    @torch.inference_mode()
    def logits_from_resid(self, resid: torch.Tensor) -> torch.Tensor:
        logits = self._unembed(self._final_norm(resid))
        if self._softcap:
            logits = torch.tanh(logits / self._softcap) * self._softcap
        return logits

    def affine_readout(self) -> AffineReadout | None:
        if self._softcap or not isinstance(self._unembed, nn.Linear):
            return None
        return AffineReadout(self._final_norm, self._unembed.weight, self._unembed.bias)

    def record_residuals(self, batch: TokenBatch) -> resume.ResidualCache:
        return resume.record(self, batch)

    def final_resid(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        return resume.final_resid(self, input_ids, attention_mask)

    # -- capture -------------------------------------------------------------------------
    @contextmanager
    def capture(self, sites: Iterable[Site]) -> Iterator[dict[Site, torch.Tensor]]:
        wanted = sorted(set(sites))
        store: dict[Site, torch.Tensor] = {}
        handles: list[RemovableHandle] = []
        needs_eager = any(s.kind == "attn_pattern" for s in wanted)
        previous_attn = self.model.config._attn_implementation
        try:
            if needs_eager and previous_attn != "eager":
                self.model.set_attn_implementation("eager")
            for site in wanted:
                handles.append(self._hook(site, store))
            yield store
        finally:
            for handle in handles:
                handle.remove()
            if needs_eager and previous_attn != "eager":
                self.model.set_attn_implementation(previous_attn)

    def _hook(self, site: Site, store: dict[Site, torch.Tensor]) -> RemovableHandle:
        if site.kind == "logits":
            return self.model.register_forward_hook(lambda _m, _a, out: store.__setitem__(site, out.logits))
        if site.layer is None or not 0 <= site.layer < self.n_layers:
            raise SiteError(f"site {site} does not resolve: {self.model_id} has layers 0..{self.n_layers - 1}")
        layer = self.layers[site.layer]
        if site.kind == "resid_pre":
            return layer.register_forward_pre_hook(_store_input(site, store), with_kwargs=True)
        if site.kind == "resid_post":
            return layer.register_forward_hook(_store_output(site, store, first_tensor))
        if site.kind == "attn_out":
            return submodule(layer, self.map.attn_out).register_forward_hook(_store_output(site, store, first_tensor))
        if site.kind == "mlp_out":
            return submodule(layer, self.map.mlp_out).register_forward_hook(_store_output(site, store, first_tensor))
        if site.kind == "attn_pattern":
            return submodule(layer, self.map.attention).register_forward_hook(
                _store_output(site, store, _attention_probs)
            )
        raise SiteError(f"site kind {site.kind!r} is not supported by the HF adapter")

    def provenance(self) -> dict[str, Any]:
        import transformers

        return {
            "model_id": self.model_id,
            "revision": self.revision or getattr(self.model.config, "_commit_hash", None),
            "source": self.source,
            "backend": self.backend,
            "family": self.family,
            "architecture": type(self.model).__name__,
            "n_layers": self.n_layers,
            "d_model": self.d_model,
            "n_params": sum(p.numel() for p in self.model.parameters()),
            "dtype": self.dtype,
            "device": str(self.device),
            **({"device_map": dict(self.model.hf_device_map)} if self.device_map is not None else {}),
            "random_weights": self.random_weights,
            "transformers": transformers.__version__,
        }

    def close(self) -> None:
        del self.model


def weights_fingerprint(model: str, *, revision: str | None = None, memo: Path | None = None) -> str | None:
    """What identifies the files ``HFAdapter(model, revision=revision)`` loads, computed without loading them.

    A ``tiny-*`` config: ``None`` (its config and seed are the adapter's arguments). A zoo name: the
    digest of its prepared files, checked against the sha256 recorded when it was prepared
    (``CorruptModelError`` on a mismatch; ``None`` while it is not prepared). A local folder: the
    digest of its files' sha256, ``memo`` sparing unchanged files a rehash. A hub id: the commit the
    local Hugging Face cache resolves it to, else the revision as given.
    """
    from mspgt_bench.models import fingerprint, zoo

    if model.startswith("tiny-"):
        return None
    if model in zoo.OFFLINE_MODELS:
        try:
            return f"zoo:{zoo.verify_prepared(model)}"
        except zoo.ModelNotPreparedError:
            return None
    if Path(model).is_dir():
        return f"folder:{fingerprint.digest(fingerprint.hash_files(fingerprint.folder_files(Path(model)), memo))}"
    return f"hub:{fingerprint.hub_revision(model, revision)}"


def _device_key(key: str | int) -> str | int:
    """A ``max_memory`` key as accelerate takes it: GPU indices as ints (a suite writes them as text, ``"0"``)."""
    return int(key) if isinstance(key, str) and key.isdigit() else key


def _attention_probs(output: Any) -> torch.Tensor:
    weights = output[1] if isinstance(output, (tuple, list)) and len(output) > 1 else None
    if weights is None:
        raise SiteError("attention probabilities were not returned; the attention module must run eagerly")
    return weights


def _store_output(
    site: Site, store: dict[Site, torch.Tensor], pick: Callable[[Any], torch.Tensor]
) -> Callable[..., None]:
    def hook(_module: nn.Module, _args: Any, output: Any) -> None:
        store[site] = pick(output).detach()

    return hook


def _store_input(site: Site, store: dict[Site, torch.Tensor]) -> Callable[..., None]:
    def hook(_module: nn.Module, args: tuple, kwargs: dict) -> None:
        hidden = args[0] if args else kwargs["hidden_states"]
        store[site] = hidden.detach()

    return hook

"""What a cell costs, from the model's config alone: forward passes, memory, and the resources a task declares.

Nothing here loads weights or runs model code. The shape comes from the model's config
(``tiny-*`` configs, a prepared zoo folder, a local folder, a hub id already in the local Hugging
Face cache), read with ``AutoConfig`` without ``trust_remote_code``; the parameter count from
building that config on PyTorch's ``meta`` device (exact, no memory). Where no config can be read,
the parameter count falls back to the size label (``"135M"``, ``"70B"``) and activations are unknown.

Estimates, stated so they can be checked:

* **weights** = parameters × bytes of the suite's ``dtype`` (float32 4, float16/bfloat16 2);
* **activations per batch** = what one batch of ``batch_size`` × ``max_tokens`` tokens holds at
  once: the larger of the capture pass's sites (``[B, T, d]`` per residual-stream site,
  ``[B, H, T, T]`` per attention pattern, ``[B, T, V]`` logits) and an intervention batch's
  recorded residual stream (``L + 1`` states) plus its float32 logits;
* **forward passes** = capture batches × (1 + the signals' perturbed variants); interventions:
  per batch one recorded clean pass (two when one fits dataset statistics) plus one resumed pass
  per target; generation: prompts × (segments + 1) continuations of ``max_new_tokens`` tokens.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mspgt_bench.capture import Isolated, length_sorted_batches
from mspgt_bench.interventions.generation import GenerationOptions
from mspgt_bench.interventions.sweep import batches_of, intervention_class
from mspgt_bench.plugins import registry
from mspgt_bench.run.plan import TRAINED, Cell, ResolvedModel, RunContext

DTYPE_BYTES = {"float32": 4, "float16": 2, "bfloat16": 2}
PROCESS_BYTES = 2 << 30
"""Host memory of a worker process before any model: Python, torch, transformers (about 1-2 GiB)."""
GIB = 1 << 30
_SIZE = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*([KMBT])\s*$", re.IGNORECASE)
_UNITS = {"K": 1e3, "M": 1e6, "B": 1e9, "T": 1e12}
_AMOUNT = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*([KMGT]I?B)\s*$", re.IGNORECASE)
_BYTE_UNITS = {f"{p}B": 1000**i for i, p in enumerate("KMGT", 1)} | {f"{p}IB": 1024**i for i, p in enumerate("KMGT", 1)}


@dataclass(frozen=True)
class ModelShape:
    """What the cost of a model depends on; ``None`` where its config could not be read."""

    n_params: int | None
    n_layers: int | None = None
    d_model: int | None = None
    n_heads: int | None = None
    vocab: int | None = None
    dtype_bytes: int = 4


@dataclass(frozen=True)
class CellCost:
    """Forward passes and memory of one cell (``None``: not known before the run)."""

    capture_passes: int
    intervention_passes: int | None
    generated_tokens: int | None
    weight_bytes: int | None
    activation_bytes: int | None

    @property
    def memory_bytes(self) -> int | None:
        """Weights plus one batch's activations: what the device holds at the peak."""
        if self.weight_bytes is None:
            return None
        return self.weight_bytes + (self.activation_bytes or 0)


@dataclass(frozen=True)
class Resources:
    """What a cell's Ray task declares: CPUs, GPUs and host memory in bytes."""

    num_cpus: float
    num_gpus: float
    memory: int

    def describe(self) -> str:
        return f"{self.num_cpus:g} CPU, {self.num_gpus:g} GPU, {self.memory / GIB:.1f} GiB"


def model_shape(model: ResolvedModel) -> ModelShape:
    """The model's shape from its config, else its parameter count from the size label."""
    dtype_bytes = DTYPE_BYTES.get(str(model.args.get("dtype", "float32")), 4)
    config = _config(model)
    if config is None:
        return ModelShape(_parse_size(model.size), dtype_bytes=dtype_bytes)
    text = config.get_text_config()
    return ModelShape(
        _count_parameters(config),
        getattr(text, "num_hidden_layers", None),
        getattr(text, "hidden_size", None),
        getattr(text, "num_attention_heads", None),
        getattr(text, "vocab_size", None),
        dtype_bytes,
    )


def cell_cost(ctx: RunContext, cell: Cell, shape: ModelShape) -> CellCost:
    """Forward passes, weights and activations of one cell (see the module docstring)."""
    stimuli = cell.stimulus_set.stimuli
    batch = ctx.suite.run.batch_size
    tokens = cell.stimulus_set.spec.max_tokens
    signals = [
        Isolated.build(registry("signals").get(spec.name), shape.n_layers or 1, label=spec.label, **spec.options)
        for spec in ctx.suite.signals
    ]
    variants = sum(len(signal.variants(list(stimuli))) for signal in signals)
    capture = len(length_sorted_batches(stimuli, batch)) * (1 + variants)
    weights = None if shape.n_params is None else shape.n_params * shape.dtype_bytes
    activations = None
    if None not in (shape.n_layers, shape.d_model, shape.vocab):
        sites = {site for signal in signals for site in signal.sites()}
        per_site = [_site_elements(site.kind, shape, tokens) for site in sites]
        capture_batch = batch * tokens * sum(per_site) * shape.dtype_bytes
        stream = batch * tokens * ((shape.n_layers + 1) * shape.d_model * shape.dtype_bytes + shape.vocab * 4)
        activations = max(capture_batch, stream if ctx.suite.interventions else 0)
    return CellCost(capture, _intervention_passes(ctx, cell, shape), _generated_tokens(ctx, cell), weights, activations)


def task_resources(cell: Cell, cost: CellCost, *, gpus_available: bool = True) -> Resources:
    """CPUs, GPUs and host memory a cell's task declares.

    GPUs: for the vLLM adapter ``tensor_parallel_size × pipeline_parallel_size`` (none when vLLM
    places its own workers with ``distributed_executor_backend: ray``, or when the cluster has no
    GPU: the vLLM CPU build); for the HF adapter the GPUs named in ``max_memory``, else one when
    ``device`` is ``cuda…`` or a ``device_map`` is set, else none. Host memory: a worker process
    (:data:`PROCESS_BYTES`) plus, on CPU, the weights and one batch's activations; with a
    ``device_map``, the ``cpu`` share of ``max_memory`` (loaded weights go straight to their
    devices), but the whole weights for the random-weight twin (built on the host, then
    dispatched); on one GPU, the weights (``from_pretrained`` loads them on the host first).
    Unknown weights count 0.
    """
    model, args = cell.model, cell.model.args
    weights = cost.weight_bytes or 0
    if model.adapter == "vllm":
        ray_placed = args.get("distributed_executor_backend") == "ray"
        parallel = int(args.get("tensor_parallel_size", 1)) * int(args.get("pipeline_parallel_size", 1))
        gpus = 0 if ray_placed or not gpus_available else parallel
        host = weights + (cost.activation_bytes or 0) if not gpus_available else weights
    elif "device_map" in args:
        max_memory = args.get("max_memory") or {}
        gpus = len([key for key in max_memory if str(key) not in ("cpu", "disk", "mps")]) or 1
        host = weights if cell.random_weights else _size_bytes(max_memory.get("cpu", 0))
    elif str(args.get("device", "cpu")).startswith("cpu"):
        gpus, host = 0, weights + (cost.activation_bytes or 0)
    else:
        gpus, host = 1, weights
    return Resources(1, gpus, PROCESS_BYTES + host)


def _config(model: ResolvedModel) -> Any:
    """The model's transformers config, or ``None`` when it cannot be read without a download or model code."""
    from transformers import AutoConfig

    from mspgt_bench.models import tiny, zoo

    name = model.args.get("model")
    if not isinstance(name, str):
        return None
    try:
        if name.startswith("tiny-"):
            return tiny.tiny_config(name.removeprefix("tiny-"), model.args.get("n_layers"))
        if name in zoo.OFFLINE_MODELS:
            location: str = str(zoo.prepared_path(name))
        else:
            location = name
        local_only = not Path(location).is_dir()
        revision = model.args.get("revision")
        return AutoConfig.from_pretrained(
            location, revision=revision, local_files_only=local_only, trust_remote_code=False
        )
    except (OSError, ValueError, KeyError):  # not prepared, not in the local hub cache, or a config shipped as code
        return None


def _count_parameters(config: Any) -> int | None:
    """Parameters of the causal LM of ``config``, built on the ``meta`` device (no memory, no weights)."""
    import torch
    from transformers import AutoModelForCausalLM

    try:
        with torch.device("meta"):
            model = AutoModelForCausalLM.from_config(config, trust_remote_code=False)
    except (ValueError, TypeError, KeyError, ImportError, RuntimeError):  # an architecture it cannot build alone
        return None
    return sum(p.numel() for p in model.parameters())


def _size_bytes(size: str | int) -> int:
    """A ``max_memory`` amount in bytes: an int, or text such as ``'75GiB'``, ``'100GB'``, ``'512MiB'``."""
    if isinstance(size, int):
        return size
    match = _AMOUNT.match(str(size))
    if match is None:
        raise ValueError(f"max_memory amount {size!r}: give bytes or e.g. '75GiB', '100GB'")
    return int(float(match.group(1)) * _BYTE_UNITS[match.group(2).upper()])


def _parse_size(size: str | None) -> int | None:
    """Parameters from a size label such as '135M', '0.5B' or '70B'; ``None`` for 'tiny' or no label."""
    match = _SIZE.match(size or "")
    return None if match is None else int(float(match.group(1)) * _UNITS[match.group(2).upper()])


def _site_elements(kind: str, shape: ModelShape, tokens: int) -> int:
    """Elements per token of one captured site: a residual-stream vector, an attention row per head, or logits."""
    if kind == "attn_pattern":
        return (shape.n_heads or 1) * tokens
    if kind == "logits":
        return shape.vocab or 0
    return shape.d_model or 0


def _intervention_passes(ctx: RunContext, cell: Cell, shape: ModelShape) -> int | None:
    """Recorded and resumed forward passes of the suite's interventions on one cell (``None``: not known)."""
    specs = ctx.suite.interventions
    if not specs:
        return 0
    if shape.n_layers is None:
        return None
    targets = 0
    fitting = False
    for spec in specs:
        cls = intervention_class(spec.name)
        options = dict(spec.options)
        if "segments_from" in options:
            n_segments = options.pop("n_segments", None)
            options.pop("segments_from")
            if n_segments is None:
                return None  # as many targets as the detector finds segments
            options["segments"] = _even_segments(shape.n_layers, n_segments)
        try:
            targets += len(cls(shape.n_layers, label=spec.label, **options).targets())
        except (ValueError, TypeError, AttributeError, RuntimeError):  # targets known only after fitting
            return None
        fitting = fitting or cls.needs_fit
    batches = len(batches_of(cell.stimulus_set.stimuli, ctx.suite.run.batch_size))
    return batches * (1 + int(fitting) + targets)


def _generated_tokens(ctx: RunContext, cell: Cell) -> int | None:
    """Decoding steps of the suite's generation experiments on one cell (``None``: segments not known)."""
    total = 0
    for spec in ctx.suite.generation:
        if cell.condition != TRAINED and not spec.controls:
            continue
        segments = len(spec.segments) if spec.segments is not None else spec.n_segments
        if segments is None:
            return None
        prompts = spec.n_prompts or len(cell.stimulus_set.stimuli)
        total += prompts * (segments + 1) * GenerationOptions(**spec.options).max_new_tokens
    return total


def _even_segments(n_layers: int, n_segments: int) -> list[list[int]]:
    """``n_segments`` contiguous layer ranges covering the stack, as equal as possible (a stand-in for detected ones)."""
    edges = [math.floor(i * n_layers / n_segments) for i in range(n_segments + 1)]
    return [[edges[i], edges[i + 1]] for i in range(n_segments)]

"""Generated text with and without an intervention on a layer segment, scored by read-outs (MSPGT v1).

MSPGT v1 judged its scale-specific interventions by what they did to the text the model
generates (docs/theory.md §2). For each prompt and each segment ``[a, b)``:

1. prompt: the stimulus' first ``prompt_sentences`` sentences, cut to ``prompt_tokens`` tokens;
2. continuation: ``max_new_tokens`` tokens from HF ``generate`` with the KV cache, greedy or
   sampled (``sample``, ``temperature``; the torch seed is set per prompt from its id and
   ``seed``, the same for every target: common random numbers); decoded without special
   tokens, whitespace runs collapsed; one prompt at a time, so no padding enters generation;
3. the same with the intervention's :class:`~mspgt_bench.models.resume.Step` edits
   installed by :func:`~mspgt_bench.models.resume.apply_steps` (always removed after);
4. read-outs of both continuations (:func:`mspgt_bench.metrics.readouts.readouts`; coherence over
   sentences, or over windows of ``coherence_window`` words); the effect per prompt is
   ``intervened − clean``.

Under a KV cache the edits run on the prompt and then on one new token at a time (``[1, 1, d]``),
so only edits that do not depend on the token position apply:

- ``layer_deletion``: ``h_b := h_a`` (the segment's layers become the identity), as
  :class:`~mspgt_bench.interventions.library.LayerDeletion`;
- ``mean_ablation``: ``h_b := h_a + E[c_{a:b}]``, the segment's mean contribution over the real
  tokens of the (clean) prompts, as :class:`~mspgt_bench.interventions.library.MeanAblation`;
- ``residual_noise``: ``h_l := h_l + σ · rms(h_l) · ε`` entering every layer ``l`` of the segment,
  ``rms`` per token (as :class:`~mspgt_bench.interventions.library.ResidualNoise` with
  ``scale: token``), ``ε ~ N(0, I)`` drawn afresh for each token from a generator seeded per prompt
  and segment; σ = 0 is the clean model.

Swaps, resample ablation, block drops chosen per batch and patching need per-position
recorded states or another layer's cache, and are refused.

Each row (one per segment × read-out metric) holds the mean effect over prompts with a bootstrap
interval over prompts (:func:`~mspgt_bench.stats.bootstrap.bootstrap_ci`), the paired
standardised effect ``d_z = mean(Δ) / sd(Δ)`` (:func:`~mspgt_bench.stats.effect_size.paired_d`),
the clean and intervened means and ``n``, the prompts where both read-outs are defined (e.g.
coherence needs two sentences).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from pydantic import Field, field_validator
from torch import Tensor

from mspgt_bench.interventions.base import BatchContext, TargetOptions, layers_text, stable_seed, target_label
from mspgt_bench.interventions.library import LayerDeletion, MeanAblation
from mspgt_bench.metrics.readouts import READOUT_SCALES, Encoder, readouts
from mspgt_bench.models.resume import Step, apply_steps, require_local_layers
from mspgt_bench.options import Strict
from mspgt_bench.signals.base import BootstrapConfig
from mspgt_bench.stats.bootstrap import bootstrap_ci
from mspgt_bench.stats.effect_size import paired_d
from mspgt_bench.stimuli.base import Stimulus, normalize_whitespace

__all__ = [
    "GENERATION_INTERVENTIONS",
    "GenerationOptions",
    "GenerationResult",
    "SegmentEdit",
    "continuation",
    "generate_ids",
    "generation_effects",
    "prompt_ids",
    "prompt_text",
    "segment_edits",
]

GENERATION_INTERVENTIONS = ("layer_deletion", "mean_ablation", "residual_noise")
"""The interventions whose edits hold under a KV cache (position-independent)."""


class GenerationOptions(Strict):
    """How prompts are cut, continuations generated, and which intervention is applied."""

    intervention: str = Field("layer_deletion", description=f"One of {', '.join(GENERATION_INTERVENTIONS)}.")
    sigma: float = Field(1.0, ge=0.0, description="residual_noise: noise std relative to each token's residual RMS.")
    prompt_sentences: int = Field(2, ge=1, description="Sentences of the stimulus that form the prompt.")
    prompt_tokens: int = Field(48, ge=1, description="Most tokens of a prompt.")
    max_new_tokens: int = Field(40, ge=1, description="Tokens generated per continuation.")
    sample: bool = Field(False, description="Sample (seeded) instead of greedy decoding.")
    temperature: float = Field(1.0, gt=0.0, description="Sampling temperature (with sample).")
    seed: int = Field(0, description="Seed of sampling and noise.")
    batch_size: int = Field(8, ge=1, description="Prompts per clean forward pass when fitting mean ablation.")
    coherence_window: int | None = Field(
        None, ge=1, description="Coherence over windows of this many words instead of sentences (None: sentences)."
    )

    @field_validator("intervention")
    @classmethod
    def _position_independent(cls, name: str) -> str:
        if name not in GENERATION_INTERVENTIONS:
            raise ValueError(
                f"intervention {name!r} cannot run during generation: with a KV cache the edits see one new token at "
                f"a time, so only position-independent edits apply ({', '.join(GENERATION_INTERVENTIONS)})"
            )
        return name


@dataclass(frozen=True)
class SegmentEdit:
    """The intervention on one segment: its target label and the edits for one prompt."""

    label: str
    segment: tuple[int, int]
    steps: Callable[[Stimulus], dict[int, Step]]
    param: str = ""


@dataclass
class GenerationResult:
    rows: list[dict[str, Any]]
    """One row per segment × read-out metric (see the module docstring)."""
    per_prompt: list[dict[str, Any]]
    """``{stimulus, target, metric, value}`` for every prompt, target (``clean`` too) and metric."""
    texts: dict[str, list[str]] = field(default_factory=dict)
    """``{target: [continuation per prompt]}``."""


def prompt_text(stimulus: Stimulus, n_sentences: int) -> str:
    """The stimulus' first ``n_sentences`` sentences, as they stand in its text."""
    sentences = stimulus.sentences[:n_sentences]
    return stimulus.text[: sentences[-1][1]] if sentences else stimulus.text


def _noise_steps(segment: tuple[int, int], sigma: float, generator: torch.Generator) -> dict[int, Step]:
    def pre(h: Tensor) -> Tensor:
        eps = torch.randn(h.shape, generator=generator).to(device=h.device, dtype=h.dtype)
        rms = h.float().pow(2).mean(dim=-1, keepdim=True).sqrt().to(h.dtype)
        return h + sigma * rms * eps

    return {layer: Step(pre=pre) for layer in range(*segment)}


def segment_edits(
    adapter: Any, prompts: Sequence[Stimulus], segments: Sequence[tuple[int, int]], options: GenerationOptions
) -> list[SegmentEdit]:
    """One :class:`SegmentEdit` per segment (mean ablation is fitted here on the clean prompts)."""
    segments = TargetOptions(segments=list(segments)).layer_ranges(adapter.n_layers)
    if options.intervention == "residual_noise":
        param = f"sigma={options.sigma:g}"
        return [
            SegmentEdit(
                target_label("noise", a, b),
                (a, b),
                lambda prompt, s=(a, b): _noise_steps(
                    s, options.sigma, torch.Generator().manual_seed(stable_seed(prompt.id, "generation-noise", options.seed, *s))
                ),
                param,
            )
            for a, b in segments
        ]
    plugin = {"layer_deletion": LayerDeletion, "mean_ablation": MeanAblation}[options.intervention]
    intervention = plugin(adapter.n_layers, segments=segments)
    contexts = []
    if intervention.needs_fit:
        texts = [prompt_text(p, options.prompt_sentences) for p in prompts]
        for start in range(0, len(prompts), options.batch_size):
            indices = list(range(start, min(start + options.batch_size, len(prompts))))
            batch = adapter.tokenize([texts[i] for i in indices], indices, options.prompt_tokens)
            contexts.append(BatchContext(adapter, batch, adapter.record_residuals(batch), [prompts[i] for i in indices]))
            intervention.fit(contexts[-1])
    out = []
    for (a, b), target in zip(segments, intervention.targets()):
        steps = target.build(contexts[0] if contexts else None)  # deletion's edits need no batch
        out.append(SegmentEdit(target.label, (a, b), lambda _prompt, steps=steps: steps))
    return out


def prompt_ids(adapter: Any, prompt: Stimulus, options: GenerationOptions) -> Tensor:
    """``[1, T]`` token ids of the prompt cut from ``prompt``."""
    text = prompt_text(prompt, options.prompt_sentences)
    ids = adapter.tokenizer(text, return_tensors="pt", truncation=True, max_length=options.prompt_tokens).input_ids
    return ids.to(adapter.device)


@torch.inference_mode()
def generate_ids(adapter: Any, prompt: Stimulus, steps: dict[int, Step], options: GenerationOptions) -> Tensor:
    """``[n_new]`` token ids ``adapter`` generates after ``prompt`` with ``steps`` applied (see the module docstring)."""
    require_local_layers(adapter, "generation")
    ids = prompt_ids(adapter, prompt, options)
    kwargs: dict[str, Any] = {"max_new_tokens": options.max_new_tokens, "do_sample": options.sample}
    if options.sample:
        kwargs.update(temperature=options.temperature, top_k=0, top_p=1.0)
    with torch.random.fork_rng(devices=[] if adapter.device.type == "cpu" else None):
        torch.manual_seed(stable_seed(prompt.id, "generation", options.seed))
        with apply_steps(adapter, steps):
            out = adapter.model.generate(
                input_ids=ids, attention_mask=torch.ones_like(ids), pad_token_id=adapter.tokenizer.pad_token_id, **kwargs
            )
    return out[0, ids.shape[1] :]


def continuation(adapter: Any, prompt: Stimulus, steps: dict[int, Step], options: GenerationOptions) -> str:
    """The generated text: :func:`generate_ids` decoded without special tokens, whitespace runs collapsed."""
    return normalize_whitespace(adapter.tokenizer.decode(generate_ids(adapter, prompt, steps, options), skip_special_tokens=True))


def _row(
    edit: SegmentEdit,
    metric: str,
    clean: np.ndarray,
    intervened: np.ndarray,
    options: GenerationOptions,
    boot: BootstrapConfig,
    n_layers: int,
) -> dict[str, Any]:
    keep = ~(np.isnan(clean) | np.isnan(intervened))
    delta = intervened[keep] - clean[keep]
    value = lo = hi = size = float("nan")
    if len(delta) >= 2:
        ci = bootstrap_ci(
            delta, n_boot=boot.n_boot, level=boot.level, method=boot.method, rng=boot.rng("generation", edit.label, metric)
        )
        value, lo, hi = float(ci.estimate), float(ci.lo), float(ci.hi)
        size = float(paired_d(intervened[keep], clean[keep]))
    elif len(delta) == 1:
        value = float(delta[0])
    a, b = edit.segment
    return {
        "intervention": options.intervention,
        "target": edit.label,
        "layer": a,
        "layer_end": b - 1,
        "layers": layers_text(tuple(range(a, b))),
        "depth": b / n_layers,
        "param": edit.param,
        "metric": metric,
        "scale": READOUT_SCALES[metric],
        "value": value,
        "ci_low": lo,
        "ci_high": hi,
        "effect_size": size,
        "clean": float(clean[keep].mean()) if keep.any() else float("nan"),
        "intervened": float(intervened[keep].mean()) if keep.any() else float("nan"),
        "n": int(keep.sum()),
    }


def generation_effects(
    adapter: Any,
    stimuli: Sequence[Stimulus],
    segments: Sequence[tuple[int, int]],
    options: GenerationOptions | dict[str, Any] | None = None,
    boot: BootstrapConfig | None = None,
    *,
    encoder: Encoder | None = None,
) -> GenerationResult:
    """Read-out effects of intervening on each segment ``[a, b)`` while generating from each stimulus.

    ``encoder`` embeds sentences for coherence (default: all-MiniLM-L6-v2, loaded once).
    """
    options = options if isinstance(options, GenerationOptions) else GenerationOptions(**(options or {}))
    boot = boot or BootstrapConfig()
    stimuli = list(stimuli)
    edits = segment_edits(adapter, stimuli, segments, options)
    texts = {"clean": [continuation(adapter, s, {}, options) for s in stimuli]}
    for edit in edits:
        texts[edit.label] = [continuation(adapter, s, edit.steps(s), options) for s in stimuli]
    values = {}
    for target, column in texts.items():
        scored = [readouts(text, encoder, options.coherence_window) for text in column]
        values[target] = {metric: np.array([r[metric] for r in scored]) for metric in READOUT_SCALES}
    per_prompt = [
        {"stimulus": stimulus.id, "target": target, "metric": metric, "value": float(column[i])}
        for target, metrics in values.items()
        for metric, column in metrics.items()
        for i, stimulus in enumerate(stimuli)
    ]
    rows = [
        _row(edit, metric, values["clean"][metric], values[edit.label][metric], options, boot, adapter.n_layers)
        for edit in edits
        for metric in READOUT_SCALES
    ]
    return GenerationResult(rows, per_prompt, texts)

"""The built-in interventions (docs/operationalisation.md §4.2).

Notation: ``h_l`` is the residual stream entering decoder layer ``l`` (``h_0`` the embedding
output, ``h_L`` the last layer's output), ``f_l`` the layer, ``h_{l+1} = f_l(h_l)``, and
``c_l = f_l(h_l) − h_l`` its contribution (attention + MLP). A segment ``[a, b)`` contributes
``c_{a:b} = h_b − h_a``.
"""

from __future__ import annotations

from typing import Literal

import torch
from pydantic import Field, field_validator
from torch import Tensor

from mspgt_bench.interventions.base import (
    BatchContext,
    Intervention,
    Target,
    TargetOptions,
    layer_list,
    layers_text,
    target_label,
)
from mspgt_bench.metrics.angular import angular_distance, block_influence
from mspgt_bench.models.base import TokenBatch
from mspgt_bench.models.resume import ResidualCache, Step, record, require_local_layers
from mspgt_bench.options import Strict

__all__ = [
    "INTERVENTIONS",
    "ActivationPatching",
    "BlockDrop",
    "CausalTracing",
    "LayerDeletion",
    "LayerSwap",
    "MeanAblation",
    "ResampleAblation",
    "ResidualNoise",
]


def _skip(start: int, end: int, post=None) -> dict[int, Step]:
    """Positions ``start .. end−1`` run nothing; ``post`` (if any) edits the state after ``start``."""
    steps = {layer: Step(modules=()) for layer in range(start, end)}
    if post is not None:
        steps[start] = Step(modules=(), post=post)
    return steps


class LayerDeletion(Intervention):
    """Layer (or segment) deletion: zero the block's attention and MLP contributions.

    ``h_{l+1} := h_l`` (the layer becomes the identity, ``c_l = 0``); for a segment ``[a, b)``,
    ``h_b := h_a``. Source: Lad, Gurnee & Tegmark 2024, "The Remarkable Robustness of LLMs:
    Stages of Inference?" (single-layer deletion keeps 72–95% of top-1 predictions except at
    the first layer).
    """

    name = "layer_deletion"

    class Options(TargetOptions):
        pass

    def targets(self) -> list[Target]:
        return [
            Target(target_label("delete", a, b), tuple(range(a, b)), lambda ctx, a=a, b=b: _skip(a, b))
            for a, b in self.options.layer_ranges(self.n_layers)
        ]


class LayerSwap(Intervention):
    """Layer swap: layers ``l`` and ``l + offset`` exchange places.

    ``h_{l+1} := f_{l+o}(h_l)``, …, ``h_{l+o+1} := f_l(h_{l+o})`` (``offset`` o = 1: adjacent
    swap; o = 0: the identity, a sanity check). Each layer keeps its own attention mask and
    rotary table (a Gemma 3 sliding-window layer stays sliding). Source: Lad et al. 2024 (swap
    hurts less than deletion in the middle layers).
    """

    name = "layer_swap"

    class Options(Strict):
        layers: list[int] | None = Field(None, description="First layer of each swapped pair; default every valid one.")
        offset: int = Field(1, ge=0, description="Swap layer l with layer l + offset.")

    def targets(self) -> list[Target]:
        offset = self.options.offset
        out = []
        for layer in layer_list(self.options.layers, self.n_layers, last=self.n_layers - 1 - offset):
            other = layer + offset
            if offset == 0:
                steps = {layer: Step(modules=(layer,))}
            else:
                steps = {layer: Step(modules=(other,)), other: Step(modules=(layer,))}
            out.append(Target(f"swap[{layer}<->{other}]", tuple(sorted({layer, other})), lambda ctx, s=steps: s))
        return out


class MeanAblation(Intervention):
    """Mean ablation of a layer's (or segment's) contribution.

    ``h_b := h_a + E[c_{a:b}]``, the expectation over all real tokens of the stimulus set (the
    clean model's contribution, one vector of size d). An on-distribution alternative to
    deletion (zero ablation). Source: e.g. Wang et al. 2023 (IOI, mean ablation); Lad et al. 2024
    discuss zero vs. on-distribution ablation.
    """

    name = "mean_ablation"
    needs_fit = True

    class Options(TargetOptions):
        pass

    def __init__(self, n_layers: int, label: str | None = None, **options) -> None:
        super().__init__(n_layers, label, **options)
        self._ranges = self.options.layer_ranges(n_layers)
        self._sums: dict[tuple[int, int], Tensor] = {}
        self._count = 0

    def fit(self, ctx: BatchContext) -> None:
        mask = ctx.mask.unsqueeze(-1)
        for a, b in self._ranges:
            contribution = (ctx.clean.states[b] - ctx.clean.states[a]).double()
            total = (contribution * mask).sum(dim=(0, 1))
            self._sums[(a, b)] = self._sums.get((a, b), 0) + total
        self._count += int(ctx.mask.sum())

    def mean(self, a: int, b: int) -> Tensor:
        if not self._count:
            raise RuntimeError("mean_ablation was not fitted: call fit() on the stimulus batches first")
        return self._sums[(a, b)] / self._count

    def targets(self) -> list[Target]:
        out = []
        for a, b in self._ranges:
            def build(ctx: BatchContext, a=a, b=b) -> dict[int, Step]:
                mean = self.mean(a, b).to(ctx.clean.states[a].dtype)
                return _skip(a, b, post=lambda h, _out: h + mean)

            out.append(Target(target_label("mean", a, b), tuple(range(a, b)), build))
        return out


class ResampleAblation(Intervention):
    """Resample ablation: a layer's (segment's) contribution replaced by another stimulus'.

    ``h_b[i, t] := h_a[i, t] + c_{a:b}[π(i), t]``: the clean contribution at the same position
    ``t`` in a donor stimulus ``π(i) ≠ i`` from the same batch, drawn with a seeded generator
    (per stimulus id) among the rows at least as long as ``i`` (else among the longest others).
    Positions the donor lacks get the batch's mean contribution. Needs batches of ≥ 2 stimuli.
    Source: Chan et al. 2022 (causal scrubbing, resampling ablation); Lad et al. 2024.
    """

    name = "resample_ablation"

    class Options(TargetOptions):
        seed: int = 0

    def donors(self, ctx: BatchContext) -> list[int]:
        key = ("resample_donors", self.options.seed)
        if key not in ctx.memo:
            lengths = ctx.lengths
            if len(lengths) < 2:
                raise ValueError("resample_ablation needs stimulus batches of at least 2 rows")
            donors = []
            for row, length in enumerate(lengths):
                others = [r for r in range(len(lengths)) if r != row]
                pool = [r for r in others if lengths[r] >= length]
                if not pool:
                    longest = max(lengths[r] for r in others)
                    pool = [r for r in others if lengths[r] == longest]
                pick = torch.randint(len(pool), (1,), generator=ctx.row_generator(row, "resample", self.options.seed))
                donors.append(pool[int(pick)])
            ctx.memo[key] = donors
        return ctx.memo[key]

    def targets(self) -> list[Target]:
        out = []
        for a, b in self.options.layer_ranges(self.n_layers):
            def build(ctx: BatchContext, a=a, b=b) -> dict[int, Step]:
                contribution = ctx.clean.states[b] - ctx.clean.states[a]
                mask = ctx.mask
                mean = (contribution * mask.unsqueeze(-1)).sum(dim=(0, 1)) / mask.sum()
                donors = torch.tensor(self.donors(ctx))
                donated = torch.where(mask[donors].unsqueeze(-1), contribution[donors], mean)
                return _skip(a, b, post=lambda h, _out: h + donated)

            out.append(Target(target_label("resample", a, b), tuple(range(a, b)), build))
        return out


class ResidualNoise(Intervention):
    """Gaussian noise injected into the residual stream entering layer ``l``.

    ``h_l[t] := h_l[t] + σ · rms · ε_t``, ``ε_t ~ N(0, I_d)``, with ``rms = ‖h_l[t]‖ / √d`` of
    the token (``scale: token``) or the root mean square over the stimulus' real tokens
    (``scale: stimulus``). ``ε`` is drawn per stimulus and layer from a seeded generator and
    shared across the σ sweep (common random numbers), so σ = 0 is exactly the clean model.
    Source: docs/operationalisation.md §4.2; noise-robustness probes as in Meng et al. 2022 (corruption by
    Gaussian noise), here at every depth.
    """

    name = "residual_noise"

    class Options(Strict):
        layers: list[int] | None = Field(None, description="Layers whose input is perturbed; default every layer.")
        sigmas: list[float] = Field(default_factory=lambda: [0.0, 0.1, 0.3, 1.0], min_length=1)
        scale: Literal["token", "stimulus"] = "token"
        seed: int = 0

        @field_validator("sigmas")
        @classmethod
        def _non_negative(cls, sigmas: list[float]) -> list[float]:
            if any(s < 0 for s in sigmas):
                raise ValueError("noise sigmas must be >= 0")
            return sigmas

    def noise(self, ctx: BatchContext, layer: int) -> Tensor:
        """``rms · ε`` for the batch at ``layer`` (zero on padding), cached per batch."""
        key = ("noise", self.options.seed, self.options.scale, layer)
        if key not in ctx.memo:
            h = ctx.clean.states[layer]
            out = torch.zeros_like(h)
            for row, length in enumerate(ctx.lengths):
                eps = torch.randn((length, h.shape[-1]), generator=ctx.row_generator(row, "noise", self.options.seed, layer))
                states = h[row, :length].float()
                if self.options.scale == "token":
                    rms = states.pow(2).mean(dim=-1, keepdim=True).sqrt()
                else:
                    rms = states.pow(2).mean().sqrt()
                out[row, :length] = (rms * eps).to(h.dtype)
            ctx.memo[key] = out
        return ctx.memo[key]

    def targets(self) -> list[Target]:
        out = []
        for layer in layer_list(self.options.layers, self.n_layers):
            for sigma in self.options.sigmas:
                def build(ctx: BatchContext, layer=layer, sigma=sigma) -> dict[int, Step]:
                    noise = self.noise(ctx, layer)
                    return {layer: Step(pre=lambda h: h + sigma * noise)}

                out.append(
                    Target(
                        f"noise[l={layer},sigma={sigma:g}]", (layer,), build, param=f"sigma={sigma:g}", depth=layer / self.n_layers
                    )
                )
        return out


class BlockDrop(Intervention):
    """Drop ``n`` layers chosen by similarity of the clean model's states (pruning criteria).

    ``selection: angular`` (Gromov et al. 2024, "The Unreasonable Ineffectiveness of the Deeper
    Layers"): the contiguous block ``[l*, l*+n)`` with
    ``l* = argmin_l E_stimuli[ arccos(cos(h_l, h_{l+n})) / π ]`` on the last token (``tokens:
    last``, as in the paper) or averaged over real tokens (``tokens: all``); ``h_{l*+n} := h_{l*}``.
    ``selection: block_influence`` (Men et al. 2024, ShortGPT): the ``n`` layers with the lowest
    ``BI_l = 1 − E_tokens[cos(h_l, h_{l+1})]`` (all real tokens of all stimuli), each made the
    identity (not necessarily contiguous). Scores come from the same stimuli (in-sample).
    """

    name = "block_drop"
    needs_fit = True

    class Options(Strict):
        n: list[int] = Field(default_factory=lambda: [1, 2, 4, 8], min_length=1, description="Numbers of layers to drop.")
        selection: Literal["angular", "block_influence"] = "angular"
        tokens: Literal["last", "all"] = Field("last", description="Tokens of the angular distance.")

        @field_validator("n")
        @classmethod
        def _positive(cls, n: list[int]) -> list[int]:
            if any(v < 1 for v in n):
                raise ValueError("block sizes n must be >= 1")
            return n

    def __init__(self, n_layers: int, label: str | None = None, **options) -> None:
        super().__init__(n_layers, label, **options)
        too_big = [n for n in self.options.n if n >= n_layers]
        if too_big:
            raise ValueError(f"block sizes {too_big} leave no layer of {n_layers}")
        self._angular: dict[int, Tensor] = {}
        self._bi = torch.zeros(n_layers, dtype=torch.float64)
        self._rows = 0
        self._tokens = 0

    def fit(self, ctx: BatchContext) -> None:
        states, mask = ctx.clean.states, ctx.mask
        rows = torch.arange(mask.shape[0])
        last = torch.tensor(ctx.lengths) - 1
        for n in self.options.n:
            scores = torch.zeros(self.n_layers - n + 1, dtype=torch.float64)
            for layer in range(self.n_layers - n + 1):
                if self.options.tokens == "last":
                    d = angular_distance(states[layer][rows, last], states[layer + n][rows, last])
                else:
                    per_token = angular_distance(states[layer], states[layer + n])
                    d = (per_token * mask).sum(dim=1) / mask.sum(dim=1)
                scores[layer] = d.double().sum()
            self._angular[n] = self._angular.get(n, 0) + scores
        for layer in range(self.n_layers):
            bi = block_influence(states[layer], states[layer + 1])
            self._bi[layer] += (bi * mask).double().sum()
        self._rows += mask.shape[0]
        self._tokens += int(mask.sum())

    def scores(self) -> dict[str, Tensor]:
        """Fitted criteria: ``angular[n]`` per start layer, and ``block_influence`` per layer."""
        if not self._rows:
            raise RuntimeError("block_drop was not fitted: call fit() on the stimulus batches first")
        out = {f"angular[n={n}]": s / self._rows for n, s in self._angular.items()}
        out["block_influence"] = self._bi / self._tokens
        return out

    def selected(self, n: int) -> tuple[int, ...]:
        scores = self.scores()
        if self.options.selection == "angular":
            start = int(torch.argmin(scores[f"angular[n={n}]"]))
            return tuple(range(start, start + n))
        return tuple(sorted(torch.argsort(scores["block_influence"], stable=True)[:n].tolist()))

    def targets(self) -> list[Target]:
        out = []
        for n in self.options.n:
            layers = self.selected(n)
            steps = {layer: Step(modules=()) for layer in layers}
            out.append(
                Target(
                    f"block_drop[{self.options.selection},n={n}]",
                    layers,
                    lambda ctx, s=steps: s,
                    param=f"n={n};layers={layers_text(layers)}",
                )
            )
        return out


class ActivationPatching(Intervention):
    """Activation patching clean → corrupt: restore one clean (token, layer) state in a corrupted run.

    The corrupted run perturbs a span of input tokens: ``corruption: shuffle`` permutes the span's
    token ids (seeded), ``corruption: noise`` adds Gaussian noise ``ν · σ_emb · ε`` to the span's
    input embeddings (``σ_emb``: std of the input-embedding entries over the stimulus set's real
    tokens; ROME uses ν = 3). The span is the ``context`` (every sentence before the one holding
    the last token; the first half of the tokens for a one-sentence stimulus) or the
    ``first_half``. The measured output is ``p(o)`` at the last real token, ``o`` the clean
    model's top-1 prediction there. Over ``n_samples`` corruptions:

    - total effect ``TE = p_clean(o) − E[p_corrupt(o)]``;
    - indirect effect of (token t, layer l): ``IE = E[p_restored(o)] − E[p_corrupt(o)]``, where
      ``p_restored`` is the corrupted run with ``h_{l+1}[t]`` (the output of layer ``l`` at ``t``)
      set to its clean value.

    Source: Meng et al. 2022, "Locating and Editing Factual Associations in GPT" (ROME causal
    tracing); Heimersheim & Nanda 2024 on patching practice. Target labels:
    ``<prefix>[total]`` (metrics ``total_effect``, ``p_clean``, ``p_corrupt``) and
    ``<prefix>[pos=<position>,l=<l>]`` (``indirect_effect``, ``p_restored``).
    """

    name = "activation_patching"
    needs_fit = True
    metrics = ("total_effect", "p_clean", "p_corrupt", "indirect_effect", "p_restored")
    prefix = "patch"

    class Options(Strict):
        corruption: Literal["shuffle", "noise"] = "shuffle"
        noise_scale: float = Field(3.0, ge=0.0, description="ν: noise std in units of the input-embedding std.")
        n_samples: int = Field(10, ge=1)
        seed: int = 0
        span: Literal["context", "first_half"] = "context"
        positions: list[Literal["first_corrupted", "last_corrupted", "last"]] = Field(
            default_factory=lambda: ["last_corrupted", "last"], min_length=1
        )
        layers: list[int] | None = Field(None, description="Layers whose output is restored; default every layer.")

    def __init__(self, n_layers: int, label: str | None = None, **options) -> None:
        super().__init__(n_layers, label, **options)
        self._sum = 0.0
        self._sumsq = 0.0
        self._count = 0

    def fit(self, ctx: BatchContext) -> None:
        if self.options.corruption != "noise":
            return
        require_local_layers(ctx.adapter, "corruption: noise (input embeddings)")
        with torch.inference_mode():
            emb = ctx.adapter.model.get_input_embeddings()(ctx.batch.input_ids)[ctx.mask].double()
        self._sum += float(emb.sum())
        self._sumsq += float(emb.pow(2).sum())
        self._count += emb.numel()

    @property
    def embedding_std(self) -> float:
        if not self._count:
            raise RuntimeError(f"{self.name} with noise was not fitted: call fit() on the stimulus batches first")
        mean = self._sum / self._count
        return max(self._sumsq / self._count - mean * mean, 0.0) ** 0.5

    def targets(self) -> list[Target]:
        out = [Target(f"{self.prefix}[total]", (), lambda ctx: {})]
        for position in self.options.positions:
            for layer in layer_list(self.options.layers, self.n_layers):
                out.append(Target(f"{self.prefix}[pos={position},l={layer}]", (layer,), lambda ctx: {}, param=f"pos={position}"))
        return out

    def spans(self, ctx: BatchContext) -> Tensor:
        """``[batch, tokens]`` boolean mask of the corrupted tokens."""
        mask = torch.zeros_like(ctx.mask)
        for row, length in enumerate(ctx.lengths):
            chosen = None
            if self.options.span == "context" and ctx.sentence is not None:
                sentences = ctx.sentence[row, :length]
                chosen = (sentences >= 0) & (sentences < sentences[length - 1])
                if not chosen.any():
                    chosen = None
            if chosen is None:
                chosen = torch.arange(length) < max(1, length // 2)
            mask[row, :length] = chosen
        return mask

    def _corrupt(self, ctx: BatchContext, span: Tensor, sample: int) -> ResidualCache:
        ids, mask = ctx.batch.input_ids, ctx.batch.attention_mask
        with torch.inference_mode():
            if self.options.corruption == "noise":
                emb = ctx.adapter.model.get_input_embeddings()(ids)
                noise = torch.zeros_like(emb)
                for row in range(ids.shape[0]):
                    generator = ctx.row_generator(row, self.name, "noise", self.options.seed, sample)
                    noise[row] = torch.randn(emb.shape[1:], generator=generator).to(emb.dtype)
                scale = self.options.noise_scale * self.embedding_std
                return record(ctx.adapter, inputs_embeds=emb + scale * noise * span.unsqueeze(-1), attention_mask=mask)
            corrupted = ids.clone()
            for row in range(ids.shape[0]):
                where = span[row].nonzero().squeeze(-1)
                generator = ctx.row_generator(row, self.name, "shuffle", self.options.seed, sample)
                corrupted[row, where] = ids[row, where[torch.randperm(len(where), generator=generator)]]
            return ctx.adapter.record_residuals(TokenBatch(corrupted, mask, list(ctx.batch.stimulus_index)))

    def evaluate(self, ctx: BatchContext) -> dict[str, dict[str, Tensor]]:
        rows = torch.arange(len(ctx.lengths))
        last = torch.tensor(ctx.lengths) - 1
        clean_logp = torch.log_softmax(ctx.adapter.logits_from_resid(ctx.clean.states[-1][rows, last]).float(), dim=-1)
        target = clean_logp.argmax(dim=-1)
        p_clean = clean_logp[rows, target].exp()
        span = self.spans(ctx)
        idx = torch.arange(span.shape[1])
        where = {
            "first_corrupted": torch.where(span, idx, span.shape[1]).min(dim=1).values.clamp(max=span.shape[1] - 1),
            "last_corrupted": torch.where(span, idx, -1).max(dim=1).values.clamp(min=0),
            "last": last,
        }
        layers = layer_list(self.options.layers, self.n_layers)

        def prob(cache: ResidualCache, resid: Tensor) -> Tensor:
            logits = ctx.adapter.logits_from_resid(resid[rows, last]).float()
            return torch.softmax(logits, dim=-1)[rows, target]

        p_corrupt = torch.zeros(len(rows))
        p_restored = {(pos, layer): torch.zeros(len(rows)) for pos in self.options.positions for layer in layers}
        for sample in range(self.options.n_samples):
            corrupt = self._corrupt(ctx, span, sample)
            p_corrupt += prob(corrupt, corrupt.states[-1])
            for pos in self.options.positions:
                tokens = where[pos]
                for layer in layers:
                    clean_state = ctx.clean.states[layer + 1][rows, tokens]

                    def restore(_h: Tensor, out: Tensor, tokens=tokens, clean_state=clean_state) -> Tensor:
                        out = out.clone()
                        out[rows, tokens] = clean_state
                        return out

                    resid = corrupt.resume({layer: Step(post=restore)})
                    p_restored[(pos, layer)] += prob(corrupt, resid)
        n = self.options.n_samples
        p_corrupt /= n
        out = {f"{self.prefix}[total]": {"total_effect": p_clean - p_corrupt, "p_clean": p_clean, "p_corrupt": p_corrupt}}
        for (pos, layer), p in p_restored.items():
            out[f"{self.prefix}[pos={pos},l={layer}]"] = {"indirect_effect": p / n - p_corrupt, "p_restored": p / n}
        return {label: {k: v.detach().cpu() for k, v in metrics.items()} for label, metrics in out.items()}


class CausalTracing(ActivationPatching):
    """Causal tracing (ROME): activation patching with Gaussian embedding noise at 3× the embedding std.

    Identical to :class:`ActivationPatching` with ``corruption: noise``, ``noise_scale: 3``,
    ``n_samples: 10`` as defaults (Meng et al. 2022, "Locating and Editing Factual Associations
    in GPT"). ``TE = p_clean(o) − E[p_corrupt(o)]``; ``IE(t, l) = E[p_restored(t,l)(o)] − E[p_corrupt(o)]``.
    """

    name = "causal_tracing"
    prefix = "trace"

    class Options(ActivationPatching.Options):
        corruption: Literal["shuffle", "noise"] = "noise"


INTERVENTIONS: dict[str, type[Intervention]] = {
    cls.name: cls
    for cls in (
        LayerDeletion,
        LayerSwap,
        MeanAblation,
        ResampleAblation,
        ResidualNoise,
        BlockDrop,
        ActivationPatching,
        CausalTracing,
    )
}

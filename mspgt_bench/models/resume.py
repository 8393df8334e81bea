"""Cached-residual resume: record one clean forward pass, then re-run only the layers an intervention changes.

An intervention at decoder layer ``l`` leaves layers ``< l`` untouched, so the residual stream
entering layer ``l`` can be taken from one recorded clean pass and the forward pass resumed
from there (docs/operationalisation.md §4.1). A single-layer deletion sweep then executes
``Σ_l (L−1−l) = L(L−1)/2`` decoder layers plus one clean pass of ``L``, instead of ``L²`` for
``L`` full forwards.

Recording is family-agnostic: a forward pre-hook (``with_kwargs=True``) on every decoder layer
stores the hidden state the layer received **and the exact other arguments it was called
with** (attention mask, rotary ``position_embeddings``, ``position_ids``, ...). Gemma 3 gives
sliding-window and global layers different masks and rotary tables, and GPT-2 blocks take other
arguments than Llama layers, so each layer is later re-called with its own recorded arguments.
Decoder layers return a tensor (transformers ≥ 4.57) or a tuple led by one; both are handled.

An intervention is expressed as :class:`Step` edits keyed by layer position: what runs at
position ``l`` (``modules``: the layer itself, nothing, or other layers in some order), an edit
of the residual before it (``pre``) and of the result (``post``). :meth:`ResidualCache.resume`
executes the edits from the cached state; :func:`recompute` executes the same edits in an
ordinary full forward pass through forward hooks installed by :func:`apply_steps` (the reference
the resume must equal, and the naive baseline of ``bench/deletion_sweep.py``; generation with an
intervention uses the same hooks).

This module belongs to the model layer: :class:`Step` is how the interventions
(:mod:`mspgt_bench.interventions`) tell any backend what to change, and recording and resuming
are how the HF adapter executes it (``HFAdapter.record_residuals`` and ``final_resid``; the vLLM
plugin executes the same steps in its engine).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from mspgt_bench.models.base import TokenBatch
from mspgt_bench.models.modules import first_tensor, submodule

__all__ = [
    "LayerCall",
    "LayerCounter",
    "ResidualCache",
    "Step",
    "apply_steps",
    "count_layer_calls",
    "final_resid",
    "recompute",
    "record",
]

Pre = Callable[[Tensor], Tensor]
Post = Callable[[Tensor, Tensor], Tensor]


def _replace_first(output: Any, hidden: Tensor) -> Any:
    """``output`` with its hidden state replaced, in the same structure (tensor or tuple)."""
    if isinstance(output, tuple):
        return (hidden, *output[1:])
    if isinstance(output, list):
        return [hidden, *output[1:]]
    return hidden


def require_local_layers(adapter: Any, what: str) -> None:
    """Raise ``NotImplementedError`` unless ``adapter`` runs its decoder layers in this process (HF).

    A backend that runs them elsewhere (the vLLM plugin's engine) only records passes of token
    batches (``record_residuals``); ``what`` names the operation that needs more.
    """
    if getattr(adapter, "layers", None) is None:
        raise NotImplementedError(
            f"{what} needs the decoder layers in this process; the {adapter.backend!r} backend runs them elsewhere"
        )


def _base_model(adapter: Any) -> nn.Module:
    """The decoder stack without the LM head (``model`` for Llama-likes, ``transformer`` for GPT-2)."""
    return submodule(adapter.model, adapter.map.layers.rsplit(".", 1)[0])


@dataclass(frozen=True)
class LayerCall:
    """The arguments one decoder layer was called with, except the hidden state."""

    args: tuple
    kwargs: dict[str, Any]
    hidden_as_kwarg: bool = False

    def call(self, layer: nn.Module, hidden: Tensor, *, bypass_hooks: bool = False) -> Tensor:
        fn = layer.forward if bypass_hooks else layer
        if self.hidden_as_kwarg:
            return first_tensor(fn(*self.args, hidden_states=hidden, **self.kwargs))
        return first_tensor(fn(hidden, *self.args, **self.kwargs))


@dataclass(frozen=True)
class Step:
    """What happens at decoder-layer position ``l`` of an intervened forward pass.

    ``h = pre(h)`` if given; then the layers ``modules`` run in order on ``h`` (``None``: layer
    ``l`` itself, as in the clean model; ``()``: nothing, the position is the identity; ``(l+1, l)``:
    a swap), each with the arguments it was recorded with; then ``h_out = post(h, h_out)`` if
    given, where ``h`` is the residual entering the modules (after ``pre``).
    """

    modules: tuple[int, ...] | None = None
    pre: Pre | None = None
    post: Post | None = None

    @property
    def is_clean(self) -> bool:
        return self.modules is None and self.pre is None and self.post is None


@dataclass
class ResidualCache:
    """One recorded forward pass: every layer's input state and call arguments.

    ``states[l]`` is the residual stream entering decoder layer ``l`` (``resid_pre[l]``);
    ``states[L]`` is the output of the last layer (before the final norm).
    """

    adapter: Any
    attention_mask: Tensor
    states: list[Tensor]
    calls: list[LayerCall]
    stimulus_index: list[int] = field(default_factory=list)

    @property
    def n_layers(self) -> int:
        return len(self.calls)

    @property
    def lengths(self) -> Tensor:
        return self.attention_mask.sum(dim=1)

    @torch.inference_mode()
    def run_layer(self, module: int, hidden: Tensor) -> Tensor:
        """Run decoder layer ``module`` on ``hidden`` with the arguments it was recorded with."""
        return self.calls[module].call(self.adapter.layers[module], hidden)

    @torch.inference_mode()
    def resume(
        self, steps: Mapping[int, Step] | None = None, start: int | None = None, hidden: Tensor | None = None
    ) -> Tensor:
        """The final residual (output of the last layer) with ``steps`` applied.

        Layers before ``start`` (default: the first edited position) are not run: the recorded
        clean state is used. ``hidden`` replaces the state entering layer ``start``. While the
        stream still equals the recorded one, an unedited layer's cached output is reused.
        """
        steps = dict(steps or {})
        if start is None:
            start = min(steps) if steps else self.n_layers
        if not 0 <= start <= self.n_layers:
            raise ValueError(f"start {start} outside 0..{self.n_layers}")
        for position, step in steps.items():
            if not start <= position < self.n_layers:
                raise ValueError(f"step at layer {position} outside {start}..{self.n_layers - 1}")
            for module in step.modules or ():
                if not 0 <= module < self.n_layers:
                    raise ValueError(f"step at layer {position} runs layer {module}, outside 0..{self.n_layers - 1}")
        h = self.states[start] if hidden is None else hidden
        fresh = hidden is None  # h is bitwise the recorded state at this position
        for position in range(start, self.n_layers):
            step = steps.get(position, Step())
            if step.pre is not None:
                h = step.pre(h)
                fresh = False
            modules = (position,) if step.modules is None else step.modules
            if fresh and modules == (position,):
                out = self.states[position + 1]
            else:
                out = h
                for module in modules:
                    out = self.run_layer(module, out)
            if step.post is not None:
                out = step.post(h, out)
            fresh = fresh and step.is_clean
            h = out
        return h

    @torch.inference_mode()
    def logits(self, resid: Tensor | None = None) -> Tensor:
        """Final norm + unembedding (+ softcap) of ``resid`` (default: the recorded final state)."""
        return self.adapter.logits_from_resid(self.states[-1] if resid is None else resid)


@torch.inference_mode()
def record(
    adapter: Any,
    batch: TokenBatch | None = None,
    *,
    input_ids: Tensor | None = None,
    inputs_embeds: Tensor | None = None,
    attention_mask: Tensor | None = None,
) -> ResidualCache:
    """Run the decoder stack once and record every layer's input and call arguments.

    Give a ``batch`` or ``input_ids``/``inputs_embeds`` with ``attention_mask``. The LM head is
    not run (the final logits are :meth:`ResidualCache.logits`). All hooks are removed on exit.
    """
    require_local_layers(adapter, "recording a pass")
    if batch is not None:
        input_ids, attention_mask = batch.input_ids, batch.attention_mask
    if attention_mask is None:
        reference = input_ids if input_ids is not None else inputs_embeds[..., 0]
        attention_mask = torch.ones(reference.shape[:2], dtype=torch.long, device=reference.device)
    n = adapter.n_layers
    states: list[Tensor | None] = [None] * (n + 1)
    calls: list[LayerCall | None] = [None] * n

    def pre_hook(index: int) -> Callable[..., None]:
        def hook(_module: nn.Module, args: tuple, kwargs: dict) -> None:
            if args:
                states[index] = args[0].detach()
                calls[index] = LayerCall(tuple(args[1:]), dict(kwargs), False)
            else:
                rest = dict(kwargs)
                states[index] = rest.pop("hidden_states").detach()
                calls[index] = LayerCall((), rest, True)

        return hook

    def last_hook(_module: nn.Module, _args: tuple, output: Any) -> None:
        states[n] = first_tensor(output).detach()

    handles = [layer.register_forward_pre_hook(pre_hook(i), with_kwargs=True) for i, layer in enumerate(adapter.layers)]
    handles.append(adapter.layers[n - 1].register_forward_hook(last_hook))
    try:
        _base_model(adapter)(
            input_ids=input_ids, inputs_embeds=inputs_embeds, attention_mask=attention_mask, use_cache=False
        )
    finally:
        for handle in handles:
            handle.remove()
    if any(s is None for s in states) or any(c is None for c in calls):
        raise RuntimeError("some decoder layers did not run during the recorded pass")
    index = list(batch.stimulus_index) if batch is not None else []
    return ResidualCache(adapter, attention_mask, states, calls, index)  # type: ignore[arg-type]


@torch.inference_mode()
def final_resid(adapter: Any, input_ids: Tensor, attention_mask: Tensor | None = None) -> Tensor:
    """The output of the last decoder layer (before the final norm) in a plain forward pass of ``adapter``'s layers.

    The HF adapter's ``final_resid``; callers ask the adapter (``adapter.final_resid``), so a backend
    that runs its layers elsewhere (the vLLM plugin's engine) answers with its own.
    """
    store: list[Tensor] = []
    handle = adapter.layers[adapter.n_layers - 1].register_forward_hook(
        lambda _m, _a, out: store.append(first_tensor(out))
    )
    try:
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        _base_model(adapter)(input_ids=input_ids, attention_mask=attention_mask, use_cache=False)
    finally:
        handle.remove()
    return store[-1]


@contextmanager
def apply_steps(adapter: Any, steps: Mapping[int, Step], calls: list[LayerCall] | None = None) -> Iterator[None]:
    """While open, every forward pass of ``adapter.model`` runs with ``steps`` applied through forward hooks.

    ``pre`` edits the hidden state a layer receives (forward pre-hook); ``modules`` and ``post``
    replace its output (forward hook). Steps that run other layers than their own (swaps) need
    those layers' call arguments, ``calls`` from a recorded pass. The edits see whatever shape the
    pass has, so under a KV cache (generation) they fire on the prompt and then on each new token
    (``[batch, 1, d]``). All hooks are removed on exit, also when the body raises.
    """

    def pre_hook(step: Step) -> Callable[..., Any]:
        def hook(_module: nn.Module, args: tuple, kwargs: dict) -> tuple[tuple, dict]:
            if args:
                return (step.pre(args[0]), *args[1:]), kwargs
            return args, {**kwargs, "hidden_states": step.pre(kwargs["hidden_states"])}

        return hook

    def post_hook(position: int, step: Step) -> Callable[..., Any]:
        def hook(_module: nn.Module, args: tuple, kwargs: dict, output: Any) -> Any:
            h = args[0] if args else kwargs["hidden_states"]
            if step.modules is None:
                out = first_tensor(output)
            else:
                out = h
                for module in step.modules:
                    if module == position:
                        live = LayerCall(
                            tuple(args[1:]), {k: v for k, v in kwargs.items() if k != "hidden_states"}, not args
                        )
                        out = live.call(adapter.layers[module], out, bypass_hooks=True)
                    else:
                        out = calls[module].call(adapter.layers[module], out, bypass_hooks=True)
            if step.post is not None:
                out = step.post(h, out)
            return _replace_first(output, out)

        return hook

    handles = []
    try:
        for position, step in steps.items():
            layer = adapter.layers[position]
            if step.pre is not None:
                handles.append(layer.register_forward_pre_hook(pre_hook(step), with_kwargs=True))
            if step.modules is not None or step.post is not None:
                handles.append(layer.register_forward_hook(post_hook(position, step), with_kwargs=True))
        yield
    finally:
        for handle in handles:
            handle.remove()


@torch.inference_mode()
def recompute(
    adapter: Any,
    batch: TokenBatch,
    steps: Mapping[int, Step],
    calls: list[LayerCall] | None = None,
    *,
    inputs_embeds: Tensor | None = None,
) -> Tensor:
    """Logits of a full, ordinary forward pass with ``steps`` applied through forward hooks.

    The independent reference for :meth:`ResidualCache.resume`, and the naive way to run an
    intervention. Steps that run other layers than their own (swaps) need the other layers'
    call arguments: ``calls`` from a recorded pass (recorded here when missing).
    """
    needs_calls = any(s.modules is not None and s.modules not in ((), (p,)) for p, s in steps.items())
    if needs_calls and calls is None:
        calls = record(
            adapter,
            input_ids=batch.input_ids if inputs_embeds is None else None,
            inputs_embeds=inputs_embeds,
            attention_mask=batch.attention_mask,
        ).calls
    with apply_steps(adapter, steps, calls):
        if inputs_embeds is None:
            out = adapter.model(input_ids=batch.input_ids, attention_mask=batch.attention_mask, use_cache=False)
        else:
            out = adapter.model(inputs_embeds=inputs_embeds, attention_mask=batch.attention_mask, use_cache=False)
    return out.logits


@dataclass
class LayerCounter:
    """How many times each decoder layer ran (module calls, hooks included)."""

    per_layer: list[int]

    @property
    def total(self) -> int:
        return sum(self.per_layer)


@contextmanager
def count_layer_calls(adapter: Any) -> Iterator[LayerCounter]:
    """Count decoder-layer executions while open (a forward pre-hook on every layer)."""
    counter = LayerCounter([0] * adapter.n_layers)

    def hook(index: int) -> Callable[..., None]:
        def count(_module: nn.Module, _args: tuple) -> None:
            counter.per_layer[index] += 1

        return count

    handles = [layer.register_forward_pre_hook(hook(i)) for i, layer in enumerate(adapter.layers)]
    try:
        yield counter
    finally:
        for handle in handles:
            handle.remove()

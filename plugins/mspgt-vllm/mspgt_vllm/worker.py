"""What runs inside vLLM's worker: forward hooks on the decoder layers for one batch of prompts.

The driver sends a :class:`Job` through ``LLM.apply_model`` (in-process with
``VLLM_ENABLE_V1_MULTIPROCESSING=0``; pickled with cloudpickle to each worker otherwise), runs
``generate`` on the job's prompts, then closes the session, which removes every hook and returns
what was captured. A vLLM decoder layer is called as ``layer(positions, hidden_states, residual)``
and returns ``(hidden_states, residual)``: the residual stream entering it is
``hidden_states + residual`` (just ``hidden_states`` at the first layer, where ``residual`` is
None) and the stream leaving it is the sum of its two outputs. Edits are expressed in the padded
layout by the core's :class:`~mspgt_bench.models.resume.Step` and applied to this step's
rows through :class:`~mspgt_vllm.rows.RowMap`. An edited layer hands on ``(0, stream)``, so the
next layer's fused add-and-norm sees exactly the edited stream.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils.hooks import RemovableHandle

from mspgt_bench.models.modules import submodule
from mspgt_bench.models.resume import Step
from mspgt_vllm.rows import RowMap, match_rows

__all__ = ["Job", "close_session", "open_session", "unembed"]

SESSION = "_mspgt_session"
LAYER_ARGS = ("positions", "hidden_states", "residual")


@dataclass
class Job:
    """One batch of prompts: which sites to capture and which edits to apply."""

    prompts: list[list[int]]
    width: int
    """Tokens of the padded layout (the longest prompt)."""
    layers: str
    """Dotted path of the decoder-layer list, e.g. ``model.layers``."""
    capture: set[tuple[str, int]] = field(default_factory=set)
    """``(kind, layer)``: ``resid_pre``, ``resid_post``, or ``(kind, layer)`` of a sub-module below."""
    modules: dict[str, str] = field(default_factory=dict)
    """Sub-module path inside a layer for the other captured kinds, e.g. ``{"mlp_out": "mlp"}``."""
    steps: dict[int, Step] = field(default_factory=dict)


class Session:
    """The hooks of one job on one worker's model and what they captured."""

    def __init__(self, job: Job, model: nn.Module) -> None:
        self.job = job
        self.shape = (len(job.prompts), job.width)
        self.taken: set[int] = set()
        self.store: dict[tuple[str, int], Tensor] = {}
        self.rows: RowMap | None = None
        self.step_ids: Tensor | None = None
        self.entering: Tensor | None = None
        self.handles: list[RemovableHandle] = []
        layers = submodule(model, job.layers)
        stack = submodule(model, job.layers.rsplit(".", 1)[0])
        local = range(getattr(stack, "start_layer", 0), getattr(stack, "end_layer", len(layers)))
        self.first = local.start
        _check_signature(layers[self.first])
        embed = getattr(stack, "embed_tokens", None)
        if isinstance(embed, nn.Module) and any(True for _ in embed.parameters()):  # not a PP stage's placeholder
            self.handles.append(embed.register_forward_pre_hook(self._ids))
        for index in local:
            layer = layers[index]
            if index == self.first or ("resid_pre", index) in job.capture or index in job.steps:
                self.handles.append(layer.register_forward_pre_hook(self._pre_hook(index), with_kwargs=True))
            if (("resid_post", index) in job.capture) or index in job.steps:
                self.handles.append(layer.register_forward_hook(self._post_hook(index)))
            for kind, path in job.modules.items():
                if (kind, index) in job.capture:
                    self.handles.append(submodule(layer, path).register_forward_hook(self._sub_hook(kind, index)))

    # -- hooks -----------------------------------------------------------------------------
    def _ids(self, _module: nn.Module, args: tuple) -> None:
        self.step_ids = args[0]

    def _pre_hook(self, index: int):
        def hook(module: nn.Module, args: tuple, kwargs: dict) -> tuple[tuple, dict] | None:
            bound = inspect.signature(module.forward).bind(*args, **kwargs)
            values = bound.arguments
            if index == self.first:
                self.rows = match_rows(values["positions"], self.step_ids, self.job.prompts, self.taken)
                self.step_ids = None
            step = self.job.steps.get(index)
            if not self.rows.flat.numel() or (step is None and ("resid_pre", index) not in self.job.capture):
                return None
            residual = values.get("residual")
            h = values["hidden_states"] if residual is None else values["hidden_states"] + residual
            if step is not None and step.pre is not None:
                h = self.rows.unpad(step.pre(self.rows.pad(h, self.shape)), h)
                values["hidden_states"], values["residual"] = h, None
            self._keep("resid_pre", index, h)
            self.entering = h
            return (bound.args, bound.kwargs) if step is not None and step.pre is not None else None

        return hook

    def _post_hook(self, index: int):
        def hook(_module: nn.Module, _args: tuple, output: tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor] | None:
            if not self.rows.flat.numel():
                return None
            out = output[0] + output[1]
            step = self.job.steps.get(index)
            edited = step is not None and (step.modules == () or step.post is not None)
            if step is not None and step.modules == ():
                out = self.rows.unpad(self.rows.pad(self.entering, self.shape), out)
            if step is not None and step.post is not None:
                padded = step.post(self.rows.pad(self.entering, self.shape), self.rows.pad(out, self.shape))
                out = self.rows.unpad(padded, out)
            self._keep("resid_post", index, out)
            return (torch.zeros_like(out), out) if edited else None

        return hook

    def _sub_hook(self, kind: str, index: int):
        def hook(_module: nn.Module, _args: tuple, output: Any) -> None:
            if self.rows.flat.numel():
                self._keep(kind, index, output[0] if isinstance(output, (tuple, list)) else output)

        return hook

    def _keep(self, kind: str, index: int, flat: Tensor) -> None:
        key = (kind, index)
        if key not in self.job.capture:
            return
        if key not in self.store:
            self.store[key] = flat.new_zeros((*self.shape, flat.shape[-1]))
        self.rows.fill(self.store[key], flat.detach())

    def close(self) -> dict[str, Any]:
        for handle in self.handles:
            handle.remove()
        return {"store": {key: value.cpu() for key, value in self.store.items()}, "rows": sorted(self.taken)}


def _check_signature(layer: nn.Module) -> None:
    names = list(inspect.signature(layer.forward).parameters)
    if names[: len(LAYER_ARGS)] != list(LAYER_ARGS):
        raise NotImplementedError(
            f"the vllm adapter hooks decoder layers called as layer(positions, hidden_states, residual) -> "
            f"(hidden_states, residual); {type(layer).__name__} takes ({', '.join(names)})"
        )


def open_session(job: Job, model: nn.Module) -> None:
    """Install the job's hooks on this worker's model (run through ``LLM.apply_model``)."""
    if getattr(model, SESSION, None) is not None:
        raise RuntimeError("a capture session is already open on this model; sessions do not nest")
    setattr(model, SESSION, Session(job, model))


def close_session(model: nn.Module) -> dict[str, Any] | None:
    """Remove the hooks; return ``{"store": {(kind, layer): [batch, tokens, d]}, "rows": rows seen}``."""
    session = getattr(model, SESSION, None)
    if session is None:
        return None
    setattr(model, SESSION, None)
    return session.close()


@torch.inference_mode()
def unembed(resid: Tensor, norm: str, model: nn.Module) -> Tensor | None:
    """Final norm and the model's own logits computation (vocabulary gather, softcap) on ``[n, d]`` rows."""
    first = next(model.parameters())
    logits = model.compute_logits(submodule(model, norm)(resid.to(first.device, first.dtype)))
    return None if logits is None else logits.cpu()

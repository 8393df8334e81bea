"""Reaching into a transformers model: submodules by dotted path, the hidden state in a layer's output."""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn


def submodule(root: nn.Module, path: str) -> nn.Module:
    """The module at dotted ``path`` below ``root``, e.g. ``model.layers`` (the paths of a family map)."""
    module = root
    for part in path.split("."):
        module = getattr(module, part)
    return module


def first_tensor(output: Any) -> Tensor:
    """The hidden state in a decoder layer's or block's output: a tensor (transformers >= 4.57) or a tuple led by one."""
    return output[0] if isinstance(output, (tuple, list)) else output

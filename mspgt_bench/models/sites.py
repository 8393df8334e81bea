"""The canonical site vocabulary that suites and signals speak in.

``resid_pre[l]``   residual stream entering decoder layer l
``resid_post[l]``  residual stream leaving decoder layer l (before the final norm)
``attn_out[l]``    the attention block's contribution added to the residual stream at layer l
``mlp_out[l]``     the MLP block's contribution added to the residual stream at layer l
``attn_pattern[l]`` attention probabilities ``[batch, heads, query, key]`` (needs eager attention)
``logits``         the model's output logits

Layers are 0-based decoder-layer indices.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

LAYER_SITES = ("resid_pre", "resid_post", "attn_out", "mlp_out", "attn_pattern")
GLOBAL_SITES = ("logits",)
_SITE_RE = re.compile(r"^(?P<kind>[a-z_]+)(?:\[(?P<layer>-?\d+)\])?$")


class SiteError(ValueError):
    """A site string that is malformed or does not exist in the model."""


@dataclass(frozen=True, order=True)
class Site:
    """One place in the model whose activation can be read or changed."""

    kind: str
    layer: int | None = None

    def __str__(self) -> str:
        return self.kind if self.layer is None else f"{self.kind}[{self.layer}]"

    @classmethod
    def parse(cls, text: str, n_layers: int | None = None) -> Site:
        """Parse ``"resid_post[3]"``; negative layers count from the end when ``n_layers`` is known."""
        match = _SITE_RE.match(text.strip())
        if not match:
            raise SiteError(f"malformed site {text!r}; expected e.g. 'resid_post[3]' or 'logits'")
        kind, layer = match["kind"], match["layer"]
        if kind in GLOBAL_SITES:
            if layer is not None:
                raise SiteError(f"site {kind!r} takes no layer index (got {text!r})")
            return cls(kind)
        if kind not in LAYER_SITES:
            known = ", ".join(LAYER_SITES + GLOBAL_SITES)
            raise SiteError(f"unknown site kind {kind!r} in {text!r}; known kinds: {known}")
        if layer is None:
            raise SiteError(f"site {kind!r} needs a layer index, e.g. '{kind}[0]'")
        index = int(layer)
        if n_layers is not None:
            if index < 0:
                index += n_layers
            if not 0 <= index < n_layers:
                raise SiteError(f"site {text!r} is out of range: the model has layers 0..{n_layers - 1}")
        return cls(kind, index)


def all_layers(kind: str, n_layers: int) -> list[Site]:
    """``kind[0] .. kind[n_layers-1]``."""
    if kind not in LAYER_SITES:
        raise SiteError(f"{kind!r} is not a per-layer site kind")
    return [Site(kind, layer) for layer in range(n_layers)]

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

from dataclasses import dataclass

LAYER_SITES = ("resid_pre", "resid_post", "attn_out", "mlp_out", "attn_pattern")


class SiteError(ValueError):
    """A site of an unknown kind, outside the model, or one its backend cannot capture."""


@dataclass(frozen=True, order=True)
class Site:
    """One place in the model whose activation can be read or changed."""

    kind: str
    layer: int | None = None

    def __str__(self) -> str:
        return self.kind if self.layer is None else f"{self.kind}[{self.layer}]"


def all_layers(kind: str, n_layers: int) -> list[Site]:
    """``kind[0] .. kind[n_layers-1]``."""
    if kind not in LAYER_SITES:
        raise SiteError(f"{kind!r} is not a per-layer site kind")
    return [Site(kind, layer) for layer in range(n_layers)]

"""Linear centered kernel alignment (CKA), full-batch and streamed over minibatches.

- Linear CKA (Kornblith et al. 2019, "Similarity of Neural Network Representations
  Revisited"): with column-centred ``X [n, d1]``, ``Y [n, d2]``,
  ``CKA = ‖YᵀX‖_F² / (‖XᵀX‖_F ‖YᵀY‖_F) = HSIC(K, L) / √(HSIC(K, K) HSIC(L, L))``,
  ``K = XXᵀ``, ``L = YYᵀ``.
- Unbiased HSIC (Song et al. 2012, "Feature Selection via Dependence Maximization", eq. 5),
  for ``n ≥ 4`` and ``K̃, L̃`` the Grams with zeroed diagonals::

      HSIC₁ = [tr(K̃L̃) + (1ᵀK̃1)(1ᵀL̃1)/((n−1)(n−2)) − 2/(n−2) · 1ᵀK̃L̃1] / (n(n−3))

  It needs no centring (it is invariant to adding a constant vector to every row).
- Minibatch CKA (Nguyen, Raghu & Kornblith 2021, "Do Wide and Deep Networks Learn the Same
  Things?"): ``CKA = Σ_b HSIC₁(K_b, L_b) / √(Σ_b HSIC₁(K_b, K_b) · Σ_b HSIC₁(L_b, L_b))``
  over minibatches ``b``; :class:`StreamingCKA` accumulates it for all layer pairs.
- CKA is dominated by a few high-magnitude ("massive" / outlier) dimensions (Davari et al.
  2023, "Reliability of CKA as a Similarity Measure in Deep Learning"); report it also on
  features passed through :func:`clip_massive_dims`.

All computations run in float64.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Literal

import torch
from torch import Tensor

__all__ = [
    "StreamingCKA",
    "center_columns",
    "clip_massive_dims",
    "hsic_unbiased",
    "hsic_unbiased_matrix",
    "linear_cka",
    "massive_dims",
]


def center_columns(x: Tensor) -> Tensor:
    """Subtract the column mean: ``X − 1 meanᵀ`` (float64)."""
    x = x.to(torch.float64)
    return x - x.mean(dim=-2, keepdim=True)


def _zero_diag(k: Tensor) -> Tensor:
    return k - torch.diag_embed(torch.diagonal(k, dim1=-2, dim2=-1))


def hsic_unbiased(k: Tensor, g: Tensor) -> Tensor:
    """Unbiased HSIC₁ of Song et al. (2012) between kernel matrices ``k``, ``g`` ``[..., n, n]``, ``n ≥ 4``."""
    n = k.shape[-1]
    if n < 4:
        raise ValueError(f"unbiased HSIC needs n >= 4 samples, got {n}")
    kt = _zero_diag(k.to(torch.float64))
    lt = _zero_diag(g.to(torch.float64))
    trace_kl = (kt * lt).sum(dim=(-2, -1))
    sk = kt.sum(dim=(-2, -1))
    sl = lt.sum(dim=(-2, -1))
    rk = kt.sum(dim=-1)
    rl = lt.sum(dim=-1)
    cross = (rk * rl).sum(dim=-1)
    return (trace_kl + sk * sl / ((n - 1) * (n - 2)) - 2.0 / (n - 2) * cross) / (n * (n - 3))


def hsic_unbiased_matrix(grams: Tensor) -> Tensor:
    """Unbiased HSIC₁ between every pair of ``L`` symmetric Grams ``[L, n, n]`` → ``[L, L]``.

    ``grams`` is not modified (one float64 copy of it is made).
    """
    if grams.shape[-1] < 4:
        raise ValueError(f"unbiased HSIC needs n >= 4 samples, got {grams.shape[-1]}")
    return _hsic_matrix_consuming(grams.to(torch.float64, copy=True))


def _hsic_matrix_consuming(g: Tensor) -> Tensor:
    """:func:`hsic_unbiased_matrix` of float64 Grams ``g [L, n, n]`` that the caller owns: ``g``'s
    diagonals are zeroed in place (``K̃``), so no ``[L, n, n]`` temporary is allocated besides ``g``.
    Gives the same bits as ``g − diag_embed(diag(g))`` for finite Grams."""
    n = g.shape[-1]
    if n < 4:
        raise ValueError(f"unbiased HSIC needs n >= 4 samples, got {n}")
    torch.diagonal(g, dim1=-2, dim2=-1).zero_()
    flat = g.reshape(g.shape[0], -1)
    trace = flat @ flat.T  # tr(K̃ L̃) for symmetric K̃, L̃
    s = flat.sum(dim=-1)
    r = g.sum(dim=-1)  # [L, n] = K̃ 1
    cross = r @ r.T  # 1ᵀ K̃ L̃ 1
    return (trace + torch.outer(s, s) / ((n - 1) * (n - 2)) - 2.0 / (n - 2) * cross) / (n * (n - 3))


def linear_cka(x: Tensor, y: Tensor, unbiased: bool = False) -> Tensor:
    """Linear CKA between ``x [n, d1]`` and ``y [n, d2]`` (rows = the same n examples).

    ``unbiased=False``: Kornblith et al. (2019) with the biased (centred Gram) HSIC.
    ``unbiased=True``: the same ratio with Song et al.'s unbiased HSIC₁ (n ≥ 4); this is
    what :class:`StreamingCKA` reduces to with a single minibatch.
    Returns a 0-d float64 tensor (NaN if a representation is constant).
    """
    if x.shape[0] != y.shape[0]:
        raise ValueError("x and y need the same number of rows")
    if unbiased:
        xd, yd = x.to(torch.float64), y.to(torch.float64)
        kx, ky = xd @ xd.T, yd @ yd.T
        num = hsic_unbiased(kx, ky)
        den = torch.sqrt(hsic_unbiased(kx, kx) * hsic_unbiased(ky, ky))
        return num / den
    xc, yc = center_columns(x), center_columns(y)
    n = xc.shape[0]
    if n < max(xc.shape[1], yc.shape[1]):
        kx, ky = xc @ xc.T, yc @ yc.T
        num = (kx * ky).sum()
        den = torch.linalg.matrix_norm(kx) * torch.linalg.matrix_norm(ky)
    else:
        num = torch.linalg.matrix_norm(yc.T @ xc) ** 2
        den = torch.linalg.matrix_norm(xc.T @ xc) * torch.linalg.matrix_norm(yc.T @ yc)
    return num / den


class StreamingCKA:
    """Minibatch linear CKA between all pairs of ``n_layers`` representations.

    Call :meth:`update` once per minibatch with one ``[n, d_l]`` feature matrix per layer
    (same ``n`` rows, i.e. the same examples/tokens, for every layer; ``n ≥ 4``; ``n`` may
    vary between minibatches). :meth:`matrix` returns the ``[L, L]`` CKA
    ``Σ_b HSIC₁[l, m] / √(Σ_b HSIC₁[l, l] · Σ_b HSIC₁[m, m])`` (Nguyen et al. 2021).

    Memory per update: one ``[L, n, n]`` float64 block (each Gram is written into it and
    its diagonal zeroed in place; or a caller's ``workspace``) plus one layer's float64 copy
    ``[n, d_l]`` at a time. The features may come from a generator (e.g. rows gathered or
    clipped one layer at a time), so that only one layer's copy is alive at once.
    """

    def __init__(self, n_layers: int) -> None:
        if n_layers < 1:
            raise ValueError("n_layers must be >= 1")
        self.n_layers = int(n_layers)
        self.hsic_sum = torch.zeros(self.n_layers, self.n_layers, dtype=torch.float64)
        self.n_batches = 0
        self.n_samples = 0

    def update(self, features: Iterable[Tensor] | Tensor, workspace: Tensor | None = None) -> None:
        """Add one minibatch: a sequence, an iterator or a stacked tensor of ``L`` matrices ``[n, d_l]``.

        ``workspace``: a float64 tensor of at least ``L·n²`` elements (on the features' device) to
        hold the Gram block instead of a new allocation; its contents are overwritten. Lets a caller
        that updates several accumulators in a row (chunks, variants) allocate the block once.
        """
        if isinstance(features, (Sequence, Tensor)) and len(features) != self.n_layers:
            raise ValueError(f"expected {self.n_layers} feature matrices, got {len(features)}")
        grams = self._grams(features, workspace)
        n = grams.shape[-1]
        self.hsic_sum += _hsic_matrix_consuming(grams).cpu()
        self.n_batches += 1
        self.n_samples += n

    def _grams(self, features: Iterable[Tensor], workspace: Tensor | None = None) -> Tensor:
        """``[L, n, n]`` float64 Grams ``X_l X_lᵀ`` of ``L`` feature matrices, written into one block."""
        grams: Tensor | None = None
        count = 0
        for f in features:
            if count >= self.n_layers:
                raise ValueError(f"expected {self.n_layers} feature matrices, got more")
            x = f.to(torch.float64).reshape(f.shape[0], -1)
            if grams is None:
                shape = (self.n_layers, x.shape[0], x.shape[0])
                if workspace is None:
                    grams = torch.empty(shape, dtype=torch.float64, device=x.device)
                else:
                    size = shape[0] * shape[1] * shape[2]
                    if workspace.dtype != torch.float64 or workspace.numel() < size or workspace.device != x.device:
                        raise ValueError(f"workspace needs >= {size} float64 elements on {x.device}")
                    grams = workspace.reshape(-1)[:size].view(shape)
            elif x.shape[0] != grams.shape[-1]:
                raise ValueError("every layer needs the same number of rows in a minibatch")
            torch.mm(x, x.T, out=grams[count])
            count += 1
        if grams is None or count != self.n_layers:
            raise ValueError(f"expected {self.n_layers} feature matrices, got {count}")
        return grams

    def matrix(self) -> Tensor:
        """``[L, L]`` CKA matrix (float64); the diagonal is 1 wherever it is defined."""
        if self.n_batches == 0:
            raise RuntimeError("no minibatch seen yet")
        d = torch.diagonal(self.hsic_sum)
        den = torch.sqrt(torch.outer(d, d))
        nan = torch.full((), float("nan"), dtype=torch.float64)
        return torch.where(den > 0, self.hsic_sum / den.clamp_min(1e-300), nan)


def massive_dims(x: Tensor, k: int | None = None, threshold: float | None = 10.0) -> Tensor:
    """Indices of outlier ("massive") feature dimensions of ``x [..., d]``.

    Per-dimension magnitude ``m_j = max |x[..., j]|`` over all rows. With ``k``: the ``k``
    dimensions of largest ``m_j``. Otherwise: every ``j`` with
    ``m_j > threshold · median_j(m_j)`` (default 10×; Sun et al. 2024 call an activation
    massive at ~1000× the median, Davari et al. 2023 show a handful of such dimensions
    can dominate CKA). Returns sorted int64 indices.
    """
    mag = x.detach().abs().reshape(-1, x.shape[-1]).amax(dim=0).to(torch.float64)
    if k is not None:
        k = max(0, min(int(k), mag.numel()))
        idx = torch.topk(mag, k).indices
    elif threshold is not None:
        idx = torch.nonzero(mag > float(threshold) * mag.median(), as_tuple=False).flatten()
    else:
        raise ValueError("give k or threshold")
    return torch.sort(idx).values


def clip_massive_dims(
    x: Tensor,
    k: int | None = None,
    threshold: float | None = 10.0,
    mode: Literal["zero", "clip"] = "zero",
    dims: Tensor | Sequence[int] | None = None,
) -> tuple[Tensor, Tensor]:
    """Neutralise outlier dimensions of ``x [..., d]`` before computing CKA.

    Dimensions are ``dims`` if given (e.g. chosen once on a calibration batch, so every
    minibatch is treated alike) else :func:`massive_dims` ``(x, k, threshold)``.
    ``mode="zero"`` sets them to 0 (removes them); ``mode="clip"`` clamps them to
    ``±c``, ``c`` = the largest magnitude among the other dimensions.

    Returns ``(x_out, dims)``; ``x`` is not modified.
    """
    if dims is None:
        idx = massive_dims(x, k=k, threshold=threshold)
    else:
        idx = torch.as_tensor(dims, dtype=torch.int64).flatten()
    out = x.clone()
    if idx.numel() == 0:
        return out, idx
    idx = idx.to(x.device)
    if mode == "zero":
        out[..., idx] = 0
    elif mode == "clip":
        keep = torch.ones(x.shape[-1], dtype=torch.bool, device=x.device)
        keep[idx] = False
        c = x[..., keep].abs().max() if bool(keep.any()) else torch.zeros((), dtype=x.dtype, device=x.device)
        out[..., idx] = out[..., idx].clamp(-c, c)
    else:
        raise ValueError(f"mode must be 'zero' or 'clip', got {mode!r}")
    return out, idx.cpu()

"""Dataset-level signals: one statistic of the whole stimulus set per point, bootstrapped by recomputation.

A :class:`~mspgt_bench.signals.base.PerStimulusSignal` averages one value per stimulus. The
signals built on :class:`DatasetSignal` are different: intrinsic dimension, dataset matrix
entropy or kernel mutual information are properties of the *cloud* of stimuli, so there is no
per-stimulus value to average. Their interval comes from resampling stimuli with replacement
and recomputing the statistic on each resample (percentile bootstrap; Efron & Tibshirani 1993).

Memory: this is the one place where a signal's state grows with the number of stimuli. Each
stimulus contributes a small fixed-size array (by default its pooled state at every stream
state, ``[L+1, d]`` float32 = ``4·(L+1)·d`` bytes; 71 KiB for a 30-layer, d = 576 model), never its
token activations: pooling happens inside :meth:`DatasetSignal.update`, on the batch that is
about to be dropped.

Conventions (shared by every subclass unless it overrides :meth:`~DatasetSignal.points`):

* stream states ``x_0 … x_L``: ``x_0`` = embedding output (``resid_pre[0]``), ``x_{l+1}`` =
  output of decoder layer ``l`` (``resid_post[l]``, before the final norm);
* point ``l`` is ``x_l``; its depth is ``l / L`` (0 = embeddings, 1 = last layer output);
* pooling (option ``token``): ``"last"`` (default) the state at the stimulus' last real token,
  ``"mean"`` the mean over real tokens, skipping the first position when ``mean_skip_first``
  (default on: position 0 carries the attention-sink massive activations, Sun et al. 2024, and
  for tokenizers that add one it is the same BOS token in every stimulus).

Pitfall: with ``token="last"`` the point-0 state of a Llama-style model is the *token embedding*
of the last token, so stimuli that end with the same token (e.g. ".") give identical rows there;
estimators then see few distinct points (an ID of NaN, an entropy near 0). That is a property
of the data, not a bug; it does not affect GPT-2 (learned position embeddings).

Bootstrap: ``statistic(indices)`` is evaluated on ``arange(n)`` (the reported value) and on
``B`` resamples drawn by :func:`~mspgt_bench.stats.bootstrap.resample_indices` from
``boot.rng(label)`` (the same resamples for every metric and point of a signal, so they stay
paired). ``B = min(boot.n_boot, cap)``, ``cap`` = option ``n_boot`` or the signal's
``default_n_boot``: the cap bounds the cost of expensive estimators (each resample recomputes the
estimator at all ``L+1`` states); a ``None`` cap means ``boot.n_boot``. Intervals are percentile
intervals of the replicates ``θ*_b``, whatever ``boot.method`` says (BCa would need ``n`` further
jackknife recomputations, and its bias correction collapses when ``θ̂`` lies outside the
bootstrap distribution, which happens here, see below).

Why the default interval is *re-centred*: a resample repeats ~37% of the stimuli, and these
statistics depend on the number of distinct points (entropy, effective rank, PCA dimension and
kernel MI all shrink when rows coincide). The replicates are then biased downwards as a whole
and a plain percentile interval often lies entirely below the full-sample value. Option
``interval="recentred"`` (default) keeps the bootstrap *spread* but centres it on the estimate:
``[θ̂ + Q_{α/2}(θ*) − med(θ*), θ̂ + Q_{1−α/2}(θ*) − med(θ*)]`` (so ``lo ≤ θ̂ ≤ hi``; the shift
``med(θ*) − θ̂`` is the bootstrap bias estimate). ``interval="percentile"`` gives the plain
``[Q_{α/2}(θ*), Q_{1−α/2}(θ*)]``. After :meth:`DatasetSignal.profiles`, ``replicates`` holds the
``θ*`` (``{metric: [B, n_points]}``) for inspection.

Threads: :meth:`DatasetSignal.profiles` runs single-threaded (BLAS and OpenMP pools limited to
one thread with threadpoolctl, restored afterwards). The bootstrap is many small LAPACK calls,
where thread synchronisation costs more than it gains: on a busy 2-core machine a dataset
entropy resample (n = 500, L = 30, d = 576) took 2.4 s single-threaded and 31 s with two threads.

A NaN in any resample makes that point's interval NaN (the estimator is undefined on some
resamples, typically because ``n`` is too small). With fewer than 2 stimuli ``lo`` and ``hi`` are
NaN. ``per_stimulus`` is ``None``.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from functools import cache
from typing import Any, ClassVar, Literal

import numpy as np
import torch
from pydantic import Field

from mspgt_bench.capture import CapturedBatch
from mspgt_bench.models.sites import Site
from mspgt_bench.options import Strict
from mspgt_bench.signals.base import (
    BootstrapConfig,
    Profile,
    Signal,
    masked_token_mean,
    stream_sites,
)
from mspgt_bench.stats.bootstrap import resample_indices

__all__ = ["DatasetSignal", "distinct_rows", "pool_stream", "resample_weights", "threadpools"]

Pooling = Literal["last", "mean"]


def pool_stream(captured: CapturedBatch, token: Pooling = "last", mean_skip_first: bool = True) -> torch.Tensor:
    """``[batch, L+1, d]`` float32: each stream state pooled per stimulus (see module doc)."""
    stream = captured.stream()
    if token == "last":
        pooled = [captured.last_token(s) for s in stream]
    elif token == "mean":
        mask = captured.mask
        if mean_skip_first:
            # drop position 0 unless it is the only real token of the stimulus
            skip = mask.clone()
            skip[:, 0] = skip[:, 0] & (mask.sum(dim=1) <= 1)
            mask = skip
        pooled = [masked_token_mean(s.float(), mask) for s in stream]
    else:
        raise ValueError(f"token must be 'last' or 'mean', got {token!r}")
    return torch.stack([p.float() for p in pooled], dim=1).detach().cpu()


@cache
def threadpools():
    """A shared threadpoolctl controller (building one scans the loaded libraries)."""
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def resample_weights(indices: np.ndarray) -> tuple[np.ndarray, torch.Tensor]:
    """The distinct rows of a resample and how often each is drawn: ``(unique [m], counts [m] float64)``."""
    unique, counts = np.unique(np.asarray(indices), return_counts=True)
    return unique, torch.from_numpy(counts.astype(np.float64))


def distinct_rows(x: torch.Tensor, indices: np.ndarray, center: bool = False) -> torch.Tensor:
    """``[..., m, d]``: one row ``√c_j (x_j − μ)`` per distinct index ``j`` of ``indices`` (drawn ``c_j`` times).

    ``x [..., n, d]`` (any float dtype; the result is float64); ``μ`` is the count-weighted mean
    when ``center`` else 0. Its Gram has the same non-zero eigenvalues, and the matrix the same
    non-zero singular values, as the
    resampled matrix ``x[..., indices, :]`` (centred over its rows when ``center``), because
    both have the scatter matrix ``Σ_j c_j (x_j − μ)(x_j − μ)ᵀ``: a resample of ``n`` rows is
    computed on its ~0.63·n distinct rows.
    """
    unique, counts = resample_weights(indices)
    rows = x[..., torch.from_numpy(unique), :].to(torch.float64)
    if center:
        rows = rows - (counts[:, None] * rows).sum(dim=-2, keepdim=True) / counts.sum()
    return rows * counts.sqrt()[:, None]


class DatasetSignal(Signal):
    """Base for signals whose value at each point is a statistic of the whole stimulus set.

    Subclasses implement :meth:`statistic` and may override :meth:`stimulus_states` (what is
    kept per stimulus), :meth:`points`/:meth:`depth`, and ``default_n_boot`` (the default cap on
    bootstrap resamples, documented per signal).
    """

    default_n_boot: ClassVar[int | None] = 200
    convention = (
        "x_l = input of layer l (x_0 = embeddings, x_L = last layer output before the final norm), "
        "pooled per stimulus; point l = x_l, depth l/L"
    )

    class Options(Strict):
        token: Pooling = Field("last", description="Per-stimulus pooling: 'last' real token or 'mean' over real tokens.")
        mean_skip_first: bool = Field(True, description="With token='mean', leave out position 0 (attention sink / BOS).")
        n_boot: int | None = Field(
            None, ge=1, description="Cap on bootstrap resamples (None: the signal's default cap; see the signal's docs)."
        )
        interval: Literal["recentred", "percentile"] = Field(
            "recentred", description="Bootstrap spread centred on the estimate, or the plain percentile interval."
        )

    def __init__(self, n_layers: int, label: str | None = None, **options: Any) -> None:
        super().__init__(n_layers, label, **options)
        self._states: dict[int, np.ndarray] = {}
        self._data: np.ndarray | None = None
        self.replicates: dict[str, np.ndarray] = {}

    # -- collection ----------------------------------------------------------------------
    def sites(self) -> list[Site]:
        return stream_sites(self.n_layers)

    def stimulus_states(self, captured: CapturedBatch) -> torch.Tensor:
        """``[batch, ...]`` the fixed-size state kept for each stimulus (default ``[batch, L+1, d]``)."""
        return pool_stream(captured, self.options.token, self.options.mean_skip_first)

    def update(self, captured: CapturedBatch) -> None:
        self.add_states(captured.batch.stimulus_index, self.stimulus_states(captured))

    def add_states(self, stimulus_index: Sequence[int], states: torch.Tensor | np.ndarray) -> None:
        """Store ``states [batch, ...]`` (float32) under each stimulus' index (a later call overwrites)."""
        if isinstance(states, torch.Tensor):
            states = states.detach().to("cpu", torch.float32).numpy()
        arr = np.asarray(states, dtype=np.float32)
        if len(arr) != len(stimulus_index):
            raise ValueError(f"{len(stimulus_index)} stimulus indices for {len(arr)} states")
        for index, row in zip(stimulus_index, arr):
            self._states[int(index)] = np.array(row, dtype=np.float32, copy=True)
        self._data = None
        self.release()

    def release(self) -> None:
        """Drop anything precomputed from :meth:`data` (called after :meth:`profiles` and on new states)."""

    @property
    def n_stimuli(self) -> int:
        return len(self._states)

    def data(self) -> np.ndarray:
        """``[n_stimuli, ...]`` float32, rows ordered by stimulus index (cached until the next update)."""
        if self._data is None:
            if not self._states:
                raise RuntimeError(f"{self.label}: no stimulus seen yet")
            self._data = np.stack([self._states[i] for i in sorted(self._states)])
        return self._data

    def states_at(self, indices: np.ndarray, point: int) -> torch.Tensor:
        """``[len(indices), ...]`` float64 tensor of the stored states of rows ``indices`` at stream point ``point``."""
        return torch.from_numpy(self.data()[indices, point].astype(np.float64))

    def by_point(self) -> torch.Tensor:
        """``[n_points, n_stimuli, ...]`` float32 view of :meth:`data` (no copy) for default ``[L+1, d]`` states."""
        return torch.from_numpy(self.data()).transpose(0, 1)

    # -- the statistic --------------------------------------------------------------------
    @abstractmethod
    def statistic(self, indices: np.ndarray) -> dict[str, np.ndarray]:
        """``{metric: [n_points]}`` computed on the stimuli ``indices`` (rows of :meth:`data`, repeats allowed)."""

    def points(self) -> np.ndarray:
        """Index of each point: stream states ``0 … L``."""
        return np.arange(self.n_layers + 1)

    def depth(self) -> np.ndarray:
        """Stream state ``l`` sits at depth ``l / L``."""
        return self.points() / self.n_layers

    def resamples(self, boot: BootstrapConfig) -> int:
        """Resamples actually drawn: ``boot.n_boot`` capped by the option (or the class default)."""
        cap = self.options.n_boot if self.options.n_boot is not None else self.default_n_boot
        return boot.n_boot if cap is None else min(cap, boot.n_boot)

    def profiles(self, boot: BootstrapConfig) -> list[Profile]:
        try:
            with threadpools().limit(limits=1):
                return self._profiles(boot)
        finally:
            self.release()
            self._data = None  # the stacked copy; the per-stimulus states stay

    def _profiles(self, boot: BootstrapConfig) -> list[Profile]:
        n = self.data().shape[0]
        estimate = {m: np.asarray(v, dtype=np.float64) for m, v in self.statistic(np.arange(n)).items()}
        alpha = (1.0 - boot.level) / 2.0
        bounds: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        n_boot = self.resamples(boot)
        self.replicates = {}
        if n >= 2 and n_boot >= 1:
            draws: dict[str, list[np.ndarray]] = {m: [] for m in estimate}
            for row in resample_indices(n, n_boot, boot.rng(self.label)):
                for metric, value in self.statistic(row).items():
                    draws[metric].append(np.asarray(value, dtype=np.float64))
            self.replicates = {metric: np.stack(values) for metric, values in draws.items()}
            for metric, values in self.replicates.items():
                lo, hi = np.quantile(values, [alpha, 1.0 - alpha], axis=0)
                if self.options.interval == "recentred":
                    shift = estimate[metric] - np.median(values, axis=0)
                    lo, hi = lo + shift, hi + shift
                bounds[metric] = (lo, hi)
        out = []
        for metric, value in estimate.items():
            nan = np.full_like(value, np.nan)
            lo, hi = bounds.get(metric, (nan, nan))
            out.append(
                Profile(
                    signal=self.label,
                    metric=metric,
                    layers=self.points(),
                    value=value,
                    lo=np.asarray(lo, dtype=np.float64),
                    hi=np.asarray(hi, dtype=np.float64),
                    n=n,
                    depth=self.depth(),
                    convention=self.convention_text(),
                    per_stimulus=None,
                    kind=self.kind(metric),
                )
            )
        return out

    def convention_text(self) -> str:
        """The convention with the pooling actually used."""
        pooling = "last real token" if self.options.token == "last" else (
            "mean over real tokens" + (" except position 0" if self.options.mean_skip_first else "")
        )
        return f"{self.convention}; pooling: {pooling}"

"""Layer × layer linear CKA over the stream states, streamed over minibatches.

Rows are token states: every real token of every stimulus in a batch (option
``tokens="all"``, default; ``max_positions`` keeps that many evenly spaced positions per
stimulus) or each stimulus' last real token (``tokens="last"``). Columns are the stream states
``x_0 … x_L`` (``x_0`` = embeddings, ``x_{l+1}`` = output of decoder layer ``l`` before the
final norm). For every pair of states the signal accumulates the unbiased HSIC₁ (Song et al.
2012) over minibatches with :class:`~mspgt_bench.metrics.cka.StreamingCKA` and reports
``CKA[l, m] = Σ_b HSIC₁_b[l, m] / √(Σ_b HSIC₁_b[l, l] · Σ_b HSIC₁_b[m, m])`` (Kornblith et al. 2019;
minibatch form of Nguyen, Raghu & Kornblith 2021). Only ``[L+1, L+1]`` sums per minibatch are kept.

Minibatches ("units"): each capture batch is one unit. HSIC₁ needs ``n ≥ 4`` rows; a batch with
fewer than ``min_rows`` rows (default 4) is buffered and merged with the next ones until the
unit has enough. Rows still buffered at the end (at most ``min_rows − 1``) are left out
(``dropped_rows``). A unit with more than ``max_rows`` rows is computed in near-equal chunks of
at most ``max_rows`` rows whose HSIC₁ add up. Transient memory per unit: one ``[L+1, rows, rows]``
float64 block of Grams shared by its chunks and both variants (Grams written in place, diagonals
zeroed in place; 65 MB at 31 states × 512 rows), and one state's rows at a time: they are gathered
from the captured batch per chunk and state (no ``L+1`` copies of the unit's rows up front), with
one float64 copy and, for ``clipped``, one clipped copy.

Caveat (token rows): Nguyen et al.'s minibatches are iid samples; ours hold all tokens of a few
length-sorted stimuli, and each HSIC₁ only sees variation *within* its minibatch. The streamed
value equals the full-batch unbiased CKA when there is one minibatch and approaches it as
minibatches hold more stimuli (on a tiny model, adjacent CKA differed from the one-batch value
by up to 0.09 with 2 stimuli per batch, 0.05 with 4, 0.02 with 8). Use batches of ≥ 8 stimuli,
or ``tokens="last"`` (one row per stimulus: iid rows, but then few rows per minibatch).

Massive activations (Davari et al. 2023: a few outlier dimensions can dominate CKA; Sun et al.
2024): the ``clipped`` variant recomputes everything after neutralising outlier dimensions
with :func:`~mspgt_bench.metrics.cka.clip_massive_dims`. The dimensions are decided **once per
stream state**, on the first chunk of the first unit (``massive_dims``: the ``clip_k`` largest
by max |value|, or every dimension whose max |value| exceeds ``clip_threshold`` × the median
over dimensions, default 10), and the same dimensions are then neutralised in every minibatch,
so all minibatches estimate the same quantity. ``clip_mode="zero"`` (default) removes them;
``"clip"`` clamps them to the largest magnitude of the other dimensions (per chunk).
:meth:`CKASignal.clip_dims` lists the dimensions chosen.

Profiles: ``adjacent`` and ``adjacent_clipped`` = ``CKA(x_l, x_{l+1})`` at points ``l = 0 … L−1``,
depth ``(l + ½)/L``. The full ``[L+1, L+1]`` matrices are not
Profiles (a Profile is one series over depth): :meth:`CKASignal.matrices` returns them and
:meth:`CKASignal.bootstrap_matrices` their bootstrap replicates.

Bootstrap: the resampling unit is the minibatch, not the stimulus: ``U`` stored per-unit HSIC₁
matrices are resampled with replacement and the ratio recomputed from the resampled sums
(vectorised; ``boot.n_boot`` resamples, always percentile intervals). Units are batches of
length-sorted stimuli, so ask for many of them (a small ``batch_size``) when the interval
matters. With fewer than 2 units ``lo``/``hi`` are NaN. ``n`` in a Profile is the number of stimuli
whose rows were used.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from typing import Any, Literal

import numpy as np
import torch
from pydantic import Field

from mspgt_bench.capture import CapturedBatch
from mspgt_bench.metrics.cka import StreamingCKA, clip_massive_dims, massive_dims
from mspgt_bench.models.sites import Site
from mspgt_bench.options import Strict
from mspgt_bench.signals.base import BootstrapConfig, Profile, Signal, spread_positions, stream_sites
from mspgt_bench.stats.bootstrap import resample_indices

__all__ = ["CKASignal", "cka_from_hsic"]

VARIANTS = ("raw", "clipped")


def _as_rows(r: torch.Tensor) -> torch.Tensor:
    """``[n, ...]`` -> ``[n, d]`` float32 on the CPU (no copy when it already is)."""
    return r.detach().to("cpu", torch.float32).reshape(r.shape[0], -1)


def cka_from_hsic(hsic: torch.Tensor) -> torch.Tensor:
    """CKA ``H[l, m] / √(H[l, l] H[m, m])`` from summed HSIC₁ ``[..., P, P]`` (NaN where undefined)."""
    d = torch.diagonal(hsic, dim1=-2, dim2=-1)
    den = torch.sqrt(d.unsqueeze(-1) * d.unsqueeze(-2))
    nan = torch.full((), float("nan"), dtype=hsic.dtype)
    return torch.where(den > 0, hsic / den.clamp_min(1e-300), nan)


class CKASignal(Signal):
    name = "cka"
    kinds = {"adjacent": "similarity", "adjacent_clipped": "similarity"}
    convention = (
        "x_l = input of layer l (x_0 = embeddings, x_L = last layer output before the final norm); "
        "point l = linear CKA(x_l, x_{l+1}) over token rows, unbiased minibatch HSIC; depth (l + 1/2)/L"
    )

    class Options(Strict):
        tokens: Literal["all", "last"] = Field("all", description="Rows: all real tokens, or each stimulus' last token.")
        max_positions: int | None = Field(
            None, ge=1, description="With tokens='all': evenly spaced positions per stimulus (None: every token)."
        )
        min_rows: int = Field(4, ge=4, description="Buffer rows until a minibatch has at least this many.")
        max_rows: int = Field(512, ge=8, description="Compute a minibatch in chunks of at most this many rows.")
        clip_k: int | None = Field(None, ge=0, description="Clip this many largest dimensions (None: use clip_threshold).")
        clip_threshold: float = Field(10.0, gt=0, description="Massive: max |value| above this × the median dimension's.")
        clip_mode: Literal["zero", "clip"] = Field("zero", description="Zero the massive dimensions or clamp them.")

    def __init__(self, n_layers: int, label: str | None = None, **options: Any) -> None:
        super().__init__(n_layers, label, **options)
        self.n_states = n_layers + 1
        self._units: dict[str, list[torch.Tensor]] = {v: [] for v in VARIANTS}
        self._buffer: list[list[torch.Tensor]] = []
        self._buffer_stimuli: set[int] = set()
        self._stimuli: set[int] = set()
        self._clip_dims: list[torch.Tensor] | None = None
        self.n_rows = 0
        """Rows that entered a minibatch."""

    def sites(self) -> list[Site]:
        return stream_sites(self.n_layers)

    # -- collection ----------------------------------------------------------------------
    def update(self, captured: CapturedBatch) -> None:
        stream = captured.stream()
        if self.options.tokens == "last":
            self.add_rows([captured.last_token(s) for s in stream], captured.batch.stimulus_index)
            return
        index, valid = spread_positions(captured.mask, self.options.max_positions)
        batch_rows = torch.arange(index.shape[0], device=index.device).unsqueeze(1).expand_as(index)
        b, t = batch_rows[valid], index[valid]
        n = b.shape[0]
        if self._buffer or n < self.options.min_rows:
            self.add_rows([s[b, t] for s in stream], captured.batch.stimulus_index)
            return
        # a whole unit: gather each state's rows chunk by chunk instead of all L+1 [n, d] copies up front

        def take(p: int, start: int, stop: int) -> torch.Tensor:
            return _as_rows(stream[p][b[start:stop], t[start:stop]])

        self._add_unit(n, take)
        self._stimuli |= set(captured.batch.stimulus_index)
        self.n_rows += n

    def add_rows(self, rows: list[torch.Tensor], stimuli: list[int] | None = None) -> None:
        """Add one minibatch: ``L+1`` matrices ``[n, d]`` (the same ``n`` rows at every stream state).

        Fewer than ``min_rows`` rows (together with what is already buffered) are buffered.
        """
        if len(rows) != self.n_states:
            raise ValueError(f"expected {self.n_states} stream states, got {len(rows)}")
        rows = [_as_rows(r) for r in rows]
        if self._buffer:
            rows = [torch.cat([held[p] for held in self._buffer] + [rows[p]]) for p in range(self.n_states)]
        stimuli_now = self._buffer_stimuli | set(stimuli or [])
        n = rows[0].shape[0]
        if n < self.options.min_rows:
            self._buffer = [rows]
            self._buffer_stimuli = stimuli_now
            return
        self._buffer, self._buffer_stimuli = [], set()
        self._add_unit(n, lambda p, start, stop: rows[p][start:stop])
        self._stimuli |= stimuli_now
        self.n_rows += n

    def _add_unit(self, n: int, take: Callable[[int, int, int], torch.Tensor]) -> None:
        """One unit of ``n`` rows; ``take(p, start, stop)`` gives rows ``start:stop`` of state ``p`` as ``[rows, d]``.

        Per chunk, each state's rows are taken (and clipped) one state at a time, straight into one
        Gram block shared by the chunks and both variants.
        """
        n_chunks = -(-n // self.options.max_rows)
        bounds = np.linspace(0, n, n_chunks + 1).round().astype(int).tolist()
        accumulators = {v: StreamingCKA(self.n_states) for v in VARIANTS}
        widest = max(stop - start for start, stop in itertools.pairwise(bounds))
        workspace = torch.empty(self.n_states * widest * widest, dtype=torch.float64)
        for start, stop in itertools.pairwise(bounds):
            dims = self._clip_dims
            if dims is None:  # decided once, on the first chunk of the first unit, as the raw pass takes each state
                dims = []
                raw = self._noting_massive_dims((take(p, start, stop) for p in range(self.n_states)), dims)
            else:
                raw = (take(p, start, stop) for p in range(self.n_states))
            accumulators["raw"].update(raw, workspace=workspace)
            self._clip_dims = dims
            clipped = (
                clip_massive_dims(take(p, start, stop), dims=dims[p], mode=self.options.clip_mode)[0]
                for p in range(self.n_states)
            )
            accumulators["clipped"].update(clipped, workspace=workspace)
        for variant, acc in accumulators.items():
            self._units[variant].append(acc.hsic_sum.clone())

    def _noting_massive_dims(self, states: Iterator[torch.Tensor], dims: list[torch.Tensor]) -> Iterator[torch.Tensor]:
        """Pass ``states`` through, appending each one's :func:`massive_dims` to ``dims``."""
        for x in states:
            dims.append(massive_dims(x, k=self.options.clip_k, threshold=self.options.clip_threshold))
            yield x

    # -- results -------------------------------------------------------------------------
    @property
    def dropped_rows(self) -> int:
        """Rows still buffered (fewer than ``min_rows``): left out of every result."""
        return sum(held[0].shape[0] for held in self._buffer)

    @property
    def n_units(self) -> int:
        return len(self._units["raw"])

    def clip_dims(self) -> list[list[int]]:
        """The dimensions neutralised in the ``clipped`` variant, per stream state (empty before any unit)."""
        return [d.tolist() for d in self._clip_dims] if self._clip_dims is not None else []

    def unit_hsic(self, variant: str = "raw") -> torch.Tensor:
        """``[U, L+1, L+1]`` float64: each minibatch's summed unbiased HSIC₁ contributions."""
        if not self._units[variant]:
            raise RuntimeError(f"{self.label}: no minibatch with >= {self.options.min_rows} rows seen yet")
        return torch.stack(self._units[variant])

    def matrices(self) -> dict[str, np.ndarray]:
        """``{"raw": [L+1, L+1], "clipped": [L+1, L+1]}`` CKA over all minibatches (points = stream states 0..L)."""
        return {v: cka_from_hsic(self.unit_hsic(v).sum(dim=0)).numpy() for v in VARIANTS}

    def _resample_counts(self, boot: BootstrapConfig) -> torch.Tensor:
        units = self.n_units
        idx = resample_indices(units, boot.n_boot, boot.rng(self.label))
        counts = np.stack([np.bincount(row, minlength=units) for row in idx]).astype(np.float64)
        return torch.from_numpy(counts)

    def bootstrap_matrices(self, boot: BootstrapConfig, variant: str = "raw") -> np.ndarray:
        """``[n_boot, L+1, L+1]`` CKA matrices from minibatch resamples (the same resamples as :meth:`profiles`)."""
        hsic = self.unit_hsic(variant)
        counts = self._resample_counts(boot)
        summed = (counts @ hsic.reshape(hsic.shape[0], -1)).reshape(-1, *hsic.shape[1:])
        return cka_from_hsic(summed).numpy()

    def profiles(self, boot: BootstrapConfig) -> list[Profile]:
        points = np.arange(self.n_layers)
        depth = (points + 0.5) / self.n_layers
        full = self.matrices()
        alpha = (1.0 - boot.level) / 2.0
        out = []
        for variant, metric in (("raw", "adjacent"), ("clipped", "adjacent_clipped")):
            value = np.diagonal(full[variant], offset=1).copy()
            if self.n_units >= 2:
                replicates = np.diagonal(self.bootstrap_matrices(boot, variant), offset=1, axis1=1, axis2=2)
                lo, hi = np.quantile(replicates, [alpha, 1.0 - alpha], axis=0)
            else:
                lo = hi = np.full_like(value, np.nan)
            out.append(
                Profile(
                    signal=self.label,
                    metric=metric,
                    layers=points,
                    value=value,
                    lo=np.asarray(lo, dtype=np.float64),
                    hi=np.asarray(hi, dtype=np.float64),
                    n=len(self._stimuli),
                    depth=depth,
                    convention=f"{self.convention}; rows: {self._rows_text()}",
                    per_stimulus=None,
                    kind=self.kind(metric),
                )
            )
        return out

    def _rows_text(self) -> str:
        if self.options.tokens == "last":
            return "last real token of each stimulus"
        if self.options.max_positions is None:
            return "all real tokens"
        return f"up to {self.options.max_positions} evenly spaced real tokens per stimulus"

"""Angular distance between residual states n layers apart, and Block Influence.

With the residual stream written as states ``x_0`` (embedding output, ``resid_pre[0]``) and
``x_{l+1}`` (``resid_post[l]``), point l compares the input of layer l with the input of layer l+n:

* ``angular_last``: ``arccos(cos(x_l, x_{l+n})) / π`` at each stimulus' last token
  (Gromov et al. 2024, "The unreasonable ineffectiveness of the deeper layers");
* ``angular_all``: the same averaged over all real tokens;
* ``block_influence`` (n = 1 only): ``1 − cos(x_l, x_{l+1})`` averaged over tokens
  (Men et al. 2024, "ShortGPT").

Points run over l = 0 .. L−n; point l sits at the depth of the block's output, (l + n) / L, so
with n = 1 point l is layer l's own change.
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np
import torch
from pydantic import Field

from mspgt_bench.capture import CapturedBatch
from mspgt_bench.metrics.angular import block_influence_from_angle, unit, unit_angle
from mspgt_bench.models.sites import Site
from mspgt_bench.options import Strict
from mspgt_bench.signals.base import PerStimulusSignal, masked_token_mean, stream_sites


class AngularDistance(PerStimulusSignal):
    name = "angular_distance"
    kinds = {"angular_last": "change", "angular_all": "change", "block_influence": "change"}
    convention = "x_l = input of layer l (x_0 = embeddings, x_L = last layer output); point l compares x_l, x_{l+n}"

    class Options(Strict):
        n: int = Field(1, ge=1, description="Block size: compare states n layers apart.")

    def sites(self) -> list[Site]:
        return stream_sites(self.n_layers)

    def points(self) -> np.ndarray:
        return np.arange(self.n_layers - self.options.n + 1)

    def depth(self) -> np.ndarray:
        return (self.points() + self.options.n) / self.n_layers

    def values(self, captured: CapturedBatch) -> dict[str, torch.Tensor]:
        n = self.options.n
        angles = []  # [B, T] per point
        window: deque[torch.Tensor] = deque()  # the last n + 1 states, each normalised once
        for state in captured.stream():
            window.append(unit(state.float()))
            if len(window) > n:
                angles.append(unit_angle(window.popleft(), window[-1]))
        out = {
            "angular_last": torch.stack([captured.last_token(a) for a in angles], dim=1) / math.pi,
            "angular_all": torch.stack([masked_token_mean(a, captured.mask) for a in angles], dim=1) / math.pi,
        }
        if n == 1:
            influence = [block_influence_from_angle(a) for a in angles]
            out["block_influence"] = torch.stack([masked_token_mean(b, captured.mask) for b in influence], dim=1)
        return out

"""Uniform random draws from either a ``random.Random`` or a ``numpy.random.Generator``."""

from __future__ import annotations

import random

import numpy as np

RandomSource = random.Random | np.random.Generator


class Draw:
    """The few draws perturbations need, whichever kind of generator the caller holds."""

    def __init__(self, rng: RandomSource) -> None:
        """Wrap ``rng``; anything but the two supported generators is a ``TypeError``."""
        if not isinstance(rng, (random.Random, np.random.Generator)):
            raise TypeError(
                f"rng must be a random.Random or a numpy.random.Generator, got "
                f"{type(rng).__name__}; e.g. random.Random(seed) or numpy.random.default_rng(seed)"
            )
        self._rng = rng

    def permutation(self, n: int) -> list[int]:
        """A uniformly random ordering of ``range(n)``."""
        return self.sample(n, n)

    def sample(self, n: int, k: int) -> list[int]:
        """``k`` distinct indices from ``range(n)``, in random order."""
        if isinstance(self._rng, random.Random):
            return self._rng.sample(range(n), k)
        return [int(i) for i in self._rng.choice(n, size=k, replace=False)]

    def index(self, n: int) -> int:
        """One index from ``range(n)``."""
        if isinstance(self._rng, random.Random):
            return self._rng.randrange(n)
        return int(self._rng.integers(n))

"""Length options shared by every source: how many sentences, how many characters."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Length:
    """Bounds on a stimulus's length.

    Attributes:
        min_sentences: Fewest sentences a stimulus may have.
        max_sentences: Most sentences a stimulus may have (``None``: no bound).
        max_chars: Most characters a stimulus may have, counting the single spaces that join
            its sentences (``None``: no bound).
    """

    min_sentences: int = 1
    max_sentences: int | None = None
    max_chars: int | None = None

    def __post_init__(self) -> None:
        """Reject bounds that no stimulus could meet."""
        if self.min_sentences < 1:
            raise ValueError(f"min_sentences must be at least 1, got {self.min_sentences}")
        if self.max_sentences is not None and self.max_sentences < self.min_sentences:
            raise ValueError(
                f"max_sentences ({self.max_sentences}) must be at least "
                f"min_sentences ({self.min_sentences})"
            )
        if self.max_chars is not None and self.max_chars < 1:
            raise ValueError(f"max_chars must be positive, got {self.max_chars}")

    def fit(self, sentences: Sequence[str], limit: int | None = None) -> list[str] | None:
        """The longest prefix of ``sentences`` within the bounds, or ``None`` if it is too short.

        ``limit`` caps the sentence count further (a source that draws a target length per
        stimulus passes it here).
        """
        most = min(n for n in (len(sentences), self.max_sentences, limit) if n is not None)
        kept: list[str] = []
        chars = -1
        for sentence in sentences[:most]:
            chars += len(sentence) + 1
            if self.max_chars is not None and chars > self.max_chars:
                break
            kept.append(sentence)
        return kept if len(kept) >= self.min_sentences else None

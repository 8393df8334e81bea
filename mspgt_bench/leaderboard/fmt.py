"""Short text forms of verdicts, numbers and pass rates shared by every rendering."""

from __future__ import annotations

from collections.abc import Sequence

from mspgt_bench.leaderboard.board import Tally
from mspgt_bench.result_schema import VerdictRow

NON_DISCRIMINATIVE = "†"
"""Marks a PASS that also PASSed on a null control."""

LEGEND = (
    f"{NON_DISCRIMINATIVE} = non-discriminative (the PASS also holds on a null control: random weights or "
    "word-shuffled text). Pass rate = PASS / predictions not SKIP; discriminative = PASS without "
    f"{NON_DISCRIMINATIVE} / the same."
)


def verdict(cell: VerdictRow) -> str:
    """'PASS', or 'PASS †' when the PASS is non-discriminative."""
    return f"{cell.status} {NON_DISCRIMINATIVE}" if cell.non_discriminative else cell.status


def number(value: float | None) -> str:
    """Four significant digits, or an em dash for a missing value."""
    return "—" if value is None else f"{value:.4g}"


def interval(cell: VerdictRow) -> str:
    """'value [ci_low, ci_high]'."""
    return f"{number(cell.value)} [{number(cell.ci_low)}, {number(cell.ci_high)}]"


def detail(cell: VerdictRow, limit: int = 80) -> str:
    """The interval, or for a cell without a value (ERROR, SKIP) the start of its reason."""
    if cell.value is not None:
        return interval(cell)
    reason = cell.reason or "—"
    return reason if len(reason) <= limit else reason[: limit - 1] + "…"


def relation(cell: VerdictRow) -> str:
    """What PASS needs, e.g. '< 0' or 'in [0.2, 0.4]'."""
    if isinstance(cell.threshold, tuple):
        low, high = cell.threshold
        return f"in [{low:g}, {high:g}]"
    return f"{'>' if cell.direction == 'greater' else '<'} {cell.threshold:g}"


def rate(value: float | None, part: int, whole: int) -> str:
    """'67% (2/3)', or an em dash when nothing was counted."""
    return "—" if value is None else f"{value:.0%} ({part}/{whole})"


def pass_rate(t: Tally) -> str:
    return rate(t.pass_rate, t.passed, t.counted)


def discriminative_rate(t: Tally) -> str:
    return rate(t.discriminative_rate, t.discriminative, t.counted)


def family_verdicts(entries: Sequence[tuple[str, VerdictRow]], values: bool, with_runs: bool) -> str:
    """A family-level cell: each run's verdict (with value and run label on request), or an em dash."""
    parts = []
    for label, cell in entries:
        part = f"{verdict(cell)} {detail(cell)}" if values else verdict(cell)
        parts.append(f"{part} ({label})" if with_runs else part)
    return "; ".join(parts) or "—"

"""Short text forms of verdicts, numbers and pass rates shared by every rendering."""

from __future__ import annotations

from collections.abc import Sequence

from mspgt_bench.leaderboard.board import FamilyGroup, Tally
from mspgt_bench.result_schema import VerdictRow

NON_DISCRIMINATIVE = "†"
"""Marks a PASS that also PASSed on a null control."""

LEGEND = (
    f"{NON_DISCRIMINATIVE} = non-discriminative (the PASS also holds on a null control: random weights or "
    "word-shuffled text). Pass rate = PASS / predictions not SKIP; discriminative = PASS without "
    f"{NON_DISCRIMINATIVE} / the same."
)


CORPUS_SENSITIVE = "‡"
"""Marks a verdict that differs between the stimulus sets that decided it."""

CORPUS_LEGEND = (
    f"{CORPUS_SENSITIVE} = corpus-sensitive (the verdict differs between the stimulus sets that decided it; "
    "each row is one stimulus set)."
)


def verdict(cell: VerdictRow) -> str:
    """'PASS', 'PASS †' when the PASS is non-discriminative, with ' ‡' when the verdict is corpus-sensitive."""
    text = f"{cell.status} {NON_DISCRIMINATIVE}" if cell.non_discriminative else cell.status
    return f"{text} {CORPUS_SENSITIVE}" if cell.corpus_sensitive else text


def corpus(cell: VerdictRow) -> str:
    """'prose PASS, fiction FAIL' for a verdict decided on several sets, else empty."""
    return ", ".join(f"{name} {status}" for name, status in (cell.corpus_statuses or {}).items())


OPTIONAL_FIELDS = ("stimulus_set", "corpus_statuses", "corpus_sensitive")
"""Verdict fields of runs with several stimulus sets, left out of a dump when a run has none."""


def cell_dump(cell: VerdictRow) -> dict:
    """The verdict as JSON data, without the stimulus-set fields when they are empty (old runs read as before)."""
    data = cell.model_dump(mode="json")
    return {k: v for k, v in data.items() if not (k in OPTIONAL_FIELDS and v is None)}


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


def model_count(group: FamilyGroup) -> str:
    """How many models a family row pools; "—" for a comparison of families (e.g. ``llama/qwen2``), which has none of its own."""
    return str(len(group.models)) if group.models else "—"


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

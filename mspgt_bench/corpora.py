"""Corpus robustness: several stimulus sets per suite, and whether a verdict depends on the set.

A suite's ``stimuli:`` is either one mapping (one unnamed set: nothing in the outputs names a
set, exactly as before) or a list of sets, each with an ``id`` (different genres, say). The
runner profiles, detects and predicts every (model, condition) once per set; each output row
then carries ``stimulus_set``. After all sets, :func:`flag_corpus_sensitivity` compares the
verdicts of every (model, condition, prediction) across the sets that decided it (PASS, FAIL or
INCONCLUSIVE; an ERROR or SKIP decides nothing): equal everywhere means the sets agree;
otherwise every row of the group gets ``corpus_sensitive: true``. Rows of groups seen on at
least two sets also get ``corpus_statuses`` (set id -> verdict). Every prediction is judged this
way, per set, whatever it measures.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from mspgt_bench.stimuli.base import Stimulus
from mspgt_bench.suite.schema import StimuliSpec, Suite

DECIDED = ("PASS", "FAIL", "INCONCLUSIVE")
"""Verdicts that decide a prediction on a set; ERROR and SKIP do not."""

CORPUS_SENSITIVE = "corpus-sensitive"
"""How tables name a verdict that differs between stimulus sets."""


@dataclass(frozen=True)
class StimulusSet:
    """One stimulus set of a run: its id (``None`` for a suite's single mapping), its spec and its stimuli."""

    id: str | None
    spec: StimuliSpec
    stimuli: list[Stimulus]

    @property
    def suffix(self) -> str:
        """'-<id>' for cache file names, empty for the single unnamed set (its cache files keep their names)."""
        return f"-{self.id}" if self.id else ""

    def describe(self) -> str:
        """What the progress line says about the set."""
        spec = self.spec
        head = f"stimuli{f' [{self.id}]' if self.id else ''}"
        return f"{head}: {spec.source} (n={spec.n}, seed={spec.seed})"


def set_fields(set_id: str | None) -> dict[str, str]:
    """The ``stimulus_set`` field of an output row; empty for a single-set suite, so old outputs are unchanged."""
    return {} if set_id is None else {"stimulus_set": set_id}


def condition_label(model: str, condition: str, set_id: str | None) -> str:
    """'<model> [<condition>]', with the set after the condition when there is one."""
    return f"{model} [{condition}{f', {set_id}' if set_id else ''}]"


def load_sets(suite: Suite, limit: int | None) -> list[StimulusSet]:
    """The stimuli of every set of ``suite`` (at most ``limit`` each), drawn from the registered sources."""
    from mspgt_bench.plugins import registry

    sets = []
    for spec in suite.stimulus_sets():
        source = registry("stimulus_sources").get(spec.source)
        n = spec.n if limit is None else min(spec.n, limit)
        sets.append(StimulusSet(spec.set_id, spec, list(source(n=n, seed=spec.seed, **spec.options))))
    return sets


def corpus_agreement(statuses: dict[str, str]) -> bool | None:
    """Whether the sets that decided a prediction agree: ``None`` when fewer than two decided it.

    >>> corpus_agreement({"prose": "PASS", "fiction": "PASS"}), corpus_agreement({"prose": "PASS", "fiction": "FAIL"})
    (True, False)
    """
    decided = [status for status in statuses.values() if status in DECIDED]
    if len(decided) < 2:
        return None
    return len(set(decided)) == 1


def flag_corpus_sensitivity(rows: Iterable[dict[str, Any]]) -> None:
    """Add ``corpus_statuses`` and ``corpus_sensitive`` to verdict rows (in place) that exist on several sets.

    Rows are grouped by (model, condition, prediction); rows without ``stimulus_set`` (single-set
    suites) are left as they are. ``corpus_sensitive`` is True when the decided verdicts differ,
    False when they agree, None when fewer than two sets decided the prediction.
    """
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for row in rows:
        if row.get("stimulus_set") is not None:
            groups.setdefault((row["model"], row["condition"], row["prediction"]), []).append(row)
    for group in groups.values():
        if len(group) < 2:
            continue
        statuses = {row["stimulus_set"]: row["status"] for row in group}
        agree = corpus_agreement(statuses)
        for row in group:
            row["corpus_statuses"] = dict(statuses)
            row["corpus_sensitive"] = None if agree is None else not agree

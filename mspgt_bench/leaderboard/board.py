"""The leaderboard: trained verdicts as a model × prediction matrix, grouped by family.

Rows are (run, model) pairs of the ``trained`` condition, or (run, model, stimulus set) triples
for runs with several stimulus sets; the null controls appear through each cell's ``controls``
and its non-discriminative flag, the other sets through its corpus-sensitive flag. Cross-model
verdicts (rows about a family group, model ``family:<group>``) belong to the family, not to a
model row. Pass rates (over the
model rows only):

* ``pass rate`` = PASS cells / cells that are not SKIP (an ERROR counts as not passed);
* ``discriminative`` = PASS cells that did not also PASS on a null control / the same denominator.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from mspgt_bench.leaderboard.runs import Run, RunProblem
from mspgt_bench.result_schema import VerdictRow

UNKNOWN_FAMILY = "unknown"


@dataclass(frozen=True)
class Tally:
    """Verdict counts behind a pass rate."""

    passed: int = 0
    discriminative: int = 0
    counted: int = 0
    """Cells that are not SKIP (the denominator)."""

    @property
    def pass_rate(self) -> float | None:
        return self.passed / self.counted if self.counted else None

    @property
    def discriminative_rate(self) -> float | None:
        return self.discriminative / self.counted if self.counted else None

    def __add__(self, other: Tally) -> Tally:
        return Tally(
            self.passed + other.passed, self.discriminative + other.discriminative, self.counted + other.counted
        )


@dataclass(frozen=True)
class ModelRow:
    """One trained model of one run, with its verdict per prediction id."""

    run: str
    model: str
    family: str
    size: str | None
    cells: dict[str, VerdictRow]
    tally: Tally
    stimulus_set: str | None = None
    """The stimulus set of the row's verdicts (runs with several sets), else None."""


@dataclass(frozen=True)
class FamilyGroup:
    """The models of one family, their pooled tally and the family's cross-model verdicts."""

    family: str
    models: list[ModelRow]
    tally: Tally
    cells: dict[str, list[tuple[str, VerdictRow]]] = field(default_factory=dict)
    """Cross-model prediction id -> (run label, verdict) for each run that evaluated it."""


@dataclass(frozen=True)
class Leaderboard:
    """Everything a rendering needs: the matrix, the runs behind it and the runs that failed to load."""

    predictions: list[str]
    family_predictions: list[str]
    families: list[FamilyGroup]
    runs: list[Run]
    problems: list[RunProblem] = field(default_factory=list)
    mixed: bool = False

    @property
    def rows(self) -> list[ModelRow]:
        """Model rows in display order (by family, then by pass rate, then by name)."""
        return [row for group in self.families for row in group.models]

    def all_cells(self) -> Iterator[tuple[str, str, VerdictRow]]:
        """(run label, family, verdict) of every model cell, then of every family-level cell."""
        for row in self.rows:
            for prediction in self.predictions:
                if prediction in row.cells:
                    yield row.run, row.family, row.cells[prediction]
        for group in self.families:
            for entries in group.cells.values():
                for label, cell in entries:
                    yield label, group.family, cell

    @property
    def multiple_runs(self) -> bool:
        return len(self.runs) > 1

    @property
    def stimulus_sets(self) -> bool:
        """Whether any verdict names a stimulus set (a run with several sets)."""
        return any(cell.stimulus_set is not None for _, _, cell in self.all_cells())

    @property
    def corpus_sensitive(self) -> bool:
        """Whether any verdict differs between stimulus sets."""
        return any(cell.corpus_sensitive for _, _, cell in self.all_cells())

    def title(self) -> str:
        """'<suite> v<version>' of the runs, or a note that they mix suites."""
        if self.mixed:
            return "mixed suites"
        if not self.runs:
            return "no readable runs"
        return self.runs[0].describe_suite()


def tally(cells: Iterable[VerdictRow]) -> Tally:
    """Pass counts of some trained verdict cells."""
    total = Tally()
    for cell in cells:
        if cell.status == "SKIP":
            continue
        passed = cell.status == "PASS"
        total += Tally(int(passed), int(passed and not cell.non_discriminative), 1)
    return total


def build_leaderboard(runs: Sequence[Run], problems: Sequence[RunProblem] = (), mixed: bool = False) -> Leaderboard:
    """Collect the trained verdicts of ``runs`` into a :class:`Leaderboard`."""
    predictions: dict[str, None] = {}
    family_predictions: dict[str, None] = {}
    rows: dict[tuple[str, str, str | None], dict[str, VerdictRow]] = {}
    family_cells: dict[str, dict[str, list[tuple[str, VerdictRow]]]] = {}
    for run in runs:
        for verdict in run.document.verdicts:
            if verdict.condition != "trained":
                continue
            if verdict.family_level:
                family_predictions.setdefault(verdict.prediction)
                by_prediction = family_cells.setdefault(verdict.family or UNKNOWN_FAMILY, {})
                label = run.label if verdict.stimulus_set is None else f"{run.label}: {verdict.stimulus_set}"
                by_prediction.setdefault(verdict.prediction, []).append((label, verdict))
                continue
            predictions.setdefault(verdict.prediction)
            rows.setdefault((run.label, verdict.model, verdict.stimulus_set), {})[verdict.prediction] = verdict
    grouped: dict[str, list[ModelRow]] = {family: [] for family in family_cells}
    for (label, model, stimulus_set), cells in rows.items():
        first = next(iter(cells.values()))
        family = first.family or UNKNOWN_FAMILY
        row = ModelRow(label, model, family, first.size, cells, tally(cells.values()), stimulus_set)
        grouped.setdefault(family, []).append(row)
    families = [
        FamilyGroup(
            family, sorted(models, key=_rank), sum((m.tally for m in models), Tally()), family_cells.get(family, {})
        )
        for family, models in sorted(grouped.items())
    ]
    return Leaderboard(list(predictions), list(family_predictions), families, list(runs), list(problems), mixed)


def _rank(row: ModelRow) -> tuple[float, str, str, str]:
    rate = row.tally.pass_rate
    return (-(rate if rate is not None else -1.0), row.model, row.run, row.stimulus_set or "")

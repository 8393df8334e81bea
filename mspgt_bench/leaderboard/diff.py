"""What changed between two runs: verdicts, values beyond a tolerance, models and predictions.

Verdict rows are matched on (model, condition, prediction); in runs with several stimulus sets
the set is part of the prediction's key, shown as ``P7 [fiction]``. A value counts as changed when
``math.isclose(a, b, rel_tol=rtol, abs_tol=atol)`` is false, or when only one side has a value.
Suite and software differences are listed as context; they do not count as changes themselves.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field

from mspgt_bench.leaderboard import fmt
from mspgt_bench.leaderboard.runs import Run
from mspgt_bench.leaderboard.text import md_table
from mspgt_bench.result_schema import ResultsDocument, VerdictRow

Key = tuple[str, str, str]
"""(model, condition, prediction)."""


@dataclass(frozen=True)
class Change:
    """One verdict row whose verdict or value differs; ``before``/``after`` are display strings."""

    model: str
    condition: str
    prediction: str
    before: str
    after: str


@dataclass(frozen=True)
class RunDiff:
    """The differences between run A and run B."""

    a: str
    b: str
    context: list[str] = field(default_factory=list)
    models_added: list[str] = field(default_factory=list)
    models_removed: list[str] = field(default_factory=list)
    predictions_added: list[str] = field(default_factory=list)
    predictions_removed: list[str] = field(default_factory=list)
    verdicts: list[Change] = field(default_factory=list)
    values: list[Change] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        """Whether anything beyond the context differs."""
        return any(
            (
                self.models_added,
                self.models_removed,
                self.predictions_added,
                self.predictions_removed,
                self.verdicts,
                self.values,
            )
        )


def _rows(doc: ResultsDocument) -> dict[Key, VerdictRow]:
    return {(r.model, r.condition, _prediction(r)): r for r in doc.verdicts}


def _prediction(row: VerdictRow) -> str:
    return row.prediction if row.stimulus_set is None else f"{row.prediction} [{row.stimulus_set}]"


def _ordered(doc: ResultsDocument, attr: str) -> list[str]:
    return list(dict.fromkeys(getattr(r, attr) for r in doc.verdicts))


def _context(a: ResultsDocument, b: ResultsDocument) -> list[str]:
    pairs = [
        ("suite", f"{a.suite.name} v{a.suite.version}", f"{b.suite.name} v{b.suite.version}"),
        ("suite sha256", a.provenance.suite_sha256[:12], b.provenance.suite_sha256[:12]),
        ("seed", str(a.provenance.seed), str(b.provenance.seed)),
    ]
    versions_a, versions_b = a.provenance.versions.model_dump(), b.provenance.versions.model_dump()
    pairs += [(name, versions_a[name], versions_b[name]) for name in versions_a]
    return [f"{what}: {x} -> {y}" for what, x, y in pairs if x != y]


def _value_changed(x: float | None, y: float | None, rtol: float, atol: float) -> bool:
    if x is None or y is None:
        return (x is None) != (y is None)
    if math.isnan(x) or math.isnan(y):
        return math.isnan(x) != math.isnan(y)
    return not math.isclose(x, y, rel_tol=rtol, abs_tol=atol)


def diff_runs(a: Run, b: Run, rtol: float = 1e-6, atol: float = 1e-12) -> RunDiff:
    """Compare run ``b`` with run ``a``."""
    doc_a, doc_b = a.document, b.document
    rows_a, rows_b = _rows(doc_a), _rows(doc_b)
    models_a, models_b = _ordered(doc_a, "model"), _ordered(doc_b, "model")
    preds_a, preds_b = _ordered(doc_a, "prediction"), _ordered(doc_b, "prediction")
    verdicts, values = [], []
    for key, row_a in rows_a.items():
        row_b = rows_b.get(key)
        if row_b is None:
            continue
        if fmt.verdict(row_a) != fmt.verdict(row_b):
            verdicts.append(Change(*key, fmt.verdict(row_a), fmt.verdict(row_b)))
        if _value_changed(row_a.value, row_b.value, rtol, atol):
            values.append(Change(*key, fmt.interval(row_a), fmt.interval(row_b)))
    return RunDiff(
        a=str(a.path),
        b=str(b.path),
        context=_context(doc_a, doc_b),
        models_added=[m for m in models_b if m not in models_a],
        models_removed=[m for m in models_a if m not in models_b],
        predictions_added=[p for p in preds_b if p not in preds_a],
        predictions_removed=[p for p in preds_a if p not in preds_b],
        verdicts=verdicts,
        values=values,
    )


def _changes_table(changes: list[Change], what: str) -> list[str]:
    header = ["model", "condition", "prediction", f"{what} in A", f"{what} in B"]
    return md_table(header, [[c.model, c.condition, c.prediction, c.before, c.after] for c in changes])


def diff_markdown(d: RunDiff, rtol: float, atol: float) -> str:
    """The diff as Markdown."""
    lines = [f"# Diff: A = `{d.a}`, B = `{d.b}`", ""]
    if d.context:
        lines += ["Provenance differs (context, not counted as a change):", ""] + [f"- {c}" for c in d.context] + [""]
    listed = [
        ("Models added", d.models_added),
        ("Models removed", d.models_removed),
        ("Predictions added", d.predictions_added),
        ("Predictions removed", d.predictions_removed),
    ]
    for title, names in listed:
        if names:
            lines += [f"## {title}", "", *(f"- {n}" for n in names), ""]
    if d.verdicts:
        lines += [f"## Verdict changes ({len(d.verdicts)})", "", *_changes_table(d.verdicts, "verdict"), ""]
    if d.values:
        lines += [
            f"## Value changes beyond rtol={rtol:g}, atol={atol:g} ({len(d.values)})",
            "",
            *_changes_table(d.values, "value [CI]"),
            "",
        ]
    if not d.changed:
        lines += [
            f"No changes: same models, predictions, verdicts, and values within rtol={rtol:g}, atol={atol:g}.",
            "",
        ]
    return "\n".join(lines)


def diff_json(d: RunDiff) -> str:
    """The diff as JSON."""
    return json.dumps({**asdict(d), "changed": d.changed}, indent=2) + "\n"

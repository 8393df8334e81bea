"""Load run directories for cross-run views, keeping unreadable ones as reported problems."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from mspgt_bench.atomic import slug  # the runner's rule for ``figures/<model>/``, re-exported here
from mspgt_bench.result_schema import ResultsDocument, ResultsError, load_results


@dataclass(frozen=True)
class Run:
    """One readable run: a short unique label, its directory and its results."""

    label: str
    path: Path
    document: ResultsDocument

    @property
    def suite_key(self) -> tuple[str, str, str]:
        """What makes two runs comparable: suite name, version and content hash."""
        doc = self.document
        return doc.suite.name, doc.suite.version, doc.provenance.suite_sha256

    def describe_suite(self) -> str:
        name, version, sha = self.suite_key
        return f"{name} v{version} (sha256 {sha[:12]})"


@dataclass(frozen=True)
class RunProblem:
    """A run directory that could not be read, and why."""

    path: Path
    message: str


class MixedSuitesError(ValueError):
    """Runs of different suites (name, version or hash) were given without ``allow_mixed``."""


def load_runs(paths: Sequence[Path]) -> tuple[list[Run], list[RunProblem]]:
    """Read each run directory (or results file); unreadable ones become problems, in order."""
    runs: list[Run] = []
    problems: list[RunProblem] = []
    used: set[str] = set()
    for path in paths:
        try:
            document = load_results(path)
        except ResultsError as exc:
            problems.append(RunProblem(exc.path, exc.problem))
            continue
        folder = path if path.is_dir() else path.parent
        runs.append(Run(_unique(slug(folder.resolve().name or "run"), used), folder, document))
    return runs, problems


def _unique(label: str, used: set[str]) -> str:
    candidate, n = label, 1
    while candidate in used:
        n += 1
        candidate = f"{label}-{n}"
    used.add(candidate)
    return candidate


def check_same_suite(runs: Sequence[Run], allow_mixed: bool) -> bool:
    """Whether the runs mix suites; raise :class:`MixedSuitesError` if they do and that is not allowed."""
    mixed = len({run.suite_key for run in runs}) > 1
    if mixed and not allow_mixed:
        listing = "\n".join(f"  {run.path}: {run.describe_suite()}" for run in runs)
        raise MixedSuitesError(
            "these runs used different suites, so their verdicts are not comparable "
            f"(pass --allow-mixed to show them side by side anyway):\n{listing}"
        )
    return mixed

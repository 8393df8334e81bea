"""The ``leaderboard``, ``diff`` and ``publish`` commands; each returns the process exit status.

Problems go to stderr as ``error: <file>: <what is wrong>``; output goes to stdout or ``--out``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from mspgt_bench.leaderboard.board import Leaderboard, build_leaderboard
from mspgt_bench.leaderboard.board_html import leaderboard_page
from mspgt_bench.leaderboard.diff import diff_json, diff_markdown, diff_runs
from mspgt_bench.leaderboard.runs import MixedSuitesError, Run, RunProblem, check_same_suite, load_runs
from mspgt_bench.leaderboard.site import SiteError, publish
from mspgt_bench.leaderboard.text import to_csv, to_json, to_markdown

FORMATS: dict[str, Callable[[Leaderboard, bool], str]] = {
    "md": to_markdown,
    "html": leaderboard_page,
    "csv": lambda board, _values: to_csv(board),
    "json": lambda board, _values: to_json(board),
}
"""Leaderboard renderers by ``--format``; CSV and JSON always carry values and intervals."""


def _error(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)


def _load(paths: Sequence[Path], allow_mixed: bool) -> tuple[list[Run], list[RunProblem], bool] | None:
    """Readable runs, unreadable ones (reported), and whether suites are mixed; ``None`` if refused."""
    runs, problems = load_runs(paths)
    for problem in problems:
        _error(f"{problem.path}: {problem.message}")
    try:
        mixed = check_same_suite(runs, allow_mixed)
    except MixedSuitesError as exc:
        _error(str(exc))
        return None
    if not runs:
        _error("none of the given runs could be read")
        return None
    return runs, problems, mixed


def _emit(text: str, out: Path | None) -> None:
    if out is None:
        sys.stdout.write(text)
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    print(f"wrote {out}")


def leaderboard(paths: Sequence[Path], fmt: str, out: Path | None, values: bool, allow_mixed: bool) -> int:
    """Print or write the leaderboard.

    Exit 0; 1 if a run was unreadable (the others are shown); 2 if refused or none is readable.
    """
    loaded = _load(paths, allow_mixed)
    if loaded is None:
        return 2
    runs, problems, mixed = loaded
    _emit(FORMATS[fmt](build_leaderboard(runs, problems, mixed), values), out)
    return 1 if problems else 0


def diff(path_a: Path, path_b: Path, fmt: str, rtol: float, atol: float) -> int:
    """Print what changed from run A to run B. Exit 0: nothing; 1: changes; 2: a run is unreadable."""
    runs, problems = load_runs([path_a, path_b])
    for problem in problems:
        _error(f"{problem.path}: {problem.message}")
    if problems:
        return 2
    result = diff_runs(runs[0], runs[1], rtol=rtol, atol=atol)
    sys.stdout.write(diff_markdown(result, rtol, atol) if fmt == "md" else diff_json(result))
    return 1 if result.changed else 0


def publish_site(paths: Sequence[Path], out: Path, allow_mixed: bool) -> int:
    """Write the static site.

    Exit 0; 1 if a run was unreadable (the others are published); 2 if refused or none is readable.
    """
    loaded = _load(paths, allow_mixed)
    if loaded is None:
        return 2
    runs, problems, mixed = loaded
    try:
        index = publish(runs, problems, out, mixed, warn=lambda line: print(f"warning: {line}", file=sys.stderr))
    except SiteError as exc:
        _error(str(exc))
        return 2
    print(f"published {len(runs)} run(s): {index}")
    return 1 if problems else 0

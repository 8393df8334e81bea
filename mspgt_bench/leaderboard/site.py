"""``mspgt-bench publish``: a self-contained static site of one or more runs.

Layout (every page inlines its CSS and JS and links only to files inside the site)::

    index.html                         sortable leaderboard, pass rates per family, the family
                                       comparison (boundary depth per model, grouped by family), runs
    figures/families.png               the family comparison figure
    runs/<run>/index.html              provenance of the run and the suite file it used
    runs/<run>/suite.yaml              that suite file
    runs/<run>/model-<model>.html      verdicts, boundaries and figures of one model
    runs/<run>/figures/<model>/*.png   profile figures (copied) and boundary figures (drawn)

A folder is only overwritten if an earlier ``publish`` wrote it (it holds the marker file). Only
regular files inside a run directory are copied from it (``suite.yaml``, profile figures): a
symbolic link, or a file that resolves outside the run, is skipped and reported through ``warn``.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

from mspgt_bench.atomic import UnsafePathError, read_regular
from mspgt_bench.leaderboard.board import Leaderboard, build_leaderboard
from mspgt_bench.leaderboard.board_html import leaderboard_html
from mspgt_bench.leaderboard.family_section import family_section
from mspgt_bench.leaderboard.model_page import Warn, model_page_name, write_model_page
from mspgt_bench.leaderboard.page import definitions, esc, page
from mspgt_bench.leaderboard.runs import Run, RunProblem

MARKER = ".mspgt-bench-site"


class SiteError(ValueError):
    """The output folder cannot be used for the site."""


def _prepare(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise SiteError(f"{out} is a file; give a folder for the site")
    if out.is_dir() and any(out.iterdir()) and not (out / MARKER).is_file():
        raise SiteError(
            f"{out} is not empty and was not written by `mspgt-bench publish`; choose a new or empty folder"
        )
    shutil.rmtree(out / "runs", ignore_errors=True)
    shutil.rmtree(out / "figures", ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)
    (out / MARKER).write_text("written by mspgt-bench publish; the folder is replaced on the next publish\n")


def _models(run: Run) -> list[str]:
    doc = run.document
    models = [*(v.model for v in doc.verdicts if not v.family_level), *(p.model for p in doc.profiles)]
    return list(dict.fromkeys(models))


def _suite_text(run: Run, warn: Warn) -> str | None:
    """The run's ``suite.yaml``; ``None`` if it has none or it is not a regular file in the run (reported)."""
    suite_file = run.path / "suite.yaml"
    if not suite_file.exists() and not suite_file.is_symlink():
        return None
    try:
        return read_regular(run.path, suite_file).decode("utf-8", errors="replace")
    except UnsafePathError as exc:
        warn(f"not published: {exc}")
        return None


def _run_page(run: Run, folder: Path, warn: Warn) -> None:
    doc = run.document
    prov = doc.provenance
    suite_text = _suite_text(run, warn)
    if suite_text is not None:
        (folder / "suite.yaml").write_text(suite_text, encoding="utf-8")
    links = "".join(f'<li><a href="{esc(model_page_name(m))}">{esc(m)}</a></li>' for m in _models(run))
    items = [
        ("suite", f"{doc.suite.name} v{doc.suite.version}"),
        ("description", doc.suite.description),
        ("suite sha256", prov.suite_sha256),
        ("suite file (as run)", prov.suite_file),
        ("seed", prov.seed),
        *((name, version) for name, version in prov.versions.model_dump().items()),
        ("machine", f"{prov.machine.platform} ({prov.machine.processor})"),
        ("wall time", f"{prov.wall_s:.1f} s"),
        ("run directory", run.path),
    ]
    body = [definitions(items), f"<h2>Models</h2><ul>{links}</ul>"]
    body.append("<h2>Suite file</h2>")
    if suite_text is None:
        body.append('<p class="note">The run directory has no suite.yaml (or it is not a regular file).</p>')
    else:
        body.append(
            f'<p><a href="suite.yaml">suite.yaml</a> (the merged suite that ran)</p><pre>{esc(suite_text)}</pre>'
        )
    (folder / "index.html").write_text(
        page(f"Run {run.label}: {run.describe_suite()}", "\n".join(body), root="../../"), encoding="utf-8"
    )


def _index(board: Leaderboard, families: str) -> str:
    """The leaderboard, then the family comparison before the runs' provenance."""
    body = leaderboard_html(
        board,
        values=True,
        model_link=lambda row: f"runs/{row.run}/{model_page_name(row.model)}",
        run_link=lambda run: f"runs/{run.label}/index.html",
        before_runs=families,
    )
    return page(f"Leaderboard: {board.title()}", body, root="")


def publish(
    runs: Sequence[Run],
    problems: Sequence[RunProblem],
    out: Path,
    mixed: bool = False,
    warn: Warn = lambda _line: None,
) -> Path:
    """Write the site for ``runs`` into ``out``; return the path of its ``index.html``.

    ``warn`` receives one line per file of a run that was skipped (a link, or not inside the run).
    """
    _prepare(out)
    for run in runs:
        folder = out / "runs" / run.label
        folder.mkdir(parents=True, exist_ok=True)
        _run_page(run, folder, warn)
        for model in _models(run):
            write_model_page(run, model, folder, warn)
    index = out / "index.html"
    board = build_leaderboard(runs, problems, mixed)
    index.write_text(_index(board, family_section(runs, out)), encoding="utf-8")
    return index

"""Rich terminal views of a run: progress bars while it runs, the verdict table at the end."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from mspgt_bench.corpora import CORPUS_SENSITIVE
from mspgt_bench.run import Progress as RunProgress

STATUS_STYLE = {"PASS": "bold green", "FAIL": "bold red", "INCONCLUSIVE": "yellow", "ERROR": "bold magenta", "SKIP": "dim"}


class RichProgress(RunProgress):
    """Draws one progress bar per (model, condition) capture pass."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self._bar: Progress | None = None

    def stage(self, text: str) -> None:
        self.console.print(f"[dim]•[/dim] {escape(text)}")  # "[trained]" is data, not markup

    def start_batches(self, label: str, total: int) -> Callable[[int], None]:
        self._bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("stimuli"),
            TimeElapsedColumn(),
            console=self.console,
            transient=False,
        )
        self._bar.start()
        task = self._bar.add_task(escape(label), total=total)
        bar = self._bar
        return lambda n: bar.advance(task, n)

    def end_batches(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None


def _number(value: Any) -> str:
    return "—" if value is None else f"{value:.4g}"


def verdict_table(rows: list[dict[str, Any]], title: str) -> Table:
    """Model × prediction verdicts of the trained condition, with their control results.

    With several stimulus sets a ``stimuli`` column names each row's set, and a verdict that
    differs between sets is marked ``(corpus-sensitive)``. Text from the suite or the run is
    escaped, never read as markup.
    """
    sets = any(row.get("stimulus_set") for row in rows)
    table = Table(title=escape(title), show_lines=False)
    columns = ["model", "family", *(["stimuli"] if sets else []), "prediction", "statistic", "value [CI]"]
    for column in (*columns, "threshold", "verdict", "controls"):
        table.add_column(column, overflow="fold")
    for row in rows:
        if row["condition"] != "trained":
            continue
        interval = f"{_number(row['value'])} [{_number(row['ci_low'])}, {_number(row['ci_high'])}]"
        threshold = row["threshold"]
        relation = (
            f"in [{threshold[0]:g}, {threshold[1]:g}]"
            if row["direction"] == "within"
            else f"{'>' if row['direction'] == 'greater' else '<'} {threshold:g}"
        )
        verdict = f"[{STATUS_STYLE[row['status']]}]{row['status']}[/]"
        if row.get("non_discriminative"):
            verdict += " [yellow](non-discriminative)[/]"
        if row.get("corpus_sensitive"):
            others = ", ".join(f"{name}: {status}" for name, status in row.get("corpus_statuses", {}).items())
            verdict += f" [bold yellow]({CORPUS_SENSITIVE})[/]\n[dim]{escape(others)}[/dim]"
        if row["status"] in ("ERROR", "SKIP"):
            verdict += f"\n[dim]{escape(row['reason'][:160])}[/dim]"
        controls = ", ".join(
            f"{escape(name)}: [{STATUS_STYLE[status]}]{status}[/]" for name, status in row.get("controls", {}).items()
        )
        table.add_row(
            escape(row["model"]),
            escape(str(row["family"])),
            *([escape(str(row.get("stimulus_set") or "—"))] if sets else []),
            escape(row["prediction"]),
            escape(row["statistic"]),
            interval,
            relation,
            verdict,
            controls or "—",
        )
    return table

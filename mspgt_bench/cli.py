"""The ``mspgt-bench`` command line."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from types import ModuleType

from rich.console import Console
from rich.markup import escape
from rich.table import Table

LIST_KINDS = {
    "models": "offline_models",
    "signals": "signals",
    "interventions": "interventions",
    "detectors": "detectors",
    "predictions": "predictions",
    "sources": "stimulus_sources",
    "adapters": "model_adapters",
}


EXIT_OK = 0
"""Every verdict decided (PASS, FAIL, INCONCLUSIVE or SKIP), or the command did what it was asked."""
EXIT_INVALID = 1
"""Invalid input (suite, arguments, run directory) or a file-system fault; nothing was run or written."""
EXIT_USAGE = 2
"""No command given (argparse also exits 2 on malformed arguments)."""
EXIT_SOME_ERROR = 3
"""The run finished and wrote its outputs, but some verdict is ERROR (a model, signal or plugin failed)."""
EXIT_INTERRUPTED = 130
"""Interrupted (Ctrl-C); cells already finished stay cached, so rerunning resumes."""

EXIT_CODES = f"""exit status: {EXIT_OK} all decided, {EXIT_SOME_ERROR} some verdict is ERROR, {EXIT_INVALID} invalid input or a
file-system fault, {EXIT_USAGE} usage, {EXIT_INTERRUPTED} interrupted"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mspgt-bench",
        description="Test MSPGT's predictions on language models.",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command")

    run = sub.add_parser("run", help="run a suite and print its verdict table", epilog=EXIT_CODES)
    _run_scope(run)
    run.add_argument("--executor", choices=("local", "ray"), help="where cells run (default: the suite's run.executor)")
    run.add_argument("--address", metavar="auto|HOST:PORT", help="Ray cluster to join (default: run.address, else a new one)")
    _run_scope(sub.add_parser("plan", help="cells, forward passes, memory and cache state of a run, running nothing"))

    validate = sub.add_parser("validate", help="check a suite without running it")
    validate.add_argument("suite", type=Path)

    plugins = sub.add_parser("plugins", help="list loaded plugins")
    plugins.add_argument("--json", action="store_true")

    listing = sub.add_parser("list", help="list registered components")
    listing.add_argument("kind", choices=sorted(LIST_KINDS))

    models = sub.add_parser("models", help="manage offline models")
    models_sub = models.add_subparsers(dest="models_command", required=True)
    fetch = models_sub.add_parser("fetch", help="download and convert an offline model ahead of time")
    fetch.add_argument("name")
    fetch.add_argument("--force", action="store_true", help="redo it even if already prepared")

    board = sub.add_parser(
        "leaderboard",
        help="model x prediction verdicts of one or more runs, grouped by family",
        description="Exit 0; 1 when a run is unreadable (the others are shown); 2 when refused or none is readable.",
    )
    board.add_argument("runs", type=Path, nargs="+", metavar="RUN_DIR")
    board.add_argument("--format", choices=("md", "html", "csv", "json"), default="md", help="default: md")
    board.add_argument("--out", type=Path, metavar="FILE", help="write here instead of stdout")
    board.add_argument("--values", action="store_true", help="show each value and interval (md, html)")
    mixed_help = "accept runs of different suites (name, version or hash)"
    board.add_argument("--allow-mixed", action="store_true", help=mixed_help)

    diff = sub.add_parser(
        "diff", help="what changed between two runs", description="Exit 0: no change; 1: changes; 2: unreadable run."
    )
    diff.add_argument("run_a", type=Path, metavar="RUN_A")
    diff.add_argument("run_b", type=Path, metavar="RUN_B")
    diff.add_argument("--format", choices=("md", "json"), default="md", help="default: md")
    diff.add_argument("--rtol", type=float, default=1e-6, help="relative tolerance of value changes (default 1e-6)")
    diff.add_argument("--atol", type=float, default=1e-12, help="absolute tolerance of value changes (default 1e-12)")

    publish = sub.add_parser(
        "publish",
        help="write a self-contained static site of one or more runs",
        description="Exit 0; 1 when a run is unreadable (the rest are published); 2 when refused or none is readable.",
    )
    publish.add_argument("runs", type=Path, nargs="+", metavar="RUN_DIR")
    publish.add_argument("--out", type=Path, required=True, metavar="SITE_DIR")
    publish.add_argument("--allow-mixed", action="store_true", help=mixed_help)
    return parser


def _run_scope(command: argparse.ArgumentParser) -> None:
    """The arguments ``run`` and ``plan`` share: which suite, models, run directory, stimuli, seed and cells."""
    command.add_argument("suite", type=Path)
    command.add_argument("--model", action="append", default=[], metavar="NAME", help="run this model instead of the suite's (repeatable)")
    command.add_argument("--out", type=Path, help="run directory (default: <output.dir>/<suite name>)")
    command.add_argument("--limit", type=int, help="use at most N stimuli")
    command.add_argument("--seed", type=int, help="override run.seed (bootstrap, random-weight controls)")
    command.add_argument("--only-failed", action="store_true", help="compute only the cells that ended in ERROR in the previous run")
    command.add_argument(
        "--trust-remote-code",
        action="store_true",
        help="let the adapters run Python code shipped in a model's folder or hub repo (never settable from a suite)",
    )


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    console = Console() if sys.stdout.isatty() else Console(width=180)
    if args.version:
        from mspgt_bench import __version__

        console.print(__version__)
        return EXIT_OK
    handlers = {
        "run": _run,
        "plan": _plan,
        "validate": _validate,
        "plugins": _plugins,
        "list": _list,
        "models": _models,
        "leaderboard": _leaderboard,
        "diff": _diff,
        "publish": _publish,
    }
    if args.command is None:
        _parser().print_help()
        return EXIT_USAGE
    try:
        return handlers[args.command](args, console)
    except KeyboardInterrupt:
        _error("interrupted; cells that finished are cached in the run directory, so rerunning resumes")
        return EXIT_INTERRUPTED
    except OSError as exc:  # disk full, read-only or missing folder, permissions: one line, not a traceback
        where = f"{exc.filename}: " if exc.filename else ""
        _error(f"{where}{exc.strerror or exc}")
        return EXIT_INVALID



def _error(message: str) -> None:
    """One ``error:`` line on stderr; the message is printed as text, never read as markup."""
    Console(stderr=True, soft_wrap=True).print(f"[bold red]error:[/] {escape(message)}", highlight=False)


def _load(path: Path, console: Console):
    from mspgt_bench.suite.loader import SuiteError, load_suite

    try:
        return load_suite(path)
    except SuiteError as exc:
        _error(str(exc))
        return None


def _validate(args: argparse.Namespace, console: Console) -> int:
    loaded = _load(args.suite, console)
    if loaded is None:
        return EXIT_INVALID
    suite = loaded.suite
    console.print(
        f"[green]valid[/]: {args.suite} — suite {suite.suite.name!r} v{suite.suite.version}, "
        f"{len(suite.models)} model(s), {len(suite.signals)} signal(s), {len(suite.predictions)} prediction(s); "
        f"sha256 {loaded.sha256[:12]}"
    )
    return EXIT_OK


def _run(args: argparse.Namespace, console: Console) -> int:
    from mspgt_bench.corpora import condition_label
    from mspgt_bench.report import RichProgress, verdict_table
    from mspgt_bench.run import run_suite

    loaded = _load(args.suite, console)
    if loaded is None:
        return EXIT_INVALID
    from mspgt_bench.atomic import UnsafePathError
    from mspgt_bench.registry import UnknownComponentError
    from mspgt_bench.run.executors import ExecutorUnavailableError, NotCachedCellsError
    from mspgt_bench.run.previous import PreviousRunError
    from mspgt_bench.run.rundir import RunDirBusyError

    try:
        result = run_suite(loaded, _run_options(args), RichProgress(console))
    except UnknownComponentError as exc:
        hint = " (a hub model is written 'org/name'; a local model is a folder)" if exc.kind == "offline_models" else ""
        _error(f"{exc}{hint}")
        return EXIT_INVALID
    except (RunDirBusyError, UnsafePathError, ExecutorUnavailableError, NotCachedCellsError, PreviousRunError) as exc:
        _error(str(exc))
        return EXIT_INVALID
    console.print(verdict_table(result.verdict_rows, f"{loaded.suite.suite.name}: verdicts"))
    _print_corpus_summary(result.verdict_rows, console)
    errors = [r for r in result.results if "error" in r.meta]
    for r in errors:
        where = condition_label(r.model.name, r.condition, r.stimulus_set)
        console.print(f"[bold magenta]ERROR[/] {escape(where)}: {escape(r.meta['error'])}")
    console.print(f"results: {escape(str(result.run_dir))}  (wall time {result.wall_s:.1f} s)")
    errored = sum(row["status"] == "ERROR" for row in result.verdict_rows)
    if errored:
        console.print(f"[bold magenta]{errored} verdict(s) are ERROR[/] (exit status {EXIT_SOME_ERROR}); the reasons are in verdicts.csv")
        return EXIT_SOME_ERROR
    return EXIT_OK


def _plan(args: argparse.Namespace, console: Console) -> int:
    from mspgt_bench.registry import UnknownComponentError
    from mspgt_bench.run.dryrun import plan_cells, plan_summary, plan_table
    from mspgt_bench.run.previous import PreviousRunError

    loaded = _load(args.suite, console)
    try:
        plans = plan_cells(loaded, _run_options(args)) if loaded else None
    except (UnknownComponentError, PreviousRunError) as exc:
        _error(str(exc))
        plans = None
    if plans is not None:
        console.print(plan_table(plans, f"{loaded.suite.suite.name}: plan"), escape(plan_summary(plans)), sep="\n")
    return EXIT_INVALID if plans is None else EXIT_OK


def _run_options(args: argparse.Namespace):
    """``RunOptions`` from the arguments of ``run`` or ``plan`` (``plan`` has no executor; it never runs model code)."""
    from mspgt_bench.run import RunOptions

    executor, address = getattr(args, "executor", None), getattr(args, "address", None)
    return RunOptions(args.out, args.model, args.limit, args.seed, args.trust_remote_code, executor, address, args.only_failed)


def _print_corpus_summary(rows: list[dict], console: Console) -> None:
    """One line for runs with several stimulus sets: how many trained verdicts differ between sets."""
    from mspgt_bench.corpora import CORPUS_SENSITIVE

    sets = list(dict.fromkeys(row["stimulus_set"] for row in rows if row.get("stimulus_set")))
    if len(sets) < 2:
        return
    trained = [row for row in rows if row["condition"] == "trained"]
    groups = {(row["model"], row["prediction"]) for row in trained}
    flagged = sorted({(row["model"], row["prediction"]) for row in trained if row.get("corpus_sensitive")})
    listing = "; ".join(f"{model} {prediction}" for model, prediction in flagged)
    console.print(
        f"[bold yellow]{CORPUS_SENSITIVE}[/]: {len(flagged)} of {len(groups)} trained verdicts differ between "
        f"stimulus sets ({escape(', '.join(sets))})" + (f": {escape(listing)}" if flagged else "")
    )


def _plugins(args: argparse.Namespace, console: Console) -> int:
    from mspgt_bench.plugins import loaded_plugins

    infos = loaded_plugins()
    if args.json:
        print(json.dumps([info.__dict__ for info in infos], indent=2))
        return EXIT_OK
    table = Table(title="loaded plugins")
    for column in ("name", "version", "hooks", "status"):
        table.add_column(column)
    for info in infos:
        status = "ok" if info.failed is None else f"failed: {info.failed}"
        name = info.name + (" (built-in)" if info.builtin else "")
        table.add_row(escape(name), escape(info.version), ", ".join(info.hooks), escape(status))
    console.print(table)
    return EXIT_OK


def _summary(obj: object) -> str:
    """First line of a component's description, class docstring or module docstring."""
    module = sys.modules.get(getattr(obj, "__module__", ""), None)
    for doc in (getattr(obj, "description", None), obj.__doc__, getattr(module, "__doc__", None)):
        if isinstance(doc, str) and doc.strip():
            return doc.strip().splitlines()[0]
    return ""


def _list(args: argparse.Namespace, console: Console) -> int:
    from mspgt_bench.plugins import registry

    reg = registry(LIST_KINDS[args.kind])
    table = Table(title=args.kind)
    if args.kind == "models":
        from mspgt_bench.models import zoo

        for column in ("name", "family", "size", "adapter", "prepared", "description"):
            table.add_column(column, overflow="fold")
        for entry in reg:
            model = entry.obj
            prepared = _preparation(zoo, model.name) if model.name in zoo.OFFLINE_MODELS else "n/a"
            row = (model.name, model.family, model.size, model.adapter, prepared, model.description)
            table.add_row(*(escape(str(cell)) for cell in row))
    else:
        for column in ("name", "plugin", "summary"):
            table.add_column(column, overflow="fold")
        for entry in reg:
            table.add_row(entry.name, entry.plugin, _summary(entry.obj))
    if not len(reg):
        console.print(f"no {args.kind} registered yet")
    console.print(table)
    return EXIT_OK


def _preparation(zoo: ModuleType, name: str) -> str:
    """'yes', or why not: not fetched yet, or its files changed since they were prepared (with the fix)."""
    try:
        zoo.verify_prepared(name)
    except zoo.ModelNotPreparedError:
        return f"no (mspgt-bench models fetch {name})"
    except zoo.CorruptModelError as exc:
        return f"CHANGED: {exc}"
    return "yes"


def _models(args: argparse.Namespace, console: Console) -> int:
    from mspgt_bench.models import zoo

    try:
        path = zoo.fetch(args.name, force=args.force, log=lambda msg: console.print(f"[dim]•[/dim] {msg}"))
    except (KeyError, zoo.ZooError) as exc:
        _error(str(exc))
        return EXIT_INVALID
    console.print(f"[green]ready[/]: {args.name} -> {path}")
    return EXIT_OK


def _leaderboard(args: argparse.Namespace, console: Console) -> int:
    from mspgt_bench.leaderboard.commands import leaderboard

    return leaderboard(args.runs, args.format, args.out, values=args.values, allow_mixed=args.allow_mixed)


def _diff(args: argparse.Namespace, console: Console) -> int:
    from mspgt_bench.leaderboard.commands import diff

    return diff(args.run_a, args.run_b, args.format, rtol=args.rtol, atol=args.atol)


def _publish(args: argparse.Namespace, console: Console) -> int:
    from mspgt_bench.leaderboard.commands import publish_site

    return publish_site(args.runs, args.out, allow_mixed=args.allow_mixed)


if __name__ == "__main__":
    sys.exit(main())

"""Helpers shared by the benchmark scripts: machine line, thread setting, timing and tables.

Imported as ``_common`` (each script is run as ``python bench/<script>.py``, so ``bench/`` is on
``sys.path``). Only the standard library and torch; nothing here depends on mspgt_bench, so
the peer comparison can import it from another virtual environment too.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from collections.abc import Callable, Sequence
from typing import Any


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo``; ``platform.processor()`` elsewhere)."""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_line() -> str:
    """One line: CPU model, logical cores (and those this process may use), torch version and threads."""
    import torch

    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    try:
        load = "load {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())
    except OSError:
        load = "load n/a"
    return (
        f"machine: {cpu_model()}, {os.cpu_count()} logical cores ({usable} usable), {load}; "
        f"python {platform.python_version()}, torch {torch.__version__}, torch threads {torch.get_num_threads()}"
    )


def add_common_args(parser: argparse.ArgumentParser, repeats: int = 3) -> None:
    """``--repeats`` and ``--threads``, the options every script takes."""
    parser.add_argument("--repeats", type=int, default=repeats, help=f"timed repeats; medians are printed (default {repeats})")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's choice)")


def set_threads(threads: int | None) -> None:
    """Apply ``--threads`` (intra-op threads of torch) when given."""
    if threads:
        import torch

        torch.set_num_threads(threads)


def timed(fn: Callable[[], Any]) -> tuple[float, float, Any]:
    """``(wall s, process CPU s, result)`` of one call."""
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return time.perf_counter() - wall, time.process_time() - cpu, out


def print_table(headers: Sequence[str], rows: Sequence[Sequence[Any]], floatfmt: str = ".3g") -> None:
    """A plain aligned text table: first column left-aligned, the others right-aligned."""

    def cell(value: Any) -> str:
        if isinstance(value, float):
            return format(value, floatfmt)
        return str(value)

    text = [[cell(v) for v in row] for row in rows]
    widths = [max(len(str(h)), *(len(r[i]) for r in text)) if text else len(str(h)) for i, h in enumerate(headers)]
    line = "  ".join(str(h).ljust(w) if i == 0 else str(h).rjust(w) for i, (h, w) in enumerate(zip(headers, widths)))
    print(line)
    print("-" * len(line))
    for row in text:
        print("  ".join(v.ljust(w) if i == 0 else v.rjust(w) for i, (v, w) in enumerate(zip(row, widths))))


def human_bytes(n: float) -> str:
    """``n`` bytes as KiB / MiB / GiB with 1 decimal (sign kept)."""
    sign, n = ("-" if n < 0 else ""), abs(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{sign}{n:.1f} {unit}" if unit != "B" else f"{sign}{n:.0f} B"
        n /= 1024
    return f"{sign}{n:.1f} GiB"


class SuiteSetup:
    """What a suite's signals run needs: the adapter, the stimuli, the signal specs and the run settings.

    ``observational`` leaves out ``scale_sensitivity`` (its extra passes run on perturbed copies
    of the stimuli, not on the shared capture pass).
    """

    def __init__(self, suite_path: str, model: str | None = None, limit: int | None = None, n: int | None = None,
                 observational: bool = True, adapter_args: dict | None = None) -> None:
        from mspgt_bench.plugins import registry
        from mspgt_bench.run import resolve_model
        from mspgt_bench.signals.base import BootstrapConfig
        from mspgt_bench.suite.loader import load_suite
        from mspgt_bench.suite.schema import ModelSpec

        suite = load_suite(suite_path).suite
        self.suite = suite
        spec = ModelSpec(name=model) if model else suite.models[0]
        self.model = resolve_model(spec)
        self.adapter = registry("model_adapters").get(self.model.adapter)(**{**self.model.args, **(adapter_args or {})})
        stimuli = suite.stimulus_sets()[0]  # benches use a suite's first stimulus set
        if n is None:
            n = stimuli.n if limit is None else min(limit, stimuli.n)
        source = registry("stimulus_sources").get(stimuli.source)
        self.stimuli = source(n=n, seed=stimuli.seed, **stimuli.options)
        self.specs = [s for s in suite.signals if not (observational and s.name == "scale_sensitivity")]
        self.batch_size, self.max_tokens = suite.run.batch_size, stimuli.max_tokens
        self.boot = BootstrapConfig(suite.bootstrap.n_boot, 0.95, suite.bootstrap.method, suite.run.seed)

    def signals(self, specs=None) -> list:
        """Fresh signal objects for ``specs`` (default: all of this setup's)."""
        from mspgt_bench.plugins import registry

        specs = self.specs if specs is None else specs
        return [registry("signals").get(s.name)(self.adapter.n_layers, label=s.label, **s.options) for s in specs]

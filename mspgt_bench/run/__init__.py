"""The run pipeline: ``mspgt-bench run`` from a loaded suite to the run directory.

Stages in data-flow order, one module each: :mod:`.plan` (suite + options -> context and cells),
:mod:`.profiles` (conditions, adapters, capture), :mod:`.detection`, :mod:`.effects`,
:mod:`.verdicts`, :mod:`.outputs`; :mod:`.pipeline` chains them, :mod:`.cache` keys what a cell
computed, :mod:`.results` holds what a run produced.
"""

from mspgt_bench.run.pipeline import run_suite
from mspgt_bench.run.plan import Progress, ResolvedModel, RunOptions, resolve_model
from mspgt_bench.run.results import ConditionResult, RunResult

__all__ = ["ConditionResult", "Progress", "ResolvedModel", "RunOptions", "RunResult", "resolve_model", "run_suite"]

"""The previous run in a run directory: which of its cells ended in ERROR (``--only-failed``).

A cell ended in ERROR when its ``results.json`` provenance records a failure (``error``, a failed
signal, detector or intervention) or when one of its verdicts is ERROR. Cross-model verdicts
(``family:<group>`` rows) name no cell and are recomputed from the merged cells anyway.
"""

from __future__ import annotations

from pathlib import Path

from mspgt_bench.result_schema import ModelRun, ResultsError, load_results


class PreviousRunError(ValueError):
    """``--only-failed`` without a readable previous run in the run directory."""


def failed_cells(run_dir: Path) -> frozenset[str]:
    """Keys ``'<model>/<condition>[/<set>]'`` of the cells of the previous run that ended in ERROR."""
    try:
        document = load_results(run_dir / "results.json")
    except ResultsError as exc:
        raise PreviousRunError(
            f"--only-failed reruns the cells that ended in ERROR in the previous run of {run_dir}, "
            f"but its results cannot be read: {exc}"
        ) from None
    failed = {key for key, meta in document.provenance.models.items() if _failed(meta)}
    for row in document.verdicts:
        if row.status == "ERROR" and not row.family_level:
            failed.add(f"{row.model}/{row.condition}" + (f"/{row.stimulus_set}" if row.stimulus_set else ""))
    return frozenset(failed)


def _failed(meta: ModelRun) -> bool:
    return bool(meta.error or meta.signal_errors or meta.detector_errors or meta.intervention_error)

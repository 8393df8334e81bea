"""interventions: causal layer and segment interventions, resumed from cached residuals (docs/operationalisation.md §4).

Each intervention is a set of :class:`~mspgt_bench.models.resume.Step` edits of the residual
stream; the model layer records one clean pass and resumes it under them
(:mod:`mspgt_bench.models.resume`).

- :mod:`.base`: the plugin interface (``Intervention``, ``Target``, ``BatchContext``).
- :mod:`.library`: the built-in plugins (deletion, swap, mean/resample ablation, noise,
  block drop, activation patching, causal tracing).
- :mod:`.effects`: KL, top-1 agreement, Δloss, Δentropy, Δloss per token class.
- :mod:`.token_classes`: local / intermediate / global target tokens (docs/theory.md §4).
- :mod:`.sweep`: ``run_interventions`` → tidy rows with bootstrap intervals over stimuli.
- :mod:`.generation`: ``generation_effects`` → read-outs of text generated with and without a
  segment intervention (MSPGT v1), effects with bootstrap intervals over prompts.
- :mod:`.figures`: effect per layer with its interval band.
"""

from __future__ import annotations

from mspgt_bench.interventions.base import BatchContext, Intervention, Target, TargetOptions
from mspgt_bench.interventions.generation import GenerationOptions, generation_effects
from mspgt_bench.interventions.library import INTERVENTIONS
from mspgt_bench.interventions.sweep import run_interventions, sweep

__all__ = [
    "INTERVENTIONS",
    "BatchContext",
    "GenerationOptions",
    "Intervention",
    "Target",
    "TargetOptions",
    "generation_effects",
    "run_interventions",
    "sweep",
]

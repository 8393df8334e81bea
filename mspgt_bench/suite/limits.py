"""Upper limits on the counts a suite sets, so that no suite makes a run hang or exhaust memory.

Each limit is far above what a meaningful suite needs and below what a run can finish:

* resamples (bootstrap, null surrogates, permutations): 100 000. Intervals settle at 1 000-2 000
  resamples (the suites use 100-1 000); fifty times that only costs time, as every resample
  touches every stimulus and layer, and 10**9 would not finish;
* stimuli and prompts: 100 000, already days of forward passes per model on a CPU;
* tokens per stimulus or prompt: 32 768, the longest context of the supported families (Qwen2.5);
  generated tokens: 4 096, a hundred times the read-outs' default of 40;
* batch size: 1 024 stimuli per forward pass (memory grows with it, speed stops growing well before);
* other counts drawn by a plugin (noise samples): 10 000;
* seeds: 0 to 2**32 - 1, the range every random generator used here accepts.

The suite schema states these on its own fields; :data:`OPTION_LIMITS` applies them to plugin
options and adapter arguments of the same names, whatever plugin declares them.
"""

from __future__ import annotations

MAX_RESAMPLES = 100_000
MAX_STIMULI = 100_000
MAX_TOKENS = 32_768
MAX_NEW_TOKENS = 4_096
MAX_BATCH = 1_024
MAX_SAMPLES = 10_000
MAX_SEED = 2**32 - 1

MAX_MODELS = 64
MAX_STIMULUS_SETS = 64
MAX_SIGNALS = 128
MAX_DETECTORS = 64
MAX_INTERVENTIONS = 128
MAX_GENERATION = 32
MAX_PREDICTIONS = 256

OPTION_LIMITS: dict[str, int] = {
    "n_boot": MAX_RESAMPLES,
    "n_null": MAX_RESAMPLES,
    "n_permutations": MAX_RESAMPLES,
    "n_samples": MAX_SAMPLES,
    "n_prompts": MAX_STIMULI,
    "max_tokens": MAX_TOKENS,
    "max_tokens_per_stimulus": MAX_TOKENS,
    "max_positions": MAX_TOKENS,
    "prompt_tokens": MAX_TOKENS,
    "max_new_tokens": MAX_NEW_TOKENS,
    "batch_size": MAX_BATCH,
    "seed": MAX_SEED,
}
"""Largest value of a plugin option or adapter argument with this name (the smallest is 0; a plugin may
set tighter bounds in its own ``Options``)."""

"""Peers: the full single-layer deletion sweep in mspgt-bench, nnsight and TransformerLens, same stimuli, same metric.

    HF_HUB_OFFLINE=1 /work/peers-venv/bin/python bench/peers.py            # smollm2-135m, 8 stimuli x 64 tokens, 3 repeats
    HF_HUB_OFFLINE=1 /work/peers-venv/bin/python bench/peers.py --model tiny-llama --repeats 1   # quick check

nnsight and TransformerLens live in a separate virtual environment (they are not mspgt-bench
dependencies); one that works with this project's pins (torch 2.13.0+cpu, transformers 5.19,
numpy 1.26 because dadapy needs numpy < 2):

    python3 -m venv /work/peers-venv && . /work/peers-venv/bin/activate
    pip install torch==2.13.0 -e /work/main nnsight transformer-lens "pyarrow>=24,<26"

(``pyarrow`` 26 is pulled in by ``datasets`` and refuses to import next to numpy 1.26; 24 and 25
import fine.) Run from the main ``.venv`` the peers are skipped with the reason printed.

Every implementation deletes decoder layer ``l`` (its output := its input) for ``l = 0 … L−1``
and compares the next-token distribution with the clean model's at every real position, per
stimulus (``mspgt_bench.interventions.effects.CleanReference``, the same code for all, so only the
forward computation differs): ``KL(clean ‖ deleted)`` and top-1 agreement, each ``[L, n_stimuli]``.

* **mspgt-bench (resume)**: one recorded clean pass per batch, then each deletion resumed from
  the cached residual at ``l + 1`` (``bench/deletion_sweep.py``'s ``resume_sweep``; final norm +
  unembedding chunked inside the metric);
* **HF hooks (naive)**: one full forward pass per layer with an identity forward hook
  (``deletion_sweep.naive_sweep``), the baseline without any framework;
* **nnsight**: ``LanguageModel(hf_model, tokenizer)``; per layer one ``trace`` with
  ``layers[l].output = layers[l].input`` and ``output.logits.save()``;
* **TransformerLens** (4.x: ``TransformerBridge.boot_transformers(name, hf_model=, tokenizer=)``,
  raw HF weights, no folding/centring, so logits equal HF's; it switches the model to eager
  attention); per layer ``run_with_hooks`` with a hook on ``blocks.l.hook_in`` that keeps the
  input and one on ``blocks.l.hook_out`` that returns it.

Each peer gets its own copy of the model loaded from the local zoo folder (no hub:
``HF_HUB_OFFLINE=1`` is set before anything is imported). Timings are interleaved repeat by
repeat (the order rotates); the table prints medians, the ratio of every row to mspgt-bench's,
and ours / the faster peer (target <= 0.5). Effect values must agree with ours to ``--tol``
(default 1e-4 absolute on KL in nats and on top-1 agreement, float32).
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import argparse
import copy
import importlib.metadata
import statistics
import warnings
from collections.abc import Callable

import torch
from _common import add_common_args, machine_line, print_table, set_threads, timed
from deletion_sweep import naive_sweep, resume_sweep, tokenized_batches

from mspgt_bench.interventions.effects import CleanReference
from mspgt_bench.models.hf import HFAdapter

METRICS = ("kl", "top1_agreement")
Result = dict[str, torch.Tensor]  # metric -> [n_layers, n_stimuli]
Sweep = Callable[[], Result]


def _from_logits(clean: torch.Tensor, per_layer: list[torch.Tensor], batch) -> list[dict[str, torch.Tensor]]:
    ref = CleanReference(clean, batch.input_ids, batch.attention_mask)
    return [ref.compare(logits) for logits in per_layer]


def _stack(per_batch: list[list[dict[str, torch.Tensor]]]) -> Result:
    """``per_batch[b][l]`` metric dicts -> metric -> ``[L, n_stimuli]``."""
    n_layers = len(per_batch[0])
    return {m: torch.stack([torch.cat([batch[l][m] for batch in per_batch]) for l in range(n_layers)]) for m in METRICS}


def _fresh_hf(adapter: HFAdapter):
    """A separate copy of the adapter's model (a peer may change it, e.g. to eager attention)."""
    if adapter.model_id.startswith("tiny-"):
        model = HFAdapter(adapter.model_id, n_layers=adapter.n_layers).model
        model.config.name_or_path = adapter.model_id  # TransformerLens reads it; a config-built model has none
        return model
    from transformers import AutoModelForCausalLM

    from mspgt_bench.models import zoo

    location = str(zoo.resolve(adapter.model_id)) if adapter.model_id in zoo.OFFLINE_MODELS else adapter.model_id
    return AutoModelForCausalLM.from_pretrained(location, dtype=torch.float32).eval()


# -- mspgt-bench ---------------------------------------------------------------------------
def ours(adapter: HFAdapter, batches: list) -> Sweep:
    return lambda: {m: v for m, v in resume_sweep(adapter, batches).items() if m in METRICS}


def naive(adapter: HFAdapter, batches: list) -> Sweep:
    return lambda: {m: v for m, v in naive_sweep(adapter, batches).items() if m in METRICS}


# -- nnsight -------------------------------------------------------------------------------
def nnsight_sweep(adapter: HFAdapter, batches: list) -> Sweep:
    import nnsight  # noqa: F401  (ImportError -> skipped)
    from nnsight import LanguageModel

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "LanguageModel is deprecated; use TransformersModel(repo_id)": we pass a loaded model
        lm = LanguageModel(_fresh_hf(adapter), tokenizer=adapter.tokenizer)
    layers_path = adapter.map.layers.split(".")  # e.g. model.layers

    def layers():
        node = lm
        for part in layers_path:
            node = getattr(node, part)
        return node

    @torch.inference_mode()
    def run() -> Result:
        per_batch = []
        for batch in batches:
            kwargs = {"attention_mask": batch.attention_mask, "use_cache": False}
            with lm.trace(batch.input_ids, **kwargs):
                clean = lm.output.logits.save()
            per_layer = []
            for index in range(adapter.n_layers):
                with lm.trace(batch.input_ids, **kwargs):
                    layer = layers()[index]
                    layer.output = layer.input
                    logits = lm.output.logits.save()
                per_layer.append(logits)
            per_batch.append(_from_logits(clean, per_layer, batch))
        return _stack(per_batch)

    return run


# -- TransformerLens -----------------------------------------------------------------------
HUB_NAMES = {"smollm2-135m": "HuggingFaceTB/SmolLM2-135M-Instruct", "gemma3-270m": "google/gemma-3-270m"}


def transformer_lens_sweep(adapter: HFAdapter, batches: list) -> Sweep:
    import transformer_lens

    try:
        from transformer_lens.model_bridge import TransformerBridge
    except ImportError as exc:  # 2.x/3.x: HookedTransformer; this script is written for the 4.x bridge
        raise ImportError(f"transformer_lens {getattr(transformer_lens, '__version__', '?')} has no TransformerBridge: {exc}") from exc
    hf = _fresh_hf(adapter)
    name = HUB_NAMES.get(adapter.model_id, adapter.model_id)
    tokenizer = copy.deepcopy(adapter.tokenizer)  # the bridge re-configures the tokenizer it gets (padding side, BOS)
    if adapter.model_id.startswith("tiny-"):  # the byte tokenizer has no folder to be reloaded from: keep it as it is
        tokenizer.init_kwargs.update(name_or_path=adapter.model_id, add_bos_token=True)
    bridge = TransformerBridge.boot_transformers(name, hf_model=hf, tokenizer=tokenizer, device="cpu")
    bridge.eval()

    @torch.inference_mode()
    def run() -> Result:
        per_batch = []
        for batch in batches:
            kwargs = {"attention_mask": batch.attention_mask}
            clean = bridge(batch.input_ids, return_type="logits", **kwargs)
            per_layer = []
            for index in range(adapter.n_layers):
                kept: list[torch.Tensor] = []

                def keep_input(value, hook, kept=kept):
                    kept.append(value)
                    return value

                def delete(value, hook, kept=kept):
                    return kept[-1]

                hooks = [(f"blocks.{index}.hook_in", keep_input), (f"blocks.{index}.hook_out", delete)]
                per_layer.append(bridge.run_with_hooks(batch.input_ids, fwd_hooks=hooks, return_type="logits", **kwargs))
            per_batch.append(_from_logits(clean, per_layer, batch))
        return _stack(per_batch)

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--stimuli", type=int, default=8)
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--tol", type=float, default=1e-4, help="max |difference| of effect values allowed vs ours")
    parser.add_argument("--no-naive", action="store_true", help="leave out the plain-HF-hooks baseline")
    add_common_args(parser, repeats=3)
    args = parser.parse_args()
    set_threads(args.threads)
    print(machine_line())
    for module in ("transformers", "numpy", "nnsight", "transformer_lens"):
        try:
            __import__(module)
            version = importlib.metadata.version(module.replace("_", "-"))
        except Exception as exc:  # noqa: BLE001
            version = f"not importable ({type(exc).__name__}: {str(exc).splitlines()[0][:100]})"
        print(f"  {module} {version}")

    adapter = HFAdapter(args.model)
    batches = tokenized_batches(adapter, args.stimuli, args.tokens, args.batch_size)
    tokens = sum(int(b.attention_mask.sum()) for b in batches)
    print(f"model {args.model}: {adapter.n_layers} layers; {args.stimuli} stimuli, {tokens} real tokens in "
          f"{len(batches)} batch(es) of <= {args.batch_size}; {args.repeats} repeats (interleaved); HF_HUB_OFFLINE={os.environ['HF_HUB_OFFLINE']}")

    builders: dict[str, Callable[[HFAdapter, list], Sweep]] = {"mspgt-bench (resume)": ours}
    if not args.no_naive:
        builders["HF hooks (naive)"] = naive
    builders["nnsight"] = nnsight_sweep
    builders["TransformerLens"] = transformer_lens_sweep
    peers = {"nnsight", "TransformerLens"}

    sweeps: dict[str, Sweep] = {}
    for name, build in builders.items():
        try:
            sweeps[name] = build(adapter, batches)
        except ImportError as exc:
            print(f"SKIP {name}: not importable here ({exc}); install it in a separate venv, see this script's docstring")
        except Exception as exc:  # noqa: BLE001  a peer that fails to load is reported, not fatal
            print(f"SKIP {name}: could not be set up: {type(exc).__name__}: {exc}")

    results: dict[str, Result] = {}
    for name, run in list(sweeps.items()):  # warm-up (untimed); also catches a peer that fails to run
        try:
            results[name] = run()
        except Exception as exc:  # noqa: BLE001
            print(f"SKIP {name}: failed while running: {type(exc).__name__}: {exc}")
            del sweeps[name]

    times: dict[str, list[float]] = {name: [] for name in sweeps}
    names = list(sweeps)
    for repeat in range(args.repeats):
        for name in names[repeat % len(names):] + names[: repeat % len(names)]:
            wall, cpu, results[name] = timed(sweeps[name])
            times[name].append(wall)
            print(f"  repeat {repeat + 1}: {name:22s} {wall:8.2f} s wall, {cpu:8.2f} s cpu", flush=True)

    ref_name = "mspgt-bench (resume)"
    ref = results[ref_name]
    medians = {name: statistics.median(t) for name, t in times.items()}
    rows = []
    for name in sweeps:
        diffs = [float((results[name][m] - ref[m]).abs().max()) for m in METRICS]
        rows.append([name, medians[name], medians[name] / medians[ref_name], *diffs,
                     "yes" if max(diffs) <= args.tol else "NO"])
    print()
    print_table(["implementation", "median s", "vs ours", "max|dKL|", "max|dtop1|", f"agree<={args.tol:g}"], rows)
    ranges = ", ".join(f"{m} {float(ref[m].min()):.3g} .. {float(ref[m].max()):.3g}" for m in METRICS)
    print(f"(effect values of ours: {ranges}; differences are against ours, per layer x stimulus)")
    present = [name for name in sweeps if name in peers]
    if present:
        fastest = min(present, key=medians.get)
        ratio = medians[ref_name] / medians[fastest]
        print(f"ours / faster peer ({fastest}): {ratio:.3f} (target <= 0.5: {'met' if ratio <= 0.5 else 'not met'})")
    else:
        print("no peer ran: nothing to compare against (see SKIP lines)")


if __name__ == "__main__":
    main()

"""The sweep: tidy rows with intervals, hook hygiene, figures, and the shipped suite file."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from mspgt_bench.interventions.figures import write_intervention_figures
from mspgt_bench.interventions.sweep import batches_of, build_interventions, run_interventions, sweep
from mspgt_bench.png_memo import PngMemo
from mspgt_bench.signals.base import BootstrapConfig
from mspgt_bench.suite.schema import ComponentSpec

ROW_KEYS = {
    "intervention", "plugin", "target", "layer", "layer_end", "layers", "depth",
    "param", "metric", "value", "ci_low", "ci_high", "n",
}
SUITE = Path(__file__).resolve().parents[2] / "suites" / "interventions.yaml"


def _hooks(adapter) -> list[tuple]:
    modules = [adapter.model, *adapter.model.modules()]
    return [
        (len(m._forward_hooks), len(m._forward_pre_hooks), len(m._forward_hooks_with_kwargs), len(m._forward_pre_hooks_with_kwargs))
        for m in modules
    ]


@pytest.mark.parametrize("family", ["gemma3", "gpt2"])
def test_outputs_are_bit_identical_after_a_run(tiny_adapter, prose, batch_of, family):
    adapter = tiny_adapter(family)
    batch = batch_of(adapter, prose)
    before, hooks = adapter.forward(batch).clone(), _hooks(adapter)
    specs = [
        {"name": "layer_deletion"},
        {"name": "layer_swap"},
        {"name": "residual_noise", "options": {"sigmas": [0.5], "layers": [1]}},
        {"name": "mean_ablation", "options": {"segments": [[0, 2]]}},
        {"name": "causal_tracing", "options": {"n_samples": 1, "layers": [2]}},
    ]
    run_interventions(adapter, prose, specs, batch_size=2, max_tokens=40, boot=BootstrapConfig(n_boot=50))
    assert _hooks(adapter) == hooks
    assert torch.equal(adapter.forward(batch), before)
    with pytest.raises(ValueError):  # a failing run also leaves no hook behind
        run_interventions(adapter, prose, [{"name": "layer_swap", "options": {"layers": [9]}}], batch_size=2, max_tokens=40)
    assert _hooks(adapter) == hooks and torch.equal(adapter.forward(batch), before)


def test_rows_are_tidy_with_bootstrap_intervals(tiny_adapter, prose):
    adapter = tiny_adapter("llama")
    specs = [ComponentSpec(name="layer_deletion", options={"layers": [0, 3]}), {"name": "residual_noise", "id": "noise", "options": {"sigmas": [0.0, 2.0], "layers": [1]}}]
    result = sweep(adapter, prose, specs, batch_size=3, max_tokens=40, boot=BootstrapConfig(n_boot=200, seed=1))
    rows = result.rows
    assert all(set(row) == ROW_KEYS for row in rows)
    kl = {r["target"]: r for r in rows if r["metric"] == "kl"}
    assert set(kl) == {"delete[l=0]", "delete[l=3]", "noise[l=1,sigma=0]", "noise[l=1,sigma=2]"}
    row = kl["delete[l=0]"]
    assert row["n"] == 4 and row["ci_low"] <= row["value"] <= row["ci_high"] and row["layer"] == row["layer_end"] == 0
    assert row["depth"] == 0.25 and kl["noise[l=1,sigma=2]"]["param"] == "sigma=2"
    assert kl["noise[l=1,sigma=0]"]["value"] == 0.0
    per_stimulus = result.per_stimulus[("layer_deletion", "delete[l=0]")]["kl"]
    assert per_stimulus.shape == (4,) and math.isclose(per_stimulus.mean(), row["value"])
    classes = {r["metric"]: r for r in rows if r["intervention"] == "token_classes"}
    assert set(classes) == {"fraction_local", "fraction_intermediate", "fraction_global", "n_classified"}
    total = sum(classes[f"fraction_{c}"]["value"] for c in ("local", "intermediate", "global"))
    assert math.isclose(total, 1.0, abs_tol=1e-9)
    again = sweep(adapter, prose, specs, batch_size=2, max_tokens=40, boot=BootstrapConfig(n_boot=200, seed=1)).rows
    assert [r["value"] for r in again if r["metric"] == "kl"] == pytest.approx([r["value"] for r in rows if r["metric"] == "kl"], abs=1e-6)


def test_token_classes_can_be_switched_off(tiny_adapter, prose):
    rows = run_interventions(
        tiny_adapter("llama"), prose, [{"name": "layer_deletion", "options": {"layers": [1]}}], 4, 40,
        BootstrapConfig(n_boot=50), token_classes={"enabled": False},
    )
    assert {r["metric"] for r in rows} == {"kl", "top1_agreement", "delta_loss", "delta_entropy"}


def test_specs_are_validated_and_labels_unique():
    with pytest.raises(Exception, match="unknown intervention"):
        build_interventions([{"name": "layer_delection"}], 4)
    with pytest.raises(ValueError, match="duplicate"):
        build_interventions([{"name": "layer_swap"}, {"name": "layer_swap"}], 4)
    with pytest.raises(Exception, match="sigmas"):
        build_interventions([{"name": "residual_noise", "options": {"sigmas": [-1]}}], 4)


def test_batches_never_leave_a_single_stimulus_alone(prose):
    assert sorted(len(b) for b in batches_of(prose[:3], 2)) == [3]
    assert sum(len(b) for b in batches_of(prose, 3)) == 4


def test_figures_show_effect_per_layer(tiny_adapter, prose, tmp_path):
    specs = [{"name": "layer_deletion"}, {"name": "residual_noise", "options": {"sigmas": [0.1, 1.0]}}]
    rows = run_interventions(tiny_adapter("llama"), prose, specs, 4, 32, BootstrapConfig(n_boot=50))
    paths = write_intervention_figures(tmp_path, rows, "tiny-llama", metrics=["kl", "top1_agreement"])
    assert len(paths) == 4 and all(p.suffix == ".png" and p.stat().st_size > 1000 for p in paths)


def _effect_rows(ci_high: float = 0.5) -> list[dict]:
    """Rows of one intervention on four layers, as :func:`run_interventions` gives them."""
    return [
        {"intervention": "layer_deletion", "plugin": "layer_deletion", "target": f"delete[l={layer}]", "layer": layer,
         "layer_end": layer, "layers": str(layer), "depth": (layer + 1) / 4, "param": "", "metric": "kl",
         "value": 0.1 * layer, "ci_low": 0.0, "ci_high": ci_high if layer == 2 else 1.0, "n": 6}
        for layer in range(4)
    ]  # fmt: skip


def test_a_memo_draws_an_effect_figure_again_only_when_what_it_shows_changes(tmp_path):
    plain = write_intervention_figures(tmp_path / "plain", _effect_rows(), "tiny-llama")
    memo = PngMemo(tmp_path / "cache")
    [first] = write_intervention_figures(tmp_path / "first", _effect_rows(), "tiny-llama", memo=memo)
    assert first.read_bytes() == plain[0].read_bytes() and memo.drawn == 1
    unplotted = [{**row, "target": "renamed", "depth": 0.0} for row in _effect_rows()]
    again = PngMemo(tmp_path / "cache")
    [second] = write_intervention_figures(tmp_path / "second", unplotted, "tiny-llama", memo=again)
    assert second.read_bytes() == first.read_bytes() and (again.drawn, again.hits) == (0, 1)
    write_intervention_figures(tmp_path / "third", _effect_rows(ci_high=0.75), "tiny-llama", memo=again)
    assert again.drawn == 1


def test_shipped_suite_is_valid_and_its_interventions_build():
    from mspgt_bench.plugins import registry
    from mspgt_bench.suite.loader import load_suite

    registered = "layer_deletion" in registry("interventions").names()
    suite = load_suite(SUITE, check_plugins=registered).suite
    names = [spec.name for spec in suite.interventions]
    assert {"layer_deletion", "layer_swap", "residual_noise"} <= set(names)
    built = build_interventions(suite.interventions, 30)  # smollm2-135m has 30 layers
    assert sum(len(iv.targets()) for iv in built if not iv.needs_fit) >= 30 + 29


def test_an_intervention_the_backend_cannot_run_is_reported_and_the_others_go_on(tiny_adapter, prose, monkeypatch):
    from mspgt_bench.interventions.library import LayerSwap

    def refuse(self, ctx):
        raise NotImplementedError("this backend cannot run other layers in place of a layer")

    monkeypatch.setattr(LayerSwap, "evaluate", refuse)
    specs = [{"name": "layer_deletion", "options": {"layers": [1]}}, {"name": "layer_swap", "id": "swap"}]
    result = sweep(tiny_adapter("llama"), prose, specs, batch_size=4, max_tokens=40, boot=BootstrapConfig(n_boot=50))
    assert result.unsupported == {"swap": "this backend cannot run other layers in place of a layer"}
    assert {r["intervention"] for r in result.rows} == {"layer_deletion", "token_classes"}
    assert set(result.targets) == {"layer_deletion"}

"""The run cache is keyed by content (weights, stimulus texts) and survives unreadable entries."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM

from mspgt_bench.models.hf import HFAdapter
from mspgt_bench.run import RunOptions, run_suite
from mspgt_bench.run.plan import Progress
from mspgt_bench.suite.loader import load_suite

PASSAGES = [
    "The river ran past the mill. It turned the wheel all day.",
    "A fox crossed the field at dawn. Nobody saw it go.",
    "The library opened at nine. Students queued at the door.",
    "Rain fell on the harbour. The boats rocked at anchor.",
    "The baker lit the oven early. Bread was ready by six.",
    "Snow covered the pass. The travellers waited for spring.",
]


class StageLines(Progress):
    """A progress sink that keeps every stage line."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def stage(self, text: str) -> None:
        self.lines.append(text)


def _run(path: Path, out: Path, progress: Progress | None = None):
    return run_suite(load_suite(path), RunOptions(out=out), progress)


def _trained(result):
    return next(r for r in result.results if r.condition == "trained")


@pytest.fixture
def model_folder(tmp_path: Path, tiny_adapter) -> Path:
    """A tiny random llama saved as a plain Hugging Face folder."""
    folder = tmp_path / "tiny-local"
    adapter: HFAdapter = tiny_adapter("llama")
    adapter.model.save_pretrained(folder)
    adapter.tokenizer.save_pretrained(folder)
    return folder


def test_swapped_weights_in_a_local_folder_are_recomputed(write_suite, minimal_suite, model_folder, tmp_path):
    path = write_suite(minimal_suite(models=[{"name": str(model_folder)}]))
    out = tmp_path / "run"
    first = _run(path, out)
    assert _trained(first).meta["cached"] is False
    again = _run(path, out)
    assert _trained(again).meta["cached"] is True
    assert again.profile_rows == first.profile_rows

    model = AutoModelForCausalLM.from_pretrained(model_folder)
    with torch.no_grad():
        model.model.norm.weight.mul_(3.0)  # one tensor changes: the final norm's scale
    model.save_pretrained(model_folder)

    swapped = _run(path, out)
    assert _trained(swapped).meta["cached"] is False
    kl = [r["value"] for r in first.profile_rows if r["metric"] == "kl"]
    assert kl != [r["value"] for r in swapped.profile_rows if r["metric"] == "kl"]
    assert _trained(_run(path, out)).meta["cached"] is True


def test_a_changed_stimulus_file_is_recomputed(write_suite, minimal_suite, tmp_path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n\n".join(PASSAGES) + "\n")
    stimuli = {"source": "text_file", "n": 4, "seed": 0, "max_tokens": 48, "options": {"path": str(corpus)}}
    path = write_suite(minimal_suite(stimuli=stimuli))
    out = tmp_path / "run"
    first = _run(path, out)
    assert _trained(_run(path, out)).meta["cached"] is True

    corpus.write_text("\n\n".join(p.replace("The", "A") for p in PASSAGES) + "\n")
    edited = _run(path, out)
    assert _trained(edited).meta["cached"] is False
    assert edited.profile_rows != first.profile_rows


def test_unreadable_cache_files_are_reported_moved_aside_and_recomputed(write_suite, minimal_suite, tmp_path):
    path = write_suite(minimal_suite(interventions=[{"name": "layer_deletion"}]))
    clean = _run(path, tmp_path / "clean")
    out = tmp_path / "run"
    _run(path, out)
    cache = out / "cache"
    (npz,) = cache.glob("tiny-llama-trained-*.npz")
    (effects,) = cache.glob("tiny-llama-trained-effects-*.json")
    npz.write_bytes(npz.read_bytes()[:100])
    effects.write_text(effects.read_text()[:50])

    progress = StageLines()
    rerun = _run(path, out, progress)
    reported = [line for line in progress.lines if "could not be read" in line]
    assert len(reported) == 2
    assert npz.name in reported[0] and "BadZipFile" in reported[0] and f"{npz.name}.corrupt-1" in reported[0]
    assert effects.name in reported[1] and "JSONDecodeError" in reported[1]
    assert (cache / f"{npz.name}.corrupt-1").stat().st_size == 100
    assert (cache / f"{effects.name}.corrupt-1").is_file()
    assert _trained(rerun).meta["cached"] is False
    assert rerun.verdict_rows == clean.verdict_rows
    assert rerun.profile_rows == clean.profile_rows
    assert json.dumps(rerun.effect_rows) == json.dumps(clean.effect_rows)  # NaN-safe equality

    progress = StageLines()
    third = _run(path, out, progress)
    assert _trained(third).meta["cached"] is True
    assert not [line for line in progress.lines if "could not be read" in line]
    assert (out / "verdicts.csv").read_bytes() == (tmp_path / "clean" / "verdicts.csv").read_bytes()

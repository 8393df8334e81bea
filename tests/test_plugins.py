"""Third-party plugins: discovered through the entry-point group, filtered by the allow-list.

The example plugin in plugins/ is installed for real with pip (into a temporary target folder
so the test environment is left as it was) and then used from a suite in a subprocess.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "plugins" / "mspgt-example-adapter"


@pytest.fixture(scope="module")
def installed_example(tmp_path_factory) -> Path:
    target = tmp_path_factory.mktemp("site")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--target", str(target), str(EXAMPLE)],
        check=True,
    )
    return target


def _cli(args: list[str], pythonpath: Path | None, **env: str) -> subprocess.CompletedProcess:
    environ = {**os.environ, **env}
    if pythonpath is not None:
        environ["PYTHONPATH"] = str(pythonpath)
    return subprocess.run(
        [sys.executable, "-m", "mspgt_bench.cli", *args], capture_output=True, text=True, env=environ, cwd=ROOT
    )


def test_builtin_plugin_is_listed_with_its_hooks():
    result = _cli(["plugins", "--json"], None, MSPGT_LOAD_PLUGINS="")
    (builtin,) = json.loads(result.stdout)
    assert builtin["name"] == "mspgt_bench.builtin" and builtin["builtin"]
    assert "register_signals" in builtin["hooks"] and "register_model_adapters" in builtin["hooks"]


def test_installed_plugin_appears_and_its_adapter_runs_from_a_suite(installed_example, tmp_path):
    listed = json.loads(_cli(["plugins", "--json"], installed_example).stdout)
    example = next(p for p in listed if p["name"] == "example_adapter")
    assert example["version"] == "0.1.0"
    assert example["hooks"] == ["register_model_adapters", "register_offline_models"]

    suite = {
        "suite": {"name": "plugin-run"},
        "models": [
            {"name": "example-gpt2-2l"},
            {"name": "inline-qwen3", "adapter": "hf-config", "family": "qwen3",
             "args": {"model_type": "qwen3", "config": {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 3,
                                                        "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 8}}},
        ],
        "stimuli": {"n": 4, "max_tokens": 32},
        "signals": [{"name": "angular_distance"}],
        "bootstrap": {"n_boot": 100},
        "output": {"figures": False},
    }
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump(suite))
    run = _cli(["run", str(path), "--out", str(tmp_path / "run")], installed_example)
    assert run.returncode == 0, run.stderr
    document = json.loads((tmp_path / "run" / "results.json").read_text())
    layers = {(r["model"], r["layer"]) for r in document["profiles"]}
    assert {("example-gpt2-2l", 1), ("inline-qwen3", 2)} <= layers
    assert document["provenance"]["models"]["inline-qwen3/trained"]["provenance"]["family"] == "qwen3"


def test_allow_list_excludes_plugins_not_named(installed_example):
    names = [p["name"] for p in json.loads(_cli(["plugins", "--json"], installed_example, MSPGT_LOAD_PLUGINS="other").stdout)]
    assert names == ["mspgt_bench.builtin"]
    unknown = _cli(["list", "adapters"], installed_example, MSPGT_LOAD_PLUGINS="")
    assert "hf-config" not in unknown.stdout


def _distribution(root: Path, name: str, source: str) -> None:
    """A real installed distribution (module + dist-info with an mspgt_bench entry point) under ``root``."""
    (root / f"{name}.py").write_text(source)
    info = root / f"{name}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[mspgt_bench]\n{name} = {name}\n")


HOOK = "from mspgt_bench.hookspecs import hookimpl\n\n@hookimpl\ndef register_signals(register):\n"


def test_broken_plugins_are_left_out_and_reported_and_the_tool_works(tmp_path):
    _distribution(tmp_path, "raising_plugin", HOOK + "    raise RuntimeError('broken on purpose')\n")
    _distribution(tmp_path, "duplicate_plugin", HOOK + "    register('own_signal', object)\n    register('logit_lens', object)\n")
    _distribution(tmp_path, "unimportable_plugin", "raise ImportError('a missing dependency')\n")
    listed = json.loads(_cli(["plugins", "--json"], tmp_path).stdout)
    failed = {p["name"]: p["failed"] for p in listed}
    assert failed["mspgt_bench.builtin"] is None
    assert "register_signals raised RuntimeError: broken on purpose" in failed["raising_plugin"]
    assert "'logit_lens' registered twice" in failed["duplicate_plugin"]
    assert "a missing dependency" in failed["unimportable_plugin"]
    listing = _cli(["list", "signals"], tmp_path)
    assert listing.returncode == 0, listing.stderr
    assert "logit_lens" in listing.stdout and "own_signal" not in listing.stdout  # left out whole
    assert listing.stderr.count("mspgt-bench: plugin ") == 3 and "Traceback" not in listing.stderr

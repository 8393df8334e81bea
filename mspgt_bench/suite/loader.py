"""Read, merge, validate and hash suite files.

* A suite is untrusted data, never code: each file is read within limits on size, nesting and
  alias expansion, as plain YAML without duplicate keys (:mod:`mspgt_bench.suite.reading`); keys
  that would load code, non-finite numbers and counts beyond the limits are refused wherever they
  are (:mod:`mspgt_bench.suite.guards`, :mod:`mspgt_bench.suite.limits`), beside the schema's problems.
* ``include: [base.yaml, ...]`` merges base files first (paths relative to the including file,
  inside the top suite's folder, at most :data:`MAX_FILES` files in all); mappings merge key by
  key, everything else is replaced by the including file.
* Every problem is reported on one line with the file that set the key, the key path, what is
  wrong and what would be right; nothing else escapes (no traceback). Validation writes nothing.
"""

from __future__ import annotations

import difflib
import hashlib
import inspect
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from mspgt_bench.options import Strict
from mspgt_bench.suite import guards
from mspgt_bench.suite.problems import Problem, SuiteError, format_path, short_repr
from mspgt_bench.suite.reading import ReadError, read_document
from mspgt_bench.suite.schema import STIMULI_TAGS, UNION_TAGS, Suite

__all__ = ["MAX_FILES", "LoadedSuite", "Problem", "SuiteError", "load_suite"]

MAX_FILES = 16
"""Files one suite may read in all, itself and its includes (the shipped suites read two)."""


@dataclass(frozen=True)
class LoadedSuite:
    """A validated suite with the merged data it came from and its content hash."""

    suite: Suite
    data: dict[str, Any]
    path: Path
    files: tuple[Path, ...]
    sha256: str


def load_suite(path: str | Path, *, check_plugins: bool = True) -> LoadedSuite:
    """Load and validate a suite; raise ``SuiteError`` listing every problem found."""
    path = Path(path)
    origins: dict[str, str] = {}
    files: list[Path] = []
    data = _read_with_includes(path, origins, files, chain=(), root=_resolved(path.parent, str(path), ""))
    refused = _refused(data, origins, str(path))
    suite, problems, cross_check = _schema_check(data, origins, str(path))
    if cross_check and check_plugins:
        problems += _plugin_problems(data, origins, str(path))
    if cross_check:
        problems += _reference_problems(data, origins, str(path))
    problems = refused + _not_within(problems, {r.path for r in refused})
    if problems or suite is None:
        raise SuiteError(problems)
    return LoadedSuite(suite, data, path, tuple(files), suite_digest(data))


WHERE_IT_RUNS = ("executor", "address")
"""``run:`` keys that say where a suite runs, not what it computes: left out of its sha256."""


def suite_digest(data: dict[str, Any]) -> str:
    """sha256 of the merged suite data, without the keys that only choose where it runs.

    A suite run on a Ray cluster gives the same numbers as on this machine, so it keeps the
    same hash, and its rows compare with a local run's.
    """
    run = data.get("run")
    if isinstance(run, dict) and any(key in run for key in WHERE_IT_RUNS):
        data = {**data, "run": {k: v for k, v in run.items() if k not in WHERE_IT_RUNS}}
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


def _refused(data: dict[str, Any], origins: dict[str, str], default_file: str) -> list[Problem]:
    """What no suite may contain (``guards``), wherever it is."""
    return [
        Problem(origins.get(str(where[0]), default_file), format_path(where), message)
        for where, message in guards.findings(data)
    ]


def _not_within(problems: list[Problem], paths: set[str]) -> list[Problem]:
    """``problems`` less those at or under one of ``paths`` (a refused value is reported once, by ``guards``)."""

    def prefixes(path: str) -> list[str]:
        return [path[:i] for i, c in enumerate(path) if c in ".["] + [path]

    return [p for p in problems if not paths.intersection(prefixes(p.path))]


def _schema_check(
    data: dict[str, Any], origins: dict[str, str], default_file: str
) -> tuple[Suite | None, list[Problem], bool]:
    """The typed suite or the schema's problems, and whether the cross-checks may follow: not when a
    section's list is over its length limit (their cost grows with those lengths)."""
    try:
        return Suite.model_validate(data), [], True
    except ValidationError as exc:
        errors = exc.errors()
    problems = [_problem_from_pydantic(err, origins, default_file) for err in errors]
    too_long = any(err["type"] == "too_long" and len(_untagged(tuple(err["loc"]))) == 1 for err in errors)
    return None, problems, not too_long


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = read_document(path)
    except ReadError as exc:
        raise SuiteError([Problem(str(path), format_path(exc.path), exc.message)]) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise SuiteError([Problem(str(path), "", f"a suite must be a mapping of sections, got {type(data).__name__}")])
    return data


def _resolved(path: Path, file: str, key: str) -> Path:
    """``path`` with symlinks and '..' resolved, or a problem at ``key`` of ``file`` (a symlink loop, a NUL)."""
    try:
        return path.resolve()
    except (OSError, RuntimeError, ValueError) as exc:
        raise SuiteError([Problem(file, key, f"{str(path)!r} cannot be resolved ({exc})")]) from None


def _read_with_includes(
    path: Path, origins: dict[str, str], files: list[Path], chain: tuple[Path, ...], root: Path
) -> dict[str, Any]:
    resolved = _resolved(path, str(path), "")
    if resolved in chain:
        cycle = " -> ".join(str(p) for p in (*chain, resolved))
        raise SuiteError([Problem(str(path), "include", f"include cycle: {cycle}")])
    if len(files) >= MAX_FILES:
        message = f"more than {MAX_FILES} files are read in all (this suite and its includes); merge some of them"
        raise SuiteError([Problem(str(path), "include", message)])
    files.append(path)
    data = _read_yaml(path)
    includes = data.pop("include", [])
    if isinstance(includes, str):
        includes = [includes]
    if not isinstance(includes, list) or not all(isinstance(i, str) for i in includes):
        raise SuiteError([Problem(str(path), "include", "must be a file name or a list of file names")])
    merged: dict[str, Any] = {}
    for name in includes:
        base = _read_with_includes(_included(path, name, root), origins, files, (*chain, resolved), root)
        merged = _merge(merged, base)
    for key in data:
        origins[key] = str(path)
    return _merge(merged, data)


def _included(path: Path, name: str, root: Path) -> Path:
    """The file ``name`` that ``path`` includes; it must lie in the top suite's folder ``root`` or below."""
    target = path.parent / name
    if not _resolved(target, str(path), "include").is_relative_to(root):
        message = (
            f"{name!r} lies outside the suite's folder {root}; an include may only read files in that folder "
            "or below (copy the base file there)"
        )
        raise SuiteError([Problem(str(path), "include", message)])
    return target


def _merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _untagged(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """``loc`` without the union tags pydantic puts after ``stimuli`` and ``threshold`` (no key of the suite file)."""
    return tuple(part for i, part in enumerate(loc) if not (i and part in UNION_TAGS.get(str(loc[i - 1]), ())))


def _format_loc(loc: tuple[Any, ...]) -> str:
    return format_path(_untagged(loc))


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The schema section that a location points into (to list its valid keys)."""
    model: Any = Suite
    for index, part in enumerate(loc):
        if isinstance(part, int):
            continue
        if index == 1 and loc[0] == "stimuli" and part in STIMULI_TAGS:
            model = STIMULI_TAGS[part]
            continue
        field = model.model_fields.get(part) if isinstance(model, type) and issubclass(model, BaseModel) else None
        if field is None:
            return None
        annotation = field.annotation
        inner = getattr(annotation, "__args__", None)
        model = next((a for a in inner or () if isinstance(a, type) and issubclass(a, BaseModel)), annotation)
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


def _problem_from_pydantic(err: dict[str, Any], origins: dict[str, str], default_file: str) -> Problem:
    loc = tuple(err["loc"])
    file = origins.get(str(loc[0]), default_file) if loc else default_file
    path = _format_loc(loc)
    kind = err["type"]
    if kind == "extra_forbidden":
        section = _model_at(loc[:-1])
        return Problem(file, path, _unknown_key(loc[-1], list(section.model_fields) if section else [], "key"))
    if kind == "missing":
        return Problem(file, path, "required key is missing; add it")
    if kind == "string_pattern_mismatch" and path.endswith(".id"):
        message = (
            f"{short_repr(err.get('input'))} is not a short slug; use letters, digits, '-' and '_' only, e.g. 'fiction'"
        )
        return Problem(file, path, message)
    return Problem(file, path, f"{err['msg']} (got {short_repr(err.get('input'))})")


def _plugin_problems(data: dict[str, Any], origins: dict[str, str], default_file: str) -> list[Problem]:
    """Check every named plugin exists and that its options match its declared ``Options``.

    Works on the raw merged data, so it also runs when the structure has errors elsewhere.
    """
    from mspgt_bench.plugins import registry
    from mspgt_bench.registry import UnknownComponentError

    def items(section: str) -> list[tuple[int, dict[str, Any]]]:
        value = data.get(section)
        return [(i, x) for i, x in enumerate(value) if isinstance(x, dict)] if isinstance(value, list) else []

    checks: list[tuple[str, str, Any, dict[str, Any]]] = []
    checks += [(f"models[{i}].adapter", "model_adapters", m.get("adapter", "hf"), m) for i, m in items("models")]
    stimuli = data.get("stimuli")
    if isinstance(stimuli, list):
        sets = items("stimuli")
        checks += [(f"stimuli[{i}].source", "stimulus_sources", s.get("source", "stdlib_prose"), s) for i, s in sets]
    else:
        stimuli = stimuli if isinstance(stimuli, dict) else {}
        checks.append(("stimuli.source", "stimulus_sources", stimuli.get("source", "stdlib_prose"), stimuli))
    for section in ("signals", "detectors", "interventions", "predictions"):
        checks += [(f"{section}[{i}].name", section, spec.get("name"), spec) for i, spec in items(section)]

    problems: list[Problem] = []
    for path, kind, name, spec in checks:
        if not isinstance(name, str):
            continue  # structural validation reports it
        file = origins.get(path.split("[")[0].split(".")[0], default_file)
        try:
            component = registry(kind).get(name)
        except UnknownComponentError as exc:
            problems.append(Problem(file, path, str(exc)))
            continue
        base = path.rsplit(".", 1)[0]
        statistics = getattr(component, "statistics", None)
        if kind == "predictions" and statistics is not None and spec.get("statistic") not in statistics:
            asked = spec.get("statistic")
            message = f"{name!r} does not compute {asked!r}; use one of: {', '.join(statistics)}"
            problems.append(Problem(file, f"{base}.statistic", message))
        options = spec.get("options", {})
        if kind == "stimulus_sources" and isinstance(options, dict):
            # a source's options are its keyword parameters (``n`` and ``seed`` are set by the suite)
            problems += _keyword_problems(component, options, ("n", "seed"), file, f"{base}.options", "option")
        if kind == "model_adapters" and isinstance(spec.get("args"), dict):
            problems += _keyword_problems(component, spec["args"], (), file, f"{base}.args", "adapter argument")
        schema = getattr(component, "Options", None)
        if kind != "stimulus_sources" and isinstance(schema, type) and issubclass(schema, Strict):
            try:
                schema.model_validate(options)
            except ValidationError as exc:
                problems += [_problem_from_options(err, schema, file, f"{base}.options") for err in exc.errors()]
    return problems


# option keys that name another component of the suite, and the section that must define it
REFERENCES = {
    "detector": "detectors",
    "detectors": "detectors",
    "segments_from": "detectors",
    "intervention": "interventions",
}


def _reference_problems(data: dict[str, Any], origins: dict[str, str], default_file: str) -> list[Problem]:
    """Keys that name a detector or intervention (by its ``id``, else its name) must find it in the suite.

    Generation experiments count as interventions (predictions read both the same way); their
    ``segments_from`` and their generation options are checked here too.
    """

    def entries(section: str) -> list[dict[str, Any]]:
        value = data.get(section)
        return [x for x in value if isinstance(x, dict)] if isinstance(value, list) else []

    labels = {
        "detectors": [str(x.get("id") or x.get("name")) for x in entries("detectors")],
        "interventions": [str(x.get("id") or x.get("name")) for x in entries("interventions")]
        + [str(x.get("id") or "generation") for x in entries("generation")],
    }
    problems = []

    def check(section: str, where: str, references: dict[str, Any]) -> None:
        for key, value in references.items():
            target = REFERENCES.get(key)
            for name in (value if isinstance(value, list) else [value]) if target else ():
                if isinstance(name, str) and name not in labels[target]:
                    message = f"names {short_repr(name)}, which is not in `{target}:`. " + _unknown_key(
                        name, labels[target], target.rstrip("s") + " label"
                    )
                    problems.append(Problem(origins.get(section, default_file), f"{where}.{key}", message))

    for section in ("interventions", "predictions"):
        for index, spec in enumerate(entries(section)):
            options = spec.get("options")
            check(section, f"{section}[{index}].options", options if isinstance(options, dict) else {})
    for index, spec in enumerate(entries("generation")):
        check("generation", f"generation[{index}]", {k: v for k, v in spec.items() if k == "segments_from"})
        problems += _generation_option_problems(spec.get("options"), origins.get("generation", default_file), index)
    return problems


def _generation_option_problems(options: Any, file: str, index: int) -> list[Problem]:
    from mspgt_bench.interventions.generation import GenerationOptions

    if not isinstance(options, dict):
        return []  # structural validation reports it
    try:
        GenerationOptions.model_validate(options)
    except ValidationError as exc:
        return [
            _problem_from_options(err, GenerationOptions, file, f"generation[{index}].options") for err in exc.errors()
        ]
    return []


def _problem_from_options(err: dict[str, Any], schema: type[BaseModel], file: str, prefix: str) -> Problem:
    loc = tuple(err["loc"])
    path = prefix + ("." + _format_loc(loc) if loc else "")
    if err["type"] == "extra_forbidden":
        return Problem(file, path, _unknown_key(loc[-1], list(schema.model_fields), "option"))
    return Problem(file, path, f"{err['msg']} (got {short_repr(err.get('input'))})")


def _unknown_key(key: Any, valid: list[str], what: str) -> str:
    close = difflib.get_close_matches(str(key), valid, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return f"unknown {what}.{hint} Valid {what}s here: {', '.join(valid) or '(none)'}."


def _keyword_problems(
    target: Callable[..., Any], given: dict[str, Any], reserved: tuple[str, ...], file: str, prefix: str, what: str
) -> list[Problem]:
    """Keys of ``given`` that are no keyword parameter of ``target`` (none when it takes ``**kwargs``)."""
    try:
        parameters = inspect.signature(target).parameters
    except (TypeError, ValueError):  # a plugin object without a signature: its own errors come at run time
        return []
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return []
    names = [name for name in parameters if name not in reserved]
    return [Problem(file, f"{prefix}.{key}", _unknown_key(key, names, what)) for key in given if key not in names]

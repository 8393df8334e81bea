"""Read, merge, validate and hash suite files.

* ``yaml.safe_load`` only: a suite is data, never code.
* ``include: [base.yaml, ...]`` merges base files first (paths relative to the including file);
  mappings merge key by key, everything else is replaced by the including file.
* Every problem is reported with the file that set the key, the key path, what is wrong and
  what would be right. Validation writes nothing.
"""

from __future__ import annotations

import difflib
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from mspgt_bench.options import Strict
from mspgt_bench.suite.schema import STIMULI_TAGS, Suite


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a suite."""

    file: str
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.path or '(top level)'}: {self.message}"


class SuiteError(ValueError):
    """A suite that cannot be run; ``problems`` lists each reason."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
        super().__init__(f"invalid suite ({count}):\n" + "\n".join(f"  - {p}" for p in problems))


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
    data = _read_with_includes(path, origins, files, chain=())
    problems: list[Problem] = []
    try:
        suite = Suite.model_validate(data)
    except ValidationError as exc:
        problems += [_problem_from_pydantic(err, origins, str(path)) for err in exc.errors()]
    if check_plugins:
        problems += _plugin_problems(data, origins, str(path))
    problems += _reference_problems(data, origins, str(path))
    if problems:
        raise SuiteError(problems)
    digest = hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()
    return LoadedSuite(suite, data, path, tuple(files), digest)


def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise SuiteError([Problem(str(path), "", "file not found; check the path")])
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise SuiteError([Problem(str(path), "", f"{where}not valid YAML ({getattr(exc, 'problem', exc)})")]) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise SuiteError([Problem(str(path), "", f"a suite must be a mapping of sections, got {type(data).__name__}")])
    return data


def _read_with_includes(
    path: Path, origins: dict[str, str], files: list[Path], chain: tuple[Path, ...]
) -> dict[str, Any]:
    resolved = path.resolve()
    if resolved in chain:
        cycle = " -> ".join(str(p) for p in (*chain, resolved))
        raise SuiteError([Problem(str(path), "include", f"include cycle: {cycle}")])
    files.append(path)
    data = _read_yaml(path)
    includes = data.pop("include", [])
    if isinstance(includes, str):
        includes = [includes]
    if not isinstance(includes, list) or not all(isinstance(i, str) for i in includes):
        raise SuiteError([Problem(str(path), "include", "must be a file name or a list of file names")])
    merged: dict[str, Any] = {}
    for name in includes:
        base = _read_with_includes(path.parent / name, origins, files, (*chain, resolved))
        merged = _merge(merged, base)
    for key in data:
        origins[key] = str(path)
    return _merge(merged, data)


def _merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _untagged(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """``loc`` without the union tag pydantic puts after ``stimuli`` (the suite file has no such key)."""
    if len(loc) > 1 and loc[0] == "stimuli" and loc[1] in STIMULI_TAGS:
        return (loc[0], *loc[2:])
    return loc


def _format_loc(loc: tuple[Any, ...]) -> str:
    text = ""
    for part in _untagged(loc):
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


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
        given = err.get("input")
        message = f"{given!r} is not a short slug; use letters, digits, '-' and '_' only, e.g. 'fiction'"
        return Problem(file, path, message)
    given = err.get("input")
    return Problem(file, path, f"{err['msg']} (got {given!r})")


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
            problems += _source_option_problems(component, options, file, f"{base}.options")
        schema = getattr(component, "Options", None)
        if kind != "stimulus_sources" and isinstance(schema, type) and issubclass(schema, Strict):
            try:
                schema.model_validate(options)
            except ValidationError as exc:
                problems += [_problem_from_options(err, schema, file, f"{base}.options") for err in exc.errors()]
    return problems


# option keys that name another component of the suite, and the section that must define it
REFERENCES = {"detector": "detectors", "detectors": "detectors", "segments_from": "detectors", "intervention": "interventions"}


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
                    message = f"names {name!r}, which is not in `{target}:`. " + _unknown_key(
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
        return [_problem_from_options(err, GenerationOptions, file, f"generation[{index}].options") for err in exc.errors()]
    return []


def _problem_from_options(err: dict[str, Any], schema: type[BaseModel], file: str, prefix: str) -> Problem:
    loc = tuple(err["loc"])
    path = prefix + ("." + _format_loc(loc) if loc else "")
    if err["type"] == "extra_forbidden":
        return Problem(file, path, _unknown_key(loc[-1], list(schema.model_fields), "option"))
    return Problem(file, path, f"{err['msg']} (got {err.get('input')!r})")


def _unknown_key(key: Any, valid: list[str], what: str) -> str:
    close = difflib.get_close_matches(str(key), valid, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return f"unknown {what}.{hint} Valid {what}s here: {', '.join(valid) or '(none)'}."


def _source_option_problems(source: Any, options: dict[str, Any], file: str, prefix: str) -> list[Problem]:
    """Options of a stimulus source are its keyword parameters (``n`` and ``seed`` are set by the suite)."""
    import inspect

    parameters = [p for p in inspect.signature(source).parameters if p not in ("n", "seed")]
    return [
        Problem(file, f"{prefix}.{key}", _unknown_key(key, parameters, "option"))
        for key in options
        if key not in parameters
    ]

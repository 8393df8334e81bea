"""What no suite may say, whichever section or plugin reads it; checked on the merged data before the schema.

* **Code.** A suite is data that people share, so it may not ask an adapter to run Python code
  shipped with a model (``trust_remote_code``, ``code_revision``: only the command-line flag
  ``--trust-remote-code`` enables that) or to import a class it names (vLLM's ``worker_cls``,
  ``worker_extension_cls``, a ``distributed_executor_backend`` other than the built-in ones).
  Found at any depth: ``models[].args``, nested ``model_kwargs``/``engine_args``, plugin options.
* **Non-finite numbers** (``.nan``, ``.inf``) anywhere; in plugin options and adapter arguments
  also text that a number field would read as one (``"nan"``).
* **Counts** in plugin options and adapter arguments beyond :data:`limits.OPTION_LIMITS`.

Each finding is a key path and a message; the loader turns them into problems.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

from mspgt_bench.suite.limits import OPTION_LIMITS

FLAG_ONLY = "Remove it; code shipped with a model runs only with the command-line flag --trust-remote-code"
CODE_KEYS: dict[str, str] = {
    "trust_remote_code": f"not allowed in a suite: it runs Python code shipped with the model. {FLAG_ONLY}",
    "code_revision": f"not allowed in a suite: it picks the revision of Python code shipped with the model. {FLAG_ONLY}",
    "worker_cls": "not allowed in a suite: it names a Python class to import. Remove it",
    "worker_extension_cls": "not allowed in a suite: it names a Python class to import. Remove it",
}
"""Adapter arguments (HF ``from_pretrained``, vLLM ``LLM``) that load code, and what a suite that sets one is told."""

EXECUTOR_BACKENDS = ("mp", "uni", "ray", "external_launcher")
"""vLLM's built-in executors; any other ``distributed_executor_backend`` text is imported as a Python class."""

PLUGIN_SECTIONS = ("options", "args")
"""Keys whose mappings are handed to a plugin or an adapter (no schema of ours checks their values)."""

Finding = tuple[tuple[Any, ...], str]


def findings(data: Any) -> list[Finding]:
    """Every (key path, message) in ``data`` that no suite may contain."""
    return list(_walk(data, (), in_plugin=False))


def _walk(value: Any, path: tuple[Any, ...], in_plugin: bool) -> Iterator[Finding]:
    if isinstance(value, dict):
        for key, item in value.items():
            where = (*path, key)
            message = _key_message(key, item)
            if message:
                yield where, message
            yield from _walk(item, where, in_plugin or key in PLUGIN_SECTIONS)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _walk(item, (*path, index), in_plugin)
    else:
        message = _value_message(value, path[-1] if path else None, in_plugin)
        if message:
            yield path, message


def _key_message(key: Any, value: Any) -> str | None:
    if key in CODE_KEYS:
        return CODE_KEYS[key]
    if key == "distributed_executor_backend" and value is not None and value not in EXECUTOR_BACKENDS:
        return (
            f"{value!r} would be imported as a Python class, which a suite may not ask for; "
            f"use one of {', '.join(EXECUTOR_BACKENDS)} or leave it unset"
        )
    return None


def _value_message(value: Any, key: Any, in_plugin: bool) -> str | None:
    if isinstance(value, float) and not math.isfinite(value):
        return f"{value} is not a finite number; give a finite number"
    if not in_plugin:
        return None
    number = _as_number(value)
    if isinstance(value, str) and number is not None and not math.isfinite(number):
        return f"{value!r} would be read as the non-finite number {number}; give a finite number"
    limit = OPTION_LIMITS.get(key) if isinstance(key, str) else None
    if limit is not None and number is not None and not 0 <= number <= limit:
        return f"{value!r} is outside 0..{limit}, the range a suite may give `{key}` (see mspgt_bench/suite/limits.py)"
    return None


def _as_number(value: Any) -> float | None:
    """The number a lax number field would read from ``value`` (``None`` for anything else, booleans included)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None

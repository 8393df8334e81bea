"""The stimulus sources by name, and one entry point that checks a source's options."""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Callable

from mspgt_bench.stimuli.base import Stimulus
from mspgt_bench.stimuli.comments import stdlib_comments
from mspgt_bench.stimuli.files import jsonl_file, text_file
from mspgt_bench.stimuli.huggingface import hf_dataset
from mspgt_bench.stimuli.kjv import kjv_narrative
from mspgt_bench.stimuli.stdlib import stdlib_prose

SOURCES: dict[str, Callable[..., list[Stimulus]]] = {
    "stdlib_prose": stdlib_prose,
    "kjv_narrative": kjv_narrative,
    "stdlib_comments": stdlib_comments,
    "text_file": text_file,
    "jsonl_file": jsonl_file,
    "hf_dataset": hf_dataset,
}


def _suggestion(name: str, choices: list[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest of ``choices``, or nothing."""
    close = difflib.get_close_matches(name, choices, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def load_stimuli(source: str, **options: object) -> list[Stimulus]:
    """Stimuli from the source named ``source``, called with ``options``.

    Raises:
        ValueError: If the source is unknown, an option name is not one of the source's
            parameters, or a required option is missing; the message lists the valid names.
    """
    if source not in SOURCES:
        raise ValueError(
            f"unknown stimulus source {source!r}{_suggestion(source, list(SOURCES))}; "
            f"known sources: {', '.join(SOURCES)}"
        )
    function = SOURCES[source]
    parameters = inspect.signature(function).parameters
    valid = ", ".join(parameters)
    for option in options:
        if option not in parameters:
            raise ValueError(
                f"stimulus source {source!r} has no option {option!r}"
                f"{_suggestion(option, list(parameters))}; valid options: {valid}"
            )
    missing = [
        name
        for name, parameter in parameters.items()
        if parameter.default is inspect.Parameter.empty and name not in options
    ]
    if missing:
        raise ValueError(
            f"stimulus source {source!r} needs option(s) {', '.join(missing)}; "
            f"valid options: {valid}"
        )
    return function(**options)

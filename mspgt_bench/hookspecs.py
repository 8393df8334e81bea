"""Hook specifications: the only surface a plugin needs to know.

Every hook receives a ``register`` callback. A plugin calls it once per component it adds::

    @hookimpl
    def register_model_adapters(register):
        register("my-adapter", MyAdapter)

Built-in components are registered through these very hooks (see ``mspgt_bench.builtin``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pluggy

PROJECT = "mspgt_bench"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

Register = Callable[[str, Any], None]


@hookspec
def register_model_adapters(register: Register) -> None:
    """Register model adapter classes (``ModelAdapter`` subclasses) by name."""


@hookspec
def register_offline_models(register: Register) -> None:
    """Register named models (``ModelEntry``) that ``--model NAME`` can refer to."""


@hookspec
def register_signals(register: Register) -> None:
    """Register per-layer signal classes (``Signal`` subclasses) by name."""


@hookspec
def register_interventions(register: Register) -> None:
    """Register intervention classes by name."""


@hookspec
def register_detectors(register: Register) -> None:
    """Register boundary detector classes by name."""


@hookspec
def register_predictions(register: Register) -> None:
    """Register prediction classes (``Prediction`` subclasses) by name."""


@hookspec
def register_stimulus_sources(register: Register) -> None:
    """Register stimulus source functions by name."""

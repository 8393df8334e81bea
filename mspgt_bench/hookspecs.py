"""Hook specifications: the only surface a plugin needs to know.

Every hook receives a ``register`` callback and returns nothing. A plugin calls
``register(name, component)`` once per component it adds::

    @hookimpl
    def register_model_adapters(register):
        register("my-adapter", MyAdapter)

Built-in components are registered through these very hooks (see ``mspgt_bench.builtin``).

When hooks run: lazily, on the first read of any registry (``mspgt_bench.plugins.registry``),
every implementation of every hook is called once per process and the registries of all kinds
are filled together. The built-in plugin is registered first, then third-party plugins in the
order their ``mspgt_bench`` entry points are found (``MSPGT_LOAD_PLUGINS=a,b`` keeps only those;
an entry point whose plugin name is already taken is skipped).

Names: ``name`` is what suites and ``--model`` write. Names are unique per kind (the same name
may serve two kinds, e.g. a signal and a detector). There is no override and no precedence:
plugins are taken whole, in the order above, and a plugin that registers a name already taken
in that kind (by an earlier plugin or by itself), or whose hook raises, is left out entirely:
none of its components are registered, stderr says why once, and ``mspgt-bench plugins`` lists
it as failed with the reason (``DuplicateComponentError``'s message for a duplicate). The other
plugins, the built-in one included, keep working. An entry point that fails to import is left
out the same way. An unknown name asked of a registry raises ``UnknownComponentError`` with the
closest registered names.

Options: a component class whose ``Options`` derives from ``mspgt_bench.options.Strict`` has a
suite's ``options:`` checked against it by ``mspgt-bench validate``; ``mspgt-bench list`` shows
the first line of each component's docstring.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pluggy

PROJECT = "mspgt_bench"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

Register = Callable[[str, Any], None]
"""``register(name, component)``: add one component of the hook's kind under ``name``."""


@hookspec
def register_model_adapters(register: Register) -> None:
    """Register model adapter classes (``mspgt_bench.models.base.ModelAdapter`` subclasses) by name.

    ``name`` is what a suite's ``models[].adapter`` and a ``ModelEntry.adapter`` say. The runner
    calls the class with keyword arguments only: the zoo entry's ``args`` updated by the suite's
    ``models[].args`` (for the ``hf`` adapter and a name that is no zoo entry, ``model=<name>``),
    plus ``random_weights=True, seed=<run seed>`` for the random-weight control. The instance must
    fulfil the whole ``ModelAdapter`` contract; ``close()`` is called when the model is done.
    """


@hookspec
def register_offline_models(register: Register) -> None:
    """Register named models (``mspgt_bench.models.entries.ModelEntry``) that ``--model NAME`` can refer to.

    ``name`` should equal the entry's ``name``. A suite's ``models[].name`` equal to it takes the
    entry's adapter, family, size and ``args`` (the suite's values win); the adapter named must be
    registered by some plugin.
    """


@hookspec
def register_signals(register: Register) -> None:
    """Register per-layer signal classes (``mspgt_bench.signals.base.Signal`` subclasses) by name.

    ``name`` is what a suite's ``signals[].name`` says. The runner builds fresh instances for each
    model, condition and stimulus set as ``cls(n_layers, label=<id or name>, **options)``, feeds it every captured batch
    (``update``) and reads ``profiles(boot)``; profile keys are ``<label>.<metric>``.
    """


@hookspec
def register_interventions(register: Register) -> None:
    """Register intervention classes (``mspgt_bench.interventions.base.Intervention`` subclasses) by name.

    ``name`` is what a suite's ``interventions[].name`` says. Built as
    ``cls(n_layers, label=<id or name>, **options)``; a detector-resolved ``segments_from`` arrives
    as ``segments``. Its conditions return ``mspgt_bench.models.resume.Step`` edits.
    """


@hookspec
def register_detectors(register: Register) -> None:
    """Register boundary detector classes (``mspgt_bench.detectors.plugins.Detector`` subclasses) by name.

    ``name`` is what a suite's ``detectors[].name`` says. Built as ``cls(label=<id or name>,
    **options)``; ``detect(profiles, n_layers, boot)`` returns a ``Detection``, once per model and
    condition. A detection whose refit rules (``fit_fixed``, ``segment``) the detector can rebuild
    from a JSON ``rule_state`` (``rules(n_layers, state)``) is cached by content; one with rules and
    no ``rule_state`` is computed again on every run.
    """


@hookspec
def register_predictions(register: Register) -> None:
    """Register prediction classes (``mspgt_bench.predictions.base.Prediction`` subclasses) by name.

    ``name`` is what a suite's ``predictions[].name`` says; ``statistics`` lists the statistics it
    offers. Built as ``cls(spec)`` with the suite's ``PredictionSpec``; ``evaluate(ctx)`` returns
    an ``Outcome`` per model and condition, or, for a ``CrossModelPrediction``,
    ``evaluate_many(contexts)`` one per group. A raising prediction becomes an ERROR row.
    """


@hookspec
def register_stimulus_sources(register: Register) -> None:
    """Register stimulus source functions by name.

    ``name`` is what a suite's ``stimuli.source`` says. The function is called as
    ``source(n=, seed=, **options)`` and returns a list of ``mspgt_bench.stimuli.base.Stimulus``;
    its other keyword parameters are the options a suite may set (``validate`` checks the names).
    """

"""Lazy, name-keyed registries filled through the plugin hooks.

Nothing is imported or registered until a registry is first read, so the CLI starts fast.
An unknown name is answered with the closest registered names ("did you mean ...").
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

T = TypeVar("T")

KINDS = (
    "model_adapters",
    "offline_models",
    "signals",
    "interventions",
    "detectors",
    "predictions",
    "stimulus_sources",
)


class UnknownComponentError(KeyError):
    """A name that no loaded plugin registered."""

    def __init__(self, kind: str, name: str, known: list[str]) -> None:
        self.kind, self.name, self.known = kind, name, known
        close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
        hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        listing = ", ".join(sorted(known)) or "(none)"
        super().__init__(f"unknown {kind[:-1].replace('_', ' ')} {name!r}.{hint} Known: {listing}.")

    def __str__(self) -> str:  # KeyError quotes its message otherwise
        return str(self.args[0])


@dataclass(frozen=True)
class Entry(Generic[T]):
    """One registered component and the plugin that registered it."""

    name: str
    obj: T
    plugin: str


class DuplicateComponentError(ValueError):
    """Two plugins registered the same name for the same kind."""


class Registry(Generic[T]):
    """Components of one kind, keyed by name."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, Entry[T]] = {}

    def add(self, name: str, obj: T, plugin: str) -> None:
        if name in self._entries:
            other = self._entries[name].plugin
            raise DuplicateComponentError(
                f"{self.kind[:-1]} {name!r} registered twice: by plugin {other!r} and by {plugin!r}. "
                "The later plugin is left out; rename its component, or choose plugins with MSPGT_LOAD_PLUGINS."
            )
        self._entries[name] = Entry(name, obj, plugin)

    def get(self, name: str) -> T:
        return self.entry(name).obj

    def copy(self) -> Registry[T]:
        """A registry with the same entries, to try a plugin's registrations on."""
        other: Registry[T] = Registry(self.kind)
        other._entries = dict(self._entries)
        return other

    def entry(self, name: str) -> Entry[T]:
        try:
            return self._entries[name]
        except KeyError:
            raise UnknownComponentError(self.kind, name, list(self._entries)) from None

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[Entry[T]]:
        return iter(self._entries[n] for n in self.names())

    def __len__(self) -> int:
        return len(self._entries)


def registries_from(hook_caller: Any, plugin_of: dict[int, str]) -> tuple[dict[str, Registry[Any]], dict[str, str]]:
    """Fill one registry per kind from the ``register_<kind>`` hooks; return them and the plugins left out.

    Each plugin is taken whole, in hook order (the built-in plugin first): its registrations of
    every kind are collected, then added together. A plugin whose hook raises, or that registers
    a name already taken in that kind (by an earlier plugin or by itself), is left out entirely,
    so a broken plugin costs only its own components; ``failures`` maps it to the reason.
    ``plugin_of`` maps ``id(hookimpl.plugin)`` to the plugin's name.
    """
    staged: dict[str, list[tuple[str, str, Any]]] = {}
    failures: dict[str, str] = {}
    for kind in KINDS:
        for impl in getattr(hook_caller, f"register_{kind}").get_hookimpls():
            plugin = plugin_of.get(id(impl.plugin), impl.plugin_name)
            found = staged.setdefault(plugin, [])
            try:
                impl.function(lambda name, obj, _k=kind, _f=found: _f.append((_k, name, obj)))
            except Exception as exc:  # a plugin's own bug: reported, and the plugin is left out
                failures.setdefault(plugin, f"register_{kind} raised {type(exc).__name__}: {exc}")
    registries: dict[str, Registry[Any]] = {kind: Registry(kind) for kind in KINDS}
    for plugin, registrations in staged.items():
        if plugin in failures:
            continue
        trial = {kind: registry.copy() for kind, registry in registries.items()}
        try:
            for kind, name, obj in registrations:
                trial[kind].add(name, obj, plugin)
        except DuplicateComponentError as exc:
            failures[plugin] = str(exc)
            continue
        registries = trial
    return registries, failures

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
                "Rename one of them or restrict loaded plugins with MSPGT_LOAD_PLUGINS."
            )
        self._entries[name] = Entry(name, obj, plugin)

    def get(self, name: str) -> T:
        return self.entry(name).obj

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


def registries_from(hook_caller: Any, plugin_of: dict[int, str]) -> dict[str, Registry[Any]]:
    """Fill one registry per kind by calling each ``register_<kind>`` hook implementation.

    ``plugin_of`` maps ``id(hookimpl.plugin)`` to the plugin's name, so each entry records who
    registered it.
    """
    out: dict[str, Registry[Any]] = {}
    for kind in KINDS:
        registry: Registry[Any] = Registry(kind)
        hook = getattr(hook_caller, f"register_{kind}")
        for impl in hook.get_hookimpls():
            plugin = plugin_of.get(id(impl.plugin), impl.plugin_name)
            impl.function(lambda name, obj, _p=plugin, _r=registry: _r.add(name, obj, _p))
        out[kind] = registry
    return out

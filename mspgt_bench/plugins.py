"""Plugin discovery and the lazily built component registries.

* Built-in components live in ``mspgt_bench.builtin`` and register through the same hooks as
  third-party plugins.
* Third-party plugins are found through the ``mspgt_bench`` entry-point group.
* ``MSPGT_LOAD_PLUGINS=name1,name2`` loads only those third-party plugins (empty string: none).
* ``MSPGT_TRACE_PLUGINS=1`` prints every hook call to stderr.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from functools import lru_cache
from importlib import metadata
from typing import Any

import pluggy

from mspgt_bench import __version__, hookspecs
from mspgt_bench.registry import KINDS, Registry, registries_from

ENTRY_POINT_GROUP = "mspgt_bench"
BUILTIN_PLUGIN = "mspgt_bench.builtin"


@dataclass(frozen=True)
class PluginInfo:
    """What ``mspgt-bench plugins`` prints about one loaded plugin."""

    name: str
    version: str
    hooks: tuple[str, ...]
    builtin: bool
    failed: str | None = None
    """Why the plugin was left out (it failed to import or to register), None when it works."""


def _allow_list() -> set[str] | None:
    raw = os.environ.get("MSPGT_LOAD_PLUGINS")
    if raw is None:
        return None
    return {p.strip() for p in raw.split(",") if p.strip()}


def _make_manager() -> tuple[pluggy.PluginManager, dict[str, str], dict[str, str]]:
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    if os.environ.get("MSPGT_TRACE_PLUGINS"):
        pm.trace.root.setwriter(lambda msg: sys.stderr.write(msg))
        pm.enable_tracing()
    versions: dict[str, str] = {}
    unloadable: dict[str, str] = {}
    from mspgt_bench import builtin

    pm.register(builtin, name=BUILTIN_PLUGIN)
    versions[BUILTIN_PLUGIN] = __version__
    allowed = _allow_list()
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        if allowed is not None and ep.name not in allowed:
            continue
        if pm.get_plugin(ep.name) is not None:
            continue
        try:
            module = ep.load()
        except Exception as exc:  # a broken plugin must not take the CLI down with it
            unloadable[ep.name] = _left_out(ep.name, f"could not import {ep.value}: {type(exc).__name__}: {exc}")
            versions[ep.name] = ep.dist.version if ep.dist is not None else "unknown"
            continue
        pm.register(module, name=ep.name)
        versions[ep.name] = ep.dist.version if ep.dist is not None else "unknown"
    return pm, versions, unloadable


def _left_out(plugin: str, reason: str) -> str:
    """Report a plugin that is left out on stderr (once per process) and return the reason."""
    sys.stderr.write(f"mspgt-bench: plugin {plugin!r} left out: {reason}\n")
    return reason


@lru_cache(maxsize=1)
def plugin_manager() -> tuple[pluggy.PluginManager, dict[str, str], dict[str, str]]:
    """The process-wide plugin manager, each plugin's version, and the plugins that failed to import."""
    return _make_manager()


@lru_cache(maxsize=1)
def _registries() -> tuple[dict[str, Registry[Any]], dict[str, str]]:
    """The registries, and the plugins left out of them (a raising hook or a duplicate name) with the reason."""
    pm, _, _ = plugin_manager()
    plugin_of = {id(plugin): name for name, plugin in pm.list_name_plugin()}
    registries, failures = registries_from(pm.hook, plugin_of)
    return registries, {plugin: _left_out(plugin, reason) for plugin, reason in failures.items()}


def registry(kind: str) -> Registry[Any]:
    """The registry of one component kind, built on first use."""
    if kind not in KINDS:
        raise ValueError(f"unknown component kind {kind!r}; expected one of {', '.join(KINDS)}")
    return _registries()[0][kind]


def loaded_plugins() -> list[PluginInfo]:
    """Every plugin found, with its version, the hooks it implements and, if it was left out, why."""
    pm, versions, unloadable = plugin_manager()
    failed = _registries()[1]
    infos = [PluginInfo(name, versions[name], (), False, reason) for name, reason in unloadable.items()]
    for name, plugin in pm.list_name_plugin():
        hooks = tuple(sorted(h.name for h in pm.get_hookcallers(plugin) or []))
        infos.append(PluginInfo(name, versions.get(name, "unknown"), hooks, name == BUILTIN_PLUGIN, failed.get(name)))
    return sorted(infos, key=lambda p: (not p.builtin, p.name))

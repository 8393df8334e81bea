"""Registries: lazy, name-keyed, with "did you mean" for unknown names."""

from __future__ import annotations

import pluggy
import pytest

from mspgt_bench import hookspecs
from mspgt_bench.hookspecs import PROJECT, hookimpl
from mspgt_bench.registry import DuplicateComponentError, Registry, UnknownComponentError, registries_from


def test_unknown_name_suggests_close_ones():
    registry: Registry[int] = Registry("signals")
    registry.add("logit_lens", 1, "builtin")
    registry.add("angular_distance", 2, "builtin")
    with pytest.raises(UnknownComponentError) as info:
        registry.get("logit_lense")
    assert "Did you mean 'logit_lens'?" in str(info.value)
    assert "Known: angular_distance, logit_lens." in str(info.value)


def test_duplicate_names_name_both_plugins():
    registry: Registry[int] = Registry("signals")
    registry.add("x", 1, "first")
    with pytest.raises(DuplicateComponentError, match="'first' and by 'second'"):
        registry.add("x", 2, "second")


def test_entries_record_the_registering_plugin():
    from mspgt_bench.plugins import registry

    entry = registry("signals").entry("logit_lens")
    assert entry.plugin == "mspgt_bench.builtin"
    assert {"hf"} <= set(registry("model_adapters").names())
    assert {"smollm2-135m", "gemma3-270m", "tiny-llama", "tiny-gpt2"} <= set(registry("offline_models").names())


class _Good:
    @hookimpl
    def register_signals(self, register):
        register("a", 1)
        register("shared", 2)


class _Raises:
    @hookimpl
    def register_signals(self, register):
        register("b", 3)
        raise RuntimeError("boom")


class _Duplicate:
    @hookimpl
    def register_detectors(self, register):
        register("c", 4)

    @hookimpl
    def register_signals(self, register):
        register("shared", 5)


def _registries(*plugins: tuple[str, object]):
    manager = pluggy.PluginManager(PROJECT)
    manager.add_hookspecs(hookspecs)
    for name, plugin in plugins:
        manager.register(plugin, name=name)
    return registries_from(manager.hook, {id(p): n for n, p in manager.list_name_plugin()})


def test_a_raising_plugin_is_left_out_whole_and_the_others_work():
    registries, failures = _registries(("good", _Good()), ("raises", _Raises()))
    assert registries["signals"].names() == ["a", "shared"]  # not "b", registered before the raise
    assert failures == {"raises": "register_signals raised RuntimeError: boom"}


def test_a_duplicate_name_leaves_the_later_plugin_out_whole():
    registries, failures = _registries(("good", _Good()), ("dup", _Duplicate()))
    assert registries["signals"].get("shared") == 2
    assert "c" not in registries["detectors"]  # its other components go too
    assert set(failures) == {"dup"} and "by plugin 'good' and by 'dup'" in failures["dup"]


def test_the_builtin_plugin_registers_without_failures():
    from mspgt_bench.plugins import _registries

    registries, failures = _registries()
    assert failures == {} and "logit_lens" in registries["signals"]

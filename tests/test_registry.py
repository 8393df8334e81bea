"""Registries: lazy, name-keyed, with "did you mean" for unknown names."""

from __future__ import annotations

import pytest

from mspgt_bench.registry import DuplicateComponentError, Registry, UnknownComponentError


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

"""Known answers of the exact content digest and the code digest that key the run's caches."""

from __future__ import annotations

import dataclasses
import functools
import math

import numpy as np
import pytest

from mspgt_bench import content
from mspgt_bench.content import code_digest, content_digest, source_digest
from mspgt_bench.signals.base import BootstrapConfig


def test_equal_content_gives_one_digest_and_any_changed_bit_another():
    a = np.linspace(0, 1, 10_000)
    b = a.copy()
    b[5_000] = np.nextafter(b[5_000], 2)  # one ulp in the middle, which numpy's str elides
    assert str(a) == str(b)
    assert content_digest({"x": a, "n": 3}) == content_digest({"n": 3, "x": a.copy()})
    assert content_digest({"x": a}) != content_digest({"x": b})
    assert content_digest(a) != content_digest(a.astype(np.float32))
    assert content_digest(a) != content_digest(a.reshape(100, 100))


def test_floats_enter_exactly_and_every_nan_alike():
    assert content_digest(0.1) != content_digest(float(np.nextafter(0.1, 1)))
    assert content_digest(math.nan) == content_digest(float("nan")) == content_digest(np.float64("nan"))
    negative_nan = np.array([1.0, -np.nan])
    assert content_digest(np.array([1.0, np.nan])) == content_digest(negative_nan)
    assert content_digest(1) != content_digest(1.0) != content_digest("1") != content_digest(True)


def test_containers_are_delimited():
    assert content_digest(["ab", "c"]) != content_digest(["a", "bc"])
    assert content_digest([[1], 2]) != content_digest([1, [2]])
    assert content_digest({"a": 1}) != content_digest([("a", 1)])
    assert content_digest((1, 2)) == content_digest([1, 2])  # JSON-read tuples come back as lists


def test_dataclasses_and_models_enter_by_their_fields():
    assert content_digest(BootstrapConfig(seed=1)) == content_digest(BootstrapConfig(seed=1))
    assert content_digest(BootstrapConfig(seed=1)) != content_digest(BootstrapConfig(seed=2))
    assert content_digest(BootstrapConfig()) != content_digest(dataclasses.asdict(BootstrapConfig()))


def test_opaque_objects_are_refused_not_described():
    with pytest.raises(TypeError, match="function has no exact content digest"):
        content_digest({"rule": lambda mean: mean})
    with pytest.raises(TypeError, match="object array"):
        content_digest(np.array([object()]))


def test_the_code_digest_follows_the_package_source_and_plugin_modules(monkeypatch, tmp_path):
    before = code_digest()
    assert code_digest() == before
    monkeypatch.setattr(content, "_package_digest", lambda: "an edited package")
    assert code_digest() != before
    monkeypatch.undo()
    plugin = tmp_path / "outside_plugin.py"
    plugin.write_text("class Outside:\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    from outside_plugin import Outside

    with_plugin = code_digest([Outside])
    assert with_plugin != before
    assert code_digest([BootstrapConfig]) == before  # a class of the package adds nothing new


def test_the_source_digest_reads_the_files_defining_functions_partials_and_callables(tmp_path, monkeypatch):
    module = tmp_path / "drawing.py"
    module.write_text("def draw(x):\n    return x\n\n\nclass Drawer:\n    def __call__(self):\n        return 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import drawing

    digest = source_digest([drawing.draw])
    assert source_digest([functools.partial(drawing.draw, 1)]) == digest == source_digest([drawing.Drawer()])
    assert source_digest([drawing.draw, print]) == digest  # a built-in has no file to read
    assert source_digest([drawing.draw, content_digest]) != digest
    content._file_digest.cache_clear()
    module.write_text(module.read_text() + "# an edit\n")
    assert source_digest([drawing.draw]) != digest

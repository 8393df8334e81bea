"""File names from user text (``slug``), containment (``inside``) and regular-file reads (``read_regular``)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mspgt_bench.atomic import SLUG_MAX, UnsafePathError, inside, read_regular, slug
from mspgt_bench.suite.loader import load_suite

SUITES = sorted((Path(__file__).parent.parent / "suites").glob("*.yaml"))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("../../x/pwned", "___.._x_pwned"),
        ("/etc/passwd", "_etc_passwd"),
        ("..", "__"),
        (".", "_"),
        ("", "_"),
        (".hidden", "_hidden"),
        ("a b\\c:d*?", "a_b_c_d__"),
        ("modèle", "mod_le"),
        ("Qwen/Qwen2.5-0.5B", "Qwen_Qwen2.5-0.5B"),
    ],
)
def test_slug_is_one_safe_path_component(text, expected):
    assert slug(text) == expected
    assert slug(expected) == expected


def test_a_long_name_is_cut_and_keeps_a_hash_of_the_whole():
    a, b = slug("x" * 300), slug("x" * 299 + "y")
    assert len(a) == SLUG_MAX and a != b and a.startswith("x" * 80)


@pytest.mark.parametrize("path", SUITES, ids=lambda p: p.name)
def test_the_shipped_suites_names_are_already_slugs(path):
    """Their file names (run folder, figures, cache) are the same as before slugging."""
    suite = load_suite(path, check_plugins=False).suite
    labels = [suite.suite.name, *(m.name for m in suite.models), *(s.label for s in suite.signals)]
    labels += [*(d.label for d in suite.detectors), *(i.label for i in suite.interventions)]
    labels += [g.id for g in suite.generation] + [s.set_id for s in suite.stimulus_sets() if s.set_id]
    assert [slug(label) for label in labels] == labels


def test_inside_accepts_paths_under_the_root_and_refuses_escapes(tmp_path):
    root = tmp_path / "run"
    root.mkdir()
    assert inside(root, root / "figures" / "a.png") == (root / "figures" / "a.png").resolve()
    assert inside(root, root) == root.resolve()
    for escape in (root / ".." / "x", Path("/etc/passwd"), root / "figures" / ".." / ".." / "y"):
        with pytest.raises(UnsafePathError, match="outside"):
            inside(root, escape)


def test_inside_follows_links_before_deciding(tmp_path):
    root, elsewhere = tmp_path / "run", tmp_path / "elsewhere"
    root.mkdir()
    elsewhere.mkdir()
    (root / "figures").symlink_to(elsewhere)
    with pytest.raises(UnsafePathError, match="outside"):
        inside(root, root / "figures" / "a.png")


def test_read_regular_reads_only_regular_files_inside_the_root(tmp_path):
    root = tmp_path / "run"
    root.mkdir()
    secret = tmp_path / "secret.txt"
    secret.write_text("secret")
    (root / "ok.png").write_bytes(b"png")
    (root / "outside.png").symlink_to(secret)
    (root / "inside.png").symlink_to(root / "ok.png")
    os.mkfifo(root / "fifo.png")
    assert read_regular(root, root / "ok.png") == b"png"
    with pytest.raises(UnsafePathError, match="outside"):
        read_regular(root, root / "outside.png")
    with pytest.raises(UnsafePathError, match="symbolic link"):
        read_regular(root, root / "inside.png")
    with pytest.raises(UnsafePathError, match="not a regular file"):
        read_regular(root, root / "fifo.png")

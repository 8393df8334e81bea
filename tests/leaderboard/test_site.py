"""``mspgt-bench publish``: a self-contained site with model pages, figures, boundaries and provenance."""

from __future__ import annotations

import re
from pathlib import Path

from mspgt_bench.cli import main
from mspgt_bench.leaderboard.boundary_figure import boundary_png
from mspgt_bench.result_schema import load_results

PNG = b"\x89PNG\r\n\x1a\n"


def _links(page: Path) -> list[str]:
    return re.findall(r'(?:href|src)="([^"]+)"', page.read_text())


def test_every_page_is_self_contained_and_every_link_resolves(site):
    pages = sorted(site.rglob("*.html"))
    assert {p.relative_to(site).as_posix() for p in pages} == {
        "index.html",
        "runs/a/index.html",
        "runs/a/model-tiny-llama.html",
        "runs/a/model-tiny-gpt2.html",
        "runs/b/index.html",
        "runs/b/model-tiny-qwen3.html",
    }
    for page in pages:
        text = page.read_text()
        assert "<style>" in text and "<script>" in text
        assert not re.search(r"(?:href|src)=\"(?:https?:)?//", text), page
        for link in _links(page):
            assert (page.parent / link.split("#")[0]).resolve().is_file(), (page, link)


def test_index_links_every_model_and_run(site):
    links = _links(site / "index.html")
    assert "runs/a/model-tiny-llama.html" in links and "runs/b/model-tiny-qwen3.html" in links
    assert "runs/a/index.html" in links and "runs/b/index.html" in links
    assert '<table id="leaderboard" class="sortable">' in (site / "index.html").read_text()


def test_model_page_has_verdicts_boundaries_and_figures(site, runs):
    page = (site / "runs/a/model-tiny-llama.html").read_text()
    document = load_results(runs["a"])
    boundaries = [b for b in document.boundaries if b.model == "tiny-llama"]
    assert boundaries, "the test suite's detector should find boundaries on tiny-llama"
    assert page.count("<tr><td>trained</td><td>cp</td>") == sum(b.condition == "trained" for b in boundaries)
    assert 'id="verdicts"' in page and "P1-three-segments" in page
    figures = site / "runs/a/figures/tiny-llama"
    copied = {p.name for p in (runs["a"] / "figures" / "tiny-llama").glob("*.png")}
    assert copied and copied <= {p.name for p in figures.glob("*.png")}
    drawn = figures / "boundaries.trained.cp.png"
    assert drawn.read_bytes().startswith(PNG)
    assert 'src="figures/tiny-llama/boundaries.trained.cp.png"' in page
    assert 'src="figures/tiny-llama/logit_lens.kl.png"' in page


def test_run_page_shows_the_suite_file_and_provenance(site, runs):
    page = (site / "runs/a/index.html").read_text()
    provenance = load_results(runs["a"]).provenance
    assert provenance.suite_sha256 in page and provenance.versions.torch in page
    assert (site / "runs/a/suite.yaml").read_text() == (runs["a"] / "suite.yaml").read_text()
    assert "evidence" in page and 'href="suite.yaml"' in page


def test_republishing_replaces_the_site_but_a_foreign_folder_is_refused(runs, tmp_path, capsys):
    out = tmp_path / "site"
    assert main(["publish", str(runs["a"]), str(runs["b"]), "--out", str(out)]) == 0
    assert main(["publish", str(runs["b"]), "--out", str(out)]) == 0
    assert not (out / "runs" / "a").exists() and (out / "runs" / "b").is_dir()
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    assert main(["publish", str(runs["a"]), "--out", str(foreign)]) == 2
    assert "not empty and was not written by `mspgt-bench publish`" in capsys.readouterr().err
    assert [p.name for p in foreign.iterdir()] == ["notes.txt"]


def test_unreadable_runs_are_listed_on_the_index(runs, tmp_path):
    out = tmp_path / "site"
    assert main(["publish", str(runs["a"]), str(tmp_path / "missing"), "--out", str(out)]) == 1
    index = (out / "index.html").read_text()
    assert "Unreadable runs" in index and "does not exist" in index and "tiny-llama" in index


def test_boundary_figure_needs_the_detector_inputs(runs):
    document = load_results(runs["a"])
    rows = [b for b in document.boundaries if b.model == "tiny-llama" and b.condition == "trained"]
    profiles = [p for p in document.profiles if p.model == "tiny-llama" and p.condition == "trained"]
    assert boundary_png("tiny-llama", rows, profiles).startswith(PNG)
    assert boundary_png("tiny-llama", rows, [p for p in profiles if p.signal != "logit_lens"]).startswith(PNG)
    assert boundary_png("tiny-llama", rows, []) is None


def test_symbolic_links_and_files_outside_the_run_are_not_published(runs, edited_copy, tmp_path, capsys):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-CONTENT")
    run = edited_copy(runs["a"], "linked", lambda _document: None)
    figures = run / "figures" / "tiny-llama"
    (figures / "stolen.png").symlink_to(secret)
    (figures / "logit_lens.kl.png").unlink()
    (figures / "logit_lens.kl.png").symlink_to(figures / "angular_distance.angular_all.png")  # a link inside the run
    (run / "suite.yaml").unlink()
    (run / "suite.yaml").symlink_to(secret)
    out = tmp_path / "site"
    assert main(["publish", str(run), "--out", str(out)]) == 0
    published = out / "runs" / "linked"
    assert not (published / "figures/tiny-llama/stolen.png").exists()
    assert not (published / "figures/tiny-llama/logit_lens.kl.png").exists()
    assert (published / "figures/tiny-llama/angular_distance.angular_all.png").read_bytes().startswith(PNG)
    assert not (published / "suite.yaml").exists()
    assert not any(b"TOP-SECRET" in f.read_bytes() for f in out.rglob("*") if f.is_file())
    warnings = capsys.readouterr().err
    assert "stolen.png" in warnings and "logit_lens.kl.png: it is a symbolic link" in warnings
    assert "suite.yaml" in warnings and "outside" in warnings
    page = (published / "model-tiny-llama.html").read_text()
    assert "stolen.png not published" in page and 'src="figures/tiny-llama/stolen.png"' not in page

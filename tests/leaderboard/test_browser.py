"""The published site in a real browser: headless Chromium renders it, its sorting script runs and its figures load.

The page's script sorts on load when the URL ends in ``#sort=<key>[:desc]`` by clicking that
column's header, so the DOM Chromium dumps after the script ran shows the click-sorted order.
Skipped only when no Chromium is installed (CI installs Debian's ``chromium``).
"""

from __future__ import annotations

import html
import re
import shutil
import subprocess
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (Debian: apt-get install -y chromium); CI installs it"
)
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,900",
)


def _chromium(tmp_path: Path, *args: str) -> str:
    profile = tmp_path / f"profile-{len(list(tmp_path.glob('profile-*')))}"
    result = subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def _table(dom: str) -> str:
    table = re.search(r'<table id="leaderboard".*?</table>', dom, re.DOTALL)
    assert table, "no leaderboard table in the rendered page"
    return table.group(0)


def _leaderboard(dom: str) -> tuple[list[str], dict[str, str]]:
    """Model names of the leaderboard's body rows in DOM order, and each header's aria-sort."""
    table = _table(dom)
    body = table.split("<tbody>")[1]
    models = [re.sub(r"<[^>]+>", "", cell) for cell in re.findall(r'<td[^>]*class="model"[^>]*>(.*?)</td>', body)]
    sorts = dict(re.findall(r'<th data-key="([^"]+)"[^>]*?aria-sort="(\w+)"', table))
    return [html.unescape(m) for m in models], sorts


def _pass_rates(dom: str) -> list[float]:
    """The pass-rate sort keys of the leaderboard's body rows in DOM order."""
    rows = _table(dom).split("<tbody>")[1].split("</tr>")[:-1]
    return [float(re.findall(r'<td data-sort="([^"]*)" class="num"', row)[0]) for row in rows]


def test_index_renders_and_header_clicks_sort(site, tmp_path):
    url = (site / "index.html").resolve().as_uri()
    models, sorts = _leaderboard(_chromium(tmp_path, "--dump-dom", url))
    assert models == ["tiny-gpt2", "tiny-llama", "tiny-qwen3"] and sorts == {}

    models, sorts = _leaderboard(_chromium(tmp_path, "--dump-dom", url + "#sort=model:desc"))
    assert models == ["tiny-qwen3", "tiny-llama", "tiny-gpt2"] and sorts == {"model": "descending"}

    models, sorts = _leaderboard(_chromium(tmp_path, "--dump-dom", url + "#sort=model"))
    assert models == ["tiny-gpt2", "tiny-llama", "tiny-qwen3"] and sorts == {"model": "ascending"}

    dom = _chromium(tmp_path, "--dump-dom", url + "#sort=pass_rate:desc")
    assert _leaderboard(dom)[1] == {"pass_rate": "descending"}
    rates = _pass_rates(dom)
    assert len(rates) == 3 and rates == sorted(rates, reverse=True)


def test_pages_render_to_a_screenshot(site, tmp_path):
    for page in ("index.html", "runs/a/model-tiny-llama.html"):
        shot = tmp_path / (page.replace("/", "_") + ".png")
        _chromium(tmp_path, f"--screenshot={shot}", (site / page).resolve().as_uri())
        assert shot.read_bytes().startswith(b"\x89PNG") and shot.stat().st_size > 20_000


def test_family_figure_is_on_the_index_and_its_image_loads(site, tmp_path):
    dom = _chromium(tmp_path, "--dump-dom", (site / "index.html").resolve().as_uri())
    figure = re.search(r'<figure id="family-figure"([^>]*)><img src="figures/families.png"', dom)
    assert figure, "no family figure in the rendered index"
    assert 'data-loaded="yes"' in figure.group(1), "Chromium did not load the family figure's image"
    table = re.search(r'<table id="family-boundaries".*?</table>', dom, re.DOTALL)
    assert table and [html.unescape(f) for f in re.findall(r"<tr><td>([^<]+)</td>", table.group(0))] == [
        "gpt2",
        "llama",
        "qwen3",
    ]

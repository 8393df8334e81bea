"""Building blocks of the generated HTML: a self-contained page, tables and escaped text."""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass

from mspgt_bench.leaderboard.assets import SCRIPT, STYLE


def esc(value: object) -> str:
    """HTML-escaped text of ``value``."""
    return html.escape(str(value), quote=True)


@dataclass(frozen=True)
class Cell:
    """One table cell: trusted HTML content, an optional sort key and CSS class, a tooltip."""

    content: str
    sort: str | float | None = None
    css: str = ""
    title: str = ""

    def render(self) -> str:
        attrs = ""
        if self.sort is not None:
            attrs += f' data-sort="{esc(self.sort)}"'
        if self.css:
            attrs += f' class="{esc(self.css)}"'
        if self.title:
            attrs += f' title="{esc(self.title)}"'
        return f"<td{attrs}>{self.content}</td>"


def text(value: object, sort: str | float | None = None, css: str = "", title: str = "") -> Cell:
    """A cell showing ``value`` as escaped text."""
    return Cell(esc(value), sort, css, title)


def table(
    columns: Sequence[tuple[str, str]],
    rows: Sequence[Sequence[Cell]],
    *,
    sortable: bool = False,
    table_id: str = "",
    caption: str = "",
) -> str:
    """A table from ``(key, label)`` columns; a sortable table sorts on header click (see ``assets``)."""
    id_attr = f' id="{esc(table_id)}"' if table_id else ""
    cls = ' class="sortable"' if sortable else ""
    key = ' data-key="{}"' if sortable else ""
    head = "".join(f"<th{key.format(esc(k))}>{esc(label)}</th>" for k, label in columns)
    body = "\n".join("<tr>" + "".join(cell.render() for cell in row) + "</tr>" for row in rows)
    cap = f"<caption>{esc(caption)}</caption>" if caption else ""
    return (
        f'<div class="scroll"><table{id_attr}{cls}>{cap}<thead><tr>{head}</tr></thead>\n'
        f"<tbody>\n{body}\n</tbody></table></div>"
    )


def definitions(items: Sequence[tuple[str, object]]) -> str:
    """A key/value list."""
    return '<dl class="kv">' + "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in items) + "</dl>"


def page(title: str, body: str, *, root: str | None = None, nav: Sequence[tuple[str, str]] = ()) -> str:
    """A complete HTML document with the stylesheet and sorting script inlined.

    ``root`` is the relative path from this page to the site root (``""`` or ``"../../"``), or
    ``None`` for a standalone page; ``nav`` lists extra (label, href) header links.
    """
    if root is None:
        home = '<span class="brand">mspgt-bench</span>'
    else:
        home = f'<a class="brand" href="{esc(root)}index.html">mspgt-bench</a>'
    links = "".join(f'<a href="{esc(href)}">{esc(label)}</a>' for label, href in nav)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{esc(title)}</title>
<style>{STYLE}</style>
</head>
<body>
<header>{home}{links}</header>
<main>
<h1>{esc(title)}</h1>
{body}
</main>
<script>{SCRIPT}</script>
</body>
</html>
"""

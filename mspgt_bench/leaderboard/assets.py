"""The stylesheet and script inlined into every generated page (no CDN, no network).

The script makes every ``table.sortable`` sortable: a click on a header with ``data-key`` sorts
by that column (again: reverse). Cells sort by their ``data-sort`` attribute when present, else
by their text; numbers compare as numbers and empty keys go last. On load (and on hash change)
a URL fragment ``#sort=<key>`` or ``#sort=<key>:desc`` clicks the header, so a sorted view can be
linked to, and tested in a headless browser.
"""

STYLE = """
:root { --fg: #1d2430; --muted: #5b6576; --line: #d9dee7; --head: #f3f5f9; --link: #1f5fbf;
  --pass: #1e7b34; --pass-bg: #dff3e3; --fail: #b3261e; --fail-bg: #fbe3e1; --inc: #8a5a00; --inc-bg: #fdf0d2;
  --err: #8e24aa; --err-bg: #f3e0f7; --skip: #5b6576; --skip-bg: #eceff3; }
* { box-sizing: border-box; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; color: var(--fg);
  margin: 0; background: #fff; }
header { background: #22304a; color: #fff; padding: 14px 28px; }
header a { color: #cfe0ff; text-decoration: none; margin-right: 18px; }
header .brand { font-weight: 700; color: #fff; margin-right: 18px; }
main { padding: 18px 28px 40px; max-width: 1400px; }
h1 { font-size: 1.5em; margin: 0.4em 0 0.3em; }
h2 { font-size: 1.2em; margin: 1.6em 0 0.5em; border-bottom: 1px solid var(--line); padding-bottom: 4px; }
p.note, .muted { color: var(--muted); }
a { color: var(--link); }
table { border-collapse: collapse; margin: 6px 0 12px; font-size: 14px; }
th, td { border: 1px solid var(--line); padding: 5px 9px; text-align: left; vertical-align: top; }
th { background: var(--head); font-weight: 600; white-space: nowrap; }
table.sortable th[data-key] { cursor: pointer; user-select: none; }
table.sortable th[data-key]::after { content: " \\2195"; color: #a3acba; font-weight: 400; }
table.sortable th[aria-sort="ascending"]::after { content: " \\25B2"; color: var(--fg); }
table.sortable th[aria-sort="descending"]::after { content: " \\25BC"; color: var(--fg); }
.scroll { overflow-x: auto; max-width: 100%; }
td.model { white-space: nowrap; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.verdict { min-width: 7.5em; }
.badge { display: inline-block; padding: 1px 7px; border-radius: 10px; font-weight: 600; font-size: 12.5px; }
.PASS { color: var(--pass); background: var(--pass-bg); }
.FAIL { color: var(--fail); background: var(--fail-bg); }
.INCONCLUSIVE { color: var(--inc); background: var(--inc-bg); }
.ERROR { color: var(--err); background: var(--err-bg); }
.SKIP { color: var(--skip); background: var(--skip-bg); }
.badge.nd { background: repeating-linear-gradient(135deg, var(--pass-bg), var(--pass-bg) 4px, #fff 4px, #fff 7px);
  outline: 1px dashed var(--pass); }
.badge.cs { box-shadow: 0 0 0 2px var(--inc); }
.value { display: block; color: var(--muted); font-size: 12px; font-variant-numeric: tabular-nums; max-width: 22em; }
.problems { background: var(--fail-bg); border-left: 4px solid var(--fail); padding: 8px 14px; }
pre { background: var(--head); border: 1px solid var(--line); padding: 10px 12px; overflow: auto; font-size: 13px; }
figure { display: inline-block; margin: 6px 14px 14px 0; vertical-align: top; }
figure img { max-width: 100%; border: 1px solid var(--line); }
figcaption { color: var(--muted); font-size: 13px; max-width: 660px; }
dl.kv { display: grid; grid-template-columns: max-content auto; gap: 3px 16px; }
dl.kv dt { color: var(--muted); }
dl.kv dd { margin: 0; font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 13px; }
"""

SCRIPT = """
(function () {
  function sortKey(cell) {
    var key = cell.getAttribute('data-sort');
    return key === null ? cell.textContent.trim() : key;
  }
  function compare(a, b) {
    if (a === '' || b === '') { return (a === '') - (b === ''); }
    var x = Number(a), y = Number(b);
    return (!isNaN(x) && !isNaN(y)) ? x - y : a.localeCompare(b);
  }
  function sortBy(th) {
    var table = th.closest('table'), body = table.tBodies[0];
    var index = Array.prototype.indexOf.call(th.parentNode.children, th);
    var descending = th.getAttribute('aria-sort') === 'ascending';
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (r, s) {
      var a = sortKey(r.cells[index]), b = sortKey(s.cells[index]);
      if (a === '' || b === '') { return compare(a, b); }
      return descending ? -compare(a, b) : compare(a, b);
    });
    table.querySelectorAll('th[aria-sort]').forEach(function (h) { h.removeAttribute('aria-sort'); });
    th.setAttribute('aria-sort', descending ? 'descending' : 'ascending');
    rows.forEach(function (row) { body.appendChild(row); });
  }
  document.querySelectorAll('table.sortable th[data-key]').forEach(function (th) {
    th.tabIndex = 0;
    th.addEventListener('click', function () { sortBy(th); });
    th.addEventListener('keydown', function (e) { if (e.key === 'Enter') { sortBy(th); } });
  });
  function sortFromHash() {
    var match = /^#sort=([^:]+)(?::(asc|desc))?$/.exec(location.hash);
    if (!match) { return; }
    var wanted = decodeURIComponent(match[1]);
    var th = Array.prototype.find.call(document.querySelectorAll('table.sortable th[data-key]'),
      function (h) { return h.getAttribute('data-key') === wanted; });
    if (!th) { return; }
    th.removeAttribute('aria-sort');
    th.click();
    if (match[2] === 'desc') { th.click(); }
  }
  sortFromHash();
  window.addEventListener('hashchange', sortFromHash);
})();
"""

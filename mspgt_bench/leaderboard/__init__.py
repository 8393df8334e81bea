"""Cross-model views of finished runs: leaderboards, run diffs and a publishable static site.

Every run is read through :mod:`mspgt_bench.result_schema`; nothing here imports the runner or
torch, so these commands start fast.

* ``runs``: load run directories, report unreadable ones, refuse mixed suites;
* ``board``: the model × prediction matrix of trained verdicts, grouped by family, with pass rates;
* ``text``: the board as Markdown, CSV or JSON;
* ``html``: the board as a self-contained, sortable HTML page (``page``, ``assets``);
* ``diff``: what changed between two runs;
* ``site`` / ``boundary_figure``: the static site of ``mspgt-bench publish``.
"""

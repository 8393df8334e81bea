"""Cross-model views of finished runs: leaderboards, run diffs and a publishable static site.

Every run is read through :mod:`mspgt_bench.result_schema`; nothing here imports the runner or
torch, so these commands start fast.

* ``runs``: load run directories, report unreadable ones, refuse mixed suites;
* ``board``: the model × prediction matrix of trained verdicts, grouped by family, with pass rates;
* ``fmt``: short text forms of verdicts, intervals and rates shared by every rendering;
* ``text``: the board as Markdown, CSV or JSON;
* ``board_html``: the board as HTML (building blocks in ``page``, inline CSS/JS in ``assets``);
* ``diff``: what changed between two runs;
* ``site``, ``model_page``, ``boundary_figure``: the static site of ``mspgt-bench publish``;
* ``family_figure``, ``family_section``: the site's family comparison (boundary depth per model, by family);
* ``commands``: the three commands behind the CLI, with their exit statuses.
"""

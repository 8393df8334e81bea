"""The terminal progress shows condition labels in brackets as text (rich would read them as markup)."""

from __future__ import annotations

import io

from rich.console import Console

from mspgt_bench.report import RichProgress


def test_stage_and_bar_labels_keep_bracketed_conditions():
    buffer = io.StringIO()
    progress = RichProgress(Console(file=buffer, width=120))
    progress.stage("smollm2-135m [random_weights]: interventions")
    advance = progress.start_batches("smollm2-135m [shuffled_tokens]", 2)
    advance(2)
    progress.end_batches()
    text = buffer.getvalue()
    assert "smollm2-135m [random_weights]: interventions" in text
    assert "smollm2-135m [shuffled_tokens]" in text

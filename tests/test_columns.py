"""docs/columns.md is generated from the code's own column definitions (sparsity.harness.columns) and cannot
drift: every column of results.csv and of the per-layer table has a description, and every description a column."""

from __future__ import annotations

from pathlib import Path

from sparsity import layers
from sparsity.harness import columns
from sparsity.harness.cases import COLUMNS

DOC = Path(__file__).resolve().parents[1] / "docs" / "columns.md"


def test_every_column_has_a_description_and_every_description_a_column():
    assert set(COLUMNS) == set(columns.RESULTS_COLUMN_DOCS)
    assert set(layers.COLUMNS) == set(columns.LAYER_COLUMN_DOCS)
    assert set(columns.ANALYZE_TERMINAL_COLUMNS) <= set(layers.COLUMNS)
    assert not set(columns.ANALYZE_EXTRA_COLUMNS) & set(layers.COLUMNS)


def test_committed_docs_equal_the_generated_text():
    # Regenerate with: python -m sparsity.harness.columns > docs/columns.md
    assert DOC.read_text(encoding="utf-8") == columns.columns_markdown()

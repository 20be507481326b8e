"""Update a small DataTable in place by row key, so the cursor stays and only changed cells redraw."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from textual.widgets import DataTable


def sync_rows(table: DataTable[Any], rows: Mapping[str, Sequence[Any]]) -> None:
    """Make `table` show exactly `rows` (key -> cells, in order), touching only what changed."""
    columns = list(table.columns)
    existing = [row_key.value for row_key in table.rows if row_key.value is not None]
    desired = list(rows)
    kept = [key for key in existing if key in rows]
    with table.app.batch_update():
        if desired[: len(kept)] != kept:
            table.clear()
            existing = []
        for key in existing:
            if key not in rows:
                table.remove_row(key)
        for key, cells in rows.items():
            if key in existing:
                for column, value in zip(columns, cells, strict=False):
                    if table.get_cell(key, column) != value:
                        table.update_cell(key, column, value)
            else:
                table.add_row(*cells, key=key)

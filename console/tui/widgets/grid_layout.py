"""Where each partition's cell goes in the grid: a calendar for dates, rows of cells for anything else."""

from __future__ import annotations

import re
from dataclasses import dataclass

DAILY = re.compile(r"^(\d{4}-\d{2})-(\d{2})$")
HOURLY = re.compile(r"^(\d{4}-\d{2}-\d{2})[T ](\d{2})")
MONTHLY = re.compile(r"^(\d{4})-(\d{2})$")
LABEL_WIDTH = 11
CELL_WIDTH = 2


@dataclass(frozen=True)
class GridRow:
    label: str
    #: (column, item index) pairs, by column.
    cells: list[tuple[int, int]]


def layout(partitions: list[str], width: int) -> list[GridRow]:
    """Rows of the grid: a month per row for daily keys, a day per row for hourly, a year for monthly."""
    for pattern, columns in ((DAILY, 31), (HOURLY, 24), (MONTHLY, 12)):
        if partitions and all(pattern.match(key) for key in partitions) and _fits(columns, width):
            return _calendar(partitions, pattern, first=0 if pattern is HOURLY else 1)
    return _flow(partitions, width)


def _fits(columns: int, width: int) -> bool:
    return LABEL_WIDTH + columns * CELL_WIDTH <= max(width, 1)


def _calendar(partitions: list[str], pattern: re.Pattern[str], first: int) -> list[GridRow]:
    rows: dict[str, list[tuple[int, int]]] = {}
    for index, key in enumerate(partitions):
        match = pattern.match(key)
        assert match is not None
        rows.setdefault(match.group(1), []).append((int(match.group(2)) - first, index))
    return [GridRow(label, sorted(cells)) for label, cells in sorted(rows.items())]


def _flow(partitions: list[str], width: int) -> list[GridRow]:
    per_row = max(1, (width - LABEL_WIDTH) // CELL_WIDTH)
    rows = []
    for start in range(0, len(partitions), per_row):
        cells = [(column, start + column) for column in range(min(per_row, len(partitions) - start))]
        rows.append(GridRow(f"#{start + 1}", cells))
    return rows


def neighbour(rows: list[GridRow], item: int, d_row: int, d_col: int) -> int:
    """The item reached from `item` by moving d_row rows or d_col cells (nearest column across rows)."""
    for row_index, row in enumerate(rows):
        for cell_index, (column, index) in enumerate(row.cells):
            if index != item:
                continue
            if d_col:
                target = cell_index + d_col
                if 0 <= target < len(row.cells):
                    return row.cells[target][1]
                next_row = row_index + (1 if d_col > 0 else -1)
                if 0 <= next_row < len(rows) and rows[next_row].cells:
                    return rows[next_row].cells[0 if d_col > 0 else -1][1]
                return item
            target_row = row_index + d_row
            if not 0 <= target_row < len(rows) or not rows[target_row].cells:
                return item
            return min(rows[target_row].cells, key=lambda cell: abs(cell[0] - column))[1]
    return item


def row_of(rows: list[GridRow], item: int) -> int:
    for row_index, row in enumerate(rows):
        if any(index == item for _, index in row.cells):
            return row_index
    return 0

"""The run detail's Activity tab: each launch try, failing probe, signal, fence and end of the run's attempts."""

from __future__ import annotations

from collections.abc import Sequence

from textual.widgets import DataTable

from scheduler.engine import ActivityEntry

from ..format import clock_time
from .table_sync import sync_rows


class ActivityTable(DataTable[str]):
    """Newest last, as Cylc's job-activity.log reads; it follows new entries while its cursor is on the last one."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=False)

    def on_mount(self) -> None:
        self.add_columns("TIME", "TRY", "ACTION", "OUTCOME", "DETAIL")

    def show(self, entries: Sequence[ActivityEntry]) -> None:
        """Show the run's activity (appended to: earlier rows never change)."""
        following = self.row_count == 0 or self.cursor_row >= self.row_count - 1
        rows = {
            str(index): [clock_time(entry.at), str(entry.attempt), entry.action, entry.outcome, entry.detail]
            for index, entry in enumerate(entries)
        }
        if not rows:
            self.clear()
            return
        sync_rows(self, rows)
        if following:
            self.move_cursor(row=self.row_count - 1)

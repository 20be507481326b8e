"""Backfills: each one with its progress; n launches a new one, enter opens its partition grid."""

from __future__ import annotations

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Header, Static

from scheduler.models import Backfill
from scheduler.states import BackfillStatus, RunStatus

from ..format import BACKFILL_STYLES, DEAD_LETTERS, backfill_progress, count_of, short_time, status_style
from ..messages import BackfillsLoaded
from ..shield import QUERY_ERRORS, shielded
from ..widgets.banner import SchedulerBanner
from ..widgets.key_footer import KeyFooter
from ..widgets.progress_line import bar_text
from ..widgets.quiet import update_static
from ..widgets.table_sync import sync_rows
from .backfill_verbs import BACKFILL_VERB_BINDINGS, BackfillVerbs

COUNTED = 50


class BackfillsScreen(BackfillVerbs):
    """Every backfill, newest first."""

    VIEW_TITLE = "Backfills"
    SUB_TITLE = "backfills"
    BINDINGS = [Binding("n", "new_backfill", "New"), *BACKFILL_VERB_BINDINGS]

    DEFAULT_CSS = """
    BackfillsScreen DataTable { height: 1fr; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.loaded = BackfillsLoaded([], {})

    def compose(self) -> ComposeResult:
        yield Header()
        yield SchedulerBanner()
        yield Static("", id="backfills-status", classes="status-line")
        yield DataTable(id="backfills", cursor_type="row")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.query_one(DataTable).add_columns("ID", "JOB", "STATUS", "PROGRESS", "DONE", "RUN", "FAIL", "PAR", "RANGE",
                                              "BY", "CREATED")
        self.query_one(DataTable).focus()

    def poll(self) -> None:
        self._load()

    @work(exclusive=True, group="backfills")
    async def _load(self) -> None:
        try:
            self.post_message(await shielded(self._fetch()))
        except QUERY_ERRORS as exc:
            self.notify(f"refresh failed: {exc}", severity="error")

    async def _fetch(self) -> BackfillsLoaded:
        backfills = await self.engine.backfills()
        counts = {}
        for backfill in backfills[:COUNTED]:
            counts[backfill.id] = await self.engine.backfill_counts(backfill.id)
        return BackfillsLoaded(backfills, counts)

    def on_backfills_loaded(self, message: BackfillsLoaded) -> None:
        self.loaded = message
        rows = {}
        for backfill in message.backfills:
            counts = message.counts.get(backfill.id, {})
            fraction, _ = backfill_progress(counts, backfill.planned)
            span = backfill.range_from or ""
            if backfill.range_to and backfill.range_to != backfill.range_from:
                span += f"…{backfill.range_to}"
            rows[str(backfill.id)] = (
                str(backfill.id), backfill.job, _status(backfill.status), bar_text(fraction, 18),
                f"{counts.get(RunStatus.SUCCEEDED, 0)}/{backfill.planned}", str(counts.get(RunStatus.RUNNING, 0)),
                str(count_of(counts, DEAD_LETTERS)), str(backfill.max_parallel or "-"), span,
                backfill.created_by, short_time(backfill.created_at))
        sync_rows(self.query_one(DataTable), rows)
        active = sum(1 for backfill in message.backfills if backfill.status == BackfillStatus.ACTIVE)
        text = f"{len(message.backfills)} backfills, {active} active" if message.backfills else \
            "No backfills yet: press n to plan one."
        update_static(self.query_one("#backfills-status", Static), text)

    def target_backfill(self) -> tuple[Backfill, dict[str, int]] | None:
        table = self.query_one(DataTable)
        if not table.row_count:
            self.notify("no backfill selected", severity="warning")
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        backfill = next((item for item in self.loaded.backfills if str(item.id) == key), None)
        if backfill is None:
            return None
        return backfill, self.loaded.counts.get(backfill.id, {})

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.sluice.open_backfill(int(event.row_key.value or 0))

    def action_new_backfill(self) -> None:
        self.sluice.open_backfill_launch()


def _status(status: str) -> Text:
    style = BACKFILL_STYLES.get(status, "")
    return Text(status, style=style or status_style(status))

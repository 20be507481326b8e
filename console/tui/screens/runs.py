"""Runs: every run newest first, filtered as you type, tagged with space, acted on by letter.

k9s's keys on top: shift-letters sort by a column (again reverses, a third time goes back to newest first), `W`
shows every column, `n` and `b` narrow the filter to the node or backfill of the run under the cursor."""

from __future__ import annotations

from dataclasses import replace

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.timer import Timer
from textual.widgets import Header, Input, Static

from scheduler.run_filter import RunFilter
from scheduler.run_order import NEWEST_FIRST, RunOrder, SortKey

from ..shield import shielded
from ..views import describe_filter, parse_run_filter
from ..widgets.banner import SchedulerBanner
from ..widgets.key_footer import KeyFooter
from ..widgets.quiet import update_static
from ..widgets.runs_header import RunsHeader
from ..widgets.runs_table import COUNT_CAP, OLDEST_FIRST, RunsTable
from .run_verbs import RUN_VERB_BINDINGS, RunVerbs

TAG_ALL_CAP = 10_000


class RunsScreen(RunVerbs):
    """The runs table with its filter line and status line."""

    VIEW_TITLE = "Runs"
    SUB_TITLE = "runs"
    BINDINGS = [
        Binding("slash", "filter", "Filter", key_display="/"),
        Binding("escape", "clear", "Back", show=False),
        Binding("d", "describe", "Describe"),
        Binding("l", "logs", "Logs"),
        Binding("ctrl+a", "tag_all", "Tag all shown", show=False),
        Binding("u", "untag", "Untag all", show=False),
        Binding("o", "order", "Newest/oldest first", show=False),
        # S is the app's start-scheduler and R retry-from-scratch: status sorts on U, runtime on E (elapsed).
        Binding("J", "sort('job')", "Sort by job (again: reverse, again: newest first)", key_display="J", show=False),
        Binding("U", "sort('status')", "Sort by status", key_display="U", show=False),
        Binding("N", "sort('node')", "Sort by node", key_display="N", show=False),
        Binding("C", "sort('id')", "Sort by created (oldest first, then newest)", key_display="C", show=False),
        Binding("E", "sort('runtime')", "Sort by runtime, within the rows loaded", key_display="E", show=False),
        Binding("W", "wide", "Wide columns on/off (queue, prio, backfill, runtime, exit)", key_display="W",
                show=False),
        Binding("n", "filter_row('node')", "Filter by the node of the run under the cursor", show=False),
        Binding("b", "filter_row('backfill')", "Filter by the backfill of the run under the cursor", show=False),
        *RUN_VERB_BINDINGS,
    ]

    DEFAULT_CSS = """
    RunsScreen #filter { display: none; }
    RunsScreen #filter.-shown { display: block; }
    """

    def __init__(self, run_filter: RunFilter | None = None, *, name: str | None = None, id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._initial_filter = run_filter or RunFilter()
        self._debounce: Timer | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield SchedulerBanner()
        yield Static("", id="runs-status", classes="status-line")
        yield RunsHeader()
        yield RunsTable(self._initial_filter, id="runs")
        yield from self.below_table()
        # Compact and in the flow, not docked: docked, it sat under the footer; bordered, it had no room for text.
        yield Input(placeholder="/ status words, job=… queue=… node=… backfill=…, or text", id="filter", compact=True)
        yield KeyFooter()

    def below_table(self) -> ComposeResult:
        """Widgets a subclass shows under the table."""
        yield from ()

    @property
    def table(self) -> RunsTable:
        return self.query_one(RunsTable)

    def on_mount(self) -> None:
        self.table.focus()

    def poll(self) -> None:
        if self.table.loaded_once:
            self.table.poll()

    def target_ids(self) -> list[int]:
        return self.table.selected_ids()

    def apply_filter(self, run_filter: RunFilter) -> None:
        """Show runs matching `run_filter` (from `:runs …`); the filter line shows it as text."""
        self.query_one("#filter", Input).value = describe_filter(run_filter)
        self.table.set_filter(run_filter)

    # --- filter line --------------------------------------------------------------------------------------

    def action_filter(self) -> None:
        field = self.query_one("#filter", Input)
        field.add_class("-shown")
        field.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        if self._debounce is not None:
            self._debounce.stop()
        self._debounce = self.set_timer(0.25, lambda: self._apply_text(event.value))

    def _apply_text(self, text: str) -> None:
        try:
            run_filter = parse_run_filter(text)
        except ValueError as exc:
            update_static(self.query_one("#runs-status", Static), f"filter: {exc}")
            return
        if run_filter != self.table.run_filter:
            self.table.set_filter(run_filter)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if self._debounce is not None:
            self._debounce.stop()
        self._apply_text(event.value)
        self.table.focus()

    def action_clear(self) -> None:
        """Esc: leave the filter line, then clear the filter, then the tags, then go back."""
        field = self.query_one("#filter", Input)
        if field.has_focus:
            self.table.focus()
            if not field.value:
                field.remove_class("-shown")
        elif field.value:
            field.value = ""
            field.remove_class("-shown")
            self._apply_text("")
        elif self.table.tagged:
            self.table.clear_tags()
            self._update_status()
        else:
            self.sluice.back()

    # --- rows ---------------------------------------------------------------------------------------------

    def on_runs_table_window_changed(self) -> None:
        header = self.query_one(RunsHeader)
        header.view = self.table.column_view
        header.content = self.table.content
        self._update_status()

    def _update_status(self) -> None:
        table = self.table
        total = f"{COUNT_CAP:,}+" if table.total >= COUNT_CAP else f"{table.total:,}"
        scope = describe_filter(table.run_filter) or "all runs"
        parts = [scope, _order_text(table.sort, len(table.window)), f"{len(table.window):,} loaded of {total}"]
        if table.tagged:
            parts.append(f"{len(table.tagged)} tagged")
        update_static(self.query_one("#runs-status", Static), " · ".join(parts))

    def on_runs_table_opened(self, message: RunsTable.Opened) -> None:
        self._open(message.run_id, "log")

    def action_describe(self) -> None:
        if self.table.cursor_id is not None:
            self._open(self.table.cursor_id, "attempts")

    def action_logs(self) -> None:
        if self.table.cursor_id is not None:
            self._open(self.table.cursor_id, "log")

    def _open(self, run_id: int, tab: str) -> None:
        self.sluice.open_run(run_id, tab)

    def action_order(self) -> None:
        self.table.toggle_order()
        self.on_runs_table_window_changed()

    def action_sort(self, key: str) -> None:
        self.table.sort_by(SortKey(key))
        self.on_runs_table_window_changed()

    def action_wide(self) -> None:
        self.table.toggle_wide()

    def action_filter_row(self, field: str) -> None:
        """Narrow the filter to the node (or backfill) of the run under the cursor; esc clears it as usual."""
        run = self.table.cursor_run
        if run is None:
            return
        if field == "node":
            if run.node is None:
                self.notify(f"run {run.id} has not been on a node yet", severity="warning")
                return
            run_filter = replace(self.table.run_filter, node=run.node)
        else:
            if run.backfill_id is None:
                self.notify(f"run {run.id} is not part of a backfill", severity="warning")
                return
            run_filter = replace(self.table.run_filter, backfill_id=run.backfill_id)
        self.query_one("#filter", Input).add_class("-shown")
        self.apply_filter(run_filter)

    def action_untag(self) -> None:
        self.table.clear_tags()
        self._update_status()

    @work(exclusive=True, group="tag-all")
    async def action_tag_all(self) -> None:
        """Tag every run the filter shows (up to TAG_ALL_CAP), for bulk retry or cancel."""
        runs = await shielded(self.engine.runs(self.table.run_filter, TAG_ALL_CAP))
        self.table.tagged.update(run.id for run in runs)
        self.table.refresh()
        self._update_status()
        if len(runs) == TAG_ALL_CAP:
            self.notify(f"tagged the newest {TAG_ALL_CAP:,} runs the filter shows; narrow it to act on older ones")


def _order_text(order: RunOrder, loaded: int) -> str:
    """The status line's words for the order the rows are in."""
    if order == NEWEST_FIRST:
        return "newest first"
    if order == OLDEST_FIRST:
        return "oldest first"
    if order.key == SortKey.RUNTIME:
        longest = "longest" if order.descending else "shortest"
        return f"runtime {longest} first, sorted within the {loaded:,} loaded"
    return f"sorted by {order.key.value} {'Z-A' if order.descending else 'A-Z'}"

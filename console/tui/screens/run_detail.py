"""Run detail: summary, progress, and tabs for the live log, attempts, checkpoints, events, activity, definition."""

from __future__ import annotations

import asyncio
from datetime import datetime

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Header, Input, Static, TabbedContent, TabPane

from scheduler.errors import NotFound
from scheduler.models import Attempt, Event
from scheduler.states import ATTEMPT_ENDED, AttemptStatus

from ..format import attempt_outcome, clock_time, progress_fraction
from ..messages import RunDetailLoaded
from ..shield import QUERY_ERRORS, shielded
from ..widgets.activity_table import ActivityTable
from ..widgets.banner import SchedulerBanner
from ..widgets.key_footer import KeyFooter
from ..widgets.log_view import LogView
from ..widgets.progress_line import ProgressLine
from ..widgets.quiet import update_static
from ..widgets.table_sync import sync_rows
from .run_detail_parts import attempt_row, checkpoints_text, definition_text, summary_text
from .run_verbs import RUN_VERB_BINDINGS, RunVerbs

STDERR_LINES = 5
ENDED_ATTEMPT = ATTEMPT_ENDED  # one vocabulary: a preempted attempt's log shows its end too
#: Attempts with no stderr tail worth showing: the successful one and those still under way.
NOT_FAILED = frozenset(AttemptStatus) - ATTEMPT_ENDED | {AttemptStatus.SUCCEEDED}


class RunDetailScreen(RunVerbs):
    """One run: what it is, why it waits or ended, its log as it arrives, its history."""

    VIEW_TITLE = "Run detail"
    # The verbs first: a narrow footer keeps them and leaves out tabs (the tab bar shows those).
    BINDINGS = [
        *RUN_VERB_BINDINGS,
        Binding("escape", "back", "Back", show=False),
        Binding("l", "tab('log')", "Log"),
        Binding("a", "tab('attempts')", "Attempts"),
        Binding("t", "tab('checkpoints')", "Checkpoints"),
        Binding("e", "tab('events')", "Events"),
        Binding("v", "tab('activity')", "Activity"),
        Binding("i", "tab('definition')", "Definition"),
        Binding("s", "stream", "stdout/stderr"),
        Binding("left_square_bracket", "attempt(-1)", "Previous attempt", key_display="[", show=False),
        Binding("right_square_bracket", "attempt(1)", "Next attempt", key_display="]", show=False),
        Binding("slash", "search", "Search log", key_display="/"),
    ]

    DEFAULT_CSS = """
    RunDetailScreen #summary { height: auto; padding: 0 1; }
    RunDetailScreen TabbedContent { height: 1fr; }
    RunDetailScreen TabPane { padding: 0; }
    RunDetailScreen #log-search { dock: bottom; display: none; }
    RunDetailScreen #log-search.-shown { display: block; }
    RunDetailScreen #stderr-tail { height: auto; padding: 0 1; }
    """

    def __init__(self, run_id: int, tab: str = "log") -> None:
        super().__init__()
        self.run_id = run_id
        self.initial_tab = tab
        self.attempts: list[Attempt] = []
        self.shown_attempt: int | None = None
        self.pinned = False
        #: The attempt whose stderr tail the Attempts tab shows, as picked with its cursor (None: the latest failed).
        self.tail_attempt: int | None = None
        self.stream = "stdout"
        self._events_seen: tuple[int, int] = (0, 0)
        #: How many failed attempts the last load showed; a change moves the stderr block to the newest.
        self._failed_seen = 0
        self._loaded = False

    def compose(self) -> ComposeResult:
        yield Header()
        yield SchedulerBanner()
        yield Static("loading…", id="summary")
        yield ProgressLine(id="progress")
        with TabbedContent(initial=self.initial_tab):
            with TabPane("Log", id="log"):
                yield LogView(id="log-view")
                yield Static("", id="log-status", classes="status-line")
                yield Input(placeholder="search the log", id="log-search", compact=True)
            with TabPane("Attempts", id="attempts"):
                yield DataTable(id="attempts-table", cursor_type="row", zebra_stripes=False)
                yield Static("", id="stderr-tail")
            with TabPane("Checkpoints", id="checkpoints"), VerticalScroll(id="checkpoints-scroll"):
                yield Static("", id="checkpoints-text")
            with TabPane("Events", id="events"):
                yield DataTable(id="events-table", cursor_type="row")
            with TabPane("Activity", id="activity"):
                yield ActivityTable(id="activity-table")
            with TabPane("Definition", id="definition"), VerticalScroll():
                yield Static("", id="definition-text")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.sub_title = f"run {self.run_id}"
        self.query_one("#attempts-table", DataTable).add_columns(
            "#", "NODE", "STATUS", "STARTED", "ENDED", "TOOK", "EXIT", "WHY IT ENDED")
        self.query_one("#events-table", DataTable).add_columns("TIME", "KIND", "CHANGE", "BY", "DETAIL")
        if self.initial_tab == "log":
            self.query_one(LogView).focus()
        elif self.initial_tab == "checkpoints":
            self.query_one("#checkpoints-scroll").focus()

    @property
    def log_view(self) -> LogView:
        return self.query_one(LogView)

    def target_ids(self) -> list[int]:
        return [self.run_id]

    # --- polling ------------------------------------------------------------------------------------------

    def poll(self) -> None:
        self._load()
        if self._loaded:
            self.log_view.poll()

    @work(exclusive=True, group="run-detail")
    async def _load(self) -> None:
        try:
            message = await shielded(self._fetch())
        except NotFound as exc:
            self.notify(str(exc), severity="error")
            self.dismiss()
            return
        except QUERY_ERRORS as exc:
            self.notify(f"refresh failed: {exc}", severity="error")
            return
        self.post_message(message)

    async def _fetch(self) -> RunDetailLoaded:
        engine = self.engine
        detail = await engine.run_detail(self.run_id)
        reason = (await engine.wait_reasons([detail.run])).get(self.run_id)
        failed = [attempt.number for attempt in detail.attempts if attempt.status not in NOT_FAILED]
        if len(failed) != self._failed_seen:
            # A new failed attempt (a retry ended): its stderr is the one to read, not the attempt picked before.
            self.tail_attempt = None
        if not failed:
            return RunDetailLoaded(detail, reason)
        number = self.tail_attempt if self.tail_attempt in failed else failed[-1]
        raw = await asyncio.to_thread(engine.log_tail, self.run_id, number, "stderr", STDERR_LINES)
        return RunDetailLoaded(detail, reason, raw.decode("utf-8", "replace").splitlines(), number)

    def on_run_detail_loaded(self, message: RunDetailLoaded) -> None:
        detail, run = message.detail, message.detail.run
        self.attempts = detail.attempts
        latest = detail.attempts[-1] if detail.attempts else None
        now = self.engine.clock()
        update_static(self.query_one("#summary", Static), summary_text(run, latest, message.reason, now,
                                                                       detail.node_error))
        self._show_progress(latest)
        failed = sum(1 for attempt in self.attempts if attempt.status not in NOT_FAILED)
        self._fill_attempts(now, message.stderr_tail, message.tail_attempt)
        if failed != self._failed_seen:
            self._failed_seen = failed
            if self._loaded and self.query_one("#attempts-table", DataTable).has_focus:
                self._focus_attempts()  # the cursor follows the stderr block onto the newest failed attempt
        update_static(self.query_one("#checkpoints-text", Static), checkpoints_text(detail.checkpoints, run.checkpoint_floor))
        self._fill_events(detail.events)
        self.query_one(ActivityTable).show(detail.activity)
        if not self._loaded:
            update_static(self.query_one("#definition-text", Static), definition_text(run))
            if self.query_one(TabbedContent).active == "attempts":
                self._focus_attempts()
        self._loaded = True
        self._follow_attempt(run.attempt)

    def _show_progress(self, attempt: Attempt | None) -> None:
        fraction = progress_fraction(attempt)
        label = ""
        if attempt is not None and fraction is not None:
            done, total = attempt.progress_done or 0, attempt.progress_total or 0
            label = f"{done:g}/{total:g} {attempt.progress_message or ''}".rstrip()
        self.query_one(ProgressLine).update(fraction, label or ("no progress reported" if attempt else ""))

    def _fill_attempts(self, now: datetime, stderr_tail: list[str], number: int | None) -> None:
        rows = {str(attempt.number): attempt_row(attempt, now) for attempt in self.attempts}
        sync_rows(self.query_one("#attempts-table", DataTable), rows)
        attempt = next((item for item in self.attempts if item.number == number), None)
        if attempt is None:
            update_static(self.query_one("#stderr-tail", Static), "")
            return
        lines = [f"last stderr lines of attempt {attempt.number} ({attempt_outcome(attempt)}):"]
        lines += [f"  {line}" for line in stderr_tail] or ["  (no stderr)"]
        update_static(self.query_one("#stderr-tail", Static), "\n".join(lines))

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        """Moving the Attempts cursor onto an attempt that ended badly shows that attempt's stderr tail."""
        if event.data_table.id != "attempts-table" or not event.data_table.has_focus:
            return
        number = int(event.row_key.value or 0)
        attempt = next((item for item in self.attempts if item.number == number), None)
        if attempt is not None and attempt.status not in NOT_FAILED and number != self.tail_attempt:
            self.tail_attempt = number
            self._load()

    def _fill_events(self, events: list[Event]) -> None:
        seen = (len(events), events[-1].id if events else 0)
        if seen == self._events_seen:
            return
        self._events_seen = seen
        table = self.query_one("#events-table", DataTable)
        table.clear()
        for event in events:
            change = f"{event.old_status or ''} → {event.new_status}" if event.new_status else ""
            table.add_row(clock_time(event.at), event.kind, change, event.actor or "", event.detail or "")

    def _follow_attempt(self, latest: int) -> None:
        """Show the newest attempt's log unless the operator picked another one."""
        target = self.shown_attempt if self.pinned else latest
        attempt = next((item for item in self.attempts if item.number == target), None)
        ended = attempt is not None and attempt.status in ENDED_ATTEMPT
        if target != self.shown_attempt or self.log_view.attempt != (target or 0):
            self.shown_attempt = target
            self.log_view.show(self.run_id, target or 0, self.stream, ended)
        else:
            self.log_view.set_ended(ended)
        self._update_log_status()

    # --- keys ---------------------------------------------------------------------------------------------

    def action_back(self) -> None:
        search = self.query_one("#log-search", Input)
        if search.has_focus:
            search.remove_class("-shown")
            self.log_view.focus()
            return
        self.dismiss()

    def action_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab
        if tab == "log":
            self.log_view.focus()
        elif tab == "attempts":
            self._focus_attempts()
        elif tab == "activity":
            self.query_one(ActivityTable).focus()
        elif tab == "checkpoints":
            # Focused, its list scrolls with the arrow and page keys at once (it waited for a tab press).
            self.query_one("#checkpoints-scroll").focus()

    def _focus_attempts(self) -> None:
        """Focus the attempts table with its cursor on the attempt whose stderr tail is shown."""
        table = self.query_one("#attempts-table", DataTable)
        failed = [attempt.number for attempt in self.attempts if attempt.status not in NOT_FAILED]
        shown = self.tail_attempt if self.tail_attempt in failed else (failed[-1] if failed else None)
        numbers = [attempt.number for attempt in self.attempts]
        if shown in numbers and table.row_count == len(numbers):
            table.move_cursor(row=numbers.index(shown))
        table.focus()

    def action_stream(self) -> None:
        self.stream = "stderr" if self.stream == "stdout" else "stdout"
        self._reshow()

    def action_attempt(self, delta: int) -> None:
        numbers = [attempt.number for attempt in self.attempts]
        if not numbers or self.shown_attempt not in numbers:
            return
        index = max(0, min(len(numbers) - 1, numbers.index(self.shown_attempt) + delta))
        self.shown_attempt = numbers[index]
        self.pinned = numbers[index] != numbers[-1]
        self._reshow()

    def _reshow(self) -> None:
        attempt = next((item for item in self.attempts if item.number == self.shown_attempt), None)
        ended = attempt is not None and attempt.status in ENDED_ATTEMPT
        self.log_view.show(self.run_id, self.shown_attempt or 0, self.stream, ended)
        self._update_log_status()

    def action_search(self) -> None:
        self.action_tab("log")
        search = self.query_one("#log-search", Input)
        search.add_class("-shown")
        search.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.input.remove_class("-shown")
        self.log_view.find(event.value)
        self.log_view.focus()

    def on_log_view_status_changed(self) -> None:
        self._update_log_status()

    def _update_log_status(self) -> None:
        update_static(self.query_one("#log-status", Static), self.log_view.status_text())

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "attempt" and len(self.attempts) < 2:
            return False
        return super().check_action(action, parameters)


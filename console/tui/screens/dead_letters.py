"""Dead letters: runs that failed for good, with why and their last stderr lines, and bulk retry."""

from __future__ import annotations

import asyncio

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Static

from scheduler.run_filter import RunFilter

from ..actions import run_count
from ..format import DEAD_LETTERS, attempt_outcome
from ..messages import DeadLetterTail
from ..shield import QUERY_ERRORS, shielded
from ..views import describe_filter, parse_run_filter
from ..widgets.quiet import update_static
from .runs import RunsScreen

TAIL_LINES = 4
RETRY_ALL_CAP = 10_000


class DeadLettersScreen(RunsScreen):
    """The runs view scoped to failed and timed-out runs, with the selected run's stderr tail."""

    VIEW_TITLE = "Dead letters"
    SUB_TITLE = "dead letters"
    BINDINGS = [Binding("A", "retry_all", "Retry all shown", key_display="A")]

    DEFAULT_CSS = """
    DeadLettersScreen #dead-tail { height: 6; border-top: solid $primary; padding: 0 1; }
    """

    def __init__(self) -> None:
        super().__init__(RunFilter(statuses=DEAD_LETTERS))

    def below_table(self) -> ComposeResult:
        yield Static("", id="dead-tail")

    def on_mount(self) -> None:
        self.watch(self.table, "cursor_id", self._cursor_moved, init=False)

    def _apply_text(self, text: str) -> None:
        try:
            parsed = parse_run_filter(text)
        except ValueError as exc:
            self.notify(str(exc), severity="warning")
            return
        statuses = tuple(status for status in parsed.statuses if status in DEAD_LETTERS) or DEAD_LETTERS
        run_filter = RunFilter(statuses=statuses, job=parsed.job, queue=parsed.queue, node=parsed.node,
                               backfill_id=parsed.backfill_id, text=parsed.text)
        if run_filter != self.table.run_filter:
            self.table.set_filter(run_filter)

    def _cursor_moved(self, run_id: int | None) -> None:
        if run_id is not None:
            self._load_tail(run_id)

    @work(exclusive=True, group="dead-tail")
    async def _load_tail(self, run_id: int) -> None:
        try:
            self.post_message(await shielded(self._fetch_tail(run_id)))
        except QUERY_ERRORS as exc:
            self.notify(f"refresh failed: {exc}", severity="error")

    async def _fetch_tail(self, run_id: int) -> DeadLetterTail:
        attempts = await self.engine.last_attempts([run_id])
        attempt = attempts.get(run_id)
        if attempt is None:
            return DeadLetterTail(run_id, "never started", [])
        raw = await asyncio.to_thread(self.engine.log_tail, run_id, attempt.number, "stderr", TAIL_LINES)
        lines = raw.decode("utf-8", "replace").splitlines()
        return DeadLetterTail(run_id, attempt_outcome(attempt), lines)

    def on_dead_letter_tail(self, message: DeadLetterTail) -> None:
        if message.run_id != self.table.cursor_id:
            return
        body = [f"run {message.run_id}: {message.outcome}"]
        body += [f"  {line}" for line in message.lines] or ["  (no stderr)"]
        update_static(self.query_one("#dead-tail", Static), "\n".join(body))

    @work(exclusive=True, group="retry-all")
    async def action_retry_all(self) -> None:
        """Retry every run the filter shows, after saying how many."""
        run_filter = self.table.run_filter
        runs = await shielded(self.engine.runs(run_filter, RETRY_ALL_CAP))
        run_ids = [run.id for run in runs]
        if not run_ids:
            self.notify("no dead letters to retry")
            return
        scope = describe_filter(run_filter)
        capped = " (the newest shown; narrow the filter for older ones)" if len(run_ids) == RETRY_ALL_CAP else ""
        self.sluice.confirm(
            f"Retry all {run_count(len(run_ids))} shown ({scope}){capped}?\n\n"
            "Each is queued for a new attempt from its latest checkpoint.",
            lambda: self.engine.retry(run_ids), f"Retry {len(run_ids)}")


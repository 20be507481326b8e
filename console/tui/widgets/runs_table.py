"""The runs table: a Line-API view over a sliding window of runs fetched by keyset pages, never all of them.

The cursor holds a run id, so refreshes, new runs and sorts never move it to another run. The window keeps at most
MAX_WINDOW rows; moving past either end fetches the next page and drops rows from the far end. Sorting by an
indexed column (job, status, node, id) pages by keyset in that order and reloads the window around the cursor's
run; runtime has no index, so it sorts only the rows loaded (newest first) and stops paging."""

from __future__ import annotations

from datetime import datetime

from rich.style import Style
from textual import events, work
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from scheduler.models import Attempt, Run
from scheduler.run_filter import RunFilter
from scheduler.run_order import NEWEST_FIRST, RunOrder, SortKey
from scheduler.states import ACTIVE, RunStatus

from ..format import WAITING, elapsed, run_why
from ..messages import RunsWindowLoaded
from ..ports import app_port
from ..shield import QUERY_ERRORS, shielded
from .run_columns import ColumnView, content_widths, row_text
from .strips import blank, note_line, text_line

PAGE = 200
MAX_WINDOW = 600
PREFETCH = 20
COUNT_CAP = 100_000
CURSOR_STYLE = Style(reverse=True)
OLDEST_FIRST = RunOrder(SortKey.ID, descending=False)
#: The column title each sort key marks in the header.
SORT_TITLES = {SortKey.ID: "ID", SortKey.JOB: "JOB", SortKey.STATUS: "STATUS", SortKey.NODE: "NODE",
               SortKey.RUNTIME: "RUNTIME"}


class RunsTable(ScrollView, can_focus=True):
    """Runs newest first, loaded a page at a time from the engine."""

    BINDINGS = [
        Binding("up", "cursor(-1)", "Up", show=False),
        Binding("down", "cursor(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home,g", "first", "First", show=False),
        Binding("end,G", "last", "Last", show=False),
        Binding("space", "tag", "Tag"),
        Binding("enter", "open", "Open", show=False),
    ]

    DEFAULT_CSS = """
    RunsTable { height: 1fr; overflow-x: hidden; }
    """

    cursor_id: reactive[int | None] = reactive(None, always_update=True, repaint=False)

    class Opened(Message):
        """The operator asked to open a run."""

        def __init__(self, run_id: int) -> None:
            super().__init__()
            self.run_id = run_id

    class WindowChanged(Message):
        """New rows or counts arrived; the screen updates its "showing N of M" line."""

    def __init__(self, run_filter: RunFilter | None = None, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.run_filter = run_filter or RunFilter()
        self.window: list[Run] = []
        self.reasons: dict[int, str] = {}
        self.attempts: dict[int, Attempt] = {}
        self.tagged: set[int] = set()
        self.total = 0
        self.at_top = True
        self.at_bottom = True
        self.rows_loaded = 0
        self.loaded_once = False
        self.sort = NEWEST_FIRST
        #: Every column (`W`), WHY giving up the room.
        self.wide = False
        #: The clock time of the last page: a running run's RUNTIME counts to it.
        self.now: datetime | None = None
        #: Longest value per column among the loaded rows: the header and every row are laid out for it.
        self.content: dict[str, int] = {}
        self._generation = 0
        self._pending_move = 0
        self._busy = False

    # --- data ---------------------------------------------------------------------------------------------

    def on_mount(self) -> None:
        self.reload()

    def set_filter(self, run_filter: RunFilter) -> None:
        """Show runs matching `run_filter`, from the newest; tags are kept."""
        self.run_filter = run_filter
        self._generation += 1
        self.reload()

    def reload(self) -> None:
        self._fetch("top")

    def toggle_order(self) -> None:
        """Newest first <-> oldest first (both keyset-paged by id), the cursor staying on its run like any sort."""
        self.set_sort(OLDEST_FIRST if self.sort == NEWEST_FIRST else NEWEST_FIRST)

    def sort_by(self, key: SortKey) -> None:
        """k9s's shift-letter: sort by `key`; again reverses it; a third time goes back to newest first."""
        first = RunOrder(key, descending=key in (SortKey.RUNTIME,))
        if key == SortKey.ID:
            first = OLDEST_FIRST  # newest first is the default: the column's first press is the other way
        if self.sort == first:
            order = RunOrder(key, not first.descending)
        elif self.sort.key == key and self.sort != NEWEST_FIRST:
            order = NEWEST_FIRST
        else:
            order = first
        self.set_sort(order)

    def set_sort(self, order: RunOrder) -> None:
        """Read the runs in `order`, the window loaded around the cursor's run so the cursor stays on it."""
        self.sort = order
        self._generation += 1
        run = self.cursor_run
        self._busy = True
        self._load("around" if run is not None else "top", self._generation, self.run_filter,
                   [run] if run is not None else [], self.at_top)

    def toggle_wide(self) -> None:
        self.wide = not self.wide
        self.refresh()
        self.post_message(self.WindowChanged())

    @property
    def column_view(self) -> ColumnView:
        """The wide toggle and the sort the header marks (none for the default order)."""
        sort = None if self.sort == NEWEST_FIRST else (SORT_TITLES[self.sort.key], self.sort.descending)
        return ColumnView(wide=self.wide, sort=sort, now=self.now)

    def poll(self) -> None:
        """Refresh the rows in the window (and pick up new runs when at the top); skipped while paging."""
        if not self._busy:
            self._fetch("refresh")

    def _fetch(self, anchor: str) -> None:
        self._busy = anchor != "refresh"
        self._load(anchor, self._generation, self.run_filter, list(self.window), self.at_top)

    @work(exclusive=True, group="runs-table")
    async def _load(self, anchor: str, generation: int, run_filter: RunFilter, window: list[Run],
                    at_top: bool) -> None:
        try:
            message = await shielded(self._fetch_window(anchor, generation, run_filter, window, at_top))
        except QUERY_ERRORS as exc:
            self._busy = False
            self.notify(f"loading runs failed: {exc}", severity="error")
            return
        self.post_message(message)

    async def _fetch_window(self, anchor: str, generation: int, run_filter: RunFilter, window: list[Run],
                            at_top: bool) -> RunsWindowLoaded:
        """One keyset page (or the current window again), with wait reasons and last attempts."""
        engine = app_port(self.app).engine
        # Runtime is not stored: page newest first and sort the loaded rows below.
        order = self.sort if self.sort.indexed else NEWEST_FIRST
        if not self.sort.indexed:
            window = sorted(window, key=lambda run: run.id, reverse=True)
        exhausted_before = False
        if anchor == "around":
            limit = PAGE
            before = await engine.runs_page(run_filter, PAGE // 2, order, window[0], backwards=True)
            runs = before + await engine.runs_page(run_filter, PAGE, order, window[0], inclusive=True)
            exhausted_before = len(before) < PAGE // 2
            exhausted = len(runs) - len(before) < PAGE
        elif anchor == "refresh" and window and not at_top:
            limit = len(window)
            runs = await engine.runs_page(run_filter, limit, order, window[0], inclusive=True)
        elif anchor in ("top", "refresh"):
            limit = max(PAGE, len(window)) if anchor == "refresh" else PAGE
            runs = await engine.runs_page(run_filter, limit, order)
        elif anchor == "bottom":
            limit = PAGE
            runs = await engine.runs_page(run_filter, limit, order, backwards=True)
        else:
            limit = PAGE
            edge = window[-1] if anchor == "down" else window[0]
            runs = await engine.runs_page(run_filter, limit, order, edge, backwards=anchor == "up")
        if anchor != "around":
            exhausted = len(runs) < limit
        now = engine.clock()
        if not self.sort.indexed:
            runs.sort(key=lambda run: _runtime(run, now), reverse=self.sort.descending)
        # Running runs too: one whose node does not answer says since when and when it is given up.
        waiting = [run for run in runs if run.status in WAITING or run.status in ACTIVE]
        reasons = await engine.wait_reasons(waiting) if waiting else {}
        ended = [run.id for run in runs if run.status != RunStatus.QUEUED]
        attempts = await engine.last_attempts(ended) if ended else {}
        total = await engine.count_runs(run_filter, cap=COUNT_CAP)
        return RunsWindowLoaded(generation, runs, reasons, attempts, total, exhausted=exhausted, anchor=anchor,
                                exhausted_before=exhausted_before, now=now)

    def on_runs_window_loaded(self, message: RunsWindowLoaded) -> None:
        message.stop()
        if message.generation != self._generation:
            return
        self.rows_loaded += len(message.runs)
        self.loaded_once = True
        self._busy = False
        if (message.anchor == "refresh" and message.runs == self.window and self.total == message.total
                and all(self.reasons.get(run_id) == why for run_id, why in message.reasons.items())
                and all(self.attempts.get(run_id) == attempt for run_id, attempt in message.attempts.items())):
            return  # nothing changed: redraw nothing (calm over slow links)
        old_index = self.cursor_index
        self._merge(message)
        self.reasons.update(message.reasons)
        self.attempts.update(message.attempts)
        self.total = message.total
        self._after_merge(old_index)
        if message.anchor == "around":
            self._center_cursor()
        self.post_message(self.WindowChanged())

    def _merge(self, message: RunsWindowLoaded) -> None:
        anchor, runs = message.anchor, message.runs
        if anchor == "around":
            self.window, self.at_top, self.at_bottom = runs, message.exhausted_before, message.exhausted
            self.reasons, self.attempts = {}, {}
        elif anchor in ("top", "refresh") and (self.at_top or not self.window or anchor == "top"):
            self.window, self.at_top, self.at_bottom = runs, True, message.exhausted
            self.reasons, self.attempts = {}, {}
        elif anchor == "bottom":
            self.window, self.at_bottom, self.at_top = runs, True, message.exhausted
            self.reasons, self.attempts = {}, {}
        elif anchor == "down":
            self.window = self.window + runs
            self.at_bottom = message.exhausted
            dropped = max(0, len(self.window) - MAX_WINDOW)
            if dropped:
                self.window, self.at_top = self.window[dropped:], False
                self.scroll_to(y=max(0, self.scroll_y - dropped), animate=False, immediate=True)
        elif anchor == "up":
            combined = runs + self.window
            self.window, self.at_top = combined[:MAX_WINDOW], message.exhausted
            if len(combined) > MAX_WINDOW:
                self.at_bottom = False
            self.scroll_to(y=self.scroll_y + len(runs), animate=False, immediate=True)
        else:
            self.window = runs
        self.now = message.now
        self.content = content_widths(self.window, self.now)
        self.virtual_size = Size(self.size.width, len(self.window))

    def _after_merge(self, old_index: int | None) -> None:
        ids = [run.id for run in self.window]
        if self.cursor_id not in ids:
            if not ids:
                self.cursor_id = None
            elif self._pending_move:
                self.cursor_id = ids[0] if self._pending_move < 0 else ids[-1]
            else:
                self.cursor_id = ids[min(old_index or 0, len(ids) - 1)]
        if self._pending_move:
            move, self._pending_move = self._pending_move, 0
            self.action_cursor(move)
        self.refresh()

    # --- cursor -------------------------------------------------------------------------------------------

    @property
    def cursor_index(self) -> int | None:
        for index, run in enumerate(self.window):
            if run.id == self.cursor_id:
                return index
        return None

    @property
    def cursor_run(self) -> Run | None:
        index = self.cursor_index
        return self.window[index] if index is not None else None

    def selected_ids(self) -> list[int]:
        """Tagged runs if any, else the run under the cursor."""
        if self.tagged:
            return sorted(self.tagged)
        return [self.cursor_id] if self.cursor_id is not None else []

    def action_cursor(self, delta: int) -> None:
        index = self.cursor_index
        if index is None:
            return
        target = index + delta
        # Sorted by runtime, the window is all there is: its pages would not follow on in that order.
        pageable = self.sort.indexed
        if target >= len(self.window) and not self.at_bottom and pageable:
            self._pending_move = target - len(self.window) + 1
            self.cursor_id = self.window[-1].id
            self._fetch("down")
        elif target < 0 and not self.at_top and pageable:
            self._pending_move = target
            self.cursor_id = self.window[0].id
            self._fetch("up")
        else:
            target = max(0, min(len(self.window) - 1, target))
            self.cursor_id = self.window[target].id
            if pageable and not self._busy and not self.at_bottom and len(self.window) - target < PREFETCH:
                self._fetch("down")
        self._show_cursor()

    def action_page(self, direction: int) -> None:
        self.action_cursor(direction * max(1, self.size.height - 1))

    def action_first(self) -> None:
        if self.at_top and self.window:
            self.cursor_id = self.window[0].id
            self._show_cursor()
        else:
            self.cursor_id = None
            self._fetch("top")

    def action_last(self) -> None:
        if self.at_bottom and self.window:
            self.cursor_id = self.window[-1].id
            self._show_cursor()
        else:
            self._pending_move = 1
            self._fetch("bottom")

    def action_tag(self) -> None:
        if self.cursor_id is None:
            return
        self.tagged.symmetric_difference_update({self.cursor_id})
        self.action_cursor(1)
        self.refresh()
        self.post_message(self.WindowChanged())

    def clear_tags(self) -> None:
        self.tagged.clear()
        self.refresh()

    def action_open(self) -> None:
        if self.cursor_id is not None:
            self.post_message(self.Opened(self.cursor_id))

    def watch_cursor_id(self) -> None:
        self.refresh()

    def _center_cursor(self) -> None:
        """After a sort: the cursor's run in the middle of the table, where the eye finds it."""
        index = self.cursor_index
        if index is not None:
            self.scroll_to(y=max(0, index - self.size.height // 2), animate=False, immediate=True)

    def _show_cursor(self) -> None:
        index = self.cursor_index
        if index is None:
            return
        height = max(1, self.size.height)
        if index < self.scroll_y:
            self.scroll_to(y=index, animate=False, immediate=True)
        elif index >= self.scroll_y + height:
            self.scroll_to(y=index - height + 1, animate=False, immediate=True)

    def on_click(self, event: events.Click) -> None:
        index = int(self.scroll_y) + event.y
        if 0 <= index < len(self.window):
            self.cursor_id = self.window[index].id
            if event.chain >= 2:
                self.action_open()

    def on_resize(self) -> None:
        self.virtual_size = Size(self.size.width, len(self.window))

    # --- drawing ------------------------------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        index = int(self.scroll_y) + y
        width = self.size.width
        if index >= len(self.window):
            if index == len(self.window) and not self.loaded_once:
                return note_line("  loading runs…", self.app.console, width)
            if index == 0 and not self.window:
                return note_line("  no runs match", self.app.console, width)
            return blank(width)
        run = self.window[index]
        why = run_why(run, self.reasons, self.attempts)
        text = row_text(run, why, width, run.id in self.tagged, self.content, self.column_view)
        if run.id == self.cursor_id and self.has_focus:
            text.stylize(CURSOR_STYLE)
        elif run.id == self.cursor_id:
            text.stylize(Style(underline=True))
        return text_line(text, self.app.console, width)

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()


def _runtime(run: Run, now: datetime) -> float:
    """Seconds the run ran or has been running; -1 for one that never started (last when longest first)."""
    seconds = elapsed(run.started_at, run.ended_at, now)
    return -1.0 if seconds is None else seconds

"""The runs table: a Line-API view over a sliding window of runs fetched by keyset pages, never all of them.

The cursor holds a run id, so refreshes and new runs never move it to another run. The window keeps at most
MAX_WINDOW rows; moving past either end fetches the next page and drops rows from the far end."""

from __future__ import annotations

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
from scheduler.states import ACTIVE, RunStatus

from ..format import WAITING, run_why
from ..messages import RunsWindowLoaded
from ..ports import app_port
from ..shield import QUERY_ERRORS, shielded
from .run_columns import content_widths, row_text
from .strips import blank, note_line, text_line

PAGE = 200
MAX_WINDOW = 600
PREFETCH = 20
COUNT_CAP = 100_000
CURSOR_STYLE = Style(reverse=True)


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
        self.order = "newest"
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
        """Newest first <-> oldest first (both keyset-paged by id); the cursor goes to the first row."""
        self.order = "oldest" if self.order == "newest" else "newest"
        self._generation += 1
        self.cursor_id = None
        self.scroll_to(y=0, animate=False, immediate=True)
        self.reload()

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
        newest_first = self.order == "newest"
        if anchor == "refresh" and window and not at_top:
            limit = len(window)
            edge = {"before_id": window[0].id + 1} if newest_first else {"after_id": window[0].id - 1}
            runs = await engine.runs(run_filter, limit, **edge)
        elif anchor in ("top", "bottom", "refresh"):
            limit = max(PAGE, len(window)) if anchor == "refresh" else PAGE
            newest_end = (anchor != "bottom") == newest_first
            runs = await engine.runs(run_filter, limit) if newest_end else await engine.runs(
                run_filter, limit, after_id=0)
        else:
            limit = PAGE
            older = (anchor == "down") == newest_first
            edge_id = window[-1].id if anchor == "down" else window[0].id
            runs = await engine.runs(run_filter, PAGE, **({"before_id": edge_id} if older else {"after_id": edge_id}))
        if not newest_first:
            runs.reverse()
        # Running runs too: one whose node does not answer says since when and when it is given up.
        waiting = [run for run in runs if run.status in WAITING or run.status in ACTIVE]
        reasons = await engine.wait_reasons(waiting) if waiting else {}
        ended = [run.id for run in runs if run.status != RunStatus.QUEUED]
        attempts = await engine.last_attempts(ended) if ended else {}
        total = await engine.count_runs(run_filter, cap=COUNT_CAP)
        return RunsWindowLoaded(generation, runs, reasons, attempts, total, exhausted=len(runs) < limit,
                                anchor=anchor)

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
        self.post_message(self.WindowChanged())

    def _merge(self, message: RunsWindowLoaded) -> None:
        anchor, runs = message.anchor, message.runs
        if anchor in ("top", "refresh") and (self.at_top or not self.window or anchor == "top"):
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
        self.content = content_widths(self.window)
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
        if target >= len(self.window) and not self.at_bottom:
            self._pending_move = target - len(self.window) + 1
            self.cursor_id = self.window[-1].id
            self._fetch("down")
        elif target < 0 and not self.at_top:
            self._pending_move = target
            self.cursor_id = self.window[0].id
            self._fetch("up")
        else:
            target = max(0, min(len(self.window) - 1, target))
            self.cursor_id = self.window[target].id
            if not self._busy and not self.at_bottom and len(self.window) - target < PREFETCH:
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
        text = row_text(run, why, width, run.id in self.tagged, self.content)
        if run.id == self.cursor_id and self.has_focus:
            text.stylize(CURSOR_STYLE)
        elif run.id == self.cursor_id:
            text.stylize(Style(underline=True))
        return text_line(text, self.app.console, width)

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()

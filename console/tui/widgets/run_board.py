"""The overview's run board: runs running now, waiting, and the latest ended, as many of each as the height holds.

It fetches a bounded few dozen runs of each kind in a worker and shows what fits, sharing the rows out fairly
between the three sections. The cursor holds a run id, so a refresh never moves it to another run."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events, work
from textual.binding import Binding
from textual.message import Message
from textual.strip import Strip
from textual.widget import Widget

from scheduler.engine import RunBoard as Board
from scheduler.models import Attempt, Run
from scheduler.states import ACTIVE, ENDED, WAITING

from ..format import count_of, run_why
from ..messages import RunBoardLoaded
from ..ports import app_port
from ..shield import QUERY_ERRORS, shielded
from .board_rows import ended_row, running_row, waiting_row

#: Runs fetched per section, whatever the terminal's height: a tall terminal shows more of them.
LIMIT = 30
CURSOR_STYLE = Style(reverse=True)
TITLE_STYLE = Style(bold=True)
#: Under every segment: Textual's NO_COLOR (monochrome) filter fails on a segment without a style.
PLAIN = Style()


@dataclass(frozen=True)
class Line:
    """One line of the board: a section's title (run None) or a run of that section."""

    section: str
    run: Run | None = None
    text: str = ""


class RunBoard(Widget, can_focus=True):
    """Running, waiting and ended runs by job name; enter opens the one under the cursor."""

    BINDINGS = [
        Binding("up", "cursor(-1)", "Up", show=False),
        Binding("down", "cursor(1)", "Down", show=False),
        Binding("home,g", "cursor(-1000)", "First", show=False),
        Binding("end,G", "cursor(1000)", "Last", show=False),
        Binding("enter", "open", "Open run", show=False),
    ]

    DEFAULT_CSS = """
    RunBoard { height: 1fr; min-height: 6; }
    """

    class Opened(Message):
        """The operator asked to open a run."""

        def __init__(self, run_id: int) -> None:
            super().__init__()
            self.run_id = run_id

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.board = Board([], [], [])
        self.reasons: dict[int, str] = {}
        self.attempts: dict[int, Attempt] = {}
        #: Runs per status in the whole store (from the overview's counts), for "3 of 8".
        self.totals: dict[str, int] = {}
        self.now = datetime.now().astimezone()
        self.cursor_id: int | None = None
        self.loaded = False

    # --- data ---------------------------------------------------------------------------------------------

    def poll(self) -> None:
        self._load()

    @work(exclusive=True, group="run-board")
    async def _load(self) -> None:
        try:
            self.post_message(await shielded(self._fetch()))
        except QUERY_ERRORS as exc:
            self.notify(f"loading the overview's runs failed: {exc}", severity="error")

    async def _fetch(self) -> RunBoardLoaded:
        engine = app_port(self.app).engine
        board = await engine.run_board(LIMIT)
        # The runs view's why: running runs too, for a node that does not answer.
        reasons = await engine.wait_reasons([*board.running, *board.waiting])
        attempts = await engine.last_attempts([run.id for run in (*board.running, *board.ended)])
        return RunBoardLoaded(board, reasons, attempts, engine.clock())

    def on_run_board_loaded(self, message: RunBoardLoaded) -> None:
        message.stop()
        self.board, self.reasons, self.attempts, self.now = (
            message.board,
            message.reasons,
            message.attempts,
            message.now,
        )
        self.loaded = True
        self._keep_cursor()
        self.refresh()

    def set_totals(self, counts: dict[str, int]) -> None:
        if counts != self.totals:
            self.totals = dict(counts)
            self.refresh()

    # --- layout -------------------------------------------------------------------------------------------

    def sections(self) -> list[tuple[str, list[Run], int]]:
        """(title, runs fetched, runs in the store) of each section, in the order shown."""
        board = self.board
        return [
            ("Running", board.running, count_of(self.totals, ACTIVE)),
            ("Waiting", board.waiting, count_of(self.totals, WAITING)),
            ("Ended", board.ended, count_of(self.totals, ENDED)),
        ]

    def lines(self) -> list[Line]:
        """The board's lines at its current height: each section's title, then its share of the rows."""
        sections = self.sections()
        shares = _share(max(0, self.size.height - len(sections)), [len(runs) for _, runs, _ in sections])
        lines = []
        for (title, runs, total), share in zip(sections, shares, strict=True):
            lines.append(Line(title, text=_title(title, share, max(total, len(runs)), self.loaded)))
            lines.extend(Line(title, run) for run in runs[:share])
        return lines

    def shown_runs(self) -> list[Run]:
        return [line.run for line in self.lines() if line.run is not None]

    # --- cursor -------------------------------------------------------------------------------------------

    def _keep_cursor(self) -> None:
        shown = [run.id for run in self.shown_runs()]
        if self.cursor_id not in shown:
            self.cursor_id = shown[0] if shown else None

    def action_cursor(self, delta: int) -> None:
        shown = [run.id for run in self.shown_runs()]
        if not shown:
            return
        index = shown.index(self.cursor_id) if self.cursor_id in shown else 0
        self.cursor_id = shown[max(0, min(len(shown) - 1, index + delta))]
        self.refresh()

    def action_open(self) -> None:
        if self.cursor_id is not None:
            self.post_message(self.Opened(self.cursor_id))

    def on_click(self, event: events.Click) -> None:
        lines = self.lines()
        if 0 <= event.y < len(lines) and (run := lines[event.y].run) is not None:
            self.cursor_id = run.id
            self.refresh()
            if event.chain >= 2:
                self.action_open()

    def on_resize(self) -> None:
        self._keep_cursor()

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()

    # --- drawing ------------------------------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        lines = self.lines()
        if y >= len(lines):
            return Strip.blank(width, PLAIN)
        line = lines[y]
        if line.run is None:
            return Strip([Segment(line.text[:width].ljust(width), TITLE_STYLE)])
        text = self._row(line.section, line.run, width)
        if line.run.id == self.cursor_id:
            text.stylize(CURSOR_STYLE if self.has_focus else Style(underline=True))
        return Strip(text.render(self.app.console), width).apply_style(PLAIN)

    def _row(self, section: str, run: Run, width: int) -> Text:
        why = run_why(run, self.reasons, self.attempts)
        if section == "Running":
            return running_row(
                run,
                self.reasons.get(run.id) or _cancel_note(why, run),
                self.attempts.get(run.id),
                self.now,
                width,
            )
        if section == "Waiting":
            return waiting_row(run, why, width)
        return ended_row(run, why, self.now, width)


def _cancel_note(why: str, run: Run) -> str | None:
    """A running run's why worth showing instead of its progress bar: a kill that is on its way."""
    return why if run.cancel_requested else None


def _share(rows: int, wanted: list[int]) -> list[int]:
    """Hand `rows` out one at a time to the sections that still have runs to show, so each gets its fair part."""
    shares = [0] * len(wanted)
    while rows > 0 and any(share < want for share, want in zip(shares, wanted, strict=True)):
        for index, want in enumerate(wanted):
            if rows > 0 and shares[index] < want:
                shares[index] += 1
                rows -= 1
    return shares


def _title(title: str, shown: int, total: int, loaded: bool) -> str:
    if not loaded:
        return f"{title} · loading…"
    if not total:
        return f"{title} · none"
    return f"{title} · {total:,}" if shown >= total else f"{title} · {shown} of {total:,} shown"

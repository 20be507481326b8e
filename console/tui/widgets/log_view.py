"""The live log: a Line-API view of one attempt's stream that tails by byte offsets.

A small log is read whole; a big one opens on its last TAIL_LINES lines, read backwards, so a 1 GB finished
log shows at once. While following, each poll reads only the bytes past the last offset (at most CHUNK).
Reads run in thread workers and arrive as one LogChunk message per batch, never one call per line.
Each line keeps the stream offset it ends at, so timestamps map it to the chunk that brought it (the log
store's arrivals), and rows map to lines through `_rows` whenever wrapping or hidden markers break row == line."""

from __future__ import annotations

import re
from bisect import bisect_left
from functools import lru_cache

from rich.style import Style
from rich.text import Text
from textual import work
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from console.timefmt import shown
from scheduler.models import Arrival, merge_arrivals

from ..format import size_text
from ..messages import LogArrivals, LogChunk
from ..ports import EnginePort, app_port
from .log_lines import MARKER_MODES, arrival_of, find_matches, is_marker, split_lines, wrap_rows
from .log_save import ask_and_save
from .strips import blank, note_line, text_line

WHOLE_LIMIT = 2 << 20
TAIL_LINES = 5000
HEAD_BYTES = 1 << 20
CHUNK = 1 << 20
MAX_LINES = 200_000
MATCH_STYLE = Style(reverse=True, bold=True)
TIME_STYLE = Style(dim=True)
#: The prefix of a line older than the first recorded arrival (logs captured before arrivals were noted).
NO_TIME = "-"


@lru_cache(maxsize=8192)
def _clock(at: str) -> str:
    """An arrival's time as shown: parsed and zoned once per arrival, not once per drawn row."""
    return shown(at, "clock")


class LogView(ScrollView, can_focus=True):
    """One attempt's stdout or stderr; follows new output unless paused."""

    BINDINGS = [
        Binding("f", "toggle_follow", "Follow/pause"),
        Binding("w", "toggle_wrap", "Wrap"),
        Binding("T", "toggle_timestamps", "Timestamps", key_display="T"),
        Binding("m", "cycle_markers", "Markers dim/hide/show"),
        Binding("W", "save", "Save log to a file", key_display="W"),
        Binding("home,g", "top", "Top", show=False),
        Binding("end,G", "bottom", "Bottom", show=False),
        Binding("n", "next_match(1)", "Next match", show=False),
        Binding("N", "next_match(-1)", "Previous match", show=False),
        Binding("up", "scroll_up", "Scroll up (pauses)", show=False),
        Binding("down", "scroll_down", "Scroll down", show=False),
        Binding("pageup", "page_up", "Page up (pauses)", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
    ]

    DEFAULT_CSS = """
    LogView { height: 1fr; }
    """

    class StatusChanged(Message):
        """Follow state, position or search results changed; the screen redraws its log status line."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.run_id = 0
        self.attempt = 0
        self.stream = "stdout"
        self.ended = False
        self.follow = True
        self.wrap = False
        self.lines: list[str] = []
        self.start_offset = 0
        self.read_offset = 0
        self.log_bytes = 0
        self.pending = b""
        self.head_mode = False
        self.new_lines = 0
        self.search = ""
        self.matches: list[int] = []
        self._rows: list[tuple[int, int]] = []
        #: The line the last search jump landed on, and the set of matching lines for the matches drawn.
        self._match_line: int | None = None
        self._generation = 0
        self._reading = False
        self._width = 0
        #: Timestamps: each line prefixed with when the bastion got it, from the stream's arrivals.
        self.timestamps = False
        self.ends: list[int] = []
        self.arrivals: list[Arrival] = []
        self._arrival_offsets: list[int] = []
        self._arrivals_read = 0
        self._arrivals_key: tuple[int, int, str] = (0, 0, "")
        self._reading_arrivals = False
        self._prefix_width = 0
        self.markers = MARKER_MODES[0]
        self._markers_changed = False

    # --- what to show -------------------------------------------------------------------------------------

    def show(self, run_id: int, attempt: int, stream: str, ended: bool) -> None:
        """Switch to another attempt or stream: reload from its tail and follow."""
        self.run_id, self.attempt, self.stream, self.ended = run_id, attempt, stream, ended
        self.follow, self.head_mode = True, False
        self._generation += 1
        if (run_id, attempt, stream) != self._arrivals_key:
            self._arrivals_key = (run_id, attempt, stream)
            self.arrivals, self._arrival_offsets, self._arrivals_read = [], [], 0
            self._reading_arrivals = False
            if self.timestamps:
                self._start_arrivals()
        self._reset([], [], 0)
        if attempt > 0:
            self._reading = True
            self._read_tail(self._generation)

    def set_ended(self, ended: bool) -> None:
        self.ended = ended

    def _reset(self, lines: list[str], ends: list[int], start_offset: int) -> None:
        self.lines, self.start_offset, self.pending, self.new_lines = lines, start_offset, b"", 0
        self.ends = ends
        self.matches = find_matches(lines, self.search) if self.search else []
        self._relayout()

    # --- reading ------------------------------------------------------------------------------------------

    @property
    def engine(self) -> EnginePort:
        return app_port(self.app).engine

    @work(thread=True, exclusive=True, group="log-read")
    def _read_tail(self, generation: int) -> None:
        engine = self.engine
        size = engine.log_size(self.run_id, self.attempt, self.stream)
        if size <= WHOLE_LIMIT:
            data, start = engine.read_log(self.run_id, self.attempt, self.stream, 0, size), 0
        else:
            data = engine.log_tail(self.run_id, self.attempt, self.stream, TAIL_LINES)
            start = size - len(data)
        lines, ends, pending = split_lines(b"", data, self.ended, start)
        self.post_message(LogChunk(generation, lines, start, start + len(data), size, replace=True, pending=pending,
                                   ends=ends))

    @work(thread=True, exclusive=True, group="log-read")
    def _read_head(self, generation: int) -> None:
        engine = self.engine
        size = engine.log_size(self.run_id, self.attempt, self.stream)
        data = engine.read_log(self.run_id, self.attempt, self.stream, 0, HEAD_BYTES)
        lines, ends, pending = split_lines(b"", data, self.ended and len(data) >= size)
        self.post_message(LogChunk(generation, lines, 0, len(data), size, replace=True, pending=pending, ends=ends))

    @work(thread=True, exclusive=True, group="log-read")
    def _read_more(self, generation: int, offset: int, pending: bytes, final: bool) -> None:
        engine = self.engine
        size = engine.log_size(self.run_id, self.attempt, self.stream)
        data = engine.read_log(self.run_id, self.attempt, self.stream, offset, min(CHUNK, max(0, size - offset)))
        lines, ends, rest = split_lines(pending, data, final and offset + len(data) >= size, offset - len(pending))
        self.post_message(LogChunk(generation, lines, self.start_offset, offset + len(data), size, pending=rest,
                                   ends=ends))

    def _start_arrivals(self) -> None:
        if self.attempt and not self._reading_arrivals:
            self._reading_arrivals = True
            self._read_arrivals(self._arrivals_key, self._arrivals_read)

    @work(thread=True, exclusive=True, group="log-arrivals")
    def _read_arrivals(self, key: tuple[int, int, str], start: int) -> None:
        arrivals, end = self.engine.log_arrivals(*key, start)
        self.post_message(LogArrivals(key, arrivals, start, end))

    def on_log_arrivals(self, message: LogArrivals) -> None:
        message.stop()
        if message.key != self._arrivals_key or message.start != self._arrivals_read:
            return
        self._reading_arrivals = False
        self._arrivals_read = message.end
        if not message.arrivals:
            return
        self.arrivals = merge_arrivals(self.arrivals, message.arrivals)
        self._arrival_offsets = [arrival.offset for arrival in self.arrivals]
        widest = max(len(_clock(arrival.at)) for arrival in message.arrivals) + 1
        if widest > self._prefix_width:
            self._prefix_width = widest
            self._relayout()
        else:
            self.refresh()

    def poll(self) -> None:
        """Read what was appended since the last read (called by the screen's timer)."""
        if self.follow and self.scroll_y < self.max_scroll_y:
            self._to_end()  # a chunk laid out before the view had its final size
        if self.timestamps:
            self._start_arrivals()
        if self.attempt == 0 or self._reading:
            return
        if self.head_mode and not self._near_bottom():
            return
        self._reading = True
        self._read_more(self._generation, self.read_offset, self.pending, self.ended)

    def on_log_chunk(self, message: LogChunk) -> None:
        message.stop()
        if message.generation != self._generation:
            return
        self._reading = False
        self.log_bytes = message.size
        self.read_offset = message.end_offset
        if message.replace:
            self._reset(message.lines, message.ends, message.start_offset)
            if not self.head_mode:
                self._to_end()
        elif message.lines:
            self._append(message.lines, message.ends)
        self.pending = message.pending
        self.post_message(self.StatusChanged())

    def _append(self, lines: list[str], ends: list[int]) -> None:
        first = len(self.lines)
        self.lines.extend(lines)
        self.ends.extend(ends)
        if self.search:
            self.matches.extend(find_matches(self.lines, self.search, first))
        overflow = len(self.lines) - MAX_LINES
        if overflow > 0:
            self.start_offset = self.ends[overflow - 1]
            del self.lines[:overflow]
            del self.ends[:overflow]
            self.matches = [index - overflow for index in self.matches if index >= overflow]
            self._relayout()
        elif self._mapped:
            self._rows.extend(self._layout(first))
            self._resize_virtual()
        else:
            self._resize_virtual()
        if self.follow:
            self._to_end()
        elif not self.head_mode:  # in head mode these lines were already written, just not read yet
            self.new_lines += len(lines)

    # --- layout -------------------------------------------------------------------------------------------

    @property
    def _mapped(self) -> bool:
        """Rows are not lines one to one: wrapped, or marker lines hidden."""
        return self.wrap or self.markers == "hidden"

    @property
    def _prefix(self) -> int:
        return self._prefix_width if self.timestamps else 0

    def _layout(self, start: int = 0) -> list[tuple[int, int]]:
        width = max(1, self._width - self._prefix) if self.wrap else None
        return wrap_rows(self.lines, width, start, hide_markers=self.markers == "hidden")

    def _relayout(self) -> None:
        self._width = max(1, self.scrollable_content_region.width)
        self._rows = self._layout() if self._mapped else []
        self._resize_virtual()
        self.refresh()

    def _resize_virtual(self) -> None:
        if self.wrap:
            self.virtual_size = Size(self._width, len(self._rows))
        else:
            widest = max((len(line) for line in self.lines[-2000:]), default=0) + self._prefix
            height = len(self._rows) if self._mapped else len(self.lines)
            self.virtual_size = Size(max(widest, self.virtual_size.width if self.lines else 0), height)

    def on_resize(self) -> None:
        if self.wrap and self.scrollable_content_region.width != self._width:
            self._relayout()
        if self.follow:
            self._to_end()

    def _row_of_line(self, index: int) -> int:
        """The first row of line `index` (or of the next shown line, when it is a hidden marker)."""
        if not self._mapped:
            return index
        return min(bisect_left(self._rows, (index, 0)), max(0, len(self._rows) - 1))

    def _to_end(self) -> None:
        """Scroll to the last line now and again once the new virtual size is laid out."""
        self.scroll_end(animate=False, immediate=True, x_axis=False)
        self.call_after_refresh(self.scroll_end, animate=False, immediate=True, x_axis=False)

    def _near_bottom(self) -> bool:
        return self.scroll_y + self.size.height >= self.virtual_size.height - 50

    # --- keys ---------------------------------------------------------------------------------------------

    def action_toggle_follow(self) -> None:
        if self.follow:
            self.follow = False
        elif self.head_mode:
            self.action_bottom()
            return
        else:
            self.follow, self.new_lines = True, 0
            self._to_end()
        self.post_message(self.StatusChanged())

    def _laid_out_again(self) -> None:
        """After a toggle that changes rows: lay out, keep following, say so."""
        self._relayout()
        if self.follow:
            self._to_end()
        self.post_message(self.StatusChanged())

    def action_toggle_wrap(self) -> None:
        self.wrap = not self.wrap
        self._laid_out_again()

    def action_toggle_timestamps(self) -> None:
        self.timestamps = not self.timestamps
        if self.timestamps:
            if not self._prefix_width:
                self._prefix_width = len(NO_TIME) + 1
            self._start_arrivals()
        self._laid_out_again()

    def action_cycle_markers(self) -> None:
        row = int(self.scroll_y)
        top = (self._rows[row][0] if row < len(self._rows) else 0) if self._mapped else row
        self.markers = MARKER_MODES[(MARKER_MODES.index(self.markers) + 1) % len(MARKER_MODES)]
        self._markers_changed = True
        self._relayout()
        if self.follow:
            self._to_end()
        else:  # stay on the line that was at the top, however many rows the markers took
            target = self._row_of_line(top)
            self.scroll_to(y=target, animate=False, immediate=True)
            self.call_after_refresh(self.scroll_to, y=target, animate=False, immediate=True)
        self.post_message(self.StatusChanged())

    def action_save(self) -> None:
        if not self.attempt:
            self.notify("no attempt yet: nothing to save", severity="warning")
            return
        ask_and_save(self, self.engine, self.run_id, self.attempt, self.stream)

    def action_top(self) -> None:
        self.follow = False
        if self.start_offset > 0:
            self.head_mode = True
            self._generation += 1
            self._reading = True
            self._read_head(self._generation)
        self.scroll_home(animate=False, immediate=True)
        self.post_message(self.StatusChanged())

    def action_bottom(self) -> None:
        self.follow, self.new_lines = True, 0
        if self.head_mode and self.read_offset < self.log_bytes:
            self.head_mode = False
            self._generation += 1
            self._reading = True
            self._read_tail(self._generation)
        self.head_mode = False
        self._to_end()
        self.post_message(self.StatusChanged())

    def action_scroll_up(self) -> None:
        self.follow = False
        self.scroll_to(y=self.scroll_y - 1, animate=False, immediate=True)
        self.post_message(self.StatusChanged())

    def action_page_up(self) -> None:
        self.follow = False
        self.scroll_to(y=self.scroll_y - self.size.height, animate=False, immediate=True)
        self.post_message(self.StatusChanged())

    def action_scroll_down(self) -> None:
        self.scroll_to(y=self.scroll_y + 1, animate=False, immediate=True)

    def action_page_down(self) -> None:
        self.scroll_to(y=self.scroll_y + self.size.height, animate=False, immediate=True)

    def on_mouse_scroll_up(self, event: object) -> None:
        self.follow = False
        self.post_message(self.StatusChanged())

    def find(self, needle: str) -> None:
        """Highlight `needle` and jump to its first match below the top of the view."""
        self.search = needle
        self.matches = find_matches(self.lines, needle) if needle else []
        self.refresh()
        if self.matches:
            self.action_next_match(1, from_top=True)
        self.post_message(self.StatusChanged())

    def action_next_match(self, direction: int, from_top: bool = False) -> None:
        if not self.matches:
            return
        current = self._current_line() - (1 if from_top else 0)
        if direction > 0:
            later = [index for index in self.matches if index > current]
            target = later[0] if later else self.matches[0]
        else:
            earlier = [index for index in self.matches if index < current]
            target = earlier[-1] if earlier else self.matches[-1]
        self.follow = False
        self.scroll_to(y=max(0, self._row_of_line(target) - 2), animate=False, immediate=True)
        self._match_line = target
        self.post_message(self.StatusChanged())

    def _current_line(self) -> int:
        matched = self._match_line
        if matched is not None and self.scroll_y <= self._row_of_line(matched) < self.scroll_y + self.size.height:
            return matched
        row = int(self.scroll_y)
        if self._mapped:
            return self._rows[row][0] if row < len(self._rows) else 0
        return row

    # --- status and drawing -------------------------------------------------------------------------------

    def status_text(self) -> str:
        parts = [f"{self.stream} of attempt {self.attempt}" if self.attempt else "no attempt yet"]
        if self.attempt:
            parts.append(size_text(self.log_bytes))
            if self.start_offset:
                parts.append(f"from byte {self.start_offset:,} (g: top)")
            parts.append("following" if self.follow else (
                f"paused · +{self.new_lines:,} new lines (f: follow)" if self.new_lines else "paused (f: follow)"))
            if self.wrap:
                parts.append("wrap")
            if self.timestamps:
                parts.append("timestamps")
            if self._markers_changed or self.markers != MARKER_MODES[0]:
                parts.append(f"markers {self.markers} (m)")
            if self.search:
                parts.append(f"/{self.search}: {len(self.matches)} matches")
            if self.ended and self.read_offset >= self.log_bytes:
                parts.append("end of stream")
        return " · ".join(parts)

    def render_line(self, y: int) -> Strip:
        row = int(self.scroll_y) + y
        width = self.size.width
        prefix = self._prefix
        if self.wrap:
            if row >= len(self._rows):
                return blank(width)
            index, column = self._rows[row]
            text = self._styled(index, self.lines[index][column:column + max(1, self._width - prefix)])
            return self._with_time(index, column == 0, text_line(text, self.app.console, width - prefix), width)
        if self._mapped:
            if row >= len(self._rows):
                return blank(width)
            row = self._rows[row][0]
        if row >= len(self.lines):
            if row == 0 and self.attempt and self.read_offset >= self.log_bytes:
                return note_line("(no output yet)", self.app.console, width)
            return blank(width)
        text = self._styled(row, self.lines[row])
        content = text_line(text, self.app.console, max(0, width - prefix), start=int(self.scroll_x))
        return self._with_time(row, True, content, width)

    def _with_time(self, index: int, first_row: bool, content: Strip, width: int) -> Strip:
        """`content` behind the line's arrival time (kept in place when scrolling sideways), if timestamps are on."""
        if not self.timestamps:
            return content
        label = ""
        if first_row:
            at = arrival_of(self.arrivals, self._arrival_offsets, self.ends[index]) if index < len(self.ends) else None
            label = _clock(at) if at else NO_TIME
        label_text = Text(label, no_wrap=True)
        label_text.stylize(TIME_STYLE)
        prefix = text_line(label_text, self.app.console, self._prefix_width)
        return Strip.join([prefix, content]).crop_extend(0, width, None)

    def _styled(self, index: int, content: str) -> Text:
        # Progress and checkpoint markers are protocol, not output: dimmed (by default) so the output stands out.
        # A span, not the Text's base style: Text.render drops the base style of a Text with no spans.
        text = Text(content, no_wrap=True)
        if self.markers == "dimmed" and is_marker(self.lines[index]):
            text.stylize("dim")
        if self.search and self._is_match(index):
            for match in re.finditer(re.escape(self.search), content, re.IGNORECASE):
                text.stylize(MATCH_STYLE, match.start(), match.end())
        return text

    def _is_match(self, index: int) -> bool:
        found = bisect_left(self.matches, index)  # matches stay in line order
        return found < len(self.matches) and self.matches[found] == index

"""A backfill's partitions as one Line-API widget: a coloured cell per partition, selectable with the keys."""

from __future__ import annotations

from rich.style import Style
from rich.text import Text
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from ..format import STATUS_GLYPHS, status_style
from .grid_layout import CELL_WIDTH, LABEL_WIDTH, GridRow, layout, neighbour, row_of
from .strips import blank, text_line

CURSOR = Style(reverse=True)


class PartitionGrid(ScrollView, can_focus=True):
    """Cells coloured by the status of each partition's run; enter opens the run under the cursor."""

    BINDINGS = [
        Binding("left", "move(0, -1)", "Left", show=False),
        Binding("right", "move(0, 1)", "Right", show=False),
        Binding("up", "move(-1, 0)", "Up", show=False),
        Binding("down", "move(1, 0)", "Down", show=False),
        Binding("enter", "open", "Open run"),
    ]

    DEFAULT_CSS = """
    PartitionGrid { height: 1fr; overflow-x: hidden; }
    """

    cursor: reactive[int] = reactive(0, repaint=False)

    class Selected(Message):
        """The cursor moved to another partition."""

        def __init__(self, index: int) -> None:
            super().__init__()
            self.index = index

    class Opened(Message):
        """Enter on a partition: open its run."""

        def __init__(self, index: int) -> None:
            super().__init__()
            self.index = index

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.partitions: list[str] = []
        self.statuses: list[str] = []
        self.rows: list[GridRow] = []
        self._laid_width = 0

    def set_cells(self, partitions: list[str], statuses: list[str]) -> None:
        """Show these partitions (in backfill order) with their run statuses; redraws only if changed."""
        if partitions == self.partitions and statuses == self.statuses:
            return
        relayout = partitions != self.partitions
        self.partitions, self.statuses = partitions, statuses
        if relayout:
            self._layout()
            self.cursor = min(self.cursor, max(0, len(partitions) - 1))
        self.refresh()

    def _layout(self) -> None:
        self._laid_width = self.size.width
        self.rows = layout(self.partitions, self.size.width or 80)
        self.virtual_size = Size(self.size.width, len(self.rows))

    def on_resize(self) -> None:
        if self.size.width != self._laid_width:
            self._layout()
            self.refresh()

    def action_move(self, d_row: int, d_col: int) -> None:
        if self.partitions:
            self.cursor = neighbour(self.rows, self.cursor, d_row, d_col)

    def watch_cursor(self, cursor: int) -> None:
        row = row_of(self.rows, cursor)
        if row < self.scroll_y:
            self.scroll_to(y=row, animate=False, immediate=True)
        elif row >= self.scroll_y + self.size.height:
            self.scroll_to(y=row - self.size.height + 1, animate=False, immediate=True)
        self.refresh()
        self.post_message(self.Selected(cursor))

    def action_open(self) -> None:
        if self.partitions:
            self.post_message(self.Opened(self.cursor))

    def render_line(self, y: int) -> Strip:
        index = int(self.scroll_y) + y
        width = self.size.width
        if index >= len(self.rows):
            return blank(width)
        row = self.rows[index]
        text = Text(row.label[:LABEL_WIDTH - 1].ljust(LABEL_WIDTH), style="dim")
        position = 0
        for column, item in row.cells:
            text.append(" " * ((column - position) * CELL_WIDTH))
            status = self.statuses[item] if item < len(self.statuses) else ""
            style = Style.parse(status_style(status) or "dim")
            if item == self.cursor and self.has_focus:
                style += CURSOR
            text.append(STATUS_GLYPHS.get(status, "?"), style=style)
            text.append(" ")
            position = column + 1
        return text_line(text, self.app.console, width)

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()

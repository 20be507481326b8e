"""The column titles above the runs table, laid out by the same function as its rows."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from .run_columns import ColumnView, header_text


class RunsHeader(Widget):
    DEFAULT_CSS = """
    RunsHeader { height: 1; background: $boost; }
    """

    #: The table's content widths (RunsTable.content), so the titles sit over their columns.
    content: reactive[dict[str, int]] = reactive(dict, always_update=True)
    #: The table's wide toggle and sort (RunsTable.column_view), set before `content` so one repaint shows both.
    view = ColumnView()

    def render(self) -> Text:
        return header_text(self.size.width, self.content, self.view)

"""The column titles above the runs table, laid out by the same function as its rows."""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget

from .run_columns import header_text


class RunsHeader(Widget):
    DEFAULT_CSS = """
    RunsHeader { height: 1; background: $boost; }
    """

    def render(self) -> Text:
        return header_text(self.size.width)

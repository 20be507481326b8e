"""`?`: every key active on the screen below, with what it does."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

GLOBAL_KEYS = [
    (":", "switch view: runs [status…], overview, backfills, dead, events, nodes, jobs, backfill ID;"
            " :ID or :run ID opens a run"),
    ("1-7", "overview, runs, backfills, dead letters, events, nodes, jobs"),
    ("ctrl+p", "command palette"),
    ("Z", "pause or resume updates (read a screen that keeps changing)"),
    ("S", "start a scheduler in the background (when none is running)"),
    ("esc", "back out of a prompt, a modal or a detail screen"),
    ("?", "this help"),
    ("q", "quit"),
]


class HelpScreen(ModalScreen[None]):
    """The keys of the current screen, then the keys that work everywhere."""

    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close")]

    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll {
        width: 76; max-width: 100%; height: auto; max-height: 90%; border: thick $primary; background: $surface;
        padding: 0 1;
    }
    """

    def __init__(self, title: str, keys: list[tuple[str, str]], readonly: bool) -> None:
        super().__init__()
        self.title_text = title
        self.keys = keys
        self.readonly = readonly

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static(self._text())

    def _text(self) -> Text:
        # Built as Text, not markup: keys such as `[` and hints such as `[status…]` are shown as typed.
        text = Text()
        text.append(self.title_text, style="bold")
        _append_keys(text, self.keys)
        if self.readonly:
            text.append("\n  (read-only console: actions that change runs, queues, nodes or backfills are off)")
        text.append("\n\n")
        text.append("Everywhere", style="bold")
        _append_keys(text, GLOBAL_KEYS)
        return text

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(result)


def _append_keys(text: Text, keys: list[tuple[str, str]]) -> None:
    for key, description in keys:
        text.append("\n  ")
        text.append(f"{key:<12}", style="bold")
        text.append(f" {description}")

"""A one-line prompt at the bottom of the screen, for `:` view switching and other short answers."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import ModalScreen
from textual.widgets import Input, Static


class PromptScreen(ModalScreen[str | None]):
    """Returns the typed text on enter, None on escape."""

    BINDINGS = [Binding("escape", "cancel", "Back")]

    DEFAULT_CSS = """
    PromptScreen { align: left bottom; background: $background 30%; }
    PromptScreen #hint { dock: bottom; height: 1; color: $text-muted; background: $surface; padding: 0 1; }
    PromptScreen Input { dock: bottom; margin-bottom: 1; border: none; height: 1; padding: 0 1; }
    """

    def __init__(self, prefix: str, hint: str, value: str = "") -> None:
        super().__init__()
        self.prefix = prefix
        self.hint = hint
        self.value = value

    def compose(self) -> ComposeResult:
        yield Static(self.hint, id="hint", markup=False)
        yield Input(value=self.value, placeholder=self.prefix)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)

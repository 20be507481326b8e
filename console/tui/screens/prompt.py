"""A one-line prompt at the bottom of the screen, for `:` view switching and other short answers."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import ModalScreen
from textual.widgets import Input, Static


class PromptScreen(ModalScreen[str | None]):
    """Returns the typed text on enter, None on escape."""

    BINDINGS = [Binding("escape", "cancel", "Back")]

    DEFAULT_CSS = """
    PromptScreen { align: left bottom; background: $background 30%; }
    PromptScreen #hint { dock: bottom; height: 1; color: $text-muted; background: $surface; padding: 0 1; }
    PromptScreen #answer { dock: bottom; margin-bottom: 1; height: 1; background: $surface; }
    PromptScreen #prefix { width: auto; padding: 0 0 0 1; text-style: bold; }
    PromptScreen #prefix.-word { padding: 0 1; }
    PromptScreen Input { width: 1fr; }
    """

    def __init__(self, prefix: str, hint: str, value: str = "") -> None:
        super().__init__()
        self.prefix = prefix
        self.hint = hint
        self.value = value

    def compose(self) -> ComposeResult:
        yield Static(self.hint, id="hint", markup=False)
        with Horizontal(id="answer"):
            word = self.prefix != ":"  # `:` reads as k9s's `:runs`; a word prefix reads as "priority: 5"
            yield Static(f"{self.prefix}:" if word else self.prefix, id="prefix", classes="-word" if word else "",
                         markup=False)
            # Compact: a bordered Input (what a focused one gets back over plain CSS) leaves no room for the text.
            yield Input(value=self.value, compact=True)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)

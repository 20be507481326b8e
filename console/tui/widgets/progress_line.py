"""A one-line progress bar drawn as text: no animation, so it costs nothing over a slow link."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget


def bar_text(fraction: float | None, width: int, label: str = "") -> Text:
    """`[█████░░░░░]  45% label`, or just the label when nothing is known."""
    if fraction is None:
        return Text(label, style="dim")
    size = max(4, min(40, width - len(label) - 8))
    filled = round(fraction * size)
    text = Text("[")
    text.append("█" * filled, style="green")
    text.append("░" * (size - filled), style="bright_black")
    text.append(f"] {fraction:4.0%} ")
    text.append(label)
    return text


class ProgressLine(Widget):
    """Progress of an attempt (or a backfill) as done/total with a message."""

    DEFAULT_CSS = """
    ProgressLine { height: 1; padding: 0 1; }
    """

    fraction: reactive[float | None] = reactive(None)
    label: reactive[str] = reactive("")

    def update(self, fraction: float | None, label: str) -> None:
        self.fraction, self.label = fraction, label

    def render(self) -> Text:
        return bar_text(self.fraction, self.size.width, self.label)

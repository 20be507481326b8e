"""One event in full: every field, the detail text wrapped rather than cut."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from scheduler.models import Event


def event_fields(event: Event) -> list[tuple[str, str]]:
    """(label, value) of every field of `event`, in reading order; absent ones as a dash."""
    change = f"{event.old_status or '-'} → {event.new_status}" if event.new_status else "-"
    return [
        ("event", str(event.id)),
        ("time", event.at),
        ("kind", event.kind),
        ("run", str(event.run_id) if event.run_id is not None else "-"),
        ("attempt", str(event.attempt) if event.attempt is not None else "-"),
        ("change", change),
        ("by", event.actor or "-"),
        ("reason", event.reason or "-"),
    ]


class EventDetailScreen(ModalScreen[None]):
    """An event from the events view; esc closes it."""

    BINDINGS = [Binding("escape,enter", "close", "Close")]

    DEFAULT_CSS = """
    EventDetailScreen { align: center middle; }
    EventDetailScreen > VerticalScroll {
        width: 90%; max-width: 110; height: auto; max-height: 90%; border: thick $primary; background: $surface;
        padding: 0 1;
    }
    EventDetailScreen #event-detail-text { margin-top: 1; }
    """

    def __init__(self, event: Event) -> None:
        super().__init__()
        self.event = event

    def compose(self) -> ComposeResult:
        fields = "\n".join(f"{label:<8} {value}" for label, value in event_fields(self.event))
        with VerticalScroll():
            yield Static(fields, id="event-fields", markup=False)
            yield Static(self.event.detail or "(no detail)", id="event-detail-text", markup=False)

    def action_close(self) -> None:
        self.dismiss(None)

"""Events: the append-only audit history, newest first, filterable by kind and actor."""

from __future__ import annotations

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Header, Input, Static

from ..format import short_time
from ..messages import EventsLoaded
from ..shield import QUERY_ERRORS, shielded
from ..widgets.banner import SchedulerBanner
from ..widgets.key_footer import KeyFooter
from ..widgets.quiet import update_static
from ..widgets.table_sync import sync_rows
from .base import SluiceScreen

PAGE = 200
MAX_SHOWN = 5000


def parse_event_filter(text: str) -> tuple[str | None, str | None]:
    """`kind=retry actor=alice` (or a bare word as the kind) -> (kind, actor)."""
    kind = actor = None
    for word in text.split():
        key, sep, value = word.replace(":", "=", 1).partition("=")
        if sep and key == "actor":
            actor = value or None
        elif sep and key == "kind":
            kind = value or None
        else:
            kind = word
    return kind, actor


class EventsScreen(SluiceScreen):
    """Who did what and when: submissions, transitions, retries, cancels, pauses, drains."""

    VIEW_TITLE = "Events"
    SUB_TITLE = "events"
    BINDINGS = [
        Binding("slash", "filter", "Filter", key_display="/"),
        Binding("m", "more", "More"),
        Binding("escape", "clear", "Back", show=False),
    ]

    DEFAULT_CSS = """
    EventsScreen DataTable { height: 1fr; }
    EventsScreen #event-filter { dock: bottom; display: none; border: none; height: 1; padding: 0 1; }
    EventsScreen #event-filter.-shown { display: block; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.limit = PAGE
        self.kind: str | None = None
        self.actor: str | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield SchedulerBanner()
        yield Static("", id="events-status", classes="status-line")
        yield DataTable(id="events", cursor_type="row")
        yield Input(placeholder="kind=retry actor=alice", id="event-filter")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.query_one(DataTable).add_columns("ID", "TIME", "RUN", "KIND", "CHANGE", "BY", "DETAIL")
        self.query_one(DataTable).focus()

    def poll(self) -> None:
        self._load(self.limit, self.kind, self.actor)

    @work(exclusive=True, group="events")
    async def _load(self, limit: int, kind: str | None, actor: str | None) -> None:
        try:
            events = await shielded(self.engine.events(limit + 1, kind=kind, actor=actor))
        except QUERY_ERRORS as exc:
            self.notify(f"refresh failed: {exc}", severity="error")
            return
        self.post_message(EventsLoaded(events[:limit], more=len(events) > limit))

    def on_events_loaded(self, message: EventsLoaded) -> None:
        sync_rows(self.query_one(DataTable), {
            str(event.id): (str(event.id), short_time(event.at), str(event.run_id or ""), event.kind,
                            f"{event.old_status or ''}→{event.new_status}" if event.new_status else "",
                            event.actor or "", event.detail or "")
            for event in message.events
        })
        scope = " ".join(part for part in (f"kind={self.kind}" if self.kind else "",
                                           f"actor={self.actor}" if self.actor else "") if part)
        more = " · m: older" if message.more else ""
        update_static(self.query_one("#events-status", Static),
            f"{scope or 'all events'} · newest {len(message.events):,} shown{more}")

    def action_more(self) -> None:
        self.limit = min(MAX_SHOWN, self.limit + PAGE)
        self.poll()

    def action_filter(self) -> None:
        field = self.query_one("#event-filter", Input)
        field.add_class("-shown")
        field.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.kind, self.actor = parse_event_filter(event.value)
        self.limit = PAGE
        self.query_one(DataTable).focus()
        self.poll()

    def action_clear(self) -> None:
        field = self.query_one("#event-filter", Input)
        if field.has_focus or field.value:
            field.value = ""
            field.remove_class("-shown")
            self.kind = self.actor = None
            self.query_one(DataTable).focus()
            self.poll()
        else:
            self.sluice.back()

"""Events: the append-only audit history, newest first, searched by text or filtered by kind and actor."""

from __future__ import annotations

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Header, Input, Static

from scheduler.models import Event

from ..event_filter import EventFilter, describe_event_filter, parse_event_filter
from ..format import short_time
from ..messages import EventsLoaded
from ..shield import QUERY_ERRORS, shielded
from ..widgets.banner import SchedulerBanner
from ..widgets.key_footer import KeyFooter
from ..widgets.quiet import update_static
from ..widgets.table_sync import sync_rows
from .base import SluiceScreen
from .event_detail import EventDetailScreen

PAGE = 200
MAX_SHOWN = 5000
COLUMNS = ("ID", "TIME", "RUN", "KIND", "CHANGE", "BY", "DETAIL")
#: Left out, in this order, when DETAIL would get fewer than MIN_DETAIL cells.
OPTIONAL = ("BY", "CHANGE")
MIN_DETAIL = 30


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
        self.event_filter = EventFilter()
        #: Why the last text typed after `/` was refused; shown until a filter is accepted or cleared.
        self.filter_error = ""
        self.shown: list[Event] = []

    def compose(self) -> ComposeResult:
        yield Header()
        yield SchedulerBanner()
        yield Static("", id="events-status", classes="status-line")
        yield DataTable(id="events", cursor_type="row")
        yield Input(placeholder="/ words to search (kind, run, node, detail), or kind=retry actor=alice",
                    id="event-filter")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.query_one(DataTable).focus()

    def poll(self) -> None:
        self._load(self.limit, self.event_filter)

    @work(exclusive=True, group="events")
    async def _load(self, limit: int, event_filter: EventFilter) -> None:
        try:
            events = await shielded(self.engine.events(limit + 1, kind=event_filter.kind, actor=event_filter.actor,
                                                       words=event_filter.words))
        except QUERY_ERRORS as exc:
            self.notify(f"refresh failed: {exc}", severity="error")
            return
        self.post_message(EventsLoaded(events[:limit], more=len(events) > limit))

    def on_events_loaded(self, message: EventsLoaded) -> None:
        self.shown = message.events
        self._show_rows()
        more = " · m: older" if message.more else ""
        scope = describe_event_filter(self.event_filter) or "all events"
        status = f"{scope} · newest {len(message.events):,} shown{more} · enter: the whole event"
        update_static(self.query_one("#events-status", Static),
                      f"filter: {self.filter_error}" if self.filter_error else status)

    def on_resize(self) -> None:
        self._show_rows()

    def _show_rows(self) -> None:
        table = self.query_one(DataTable)
        cells = [_cells(event) for event in self.shown]
        columns, room = _layout(table, cells)
        if [column.key.value for column in table.columns.values()] != columns:
            table.clear(columns=True)
            for title in columns:
                table.add_column(title, key=title)
        rows = {}
        for event, values in zip(self.shown, cells, strict=True):
            detail = values["DETAIL"] if "CHANGE" in columns else f"{values['CHANGE']} {values['DETAIL']}".strip()
            rows[str(event.id)] = (*(values[title] for title in columns[:-1]), _cut(detail, room))
        sync_rows(table, rows)

    def on_data_table_row_selected(self, message: DataTable.RowSelected) -> None:
        chosen = next((event for event in self.shown if str(event.id) == message.row_key.value), None)
        if chosen is not None:
            self.app.push_screen(EventDetailScreen(chosen))

    def action_more(self) -> None:
        self.limit = min(MAX_SHOWN, self.limit + PAGE)
        self.poll()

    def action_filter(self) -> None:
        field = self.query_one("#event-filter", Input)
        field.add_class("-shown")
        field.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        try:
            event_filter = parse_event_filter(event.value)
        except ValueError as exc:
            # The last good filter stays: an unknown field never gets a meaning of its own.
            self.filter_error = str(exc)
            update_static(self.query_one("#events-status", Static), f"filter: {exc}")
            self.notify(str(exc), severity="warning")
            return
        self.filter_error = ""
        self.event_filter = event_filter
        self.limit = PAGE
        self.query_one(DataTable).focus()
        self.poll()

    def action_clear(self) -> None:
        field = self.query_one("#event-filter", Input)
        if field.has_focus or field.value:
            field.value = ""
            field.remove_class("-shown")
            self.event_filter = EventFilter()
            self.filter_error = ""
            self.query_one(DataTable).focus()
            self.poll()
        else:
            self.sluice.back()


def _cells(event: Event) -> dict[str, str]:
    return {
        "ID": str(event.id), "TIME": short_time(event.at), "RUN": str(event.run_id or ""), "KIND": event.kind,
        "CHANGE": f"{event.old_status or ''}→{event.new_status}" if event.new_status else "", "BY": event.actor or "",
        "DETAIL": " ".join((event.detail or "").split()),
    }


def _layout(table: DataTable[str], rows: list[dict[str, str]]) -> tuple[list[str], int]:
    """The columns shown and the cells left for DETAIL, each other column as wide as its widest value.

    On a narrow terminal BY, then CHANGE, leave the table (CHANGE goes to the front of DETAIL; the event's own
    screen shows both) so that DETAIL keeps MIN_DETAIL cells."""
    padding = 2 * table.cell_padding
    # Room for a vertical scrollbar whether or not one shows, so DETAIL never pushes the row past the edge.
    width = table.size.width - table.styles.scrollbar_size_vertical
    columns = list(COLUMNS)

    def room() -> int:
        others = sum(max([len(title), *(len(row[title]) for row in rows)]) + padding for title in columns[:-1])
        return width - others - padding

    for dropped in OPTIONAL:
        if room() >= MIN_DETAIL:
            break
        columns.remove(dropped)
    return columns, max(8, room())


def _cut(text: str, room: int) -> str:
    return text if len(text) <= room else text[: room - 1] + "…"

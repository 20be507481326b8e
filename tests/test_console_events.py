"""The events view: DETAIL gets the room left, enter opens an event in full, `/` searches the events' text."""

from __future__ import annotations

from test_console_fit import NARROW, screen_lines
from test_console_support import app_for, failed_run, settle, until
from textual.widgets import DataTable, Static

from console.tui.screens.event_detail import EventDetailScreen
from console.tui.screens.events import EventsScreen

pytest_plugins = ("test_console_support",)

REASON = "disk on n2 is failing its SMART checks; replace it before it takes a backfill down with it"


async def _events_screen(pilot) -> EventsScreen:
    await pilot.app.open_view("events")
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, EventsScreen)
    return screen


def _status(screen: EventsScreen) -> str:
    return str(screen.query_one("#events-status", Static).render())


async def test_detail_takes_the_rest_of_the_row_and_enter_shows_the_whole_event(engine):
    run_id = await failed_run(engine)
    await engine.retry([run_id], reason="the upstream export was rerun by the data team at 09:40")
    await engine.set_drained("n2", True, reason=REASON)
    app = app_for(engine)
    async with app.run_test(size=NARROW) as pilot:
        screen = await _events_screen(pilot)
        await until(pilot, lambda: screen.query_one(DataTable).row_count == 5, "the five events")
        await settle(pilot)
        row = next(line for line in screen_lines(app) if " drain " in line)
        assert "node n2: disk on n2 is failing" in row, row
        await pilot.press("enter")
        await settle(pilot)
        detail = app.screen
        assert isinstance(detail, EventDetailScreen)
        text = detail.query_one("#event-detail-text", Static)
        assert REASON in str(text.render()) and text.size.height >= 2  # whole, wrapped over lines
        fields = str(detail.query_one("#event-fields", Static).render())
        assert "drain" in fields and "reason" in fields and "2026-11-23T10:00:00" in fields
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is screen


async def test_slash_searches_the_event_text_and_an_unknown_field_says_so(engine):
    run_id = await failed_run(engine)
    await engine.retry([run_id])
    await engine.set_drained("n2", True, reason="bad disk")
    app = app_for(engine)
    async with app.run_test(size=NARROW) as pilot:
        screen = await _events_screen(pilot)
        table = screen.query_one(DataTable)
        await until(pilot, lambda: table.row_count == 5, "all five events")
        await pilot.press("slash", *"n2", "enter")
        await until(pilot, lambda: table.row_count == 1, "the events that mention n2")
        assert table.get_row_at(0)[3] == "drain"
        await pilot.press("slash", *["backspace"] * 2, *"disk", "enter")
        await until(pilot, lambda: table.row_count == 1, "the events that mention disk")
        # A bare word is text, never silently a kind: "retry" finds the retry and the runs that mention it.
        await pilot.press("slash", *["backspace"] * 4, *"kind=retry", "enter")
        await until(pilot, lambda: table.row_count == 1, "the retry event")
        await pilot.press("slash", *["backspace"] * 10, *"node=n2", "enter")
        await settle(pilot)
        assert "unknown field 'node'" in _status(screen)
        assert table.row_count == 1  # the last good filter stays
        # The filter line keeps the focus after an error, to correct what was typed.
        await pilot.press(*["backspace"] * 7, *"kind=retyr", "enter")
        await settle(pilot)
        assert "no event kind 'retyr'" in _status(screen)

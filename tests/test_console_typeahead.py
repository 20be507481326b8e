"""Keys typed ahead (a slow link delivers them in one burst) land in the fields they were typed for."""

from __future__ import annotations

from test_console_support import SIZE, app_for, settle
from textual import events
from textual.widgets import Input, Select

from console.tui.screens.backfill_launch import BackfillLaunchScreen

pytest_plugins = ("test_console_support",)

NAMED = {"tab": "\t", "shift+tab": None, "enter": "\r"}


def burst(app, *keys: str) -> None:
    """Queue every key at once, as the terminal driver does with bytes that arrived together.

    Pilot.press waits for the app to go idle after each key, which hides what a burst does."""
    for key in keys:
        app.post_message(events.Key(key, NAMED.get(key, key)))


async def _launch_form(pilot) -> BackfillLaunchScreen:
    await pilot.press("3")
    await settle(pilot)
    await pilot.press("n")
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, BackfillLaunchScreen)
    screen.query_one("#job", Select).value = "etl"
    screen.query_one("#range_from", Input).focus()
    await settle(pilot)
    return screen


async def test_a_burst_with_tabs_fills_from_to_and_values_in_order(engine):
    app = app_for(engine)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _launch_form(pilot)
        burst(app, *"2026-10-01", "tab", *"2026-10-30", "tab", "3")
        await settle(pilot)
        values = {name: screen.query_one(f"#{name}", Input).value for name in ("range_from", "range_to", "values")}
        # etl is daily: the values field is hidden, so the second tab lands on max parallel.
        assert values == {"range_from": "2026-10-01", "range_to": "2026-10-30", "values": ""}
        assert screen.query_one("#max_parallel", Input).value == "3"


async def test_a_burst_with_shift_tab_goes_back_a_field(engine):
    app = app_for(engine)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _launch_form(pilot)
        burst(app, "tab", *"2026-10-30", "shift+tab", *"2026-10-01")
        await settle(pilot)
        assert screen.query_one("#range_from", Input).value == "2026-10-01"
        assert screen.query_one("#range_to", Input).value == "2026-10-30"

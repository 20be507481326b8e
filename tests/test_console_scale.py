"""The runs view over 1,000,000 runs opens and moves without loading them all (timings: test_console_bench.py)."""

from __future__ import annotations

from test_console_support import RUNS, SIZE, app_for, settle

from console.tui.screens.runs import RunsScreen
from console.tui.widgets.runs_table import MAX_WINDOW, PAGE

pytest_plugins = ("test_console_support",)


async def test_a_million_runs_open_and_scroll_in_windows(million):
    app = app_for(million, poll_interval=5)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, RunsScreen)
        table = screen.table
        assert table.window[0].id == RUNS and table.cursor_id == RUNS
        assert table.rows_loaded == PAGE
        await pilot.press(*["pagedown"] * 15)
        await settle(pilot)
        assert table.cursor_id < RUNS - PAGE  # moved past the first page, fetched by keyset
        assert table.rows_loaded > PAGE
        assert len(table.window) <= MAX_WINDOW
        await pilot.press("end")
        await settle(pilot)
        assert table.cursor_id == 1 and table.at_bottom
        await pilot.press(*["pageup"] * 12)  # past the oldest page: the page before it is fetched by keyset
        await settle(pilot)
        assert table.cursor_id > PAGE
        ids = [run.id for run in table.window]
        assert ids == list(range(ids[0], ids[0] - len(ids), -1))  # one contiguous stretch, no gaps or repeats
        await pilot.press("home")
        await settle(pilot)
        assert table.cursor_id == RUNS
        assert len(table.window) <= MAX_WINDOW
        assert table.rows_loaded < 3_000  # of 1,000,000
        assert "100,000+" in str(screen.query_one("#runs-status").render())

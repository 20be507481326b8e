"""What fits at 80x24 and 120x35: the footer keeps `q` and `?`, columns are sized to the rows they show."""

from __future__ import annotations

import io

import pytest
from rich.console import Console
from test_console_support import app_for, settle, start

from console.tui.app import SluiceApp
from console.tui.screens.runs import RunsScreen

pytest_plugins = ("test_console_support",)

NARROW = (80, 24)
MIDDLE = (120, 35)


def screen_lines(app: SluiceApp) -> list[str]:
    """The terminal's text as the operator sees it, one string per row."""
    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), force_terminal=True, record=True,
                      legacy_windows=False, safe_box=False, color_system=None)
    # The compositor is what Textual paints to the terminal; export_screenshot reads it the same way.
    console.print(app.screen._compositor.render_update(full=True, screen_stack=app._background_screens))
    return console.export_text().splitlines()


def footer_keys(app: SluiceApp) -> list[str]:
    """The bottom row, split into its `key description` words."""
    return screen_lines(app)[app.size[1] - 1].split()


@pytest.mark.parametrize("view", ["overview", "runs", "backfills", "dead", "events", "run 1"])
async def test_the_footer_shows_quit_and_help_at_80_columns_on_every_view(engine, view):
    run_id, _ = await engine.submit("hello", {})
    await start(engine, run_id)
    app = app_for(engine)
    async with app.run_test(size=NARROW) as pilot:
        await settle(pilot)
        await app.open_view(view)
        await settle(pilot)
        keys = footer_keys(app)
        print(view, screen_lines(app)[-1])
        assert "q" in keys and "?" in keys, keys

"""What fits at 80x24 and 120x35: the footer keeps `q` and `?`, columns are sized to the rows they show."""

from __future__ import annotations

import io

import pytest
from rich.console import Console
from test_console_support import app_for, progress, settle, start, until

from console.tui.app import SluiceApp
from console.tui.screens.runs import RunsScreen

pytest_plugins = ("test_console_support",)

NARROW = (80, 24)
MIDDLE = (120, 35)


def screen_lines(app: SluiceApp) -> list[str]:
    """The terminal's text as the operator sees it, one string per row."""
    width, height = app.size
    console = Console(
        width=width,
        height=height,
        file=io.StringIO(),
        force_terminal=True,
        record=True,
        legacy_windows=False,
        safe_box=False,
        color_system=None,
    )
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


HOURLY = 'command = "sync --hour {hour}"\nqueue = "default"\n[partition]\nparam = "hour"\nkind = "hourly"\n'
WHY = "41% rows copied into the orders warehouse"


async def _hourly_runs(engine) -> int:
    """Two short-named hourly runs, the newest running with a progress message long enough to be cut."""
    (engine.home.root / "jobs" / "sync.toml").write_text(HOURLY)
    await engine.submit("sync", {"hour": "2026-12-01T12"})
    run_id, _ = await engine.submit("sync", {"hour": "2026-12-01T13"})
    attempt = await start(engine, run_id)
    await progress(engine, attempt, 41, 100, "rows copied into the orders warehouse")
    return run_id


@pytest.mark.parametrize("size", [NARROW, MIDDLE])
async def test_columns_fit_the_rows_shown_so_partitions_show_whole_and_why_gets_the_rest(engine, size):
    await _hourly_runs(engine)
    app = app_for(engine)
    async with app.run_test(size=size) as pilot:
        await app.open_view("runs")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, RunsScreen)
        await until(pilot, lambda: len(screen.table.window) == 2, "both runs")
        await settle(pilot)
        lines = screen_lines(app)
        header = next(line for line in lines if line.lstrip().startswith("ID "))
        rows = [line for line in lines if " sync " in line]
        assert len(rows) == 2, lines
        assert "2026-12-01T13" in rows[0] and "2026-12-01T12" in rows[1]
        # JOB is as wide as the longest name shown ("sync") and its one-cell gap.
        assert header.index("PARTITION") - header.index("JOB") == len("sync") + 1
        if size == MIDDLE:
            assert WHY in rows[0]
        else:
            assert rows[0].rstrip().endswith("…") and WHY[:10] in rows[0]

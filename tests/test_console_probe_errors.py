"""A node whose probe fails shows why in the console: in the overview's nodes panel and on its running runs."""

from __future__ import annotations

from test_console_support import SIZE, app_for, at, settle, start
from textual.widgets import DataTable

from console.tui.screens.overview import OverviewScreen
from console.tui.screens.run_detail import RunDetailScreen
from scheduler.store import queries as q

pytest_plugins = ("test_console_support",)

WHY = "probe on n1: unparsable probe output (not a line probe.sh prints: 'Welcome!')"


async def test_a_failing_probe_shows_on_the_node_and_its_running_run(engine):
    run_id, _ = await engine.submit("hello", {})
    await start(engine, run_id, node="n1")
    async with engine.db.write() as conn:
        await q.set_probe_error(conn, "n1", WHY, at(1))
    app = app_for(engine)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert isinstance(pilot.app.screen, OverviewScreen)
        nodes = pilot.app.screen.query_one("#nodes", DataTable)
        assert WHY in str(nodes.get_row("n1")[-1])
        assert WHY not in str(nodes.get_row("n2")[-1])
        await pilot.app.open_view(f"run {run_id}")
        await settle(pilot)
        screen = pilot.app.screen
        assert isinstance(screen, RunDetailScreen)
        assert f"node error: {WHY}" in str(screen.query_one("#summary").render())

"""Overview, dead letters and events: each opens, shows the store, and its actions change the store."""

from __future__ import annotations

import asyncio
import os
import signal

from test_console_support import SIZE, app_for, failed_run, settle
from textual.widgets import DataTable

from console.tui.screens.confirm import ConfirmScreen
from console.tui.screens.dead_letters import DeadLettersScreen
from console.tui.screens.events import EventsScreen
from console.tui.screens.overview import OverviewScreen
from scheduler.engine import os_user

pytest_plugins = ("test_console_support",)


async def test_overview_pauses_a_queue_and_drains_a_node(engine):
    await engine.submit("hello", {})
    await engine.submit("etl", {"day": "2026-11-01"})
    app = app_for(engine)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, OverviewScreen)
        queues = screen.query_one("#queues", DataTable)
        assert queues.row_count == 2  # batch and default
        await pilot.press("tab", "down", "p")  # from the run board to the queues, then default
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen) and "Pause queue default" in app.screen.question
        await pilot.press("y")
        await settle(pilot)
        assert {queue.name: queue.paused for queue in await engine.queues()} == {"batch": False, "default": True}
        await pilot.press("tab", "D")
        await settle(pilot)
        assert "Drain node n1" in app.screen.question
        await pilot.press("y")
        await settle(pilot)
        assert {node.config.name: node.status for node in await engine.nodes()}["n1"] == "drained"
        events = await engine.events(5)
        assert {event.kind for event in events} >= {"pause", "drain"}
        assert all(event.actor == os_user() for event in events if event.kind in ("pause", "drain"))


async def test_dead_letters_show_stderr_and_retry_all(engine):
    failed = [await failed_run(engine) for _ in range(3)]
    await engine.submit("hello", {})
    app = app_for(engine)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("4")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, DeadLettersScreen)
        assert sorted(run.id for run in screen.table.window) == failed
        assert "ValueError: bad row 7" in str(screen.query_one("#dead-tail").render())
        await pilot.press("A")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen) and "3 runs" in app.screen.question
        await pilot.press("y")
        await settle(pilot)
    assert [(await engine.run(run_id)).status for run_id in failed] == ["queued"] * 3


async def test_events_screen_filters_by_kind(engine):
    run_id = await failed_run(engine)
    await engine.retry([run_id])
    app = app_for(engine)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("5")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, EventsScreen)
        table = screen.query_one(DataTable)
        assert table.row_count == 4
        await pilot.press("slash", *"kind=retry", "enter")
        await settle(pilot)
        assert table.row_count == 1
        await pilot.press("escape")
        await settle(pilot)
        assert table.row_count == 4


async def test_banner_shows_when_no_scheduler_runs(engine):
    app = app_for(engine)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert app.scheduler_up is False
        assert app.screen.query_one("SchedulerBanner").has_class("-shown")


async def test_s_starts_a_scheduler_that_the_banner_then_sees(engine):
    app = app_for(engine, poll_interval=0.1)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            assert app.scheduler_up is False
            await pilot.press("S")
            await settle(pilot)
            assert isinstance(app.screen, ConfirmScreen) and "Start a scheduler" in app.screen.question
            await pilot.press("y")
            for _ in range(200):  # the real `sluice scheduler` takes a moment to import and take the lock
                await pilot.pause(0.05)
                if app.scheduler_up:
                    break
            assert app.scheduler_up
            assert not app.screen.query_one("SchedulerBanner").has_class("-shown")
    finally:
        await _stop_scheduler(engine)
    assert not engine.scheduler_running()


async def _stop_scheduler(engine) -> None:
    """SIGTERM the scheduler the console started (the lock holder writes its pid into the lock file)."""
    if not engine.scheduler_running():
        return
    os.kill(int(engine.home.lock_path.read_text()), signal.SIGTERM)
    for _ in range(200):
        if not engine.scheduler_running():
            return
        await asyncio.sleep(0.05)


async def test_z_freezes_updates(engine):
    app = app_for(engine, poll_interval=0.1)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        await settle(pilot)
        await pilot.press("Z")
        await engine.submit("hello", {})
        await pilot.pause(0.4)
        assert app.screen.table.window == [] and "updates paused" in app.title
        await pilot.press("Z")
        await settle(pilot)
        assert len(app.screen.table.window) == 1

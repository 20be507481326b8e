"""Backfills: launch from the form after seeing the plan, watch the grid, pause, retry failed partitions."""

from __future__ import annotations

from test_console_support import SIZE, app_for, finish, settle, start
from textual.widgets import Input, Select

from console.tui.screens.backfill_detail import BackfillDetailScreen
from console.tui.screens.backfill_launch import BackfillLaunchScreen
from console.tui.screens.backfills import BackfillsScreen
from console.tui.screens.confirm import ConfirmScreen
from console.tui.widgets.partition_grid import PartitionGrid
from scheduler.run_filter import RunFilter
from scheduler.states import RunStatus

pytest_plugins = ("test_console_support",)


async def test_launch_shows_the_plan_then_creates_exactly_its_runs(engine):
    done, _ = await engine.submit("etl", {"day": "2026-10-05"})
    attempt = await start(engine, done)
    await finish(engine, done, attempt, RunStatus.SUCCEEDED, 0)
    app = app_for(engine)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("3")
        await settle(pilot)
        assert isinstance(app.screen, BackfillsScreen)
        await pilot.press("n")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, BackfillLaunchScreen)
        await pilot.press("enter", "down", "enter")  # open the job list, pick etl
        await settle(pilot)
        assert screen.query_one("#job", Select).value == "etl"
        screen.query_one("#range_from", Input).focus()
        await pilot.press(*"2026-10-01", "tab", *"2026-10-30", "tab", "3", "enter")
        await settle(pilot)
        plan = screen.plan
        assert plan is not None and len(plan.partitions) == 29 and "2026-10-05" in plan.skipped
        assert "29 runs of etl" in str(screen.query_one("#plan").render())
        assert await engine.backfills() == []  # the plan is a dry run
        await pilot.press("f6")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen) and "29 runs" in app.screen.question
        await pilot.press("y")
        await settle(pilot)
        assert isinstance(app.screen, BackfillDetailScreen)
        [backfill] = await engine.backfills()
        runs = await engine.runs(RunFilter(backfill_id=backfill.id), 100)
        assert sorted(run.partition for run in runs) == sorted(plan.partitions)
        assert backfill.max_parallel == 3
        grid = app.screen.query_one(PartitionGrid)
        assert len(grid.partitions) == 29 and set(grid.statuses) == {"queued"}


async def test_grid_opens_a_partition_and_pause_needs_confirmation(engine):
    plan = await engine.plan_backfill("etl", range_from="2026-11-01", range_to="2026-11-07")
    backfill_id, run_ids = await engine.create_backfill(plan)
    attempt = await start(engine, run_ids[0])
    await finish(engine, run_ids[0], attempt, RunStatus.FAILED, 2)
    app = app_for(engine)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await app.open_view(f"backfill {backfill_id}")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, BackfillDetailScreen)
        grid = screen.query_one(PartitionGrid)
        assert grid.statuses[0] == "failed" and grid.rows[0].label == "2026-11"
        await pilot.press("p")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen) and "6 queued runs" in app.screen.question
        await pilot.press("y")
        await settle(pilot)
        assert (await engine.backfill_detail(backfill_id)).backfill.status == "paused"
        await pilot.press("F")
        await settle(pilot)
        assert "1 failed" in app.screen.question
        await pilot.press("y")
        await settle(pilot)
        assert (await engine.run(run_ids[0])).status == "queued"
        await pilot.press("enter")
        await settle(pilot)
        assert app.screen.run_id == run_ids[0]

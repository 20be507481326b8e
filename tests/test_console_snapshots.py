"""A few SVG snapshots at 80x24 with fixed data (fixed clock and actor, no scheduler running).

Update them with `pytest tests/test_console_snapshots.py --snapshot-update` after an intended change."""

from __future__ import annotations

import asyncio

import pytest
from test_console_support import checkpoint, failed_run, finish, fixed_clock, make_home, progress, start
from textual.pilot import Pilot

from console import backfill_api
from console.app import create_app
from console.screens.overview import OverviewScreen
from console.widgets.log_view import LogView
from scheduler.engine import Engine
from scheduler.home import Home
from scheduler.states import RunStatus

SIZE = (80, 24)
ACTOR = "alice"


async def _populate(home: Home) -> None:
    engine = await Engine.open(home, clock=fixed_clock, actor=ACTOR)
    try:
        await failed_run(engine)
        run_id, _ = await engine.submit("hello", {})
        attempt = await start(engine, run_id, minutes_ago=12)
        await progress(engine, attempt, 45, 100, "rows")
        await checkpoint(engine, run_id, 1, "chunk-3", 120, 5)
        engine.logs.append(run_id, 1, "stdout", 0, b"".join(b"exported chunk %d\n" % n for n in range(40)))
        for _ in range(3):
            await engine.submit("hello", {})
        if backfill_api.supported(engine):
            plan = await engine.plan_backfill("etl", range_from="2026-10-01", range_to="2026-11-20",
                                              max_parallel=3)
            _, run_ids = await engine.create_backfill(plan)
            for index, backfill_run in enumerate(run_ids[:12]):
                attempt = await start(engine, backfill_run, minutes_ago=50 - index)
                status = RunStatus.FAILED if index == 4 else RunStatus.SUCCEEDED
                await finish(engine, backfill_run, attempt, status, 1 if index == 4 else 0, minutes_ago=40 - index)
            for backfill_run in run_ids[12:15]:
                await start(engine, backfill_run, minutes_ago=3)
    finally:
        await engine.close()


@pytest.fixture
def snapshot_app(tmp_path):
    home = make_home(tmp_path / "home")
    asyncio.run(_populate(home))
    opened: list[Engine] = []

    async def factory(home: Home) -> Engine:
        engine = await Engine.open(home, clock=fixed_clock, actor=ACTOR)
        opened.append(engine)
        return engine

    yield create_app(home, engine_factory=factory, poll_interval=0.1)
    for engine in opened:
        asyncio.run(engine.close())


async def _until(pilot: Pilot, ready, timeout: float = 5.0) -> None:
    """Pause until `ready()` holds (data loaded), then once more so the frame is drawn."""
    for _ in range(int(timeout / 0.05)):
        if ready():
            break
        await pilot.pause(0.05)
    assert ready(), "the screen did not load its data in time"
    await pilot.pause(0.2)


def test_overview(snap_compare, snapshot_app):
    async def run_before(pilot: Pilot) -> None:
        await _until(pilot, lambda: isinstance(pilot.app.screen, OverviewScreen) and pilot.app.screen.loaded)

    assert snap_compare(snapshot_app, terminal_size=SIZE, run_before=run_before)


def test_runs(snap_compare, snapshot_app):
    async def run_before(pilot: Pilot) -> None:
        await _until(pilot, lambda: isinstance(pilot.app.screen, OverviewScreen))
        await pilot.press("2")
        await _until(pilot, lambda: pilot.app.screen.table.loaded_once)
        await pilot.press("end")
        await _until(pilot, lambda: pilot.app.screen.table.cursor_id == 1)

    assert snap_compare(snapshot_app, terminal_size=SIZE, run_before=run_before)


def test_run_detail_with_log(snap_compare, snapshot_app):
    async def run_before(pilot: Pilot) -> None:
        await _until(pilot, lambda: isinstance(pilot.app.screen, OverviewScreen))
        await pilot.app.open_view("run 2")
        await _until(pilot, lambda: len(pilot.app.screen.query_one(LogView).lines) == 40)

    assert snap_compare(snapshot_app, terminal_size=SIZE, run_before=run_before)


@pytest.mark.skipif(not backfill_api.supported(Engine), reason="the engine has no backfill API yet")
def test_backfill_grid(snap_compare, snapshot_app):
    async def run_before(pilot: Pilot) -> None:
        await _until(pilot, lambda: isinstance(pilot.app.screen, OverviewScreen))
        await pilot.app.open_view("backfill 1")
        await _until(pilot, lambda: getattr(pilot.app.screen, "detail", None) is not None)
        await pilot.press("right", "right", "down")
        await pilot.pause(0.2)

    assert snap_compare(snapshot_app, terminal_size=SIZE, run_before=run_before)

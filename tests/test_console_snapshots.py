"""SVG snapshots of every screen at 80x24, and of the runs and run detail at 160x48, with fixed data (fixed clock
and actor, no scheduler running, no cursor blink, no toasts).

Update them with `pytest tests/test_console_snapshots.py --snapshot-update` after an intended change."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from test_console_support import checkpoint, failed_run, finish, fixed_clock, make_home, progress, start
from textual.pilot import Pilot
from textual.widgets import DataTable, Input, Select, Static

from console.tui.app import SluiceApp, create_app
from console.tui.screens.backfill_launch import BackfillLaunchScreen
from console.tui.screens.confirm import ConfirmScreen
from console.tui.screens.help import HelpScreen
from console.tui.screens.overview import OverviewScreen
from console.tui.widgets.log_view import LogView
from scheduler.engine import Engine
from scheduler.home import Home
from scheduler.states import RunStatus

SIZE = (80, 24)
WIDE = (160, 48)
ACTOR = "alice"
MIGRATION = 'command = "migrate --to 0042"\nqueue = "default"\n'
MIGRATION_STDERR = (b"applying 0041_add_index ... ok\napplying 0042_split_orders ...\n"
                    b"psycopg.errors.LockNotAvailable: canceling statement due to lock timeout\n"
                    b"migration 0042_split_orders failed; rolled back\n")


async def _populate(home: Home) -> None:
    engine = await Engine.open(home, clock=fixed_clock, actor=ACTOR)
    try:
        await failed_run(engine)
        run_id, _ = await engine.submit("hello", {})
        attempt = await start(engine, run_id, minutes_ago=12)
        await progress(engine, attempt, 45, 100, "rows")
        await checkpoint(engine, run_id, 1, "chunk-1", 40, 10)
        await checkpoint(engine, run_id, 1, "chunk-3", 120, 5)
        engine.logs.append(run_id, 1, "stdout", 0, b"".join(b"exported chunk %d\n" % n for n in range(40)))
        for _ in range(3):
            await engine.submit("hello", {})
        plan = await engine.plan_backfill("etl", range_from="2026-10-01", range_to="2026-11-20",
                                          max_parallel=3)
        _, run_ids = await engine.create_backfill(plan)
        for index, backfill_run in enumerate(run_ids[:12]):
            attempt = await start(engine, backfill_run, minutes_ago=50 - index)
            status = RunStatus.FAILED if index == 4 else RunStatus.SUCCEEDED
            await finish(engine, backfill_run, attempt, status, 1 if index == 4 else 0, minutes_ago=40 - index)
        for backfill_run in run_ids[12:15]:
            await start(engine, backfill_run, minutes_ago=3)
        run_id, _ = await engine.submit("doomed_migration", {})
        attempt = await start(engine, run_id, node="n2", minutes_ago=8)
        engine.logs.append(run_id, 1, "stderr", 0, MIGRATION_STDERR)
        await finish(engine, run_id, attempt, RunStatus.FAILED, 3, minutes_ago=6)
    finally:
        await engine.close()


@pytest.fixture(scope="module")
def populated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One populated home per module; each test works on its own copy."""
    root = tmp_path_factory.mktemp("snapshots") / "home"
    home = make_home(root)
    (root / "jobs" / "doomed_migration.toml").write_text(MIGRATION)
    asyncio.run(_populate(home))
    return root


@pytest.fixture
def snapshot_app(populated: Path, tmp_path: Path):
    root = tmp_path / "home"
    shutil.copytree(populated, root)
    opened: list[Engine] = []

    async def factory(home: Home) -> Engine:
        engine = await Engine.open(home, clock=fixed_clock, actor=ACTOR)
        opened.append(engine)
        return engine

    yield create_app(Home(root), engine_factory=factory, poll_interval=0.1)
    for engine in opened:
        asyncio.run(engine.close())


async def _until(pilot: Pilot, ready: Callable[[], object], timeout: float = 5.0) -> None:
    """Pause until `ready()` holds (data loaded), then once more so the frame is drawn."""
    for _ in range(int(timeout / 0.05)):
        if ready():
            break
        await pilot.pause(0.05)
    assert ready(), "the screen did not load its data in time"
    await pilot.pause(0.2)


async def _open(pilot: Pilot, view: str) -> SluiceApp:
    """Wait for the overview, then open `view` as typed after `:`."""
    app = pilot.app
    assert isinstance(app, SluiceApp)
    await _until(pilot, lambda: isinstance(app.screen, OverviewScreen))
    if view != "overview":
        await app.open_view(view)
    return app


def _text(app: SluiceApp, selector: str) -> str:
    return str(app.screen.query_one(selector, Static).render())


async def _runs(pilot: Pilot) -> SluiceApp:
    app = await _open(pilot, "runs")
    await _until(pilot, lambda: app.screen.table.loaded_once)  # type: ignore[attr-defined]
    return app


async def _run_detail(pilot: Pilot, run_id: int, tab: str = "") -> SluiceApp:
    app = await _open(pilot, f"run {run_id}")
    await _until(pilot, lambda: "loading" not in _text(app, "#summary"))
    if tab:
        await pilot.press(tab)
    return app


def test_overview(snap_compare, snapshot_app):
    async def run_before(pilot: Pilot) -> None:
        app = await _open(pilot, "overview")
        await _until(pilot, lambda: app.screen.loaded)  # type: ignore[attr-defined]

    assert snap_compare(snapshot_app, terminal_size=SIZE, run_before=run_before)


def test_runs(snap_compare, snapshot_app):
    async def run_before(pilot: Pilot) -> None:
        app = await _runs(pilot)
        await pilot.press("end")
        await _until(pilot, lambda: app.screen.table.cursor_id == 1)  # type: ignore[attr-defined]

    assert snap_compare(snapshot_app, terminal_size=SIZE, run_before=run_before)


def test_runs_wide(snap_compare, snapshot_app):
    async def run_before(pilot: Pilot) -> None:
        await _runs(pilot)

    assert snap_compare(snapshot_app, terminal_size=WIDE, run_before=run_before)


def test_run_detail_with_log(snap_compare, snapshot_app):
    async def run_before(pilot: Pilot) -> None:
        app = await _run_detail(pilot, 2)
        await _until(pilot, lambda: len(app.screen.query_one(LogView).lines) == 40)

    assert snap_compare(snapshot_app, terminal_size=SIZE, run_before=run_before)


def test_run_detail_wide(snap_compare, snapshot_app):
    async def run_before(pilot: Pilot) -> None:
        app = await _run_detail(pilot, 2)
        await _until(pilot, lambda: len(app.screen.query_one(LogView).lines) == 40)

    assert snap_compare(snapshot_app, terminal_size=WIDE, run_before=run_before)


def test_run_detail_checkpoints(snap_compare, snapshot_app):
    async def run_before(pilot: Pilot) -> None:
        app = await _run_detail(pilot, 2, "t")
        await _until(pilot, lambda: "chunk-3" in _text(app, "#checkpoints-text"))

    assert snap_compare(snapshot_app, terminal_size=SIZE, run_before=run_before)


def test_run_detail_failed_attempt_with_stderr(snap_compare, snapshot_app):
    async def run_before(pilot: Pilot) -> None:
        app = await _run_detail(pilot, 57, "a")
        await _until(pilot, lambda: "rolled back" in _text(app, "#stderr-tail"))

    assert snap_compare(snapshot_app, terminal_size=SIZE, run_before=run_before)


def test_backfills(snap_compare, snapshot_app):
    async def run_before(pilot: Pilot) -> None:
        app = await _open(pilot, "backfills")
        await _until(pilot, lambda: app.screen.query_one(DataTable).row_count == 1)

    assert snap_compare(snapshot_app, terminal_size=SIZE, run_before=run_before)


def test_backfill_launch_with_plan(snap_compare, snapshot_app):
    async def run_before(pilot: Pilot) -> None:
        app = await _open(pilot, "backfills")
        await pilot.press("n")
        await _until(pilot, lambda: isinstance(app.screen, BackfillLaunchScreen))
        screen = app.screen
        for field in screen.query(Input):
            field.cursor_blink = False
        screen.query_one("#job", Select).value = "etl"
        for name, value in (("range_from", "2026-09-25"), ("range_to", "2026-10-06"), ("max_parallel", "3")):
            screen.query_one(f"#{name}", Input).value = value
        await pilot.pause()
        await pilot.press("f5")
        await _until(pilot, lambda: screen.plan is not None)  # type: ignore[attr-defined]

    assert snap_compare(snapshot_app, terminal_size=SIZE, run_before=run_before)


def test_backfill_grid(snap_compare, snapshot_app):
    async def run_before(pilot: Pilot) -> None:
        app = await _open(pilot, "backfill 1")
        await _until(pilot, lambda: getattr(app.screen, "detail", None) is not None)
        await pilot.press("right", "right", "down")
        await pilot.pause(0.2)

    assert snap_compare(snapshot_app, terminal_size=SIZE, run_before=run_before)


def test_dead_letters(snap_compare, snapshot_app):
    async def run_before(pilot: Pilot) -> None:
        app = await _open(pilot, "dead")
        await _until(pilot, lambda: "rolled back" in _text(app, "#dead-tail"))

    assert snap_compare(snapshot_app, terminal_size=SIZE, run_before=run_before)


def test_events(snap_compare, snapshot_app):
    async def run_before(pilot: Pilot) -> None:
        app = await _open(pilot, "events")
        await _until(pilot, lambda: app.screen.query_one(DataTable).row_count > 0)

    assert snap_compare(snapshot_app, terminal_size=SIZE, run_before=run_before)


def test_help_modal(snap_compare, snapshot_app):
    async def run_before(pilot: Pilot) -> None:
        app = await _runs(pilot)
        await pilot.press("question_mark")
        await _until(pilot, lambda: isinstance(app.screen, HelpScreen))

    assert snap_compare(snapshot_app, terminal_size=SIZE, run_before=run_before)


def test_confirm_modal(snap_compare, snapshot_app):
    async def run_before(pilot: Pilot) -> None:
        app = await _runs(pilot)
        await _until(pilot, lambda: app.screen.table.cursor_id == 57)  # type: ignore[attr-defined]
        await pilot.press("R")
        await _until(pilot, lambda: isinstance(app.screen, ConfirmScreen))

    assert snap_compare(snapshot_app, terminal_size=SIZE, run_before=run_before)

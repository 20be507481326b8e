"""`sluice console --readonly` through Pilot, with the engine the app opens itself: the home stays byte for byte as
it was, and runs a writer commits later still show up."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from test_console_support import SIZE, failed_run, make_home, settle
from test_readonly import QUEUES, snapshot, store_one_version_old

from console.tui.app import create_app
from console.tui.screens.runs import RunsScreen
from scheduler.engine import Engine


async def _shown_ids(pilot) -> list[int]:
    screen = pilot.app.screen
    assert isinstance(screen, RunsScreen)
    return sorted(run.id for run in screen.table.window)


async def _until_shown(pilot, expected: list[int], timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while await _shown_ids(pilot) != expected:
        assert time.monotonic() < deadline, f"shown {await _shown_ids(pilot)}, expected {expected}"
        await settle(pilot)


async def test_the_readonly_console_changes_nothing_and_sees_a_later_writer(tmp_path: Path) -> None:
    home = make_home(tmp_path / "home")
    async with await Engine.open(home) as engine:
        failed = await failed_run(engine)
        async with engine.db.write() as conn:
            await conn.execute("UPDATE queues SET priority = 3 WHERE name = 'batch'")
    home.queues_file.write_text(QUEUES, encoding="utf-8")
    before = snapshot(home.root)
    app = create_app(home, readonly=True, poll_interval=0.2)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        await _until_shown(pilot, [failed])
        await pilot.press("r", "c")  # the verbs are refused before anything is asked
        await settle(pilot)
        assert snapshot(home.root) == before, "the read-only console changed the home"
        async with await Engine.open(home) as writer:
            later, _ = await writer.submit("hello", {})
            await _until_shown(pilot, [failed, later])
        await app.action_quit()
    assert app.return_code in (None, 0)
    async with await Engine.open(home) as engine:
        assert (await engine.run(failed)).status == "failed"
        assert {queue.name: queue.priority for queue in await engine.queues()}["batch"] == 5  # synced by the writer


async def test_the_readonly_console_refuses_a_store_that_needs_upgrading(tmp_path: Path) -> None:
    home = make_home(tmp_path / "home")
    store_one_version_old(home.db_path)
    before = snapshot(home.root)
    app = create_app(home, readonly=True, poll_interval=0.2)
    async with app.run_test(size=SIZE) as pilot:
        for _ in range(100):
            if app.return_code is not None:
                break
            await asyncio.sleep(0.02)
        await pilot.pause()
    assert app.return_code == 1
    assert snapshot(home.root) == before

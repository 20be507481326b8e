"""After an operator retry the run counts its attempts against the budget the retry granted, and the Attempts
tab's stderr block follows the newest failed attempt; through a real scheduler and SSH worker."""

from __future__ import annotations

import asyncio

from harness import SluiceHome
from screen_text import screen_text
from test_console_support import settle, until
from textual.widgets import Static

from console.tui.app import create_app
from console.tui.screens.run_detail import RunDetailScreen
from scheduler.engine import Engine
from scheduler.states import EventKind, RunStatus

FAILS = 'command = "echo boom on attempt $SLUICE_ATTEMPT >&2; exit 3"\n[retry]\nmax_attempts = 2\nbackoff = 0\n'


async def test_operator_retry_counts_attempts_of_the_new_budget_and_shows_the_newest_stderr(local_fleet, tmp_path):
    cluster = SluiceHome(tmp_path, local_fleet.nodes_toml(slots=2, workdir=str(tmp_path / "workers")))
    cluster.add_job("flaky", FAILS)
    await cluster.start_scheduler()
    engine = await Engine.open(cluster.home)
    try:
        run_id, _ = await engine.submit("flaky", {})
        await cluster.wait_ended(run_id)
        run = await engine.run(run_id)
        assert (run.status, run.attempt, run.last_attempt) == (RunStatus.FAILED, 2, 2)

        async def factory(home):
            return engine

        app = create_app(cluster.home, engine_factory=factory, poll_interval=0.1)
        async with app.run_test(size=(120, 35)) as pilot:
            await settle(pilot)
            await app.open_view(f"run {run_id}")
            screen = app.screen
            assert isinstance(screen, RunDetailScreen)
            await pilot.press("a")
            tail = screen.query_one("#stderr-tail", Static)
            await until(pilot, lambda: "boom on attempt 2" in str(tail.render()), "attempt 2's stderr shown")
            await engine.retry([run_id])
            await cluster.wait_ended(run_id)
            await until(pilot, lambda: "boom on attempt 4" in str(tail.render()), "attempt 4's stderr shown")
            assert "attempt 4 (" in str(tail.render())
            await until(pilot, lambda: "attempt 4/4" in screen_text(app), "the summary counting the new budget")
        run = await engine.run(run_id)
        assert (run.status, run.attempt, run.last_attempt) == (RunStatus.FAILED, 4, 4)
        ended = [event.detail or "" for event in (await engine.run_detail(run_id)).events
                 if event.kind == EventKind.ATTEMPT_ENDED]
        assert any("attempt 3 of 4 ended" in detail for detail in ended), ended
        assert not any(" of 2 ended" in detail for detail in ended[1:]), ended
    finally:
        await cluster.stop_scheduler()
        await engine.close()
        await asyncio.sleep(0)

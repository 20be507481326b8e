"""A running job's output appears in the console's log view while it runs, over SSH (in-process asyncssh)."""

from __future__ import annotations

import asyncio

from harness import SluiceHome
from test_console_support import SIZE, settle

from console.tui.app import create_app
from console.tui.screens.run_detail import RunDetailScreen
from console.tui.widgets.log_view import LogView
from scheduler.engine import Engine

#: Half its output, then it waits for the test's gate file, then the rest: the test decides when it ends.
TICKER = ('command = "for i in 1 2 3 4; do echo tick $i; done; while [ ! -e {gate} ]; do sleep 0.05; done; '
          'for i in 5 6 7 8; do echo tick $i; done"\n')


async def _until(pilot, ready, timeout: float = 20.0) -> None:
    for _ in range(int(timeout / 0.05)):
        if ready():
            return
        await pilot.pause(0.05)
    raise AssertionError("timed out")


async def test_output_appears_while_the_run_runs(local_fleet, tmp_path):
    cluster = SluiceHome(tmp_path, local_fleet.nodes_toml(slots=2, workdir=str(tmp_path / "workers")))
    gate = tmp_path / "gate"
    cluster.add_job("ticker", TICKER.format(gate=gate))
    await cluster.start_scheduler()
    engine = await Engine.open(cluster.home)
    try:
        run_id, _ = await engine.submit("ticker", {})

        async def factory(home):
            return engine

        app = create_app(cluster.home, engine_factory=factory, poll_interval=0.1)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            assert app.scheduler_up  # the in-process scheduler holds the home's lock
            await app.open_view(f"run {run_id}")
            screen = app.screen
            assert isinstance(screen, RunDetailScreen)
            view = screen.query_one(LogView)
            await _until(pilot, lambda: "tick 1" in view.lines)
            assert (await engine.run(run_id)).status == "running"  # seen live, not after the fact
            assert "tick 8" not in view.lines
            gate.touch()
            await _until(pilot, lambda: "tick 8" in view.lines)
            await _until(pilot, lambda: view.ended)
        assert (await engine.run(run_id)).status in ("running", "succeeded")
    finally:
        await cluster.stop_scheduler()
        await engine.close()
        await asyncio.sleep(0)

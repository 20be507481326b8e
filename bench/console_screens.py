"""Console timings at scale: `python -m pytest -s -p no:cacheprovider bench/console_screens.py`.

A benchmark, not a test: it prints how long the runs view takes over 1,000,000 runs and how long the log view
takes to open a big finished log on its tail, and asserts nothing about time."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from test_console_support import SIZE, app_for, failed_run

from console.tui.screens.runs import RunsScreen
from console.tui.widgets.log_view import LogView

pytest_plugins = ("test_console_support",)
LOG_MB = int(os.environ.get("SLUICE_BENCH_LOG_MB", "256"))


async def _timed(pilot, keys: list[str], ready) -> float:
    """Seconds from pressing `keys` until `ready()` holds."""
    started = time.perf_counter()
    await pilot.press(*keys)
    while not ready():
        await pilot.pause(0.005)
    return time.perf_counter() - started


async def test_bench_runs_view_over_a_million_runs(million):
    app = app_for(million, poll_interval=60)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause(0.2)
        first = await _timed(pilot, ["2"], lambda: isinstance(app.screen, RunsScreen) and app.screen.table.loaded_once)
        table = app.screen.table
        paging = sum([await _timed(pilot, ["pagedown"], lambda: not table._busy) for _ in range(50)]) / 50
        last = await _timed(pilot, ["end"], lambda: table.cursor_id == 1)
        print(f"\n1,000,000 runs: first window {first * 1000:.0f} ms; page down {paging * 1000:.1f} ms each; "
              f"jump to the oldest {last * 1000:.0f} ms; rows loaded {table.rows_loaded:,}")


async def test_bench_big_finished_log_opens_on_its_tail(engine):
    run_id = await failed_run(engine)
    line = b"x" * 99 + b"\n"
    block = line * 10_000
    offset = engine.log_size(run_id, 1, "stdout")
    for _ in range(LOG_MB * (1 << 20) // len(block)):
        engine.logs.append(run_id, 1, "stdout", offset, block)
        offset += len(block)
    app = app_for(engine, poll_interval=60)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause(0.2)
        await pilot.press("4")  # dead letters: the failed run is under the cursor
        await pilot.pause(0.3)

        def shown() -> bool:
            views = app.screen.query(LogView)
            return bool(views) and len(views.first().lines) > 1

        opened = await _timed(pilot, ["l"], shown)
        lines = len(app.screen.query_one(LogView).lines)
        print(f"\n{offset / (1 << 20):.0f} MB log: last {lines:,} lines shown {opened * 1000:.0f} ms after l")

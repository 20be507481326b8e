"""The run detail's Activity tab (`v`): each attempt's launch tries, failing probes and signals, newest last."""

from __future__ import annotations

from test_console_support import SIZE, app_for, at, settle, start, until

from console.tui.format import clock_time
from console.tui.screens.run_detail import RunDetailScreen
from console.tui.widgets.activity_table import ActivityTable
from scheduler.engine import Engine
from scheduler.states import EventKind
from scheduler.store import queries as q

pytest_plugins = ("test_console_support",)


async def _record(
    engine: Engine, run_id: int, attempt: int, kind: EventKind, detail: str, minutes_ago: float
) -> None:
    async with engine.db.write() as conn:
        await q.insert_event(
            conn, at(minutes_ago), kind, run_id=run_id, attempt=attempt, actor="scheduler", detail=detail
        )


def _rows(table: ActivityTable) -> list[list[str]]:
    return [[str(cell) for cell in table.get_row_at(index)] for index in range(table.row_count)]


async def test_the_activity_tab_lists_each_attempts_launch_tries_probes_and_signals_newest_last(engine):
    run_id, _ = await engine.submit("hello", {})
    await start(engine, run_id, minutes_ago=30)
    await _record(
        engine, run_id, 1, EventKind.LAUNCH_FAILED, "on n1: launch on n1 failed (exit 73): disk full", 29
    )
    await _record(
        engine, run_id, 1, EventKind.ATTEMPT_PROBE_FAILED, "probe on n1: unparsable probe output", 28
    )
    await _record(engine, run_id, 1, EventKind.SUBMITTED, "not activity: never listed", 27)
    app = app_for(engine, poll_interval=0.1)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.app.open_view(f"run {run_id}")
        await settle(pilot)
        screen = pilot.app.screen
        assert isinstance(screen, RunDetailScreen)
        await pilot.press("v")
        await settle(pilot)
        table = screen.query_one(ActivityTable)
        assert table.has_focus, "the keyboard scrolls it at once"
        rows = _rows(table)
        assert [row[1:4] for row in rows] == [["1", "launch", "failed"], ["1", "probe", "failing"]]
        assert "disk full" in rows[0][4] and rows[0][0] == clock_time(at(29))
        await _record(engine, run_id, 1, EventKind.KILL, "TERM sent (cancelled) requested by ann", 1)
        await until(pilot, lambda: table.row_count == 3, "the new signal in the tab")
        assert _rows(table)[-1][2:4] == ["signal", "ordered"] and table.cursor_row == 2, (
            "newest last, followed"
        )

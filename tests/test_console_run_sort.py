"""The runs view's k9s keys: sort by a column and back with the cursor on its run, wide columns, filter by the row."""

from __future__ import annotations

from test_console_fit import screen_lines
from test_console_support import SIZE, app_for, failed_run, settle, start, until

from console.tui.screens.runs import RunsScreen
from scheduler.engine import Engine
from scheduler.run_filter import RunFilter
from scheduler.run_order import NEWEST_FIRST, RunOrder, SortKey
from scheduler.store import queries as q

pytest_plugins = ("test_console_support",)

WIDE = (120, 35)


async def _seven_runs(engine: Engine) -> int:
    """hello 1 queued, 2 running on n2, 3 failed on n1; etl backfill 4-6 (5 running on n2); hello 7 on n1."""
    await engine.submit("hello", {})
    second, _ = await engine.submit("hello", {})
    await start(engine, second, node="n2")
    await failed_run(engine)
    plan = await engine.plan_backfill("etl", range_from="2026-11-01", range_to="2026-11-03")
    backfill_id, run_ids = await engine.create_backfill(plan)
    await start(engine, run_ids[1], node="n2")
    seventh, _ = await engine.submit("hello", {})
    await start(engine, seventh, node="n1")
    return backfill_id


async def _runs_screen(pilot) -> RunsScreen:
    await pilot.press("2")
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, RunsScreen)
    await until(pilot, lambda: screen.table.loaded_once, "the first page")
    return screen


def _ids(screen: RunsScreen) -> list[int]:
    return [run.id for run in screen.table.window]


async def _move_to(pilot, screen: RunsScreen, run_id: int) -> None:
    await pilot.press("home", *["down"] * _ids(screen).index(run_id))
    assert screen.table.cursor_id == run_id


def _header(app) -> str:
    return next(line for line in screen_lines(app) if line.lstrip().startswith("ID"))


async def _sorted(pilot, screen: RunsScreen, key: str, ids: list[int]) -> None:
    await pilot.press(key)
    await until(pilot, lambda: _ids(screen) == ids, f"{key}: rows in order {ids}")


async def test_sort_by_job_then_reversed_then_back_keeps_the_cursor_on_its_run(engine):
    await _seven_runs(engine)
    app = app_for(engine)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _runs_screen(pilot)
        assert _ids(screen) == [7, 6, 5, 4, 3, 2, 1]
        await _move_to(pilot, screen, 3)
        await _sorted(pilot, screen, "J", [4, 5, 6, 1, 2, 3, 7])
        assert screen.table.cursor_id == 3
        assert "JOB▲" in _header(app) and "sorted by job" in str(screen.query_one("#runs-status").render())
        await _sorted(pilot, screen, "J", [7, 3, 2, 1, 6, 5, 4])
        assert screen.table.cursor_id == 3 and "JOB▼" in _header(app)
        await _sorted(pilot, screen, "J", [7, 6, 5, 4, 3, 2, 1])
        assert screen.table.cursor_id == 3 and "▲" not in _header(app) and "▼" not in _header(app)
        # Another column's key sorts by it at once: runs without a node first, then n1, then n2.
        await _sorted(pilot, screen, "N", [1, 4, 6, 3, 7, 2, 5])
        assert screen.table.cursor_id == 3 and "NODE▲" in _header(app)
        await _sorted(pilot, screen, "C", [1, 2, 3, 4, 5, 6, 7])
        assert screen.table.cursor_id == 3


async def test_sorting_keeps_the_cursor_on_its_run_when_the_run_sorts_past_the_first_page(engine):
    await engine.submit_many("hello", [{}] * 300)
    etl, _ = await engine.submit("etl", {"day": "2026-11-01"})
    app = app_for(engine)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _runs_screen(pilot)
        assert screen.table.cursor_id == etl
        await _sorted(pilot, screen, "J", [etl, *range(1, 200)])
        await pilot.press("J")  # hello 300..1, then etl: past the first page of 200
        await until(
            pilot,
            lambda: (
                screen.table.cursor_id == etl
                and _ids(screen)[-1] == etl
                and screen.table.window[0].job == "hello"
            ),
            "a window around the cursor's run",
        )
        index = _ids(screen).index(etl)
        assert screen.table.scroll_y <= index < screen.table.scroll_y + screen.table.size.height
        await pilot.press("up")
        assert screen.table.cursor_id == 1  # the oldest hello run sorts just before etl


async def test_runtime_sorts_within_the_loaded_rows_and_says_so(engine):
    await _seven_runs(engine)
    app = app_for(engine)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _runs_screen(pilot)
        await _move_to(pilot, screen, 5)
        await pilot.press("E")
        await until(
            pilot,
            lambda: "sorted within the 7 loaded" in str(screen.query_one("#runs-status").render()),
            "the runtime sort's scope",
        )
        assert screen.table.cursor_id == 5
        # Three have run 30 minutes, the failed one 20: the longest first, the unstarted last.
        assert (
            set(_ids(screen)[:3]) == {2, 5, 7}
            and _ids(screen)[3] == 3
            and set(_ids(screen)[-3:]) == {1, 4, 6}
        )
        assert "RUNTIME▼" in _header(app)  # shown while sorted by it, even when not wide


async def test_wide_toggle_shows_every_column_at_120_columns_and_back(engine):
    await _seven_runs(engine)
    app = app_for(engine)
    async with app.run_test(size=WIDE) as pilot:
        await _runs_screen(pilot)
        extra = ("QUEUE", "PRIO", "BACKFILL", "RUNTIME", "EXIT")
        assert not any(title in _header(app) for title in extra)
        await pilot.press("W")
        await settle(pilot)
        header = _header(app)
        assert all(title in header for title in extra), header
        assert "WHY" in header and "CREATED" in header
        row = next(line for line in screen_lines(app) if line.lstrip().startswith("5 "))
        assert "batch" in row and "2026-11-02" in row
        await pilot.press("W")
        await settle(pilot)
        assert not any(title in _header(app) for title in extra)


async def test_wide_at_80_columns_keeps_every_column_whole_and_cuts_only_why(engine):
    await _seven_runs(engine)
    app = app_for(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await _runs_screen(pilot)
        await pilot.press("J", "W")
        await settle(pilot)
        assert "JOB▲" in _header(app) and "QUEUE" in _header(app)
        assert any(line.lstrip().startswith("7  hello") for line in screen_lines(app))


async def test_filter_by_the_node_or_backfill_of_the_cursor_row_keeps_only_those_runs(engine):
    backfill_id = await _seven_runs(engine)
    app = app_for(engine)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _runs_screen(pilot)
        field = screen.query_one("#filter")
        await _move_to(pilot, screen, 2)
        await pilot.press("n")
        await until(pilot, lambda: sorted(_ids(screen)) == [2, 5], "the runs on n2")
        assert field.value == "node=n2" and field.display
        await pilot.press("escape")
        await until(pilot, lambda: len(_ids(screen)) == 7, "every run again")
        assert field.value == ""
        await _move_to(pilot, screen, 5)
        await pilot.press("b")
        await until(pilot, lambda: sorted(_ids(screen)) == [4, 5, 6], "the backfill's runs")
        assert field.value == f"backfill={backfill_id}"
        await pilot.press("escape")
        await until(pilot, lambda: len(_ids(screen)) == 7, "every run again")
        await _move_to(pilot, screen, 1)  # queued: no node yet
        await pilot.press("n")
        await settle(pilot)
        assert len(_ids(screen)) == 7 and field.value == ""


async def test_help_lists_the_sort_wide_and_row_filter_keys(engine):
    await _seven_runs(engine)
    app = app_for(engine)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _runs_screen(pilot)
        keys = dict(screen.help_keys())
        for key in ("J", "U", "N", "C", "E", "W", "n", "b"):
            assert any(key in shown.split("/") for shown in keys), (key, keys)


async def test_every_sorted_page_is_read_from_an_index_not_sorted_in_memory(engine):
    """A page costs the same over a million runs: the ORDER BY follows an index and the keyset seeks it."""
    await _seven_runs(engine)
    async with engine.db.read() as conn:
        for key in (SortKey.ID, SortKey.JOB, SortKey.STATUS, SortKey.NODE):
            for descending in (True, False):
                for after in (None, (await q.get_run(conn, 3))):
                    sql, params = q.ordered_runs_sql(RunFilter(), 50, RunOrder(key, descending), after)
                    async with conn.execute(f"EXPLAIN QUERY PLAN {sql}", params) as cursor:
                        plan = " ".join(str(row[3]) for row in await cursor.fetchall())
                    assert "TEMP B-TREE" not in plan, (key, descending, plan)
                    assert key == SortKey.ID or "INDEX runs_" in plan, (key, descending, plan)


async def test_the_rows_node_filter_reads_the_node_index_in_id_order(engine):
    """`n` on a row: newest first within one node is one range of runs_node_id, not a walk of every run."""
    await _seven_runs(engine)
    async with engine.db.read() as conn:
        sql, params = q.ordered_runs_sql(RunFilter(node="n1"), 50, NEWEST_FIRST, None)
        async with conn.execute(f"EXPLAIN QUERY PLAN {sql}", params) as cursor:
            plan = " ".join(str(row[3]) for row in await cursor.fetchall())
    assert "runs_node_id" in plan and "TEMP B-TREE" not in plan, plan

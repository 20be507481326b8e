"""The overview lists runs by job name: running (partition, node, progress, runtime), waiting with their why, the
latest ended with failures first and their reason, sized to the terminal, and enter opens the run."""

from __future__ import annotations

import sqlite3

from test_console_support import app_for, finish, progress, settle, start, until
from textual.widgets import DataTable, Static

from console.tui.screens.overview import OverviewScreen
from console.tui.screens.run_detail import RunDetailScreen
from console.tui.widgets.run_board import LIMIT, RunBoard
from scheduler.engine import Engine
from scheduler.states import RunStatus
from scheduler.store import queries as q

pytest_plugins = ("test_console_support",)

SMALL, BIG = (80, 24), (120, 35)
EXTRA_JOBS = {
    "report": 'command = "report"\nqueue = "default"\n',
    "migrate": 'command = "migrate"\nqueue = "default"\n',
}


async def _busy_store(engine: Engine) -> dict[str, list[int]]:
    """Eight runs running (etl, one with progress), eight waiting (report), two failed then six succeeded."""
    for name, text in EXTRA_JOBS.items():
        (engine.home.jobs_dir / f"{name}.toml").write_text(text)
    ids: dict[str, list[int]] = {"running": [], "waiting": [], "failed": [], "succeeded": []}
    for day in range(1, 9):
        run_id, _ = await engine.submit("etl", {"day": f"2026-11-0{day}"})
        attempt = await start(engine, run_id, node="n1" if day <= 4 else "n2", minutes_ago=30 + day)
        if day == 8:
            await progress(engine, attempt, 45, 100, "rows")
        ids["running"].append(run_id)
    for _ in range(2):
        run_id, _ = await engine.submit("migrate", {})
        attempt = await start(engine, run_id, minutes_ago=20)
        await finish(engine, run_id, attempt, RunStatus.FAILED, 3, minutes_ago=15)
        ids["failed"].append(run_id)
    for _ in range(6):
        run_id, _ = await engine.submit("hello", {})
        attempt = await start(engine, run_id, minutes_ago=9)
        await finish(engine, run_id, attempt, RunStatus.SUCCEEDED, 0, minutes_ago=5)
        ids["succeeded"].append(run_id)
    for _ in range(8):
        ids["waiting"].append((await engine.submit("report", {}))[0])
    return ids


def _lines(board: RunBoard) -> list[str]:
    return [board.render_line(y).text for y in range(board.size.height)]


def _section(lines: list[str], title: str) -> list[str]:
    """The run rows under the section title starting with `title`, up to the next title."""
    start_at = next(index for index, line in enumerate(lines) if line.startswith(title))
    rows = []
    for line in lines[start_at + 1 :]:
        if not line.startswith("  "):
            break
        rows.append(line)
    return rows


async def _shown(engine: Engine, size: tuple[int, int]) -> dict[str, list[str]]:
    app = app_for(engine)
    async with app.run_test(size=size) as pilot:
        await until(
            pilot,
            lambda: isinstance(app.screen, OverviewScreen) and app.screen.query_one(RunBoard).loaded,
            "the overview's runs",
        )
        await settle(pilot)
        screen = app.screen
        board = screen.query_one(RunBoard)
        for widget in (
            board,
            screen.query_one("#queues", DataTable),
            screen.query_one("#nodes", DataTable),
            screen.query_one("#slis", Static),
        ):
            assert widget.region.height > 0 and widget.region.bottom <= size[1], (
                f"{widget} is off the first screen"
            )
        lines = _lines(board)
        return {title: _section(lines, title) for title in ("Running", "Waiting", "Ended")}


async def test_overview_at_80x24_shows_running_waiting_and_ended_runs_by_job_name(engine):
    await _busy_store(engine)
    why = next(iter((await engine.wait_reasons(await engine.runs(limit=1))).values()))
    shown = await _shown(engine, SMALL)
    running, waiting, ended = shown["Running"], shown["Waiting"], shown["Ended"]
    assert len(running) >= 2 and len(waiting) >= 2 and len(ended) >= 2
    assert all("etl" in row for row in running)
    assert "2026-11-08" in running[0] and "n2" in running[0] and "45%" in running[0]
    assert "38m00s" in running[0]  # runtime: started 38 minutes before the fixed clock
    assert all("report" in row for row in waiting)
    assert why[:30] in waiting[0]  # the same why the runs view shows
    assert "migrate" in ended[0] and "failed" in ended[0] and "exit 3" in ended[0]
    assert "migrate" in ended[1] and "hello" in ended[-1]


async def test_overview_shows_more_runs_of_each_kind_on_a_bigger_terminal(engine):
    await _busy_store(engine)
    small, big = await _shown(engine, SMALL), await _shown(engine, BIG)
    for title in ("Running", "Waiting", "Ended"):
        assert len(big[title]) > len(small[title]), title


async def test_enter_on_an_overview_row_opens_that_run(engine):
    ids = await _busy_store(engine)
    app = app_for(engine)
    async with app.run_test(size=SMALL) as pilot:
        await until(
            pilot,
            lambda: isinstance(app.screen, OverviewScreen) and app.screen.query_one(RunBoard).loaded,
            "the overview's runs",
        )
        await settle(pilot)  # the tables' heights follow their rows: the board's share settles
        board = app.screen.query_one(RunBoard)
        assert board.has_focus
        shown_running = len(_section(_lines(board), "Running"))
        await pilot.press(*["down"] * shown_running, "enter")  # the first waiting run
        await until(pilot, lambda: isinstance(app.screen, RunDetailScreen), "the run's detail")
        assert isinstance(app.screen, RunDetailScreen)
        assert app.screen.run_id == ids["waiting"][0]


def test_the_boards_queries_read_one_index_range_whatever_the_store_holds(million):
    with sqlite3.connect(million.home.db_path) as conn:
        for sql in q.RUNS_IN_STATUS.values():
            plan = " ".join(row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}", ("failed", 30)))
            assert "USING INDEX runs_status_id" in plan and "TEMP B-TREE" not in plan, plan


async def test_the_board_over_a_million_runs_brings_a_few_dozen_failures_first(million):
    board = await million.run_board(LIMIT)
    assert not board.running and not board.waiting
    assert len(board.ended) == LIMIT
    statuses = [run.status for run in board.ended]
    assert statuses == sorted(statuses, key=lambda status: status != RunStatus.FAILED)
    assert RunStatus.FAILED in statuses and RunStatus.SUCCEEDED in statuses


async def test_the_overview_renders_its_runs_under_no_color(engine, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    await _busy_store(engine)
    app = app_for(engine)
    async with app.run_test(size=SMALL) as pilot:
        await until(
            pilot,
            lambda: isinstance(app.screen, OverviewScreen) and app.screen.query_one(RunBoard).loaded,
            "the overview's runs",
        )
        await settle(pilot)
        assert app.is_running and "etl" in app.export_screenshot()
